"""The lab's pure functions and the rules their path arguments must follow.

No I/O and no framework: app/handlers.py routes a path to one of these specs, parses its raw
segments with `parse_arguments` and calls `compute`. Every function runs in microseconds at
its limits (app/contract.py): closed forms or iteration, never recursion.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from app.contract import FUNCTION_ARGUMENTS

RULE_NOT_DECIMAL = "not a plain ASCII decimal integer"
RULE_NEGATIVE = "negative"
RULE_ABOVE_LIMIT = "above the limit"

_ASCII_DIGITS = frozenset("0123456789")


def fibonacci(n: int) -> int:
    """F(n) with F(0) = 0, F(1) = 1, by fast doubling: O(log n) big-int steps."""
    if n < 0:
        raise ValueError("fibonacci is defined for n >= 0")
    # Invariant: (a, b) = (F(k), F(k + 1)) for k = the bits of n read so far.
    a, b = 0, 1
    for bit in bin(n)[2:]:
        # F(2k) = F(k) * (2 F(k+1) - F(k)),  F(2k+1) = F(k)^2 + F(k+1)^2
        a, b = a * (2 * b - a), a * a + b * b
        if bit == "1":
            a, b = b, a + b
    return a


def factorial(n: int) -> int:
    """n! (math.factorial multiplies in C with a divide-and-conquer product)."""
    if n < 0:
        raise ValueError("factorial is defined for n >= 0")
    return math.factorial(n)


def ackermann(m: int, n: int) -> int:
    """A(m, n) of Ackermann-Peter for m <= 3, by its closed forms.

    A(0, n) = n + 1, A(1, n) = n + 2, A(2, n) = 2n + 3, A(3, n) = 2^(n+3) - 3. The textbook
    recursion needs thousands of frames for A(3, 4); the closed forms need none. For m >= 4
    the values leave any useful size (A(4, 2) has 19729 digits), so the lab stops at 3.
    """
    if m < 0 or n < 0:
        raise ValueError("ackermann is defined for m >= 0 and n >= 0")
    if m == 0:
        return n + 1
    if m == 1:
        return n + 2
    if m == 2:
        return 2 * n + 3
    if m == 3:
        return (1 << (n + 3)) - 3
    raise ValueError("ackermann is computed here for m <= 3 only")


@dataclass(frozen=True)
class Parameter:
    """One argument of a function: its name in error messages and its inclusive maximum."""

    name: str
    maximum: int


@dataclass(frozen=True)
class FunctionSpec:
    """A function as the API exposes it: `/{name}/{arg1}/[{arg2}/]`."""

    name: str
    parameters: tuple[Parameter, ...]
    compute: Callable[..., int]

    @property
    def usage(self) -> str:
        return "/" + self.name + "/" + "".join("{" + p.name + "}/" for p in self.parameters)


_IMPLEMENTATIONS: dict[str, Callable[..., int]] = {
    "fibonacci": fibonacci,
    "factorial": factorial,
    "ackermann": ackermann,
}

# Keyed and ordered by the contract: a function it lists without an implementation here
# fails at import, not at its first call.
FUNCTIONS: dict[str, FunctionSpec] = {
    name: FunctionSpec(
        name,
        tuple(Parameter(arg, maximum) for arg, maximum in arguments),
        _IMPLEMENTATIONS[name],
    )
    for name, arguments in FUNCTION_ARGUMENTS.items()
}


class ArgumentError(ValueError):
    """An argument broke one of the rules; `argument` and `rule` go into the 400 body."""

    def __init__(self, parameter: Parameter, rule: str, message: str) -> None:
        super().__init__(message)
        self.argument = parameter.name
        self.rule = rule
        self.message = message


def _is_ascii_decimal(text: str) -> bool:
    # str.isdigit() alone accepts "٣" and "²"; int() also accepts " 5", "+5" and "5_0".
    return bool(text) and _ASCII_DIGITS.issuperset(text)


def parse_argument(raw: str, parameter: Parameter) -> int:
    """The value of one raw path segment, or ArgumentError naming the rule it broke.

    Accepted: ASCII digits only, leading zeros allowed ("007" is 7). A "-" followed by
    digits that are not all zero is reported as negative, anything else that is not plain
    digits as not a decimal integer. Oversized input is refused by its length, before
    int() runs, so a client cannot make the service convert a huge number.
    """
    if not _is_ascii_decimal(raw):
        digits = raw[1:]
        if raw.startswith("-") and _is_ascii_decimal(digits) and digits.strip("0"):
            raise ArgumentError(parameter, RULE_NEGATIVE, f"{parameter.name} must not be negative")
        raise ArgumentError(
            parameter,
            RULE_NOT_DECIMAL,
            f"{parameter.name} must be a plain ASCII decimal integer",
        )
    significant = raw.lstrip("0") or "0"
    limit_message = f"{parameter.name} must be at most {parameter.maximum}"
    if len(significant) > len(str(parameter.maximum)):
        raise ArgumentError(parameter, RULE_ABOVE_LIMIT, limit_message)
    value = int(significant)
    if value > parameter.maximum:
        raise ArgumentError(parameter, RULE_ABOVE_LIMIT, limit_message)
    return value


def parse_arguments(spec: FunctionSpec, raw_arguments: tuple[str, ...]) -> tuple[int, ...]:
    """Parse every argument in order; the first one that breaks a rule is reported."""
    if len(raw_arguments) != len(spec.parameters):
        raise TypeError(f"{spec.name} takes {len(spec.parameters)} argument(s)")
    return tuple(
        parse_argument(raw, parameter)
        for raw, parameter in zip(raw_arguments, spec.parameters, strict=True)
    )
