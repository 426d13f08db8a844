"""testinfra checks of a running lab (the harness stack, or the stack `make verify` targets),
and the same checks against API stand-ins."""
