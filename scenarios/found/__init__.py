"""Failures `calharness explore` found and shrank, kept as regression scenarios.

Each file replays one shrunk step list through the same explorer the state machine uses; it is
tagged with the defense whose absence it exposed, so `calharness ablate` proves it still bites.
"""
