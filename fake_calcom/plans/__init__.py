"""Example fault plans (JSON) for `python -m fake_calcom --faults …`."""
