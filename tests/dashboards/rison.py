"""A Rison decoder, for reading the `_g`/`_a` state of Kibana URLs the lab builds.

Rison as Kibana reads it (@kbn/rison, after rison-node): `(k:v,...)` objects, `!(...)`
arrays, `!t` `!f` `!n`, numbers, `'...'` strings with `!'` and `!!` escapes, and bare ids
(any run of characters outside ` '!:(),*@$` that does not start with a digit or `-`).
"""

from __future__ import annotations

import re

_NOT_ID = " '!:(),*@$"
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


class RisonError(ValueError):
    pass


def loads(text: str) -> object:
    value, end = _value(text, 0)
    if end != len(text):
        raise RisonError(f"trailing text at {end}: {text[end:]!r}")
    return value


def _value(text: str, i: int) -> tuple[object, int]:
    if i >= len(text):
        raise RisonError("unexpected end")
    c = text[i]
    if c == "(":
        return _object(text, i + 1)
    if c == "'":
        return _string(text, i + 1)
    if c == "!":
        nxt = text[i + 1 : i + 2]
        if nxt == "(":
            return _array(text, i + 2)
        constants = {"t": True, "f": False, "n": None}
        if nxt in constants:
            return constants[nxt], i + 2
        raise RisonError(f"bad ! at {i}")
    number = _NUMBER.match(text, i)
    if c in "-0123456789":
        if not number:
            raise RisonError(f"bad number at {i}")
        raw = number.group(0)
        return (float(raw) if any(ch in raw for ch in ".eE") else int(raw)), number.end()
    end = i
    while end < len(text) and text[end] not in _NOT_ID:
        end += 1
    if end == i:
        raise RisonError(f"unexpected {c!r} at {i}")
    return text[i:end], end


def _string(text: str, i: int) -> tuple[str, int]:
    out = []
    while i < len(text):
        c = text[i]
        if c == "'":
            return "".join(out), i + 1
        if c == "!":
            nxt = text[i + 1 : i + 2]
            if nxt not in ("'", "!"):
                raise RisonError(f"bad escape !{nxt} at {i}")
            out.append(nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    raise RisonError("unterminated string")


def _object(text: str, i: int) -> tuple[dict, int]:
    found: dict = {}
    if text[i : i + 1] == ")":
        return found, i + 1
    while True:
        key, i = _value(text, i)
        if not isinstance(key, str) or text[i : i + 1] != ":":
            raise RisonError(f"bad key at {i}")
        found[key], i = _value(text, i + 1)
        if text[i : i + 1] == ",":
            i += 1
            continue
        if text[i : i + 1] == ")":
            return found, i + 1
        raise RisonError(f"expected , or ) at {i}")


def _array(text: str, i: int) -> tuple[list, int]:
    found: list = []
    if text[i : i + 1] == ")":
        return found, i + 1
    while True:
        item, i = _value(text, i)
        found.append(item)
        if text[i : i + 1] == ",":
            i += 1
            continue
        if text[i : i + 1] == ")":
            return found, i + 1
        raise RisonError(f"expected , or ) at {i}")
