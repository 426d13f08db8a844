"""The replica's reading of `traceparent` and its `traceresponse`, against the W3C rules.

Source of every expectation: W3C Trace Context Level 1 (Recommendation, 2021-11-23), section
3.2 "Traceparent Header" (w3c/trace-context spec/20-http_request_header_format.md), and Level 2
section "Traceresponse Header" (spec/21-http_response_header_format.md). The header examples
are the spec's own.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.tracecontext import TraceParent, parse_traceparent, start_call

# 3.2.3 "Examples of HTTP traceparent Headers": sampled, then not sampled.
SPEC_SAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
SPEC_NOT_SAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
SPEC_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPEC_PARENT_ID = "00f067aa0ba902b7"

# An oracle written from the ABNF of 3.2.2 and the rules of 3.2.4, independent of the parser:
# HEXDIGLC fields, version not ff, ids not all zero; version 00 is exactly these four fields,
# a higher version may go on after a dash.
_HEX = "[0-9a-f]"
ORACLE = re.compile(
    rf"(?!ff)(?P<version>{_HEX}{{2}})-(?!0{{32}})(?P<trace>{_HEX}{{32}})"
    rf"-(?!0{{16}})(?P<parent>{_HEX}{{16}})-(?P<flags>{_HEX}{{2}})(?P<rest>-.*)?",
    re.DOTALL,
)


def oracle(value: str) -> TraceParent | None:
    found = ORACLE.fullmatch(value)
    if found is None or (found["version"] == "00" and found["rest"] is not None):
        return None
    return TraceParent(found["trace"], found["parent"], int(found["flags"], 16))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (SPEC_SAMPLED, TraceParent(SPEC_TRACE_ID, SPEC_PARENT_ID, 1)),
        (SPEC_NOT_SAMPLED, TraceParent(SPEC_TRACE_ID, SPEC_PARENT_ID, 0)),
        # 3.2.4: a higher version is parsed as 00, its extra fields after a dash ignored.
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be",
            TraceParent(SPEC_TRACE_ID, SPEC_PARENT_ID, 1),
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09",
            TraceParent(SPEC_TRACE_ID, SPEC_PARENT_ID, 9),
        ),
    ],
)
def test_valid_headers_give_the_callers_ids(header, expected):
    assert parse_traceparent(header) == expected


@pytest.mark.parametrize(
    ("header", "rule"),
    [
        (None, "no header: a new trace"),
        ("", "3.2.4: shorter than 55 characters"),
        (SPEC_SAMPLED[:-1], "3.2.4: shorter than 55 characters"),
        ("ff" + SPEC_SAMPLED[2:], "3.2.2.1: version ff is invalid"),
        ("0g" + SPEC_SAMPLED[2:], "3.2.2.1: version is 2HEXDIGLC"),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "3.2.2.3: upper-case trace-id"),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "3.2.2.4: upper-case parent-id",
        ),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A", "3.2.2.5: upper-case flags"),
        ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", "3.2.2.3: all-zero trace-id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01", "3.2.2.4: all-zero parent-id"),
        (SPEC_SAMPLED + "-extra", "3.2.2.2: version 00 has exactly four fields"),
        (SPEC_SAMPLED + "x", "3.2.2.2: version 00 is 55 characters"),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "3.2.4: flags not followed by a dash",
        ),
        (
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "3.2.2: fields delimited by dashes",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "3.2.2.3: trace-id is 32 digits",
        ),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0-", "3.2.2.5: flags are 2 digits"),
    ],
)
def test_invalid_headers_are_ignored(header, rule):
    assert parse_traceparent(header) is None, rule


def field(length: int) -> st.SearchStrategy[str]:
    """A field of the right length (often valid hex, sometimes upper case, zeros or junk)."""
    return st.one_of(
        st.text(alphabet="0123456789abcdef", min_size=length, max_size=length),
        st.just("0" * length),
        st.text(alphabet="0123456789abcdefABCDEF", min_size=length, max_size=length),
        st.text(min_size=length - 1, max_size=length + 1),
    )


headers = st.builds(
    lambda version, trace, parent, flags, sep, rest: (
        sep.join([version, trace, parent, flags]) + rest
    ),
    st.one_of(st.sampled_from(["00", "01", "cc", "fe", "ff", "FF", "0A"]), field(2)),
    field(32),
    field(16),
    field(2),
    st.sampled_from(["-", "-", "-", "_", ""]),
    st.one_of(st.just(""), st.text(max_size=8), st.text(max_size=8).map(lambda t: "-" + t)),
)


@given(headers)
def test_parser_agrees_with_the_abnf(header):
    assert parse_traceparent(header) == oracle(header)


@given(st.text(max_size=80))
def test_parser_agrees_with_the_abnf_on_any_text(header):
    assert parse_traceparent(header) == oracle(header)


RESPONSE = re.compile(r"00-(?P<trace>[0-9a-f]{32})-(?P<child>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})")


@given(st.one_of(st.none(), headers, st.just(SPEC_SAMPLED), st.just(SPEC_NOT_SAMPLED)))
def test_traceresponse_follows_level_2(header):
    """Level 2 traceresponse: version 00, the trace's id, a non-zero child-id (the replica's
    own span, never the caller's), flags with only sampled (set: every call is recorded)
    and random-trace-id (set when the replica drew the id) allowed."""
    call = start_call(header)
    found = RESPONSE.fullmatch(call.response_header())
    assert found is not None, call.response_header()
    parent = oracle(header) if header is not None else None
    assert found["trace"] != "0" * 32
    assert found["child"] != "0" * 16
    flags = int(found["flags"], 16)
    assert flags & ~0x03 == 0
    assert flags & 0x01
    if parent is None:
        assert flags & 0x02, "a replica-drawn trace id is random"
        assert call.rejected_header == (header is not None)
    else:
        assert found["trace"] == parent.trace_id
        assert found["child"] != parent.parent_id
        assert (flags & 0x02) == (parent.flags & 0x02)
        assert not call.rejected_header
