"""Pieces of `calharness load` (harness/load.py): the service-view endpoint the Locust master
judges with, and starting/stopping the Locust processes."""
