"""Amplemarket connector: all of callsync's Amplemarket knowledge lives in this package."""
