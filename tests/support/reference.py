"""The three functions written the textbook way, independently of app/compute.py, so that a
wrong answer from the service cannot agree with itself (the one home of the test oracles)."""

from __future__ import annotations

import functools
import math


def fibonacci(n: int) -> int:
    previous, current = 0, 1
    for _ in range(n):
        previous, current = current, previous + current
    return previous


def factorial(n: int) -> int:
    return math.factorial(n)


@functools.cache
def ackermann(m: int, n: int) -> int:
    # The recursive definition, not the closed forms the service uses for m <= 3.
    if m == 0:
        return n + 1
    if n == 0:
        return ackermann(m - 1, 1)
    return ackermann(m - 1, ackermann(m, n - 1))


REFERENCES = {"fibonacci": fibonacci, "factorial": factorial, "ackermann": ackermann}


def reference_result(function: str, args: tuple[int, ...]) -> int:
    """The exact result of `function` on `args`."""
    return REFERENCES[function](*args)
