"""Property: whatever path a client sends, the service never answers 5xx, and each 200
carries the exact result. An independent oracle says which paths must succeed."""

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.compute import FUNCTIONS
from tests.app.helpers import running_service
from tests.support.reference import reference_result

ASCII_DECIMAL = re.compile(r"[0-9]+\Z")

segments = st.one_of(
    st.integers(min_value=-10, max_value=1000).map(str),
    st.integers(min_value=0, max_value=10**30).map(str),
    st.text(max_size=6),
    st.sampled_from(["", " 5", "+5", "5_0", "٣", "007", "-0", "1e3", "..", "%", "?"]),
)
function_names = st.one_of(st.sampled_from(sorted(FUNCTIONS)), st.text(max_size=6))


def expected_args(service_function, function, raw_segments):
    """The parsed arguments if the call must succeed, else None."""
    parameters = FUNCTIONS[service_function].parameters
    if function != service_function or len(raw_segments) != len(parameters):
        return None
    values = []
    for raw, parameter in zip(raw_segments, parameters, strict=True):
        if not ASCII_DECIMAL.match(raw) or int(raw) > parameter.maximum:
            return None
        values.append(int(raw))
    return tuple(values)


@pytest.mark.parametrize("service_function", sorted(FUNCTIONS))
def test_never_a_5xx_and_every_200_is_exact(service_function):
    with running_service(service_function) as case:

        @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            function=function_names,
            raw_segments=st.lists(segments, max_size=3),
            trailing_slash=st.booleans(),
        )
        def check(function, raw_segments, trailing_slash):
            path = (
                "/"
                + quote(function, safe="")
                + "".join("/" + quote(raw, safe="") for raw in raw_segments)
            )
            path += "/" if trailing_slash else ""
            response = case.request(path)
            assert response.code < 500, path
            if raw_segments and raw_segments[-1] == "" and not trailing_slash:
                # `/fibonacci/0/` + no slash is `/fibonacci/0/`: the optional trailing slash.
                raw_segments = raw_segments[:-1]
            args = expected_args(service_function, function, raw_segments)
            if args is None:
                assert response.code in (400, 404), path
                assert "error" in json.loads(response.body)
            else:
                assert response.code == 200, path
                body = json.loads(response.body)
                assert body["result"] == str(reference_result(service_function, args))
                assert body["args"] == list(args)

        check()
