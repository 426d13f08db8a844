"""The lab's function service: pure functions (functions.py) served by Tornado (service.py)."""
