"""A stand-in function API on 127.0.0.1 in a background thread: the contract's shapes (200
`result`, 4xx `error` object) with the reference results, and misbehaviour a test can ask for,
so the front door's verdicts are checked against answers the test controls."""

from __future__ import annotations

import asyncio
import json
import threading

import tornado.web

from app.contract import FUNCTION_ARGUMENTS
from lab.support import free_port
from tests.support.reference import reference_result


class FunctionHandler(tornado.web.RequestHandler):
    def initialize(self, behaviour: dict) -> None:
        self.behaviour = behaviour

    def get(self, function: str, raw_args: str) -> None:
        if self.behaviour.get("fail_function") == function:
            raise tornado.web.HTTPError(500)
        parts = raw_args.strip("/").split("/")
        limits = FUNCTION_ARGUMENTS[function]
        if len(parts) != len(limits):
            raise tornado.web.HTTPError(404)
        args = []
        for part, (_name, high) in zip(parts, limits, strict=True):
            if not part.isdigit() or not 0 <= int(part) <= high:
                raise tornado.web.HTTPError(400)
            args.append(int(part))
        result = reference_result(function, tuple(args))
        if self.behaviour.get("wrong_function") == function:
            result += 1
        if self.behaviour.get("misrouted_function") == function:
            function = next(f for f in FUNCTION_ARGUMENTS if f != function)
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


class FunctionApi:
    """The stand-in, as a context manager; `behaviour` may change between runs."""

    def __init__(self) -> None:
        self.behaviour: dict = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        functions = "|".join(FUNCTION_ARGUMENTS)
        app = tornado.web.Application(
            [
                (
                    rf"/({functions})/((?:[^/]+/){{1,3}})",
                    FunctionHandler,
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

    def __enter__(self) -> FunctionApi:
        self._thread.start()
        assert self._ready.wait(10), "the stand-in function API did not start"
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
