"""Close connector: all of callsync's Close knowledge lives in this package."""
