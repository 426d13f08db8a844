"""Numbers the rule tests report at the end of the run (e.g. the provider launch's gRPC calls)."""

NUMBERS: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if NUMBERS:
        terminalreporter.section("dynamic provider launch")
        for line in NUMBERS:
            terminalreporter.write_line(line)
