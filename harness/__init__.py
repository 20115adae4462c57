"""Drivers and judges: stack launcher, clients, history, checkers, CLI."""
