"""Fixtures for the front-door tests: a small stand-in function API in a background thread.

The stand-in speaks the contract's shapes (200 `result`, 4xx `error` object) with its own
implementations, and can be told to misbehave, so the traffic generator's verdicts are checked
against a server whose answers the test controls.
"""

import asyncio
import json
import socket
import threading
from collections.abc import Iterator

import pytest
import tornado.web


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def slow_fibonacci(n: int) -> int:
    # A different algorithm from scripts.traffic's, so the two do not share a mistake.
    table = [0, 1]
    while len(table) <= n:
        table.append(table[-1] + table[-2])
    return table[n]


def slow_factorial(n: int) -> int:
    product = 1
    for k in range(2, n + 1):
        product *= k
    return product


def slow_ackermann(m: int, n: int) -> int:
    # Closed forms for m <= 3.
    return (n + 1, n + 2, 2 * n + 3, 2 ** (n + 3) - 3)[m]


LIMITS = {"fibonacci": [(0, 400)], "factorial": [(0, 400)], "ackermann": [(0, 3), (0, 4)]}
IMPLEMENTATIONS = {
    "fibonacci": slow_fibonacci,
    "factorial": slow_factorial,
    "ackermann": slow_ackermann,
}


class FakeFunctionHandler(tornado.web.RequestHandler):
    def initialize(self, behaviour: dict) -> None:
        self.behaviour = behaviour

    def get(self, function: str, raw_args: str) -> None:
        if self.behaviour.get("fail_function") == function:
            raise tornado.web.HTTPError(500)
        parts = raw_args.strip("/").split("/")
        limits = LIMITS.get(function)
        if limits is None or len(parts) != len(limits):
            raise tornado.web.HTTPError(404)
        args = []
        for part, (low, high) in zip(parts, limits, strict=True):
            if not part.isdigit() or not low <= int(part) <= high:
                raise tornado.web.HTTPError(400)
            args.append(int(part))
        result = IMPLEMENTATIONS[function](*args)
        if self.behaviour.get("wrong_function") == function:
            result += 1
        self.write({"function": function, "args": args, "result": str(result)})

    def write_error(self, status_code: int, **kwargs) -> None:
        self.finish(json.dumps({"error": {"status": status_code, "message": self._reason}}))


class NotFoundHandler(tornado.web.RequestHandler):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)

    def write_error(self, status_code: int, **kwargs) -> None:
        self.finish(json.dumps({"error": {"status": status_code, "message": "not found"}}))


class AnswerHandler(tornado.web.RequestHandler):
    """`/answer/503/...` answers 503: lets a test pick the status a health probe sees."""

    def get(self, status: str) -> None:
        self.set_status(int(status))
        self.finish({"status": int(status)})


class FakeApi:
    """A function API on 127.0.0.1 whose `behaviour` dict a test may change between runs."""

    def __init__(self) -> None:
        self.behaviour: dict = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        app = tornado.web.Application(
            [
                (
                    r"/(fibonacci|factorial|ackermann)/((?:[^/]+/){1,2})",
                    FakeFunctionHandler,
                    {"behaviour": self.behaviour},
                ),
                (r"/answer/(\d{3})/.*", AnswerHandler),
            ],
            default_handler_class=NotFoundHandler,
        )
        server = app.listen(self.port, address="127.0.0.1")
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        server.stop()

    def __enter__(self) -> "FakeApi":
        self._thread.start()
        assert self._ready.wait(10), "the fake API did not start"
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="package")
def local_lab():
    """One LocalLab (real app replicas and Traefik, no Prometheus) shared by the tests."""
    from scripts.local import LocalLab

    with LocalLab(replicas=2, with_prometheus=False) as lab:
        yield lab


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    with FakeApi() as api:
        yield api
