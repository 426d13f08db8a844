"""Live tests on a real Docker engine: the harness applies what the program declares, then
faults are injected (tests/support/harness.py)."""
