"""Pipedrive connector: all of callsync's Pipedrive knowledge lives in this package."""
