"""The crash-and-fault harness: callsync's exactly-once promise, proven by counting.

``python -m tests.chaos --trials 1000`` runs the long version; ``test_chaos_smoke.py`` runs a
few seeded trials in CI.
"""
