"""`calharness` subcommands owned by the harness core (verify, ablate, serve)."""
