"""W3C Trace Context for one replica: read the caller's `traceparent`, start this call's span,
and write the `traceresponse` that hands the trace id back (docs/tracing.md).

The rules are the W3C Trace Context Recommendation's (Level 1, section 3.2 "traceparent
Header"; Level 2, section 3.3 "traceresponse Header"); tests/app/test_tracecontext.py checks
each against the spec's text.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from tornado.httputil import HTTPHeaders

from app.contract import TRACEPARENT_HEADER, TRACERESPONSE_HEADER

__all__ = [
    "TRACEPARENT_HEADER",
    "TRACERESPONSE_HEADER",
    "CallTrace",
    "TraceParent",
    "TraceResponseMixin",
    "parse_traceparent",
    "start_call",
    "trace_request",
]

# Level 1, 3.2.2: `version "-" trace-id "-" parent-id "-" trace-flags`, 2+32+16+2 lowercase
# hex digits and three dashes: a version-00 header is exactly this long.
TRACEPARENT_LENGTH = 55
_HEX_LOWER = frozenset("0123456789abcdef")
# Level 1, 3.2.2.1: "Version ff is invalid."
_INVALID_VERSION = "ff"
SUPPORTED_VERSION = "00"
# Level 1, 3.2.2.5: the only flag Level 1 defines. Level 2 adds random-trace-id.
SAMPLED_FLAG = 0x01
RANDOM_TRACE_ID_FLAG = 0x02


class TraceParent(NamedTuple):
    """A caller's traceparent that passed the rules: its trace id, its span id, its flags."""

    trace_id: str
    parent_id: str
    flags: int


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and _HEX_LOWER.issuperset(text)


def parse_traceparent(value: str | None) -> TraceParent | None:
    """The caller's trace, or None when the header is missing or breaks a rule of Level 1 3.2:

    - 3.2.2.1/3.2.2.2: version is two lowercase hex digits, and not `ff`;
    - 3.2.2.3: trace-id is 32 lowercase hex digits, not all zero;
    - 3.2.2.4: parent-id is 16 lowercase hex digits, not all zero;
    - 3.2.2.5: trace-flags is two lowercase hex digits;
    - 3.2.4 (versioning): a version-00 header is exactly 55 characters; a higher version may
      carry more fields, after a `-` at position 55, and is read as version 00.

    Upper-case hex is refused: the grammar is HEXDIGLC, and 3.2.2.3 says a receiver MUST
    ignore a trace-id it cannot parse.
    """
    if value is None:
        return None
    if len(value) < TRACEPARENT_LENGTH:
        return None
    version = value[:2]
    if not _is_hex(version, 2) or version == _INVALID_VERSION:
        return None
    # Extra fields are allowed from a future version only, and must follow a dash.
    if len(value) > TRACEPARENT_LENGTH and (
        version == SUPPORTED_VERSION or value[TRACEPARENT_LENGTH] != "-"
    ):
        return None
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    trace_id = value[3:35]
    parent_id = value[36:52]
    flags = value[53:55]
    if not (_is_hex(trace_id, 32) and _is_hex(parent_id, 16) and _is_hex(flags, 2)):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return TraceParent(trace_id, parent_id, int(flags, 16))


def new_ids() -> tuple[str, str]:
    """A random trace id (32 lowercase hex digits) and span id (16), neither all zero (Level 1
    3.2.2.3 and 3.2.2.4), from one read of the system's random source."""
    while True:
        drawn = os.urandom(24).hex()
        trace_id, span_id = drawn[:32], drawn[32:]
        if trace_id != "0" * 32 and span_id != "0" * 16:
            return trace_id, span_id


def new_span_id() -> str:
    """A random span id: 16 lowercase hex digits, not all zero (Level 1 3.2.2.4)."""
    while True:
        span_id = os.urandom(8).hex()
        if span_id != "0" * 16:
            return span_id


class CallTrace(NamedTuple):
    """One call's ids: the trace it belongs to, its own span, the caller's span if any."""

    trace_id: str
    span_id: str
    parent_id: str | None
    flags: int
    # Whether the caller sent a traceparent that broke the rules (counted, then ignored).
    rejected_header: bool

    def response_header(self) -> str:
        """Level 2 "traceresponse Header": `00-trace-id-child-id-trace-flags`, child-id being
        this replica's span. Sampled is set: the replica records every call (logs, exemplar),
        and a callee that records SHOULD say so. Random-trace-id is set when this replica drew
        the id, passed on from the caller's flags otherwise; other flags MUST be zero."""
        random = RANDOM_TRACE_ID_FLAG if self.parent_id is None else self.flags
        flags = SAMPLED_FLAG | (random & RANDOM_TRACE_ID_FLAG)
        return f"{SUPPORTED_VERSION}-{self.trace_id}-{self.span_id}-{flags:02x}"

    def log_fields(self) -> dict[str, str]:
        """ECS tracing fields of the replica's access line: its handling of the call is both
        the call's span and its transaction (the highest level of work in a service)."""
        return {"trace.id": self.trace_id, "span.id": self.span_id, "transaction.id": self.span_id}


def trace_request(headers: HTTPHeaders) -> CallTrace:
    """The trace of a request with these headers. get_list: no KeyError raised and caught per
    call without the header, and two headers are one invalid value (3.2.2: a single field)."""
    sent = headers.get_list(TRACEPARENT_HEADER)
    return start_call(",".join(sent) if sent else None)


class TraceResponseMixin:
    """For a RequestHandler with a `trace` attribute: every answer carries `traceresponse`.
    Set in finish(), not before: an error answer clears the headers set earlier."""

    trace: CallTrace | None = None

    def finish(self, chunk=None):
        if self.trace is not None:
            self.set_header(TRACERESPONSE_HEADER, self.trace.response_header())
        return super().finish(chunk)


def start_call(header: str | None) -> CallTrace:
    """This call's trace: the caller's when its header is valid, else a new one."""
    parent = parse_traceparent(header)
    if parent is None:
        flags = SAMPLED_FLAG | RANDOM_TRACE_ID_FLAG
        return CallTrace(*new_ids(), None, flags, header is not None)
    return CallTrace(parent.trace_id, new_span_id(), parent.parent_id, parent.flags, False)
