"""The Hypothesis state machine over the whole stack (issue 5).

Hypothesis generates sequences of caller actions and upstream misbehaviour — faults are data it
draws, so a failure shrinks to the smallest fault schedule too — checks the invariants after every
step and shrinks any failure to the shortest sequence that still breaks.

    universe.py    the small world the machine plays in: slots, names, services, the fault menu
    explorer.py    the actions on a World, the model of what callers were told, the invariants
    machine.py     the Hypothesis adapter (rules, strategies), profiles, and `explore()`
    reproducer.py  a failure as a readable scenario and a ready pytest file (scenarios/found/)
"""
