"""What `make traffic` sends and what counts as a right answer, derived from the contract's
functions, limits and sample calls (app/contract.py)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from app.contract import FUNCTION_ARGUMENTS, SAMPLE_CALLS

# Calls to a path no router matches; Traefik itself answers them with a 404.
UNROUTED = "unrouted"
UNROUTED_PATHS = ("/nosuch/1/", f"/{next(iter(FUNCTION_ARGUMENTS))}x/1/")
# After each function's first valid call, this share of its valid calls is its sample call,
# whose exact result the contract states.
SAMPLE_SHARE = 0.25


def call_path(function: str, arguments: Sequence[object]) -> str:
    return "/" + "/".join([function, *map(str, arguments)]) + "/"


@dataclass(frozen=True)
class Call:
    """One request to make, and what counts as a right answer to it."""

    function: str
    path: str
    expected_status: frozenset[int]
    expected_result: str | None = None  # the exact decimal string, where the contract says it
    arguments: tuple[int, ...] | None = None  # a valid call's, which the answer echoes


def valid_call(function: str, rng: random.Random, *, sample: bool = False) -> Call:
    sample_arguments, sample_result = SAMPLE_CALLS[function]
    if sample:
        arguments = sample_arguments
    else:
        arguments = tuple(rng.randint(0, high) for _name, high in FUNCTION_ARGUMENTS[function])
    result = sample_result if arguments == sample_arguments else None
    return Call(function, call_path(function, arguments), frozenset({200}), result, arguments)


def invalid_paths(function: str) -> tuple[str, ...]:
    """Out of range, negative, not an integer, too long, wrong arity: from the contract's limits.

    The app says 400 for what it parses and rejects; a path its routes do not match is a 404.
    """
    limits = [high for _name, high in FUNCTION_ARGUMENTS[function]]
    zeros = ["0"] * len(limits)
    paths = [
        call_path(function, [*zeros[:i], high + 1, *zeros[i + 1 :]])
        for i, high in enumerate(limits)
    ]
    paths += [call_path(function, [bad, *zeros[1:]]) for bad in ("-1", "ten", "1.5", "9" * 20)]
    paths += [call_path(function, [*zeros, "0"]), call_path(function, zeros[:-1])]
    return tuple(paths)


def invalid_call(function: str, rng: random.Random) -> Call:
    paths = UNROUTED_PATHS if function == UNROUTED else invalid_paths(function)
    return Call(function, rng.choice(paths), frozenset({400, 404}))


def call_plan(functions: tuple[str, ...], invalid_ratio: float, seed: int | None) -> Iterator[Call]:
    """An endless, reproducible (given a seed) stream of calls spread over the functions."""
    rng = random.Random(seed)
    checked: set[str] = set()
    while True:
        function = rng.choice(functions)
        if rng.random() < invalid_ratio:
            # Now and then a path that no Traefik router matches, so its 404 is exercised too.
            yield invalid_call(UNROUTED if rng.random() < 0.1 else function, rng)
        else:
            sample = function not in checked or rng.random() < SAMPLE_SHARE
            checked.add(function)
            yield valid_call(function, rng, sample=sample)


def _judge_result(call: Call, document: object) -> str | None:
    if not isinstance(document, dict):
        return "body is not a JSON object"
    asked = (call.function, list(call.arguments or ()))
    answered = (document.get("function"), document.get("args"))
    if answered != asked:
        return f"answer is for {answered[0]}{answered[1]}, asked {asked[0]}{asked[1]}"
    result = document.get("result")
    if not (isinstance(result, str) and result.isdigit()):
        return f"result {str(result)[:40]!r} is not a decimal integer"
    if call.expected_result is not None and result != call.expected_result:
        return f"wrong result {result[:40]!r}, expected {call.expected_result[:40]!r}"
    return None


def judge(call: Call, status: int, body: bytes) -> str | None:
    """Why the answer is wrong, or None when it is right."""
    if status >= 500:
        return f"server error {status}"
    if status not in call.expected_status:
        wanted = "/".join(str(s) for s in sorted(call.expected_status))
        return f"status {status}, expected {wanted}"
    if call.function == UNROUTED:
        return None  # Traefik's own 404 is plain text
    try:
        document = json.loads(body)
    except ValueError:
        return "body is not JSON"
    if status == 200:
        return _judge_result(call, document)
    if not (isinstance(document, dict) and isinstance(document.get("error"), dict)):
        return "4xx body has no error object"
    if document["error"].get("status") != status:
        return f"error.status {document['error'].get('status')!r} differs from HTTP {status}"
    return None
