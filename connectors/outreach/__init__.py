"""Outreach connector: all of callsync's Outreach knowledge lives in this package."""
