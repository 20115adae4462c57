"""The `calharness` command line: verify, ablate, explore, load, serve.

The only package that imports everything (harness, reports, loadtests, the state machine); the
`harness` library below it knows none of them (docs/architecture.md, checked by import-linter).
"""
