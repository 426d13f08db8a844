"""Bounds on what one client can hold in a replica: body and header sizes, header, body and
keep-alive timeouts, open connections. Each refusal is counted and logged with its reason.

`BoundedHTTPServer` is Tornado's HTTPServer with these bounds in front of the application;
their values are app/server.py's `Limits` settings (app/CONTRACT.md "Limits").
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import tornado.httpserver
import tornado.web
from tornado import gen, httputil, iostream
from tornado.http1connection import HTTP1Connection, HTTP1ServerConnection
from tornado.ioloop import IOLoop

from app.access_log import log_rejection
from app.handlers import JSON_CONTENT_TYPE, ServiceState

if TYPE_CHECKING:
    from app.server import Limits


# After a refusal, how long and how much of a body still on its way is read and dropped
# before closing: closing with unread data sends a reset, which can destroy the answer
# before the client reads it.
LINGER_SECONDS = 1.0
LINGER_BYTES = 1 << 20
# The most one connection may buffer; reads stop far below it (at max_header_bytes for a
# head, one chunk for a body), so this only bounds a case nobody foresaw.
READ_BUFFER_BYTES = 1 << 20
_DECIMAL = re.compile(r"[0-9]+")


@dataclass(eq=False)
class _Connection:
    stream: iostream.IOStream
    # Loop time since when it waits for a request head; None while a request is under way.
    waiting_since: float | None
    requests: int = 0
    # Tornado's per-connection context, which its log lines carry as their first argument.
    context: object = None


class BoundedHTTPServer(tornado.httpserver.HTTPServer):
    """Tornado's HTTPServer for one application of app/handlers.py, within `limits`.

    Tornado enforces the sizes and timeouts it knows; this class adds the body and header
    count checks (before the application sees the request), the connection cap, the
    keep-alive timeout apart from the header timeout, and a count and an ECS line for every
    refusal, including the ones Tornado's parser makes and would log as plain text.
    """

    def initialize(self, app: tornado.web.Application, limits: Limits) -> None:  # type: ignore[override]
        super().initialize(
            app,
            max_header_size=limits.max_header_bytes,
            idle_connection_timeout=limits.header_timeout_seconds,
            body_timeout=limits.body_timeout_seconds,
            max_body_size=limits.max_body_bytes,
            max_buffer_size=READ_BUFFER_BYTES,
        )
        self.limits = limits
        state: ServiceState = app.settings["lab_state"]
        self._rejected = state.metrics.rejected
        self._logger = state.logger
        self._function = state.function
        # Tornado times every head read alike; later requests on a connection get these.
        self._keepalive_params = copy.copy(self.conn_params)
        self._keepalive_params.header_timeout = limits.idle_timeout_seconds
        self._open: dict[iostream.IOStream, _Connection] = {}
        # Insertion order is the order they started waiting, so the first is the eviction pick.
        self._waiting: dict[_Connection, None] = {}
        self._contexts: dict[object, _Connection] = {}
        self._lingering: set[asyncio.Task[None]] = set()
        # The router counts what Tornado only logs, so those lines must be created whatever
        # level the process logs at.
        self._log_router = _TornadoLogRouter(self)
        self._tornado_log = logging.getLogger("tornado.general")
        self._tornado_log_level = self._tornado_log.level
        self._tornado_log.setLevel(logging.INFO)
        self._tornado_log.addFilter(self._log_router)

    @property
    def open_connections(self) -> int:
        return len(self._open) + len(self._lingering)

    def handle_stream(self, stream: iostream.IOStream, address: tuple) -> None:
        now = IOLoop.current().time()
        if self.open_connections >= self.limits.max_connections:
            victim = next(iter(self._waiting), None)
            if victim is None:
                stream.close()
                self.record(
                    "too_many_connections",
                    f"refused a connection: {self.limits.max_connections} open, none idle",
                )
                return
            self._forget(victim)
            victim.stream.close()
            self.record(
                "too_many_connections",
                f"closed the longest idle of {self.limits.max_connections} connections"
                " for a new one",
            )
        connection = _Connection(stream, waiting_since=now)
        self._open[stream] = connection
        self._waiting[connection] = None
        super().handle_stream(stream, address)

    def start_request(  # type: ignore[override]
        self, server_conn: HTTP1ServerConnection, request_conn: HTTP1Connection
    ) -> httputil.HTTPMessageDelegate:
        delegate = super().start_request(server_conn, request_conn)
        connection = self._open.get(server_conn.stream)
        if connection is None:  # evicted before its first read began
            return delegate
        connection.requests += 1
        connection.context = server_conn.context
        self._contexts[connection.context] = connection
        if connection.requests > 1:
            request_conn.params = self._keepalive_params
            connection.waiting_since = IOLoop.current().time()
            self._waiting.pop(connection, None)
            self._waiting[connection] = None
        return _GuardedRequest(self, connection, request_conn, delegate)

    def on_close(self, server_conn: HTTP1ServerConnection) -> None:  # type: ignore[override]
        stream = server_conn.stream
        connection = self._open.get(stream)
        if connection is not None:
            self._forget(connection)
            if connection.waiting_since is not None:
                self._closed_while_waiting(connection, stream.error)
        super().on_close(server_conn)

    def _closed_while_waiting(self, connection: _Connection, error: BaseException | None) -> None:
        if isinstance(error, (iostream.UnsatisfiableReadError, iostream.StreamBufferFullError)):
            self.record(
                "headers_too_large",
                f"closed: request head over {self.limits.max_header_bytes} bytes",
            )
            return
        waited = IOLoop.current().time() - connection.waiting_since  # type: ignore[operator]
        # A keep-alive connection that stays idle is closed as a matter of course, not refused.
        if connection.requests <= 1 and waited >= self.limits.header_timeout_seconds:
            self.record(
                "header_timeout",
                f"closed: no complete request head within {self.limits.header_timeout_seconds:g} s",
            )

    def _forget(self, connection: _Connection) -> None:
        self._open.pop(connection.stream, None)
        self._waiting.pop(connection, None)
        self._contexts.pop(connection.context, None)

    def record(
        self,
        reason: str,
        message: str,
        status: int | None = None,
        start_line: httputil.RequestStartLine | None = None,
    ) -> None:
        """Count a refusal under its reason and write its one ECS line."""
        self._rejected[reason].inc()
        method, path = (start_line.method, start_line.path) if start_line else (None, None)
        log_rejection(self._logger, self._function, reason, message, status, method, path)

    def owns(self, context: object) -> bool:
        """Whether Tornado's connection `context` is one of this server's open connections."""
        return context in self._contexts

    def head_received(self, connection: _Connection) -> None:
        connection.waiting_since = None
        self._waiting.pop(connection, None)

    def refusal(self, headers: httputil.HTTPHeaders) -> tuple[str, int, str] | None:
        """(reason, status, message) when a request head breaks a limit, else None."""
        limits = self.limits
        count = sum(1 for _ in headers.get_all())
        if count > limits.max_header_count:
            return (
                "headers_too_large",
                431,
                f"{count} header fields, at most {limits.max_header_count} are accepted",
            )
        too_large = (
            "body_too_large",
            413,
            f"the API takes no request body (at most {limits.max_body_bytes} bytes)",
        )
        if "Transfer-Encoding" in headers:
            return too_large  # a length announced by nothing: refused before any of it is read
        if "Content-Length" not in headers:
            return None
        pieces = re.split(r",[ \t]*", headers["Content-Length"])
        if all(_DECIMAL.fullmatch(piece) for piece in pieces):
            # Compared by length first: int() of a huge digit string is the client's attack.
            digits = max(len(piece.lstrip("0")) for piece in pieces)
            sizes = [int(piece) for piece in pieces] if digits <= 18 else []
            if not sizes or max(sizes) > limits.max_body_bytes:
                return too_large
        # Anything else malformed is Tornado's to refuse (400, counted as bad_request).
        return None

    def refuse(
        self,
        stream: iostream.IOStream,
        start_line: httputil.RequestStartLine,
        refusal: tuple[str, int, str],
    ) -> None:
        reason, status, message = refusal
        self.record(reason, message, status, start_line)
        body = json.dumps({"error": {"status": status, "message": message}}).encode()
        head = (
            f"HTTP/1.1 {status} {httputil.responses[status]}\r\n"
            f"Content-Type: {JSON_CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        answer = head if start_line.method == "HEAD" else head + body
        task = asyncio.ensure_future(self._answer_and_close(stream, answer))
        self._lingering.add(task)
        task.add_done_callback(self._lingering.discard)

    async def _answer_and_close(self, stream: iostream.IOStream, answer: bytes) -> None:
        try:
            await stream.write(answer)
            if stream.socket is not None:
                stream.socket.shutdown(socket.SHUT_WR)
            deadline = IOLoop.current().time() + LINGER_SECONDS
            drained = 0
            while drained < LINGER_BYTES:
                chunk = await gen.with_timeout(
                    deadline,
                    stream.read_bytes(64 * 1024, partial=True),
                    quiet_exceptions=iostream.StreamClosedError,
                )
                drained += len(chunk)
        except (iostream.StreamClosedError, OSError, TimeoutError):
            pass  # the client left, or lingered too long: either way the answer was sent
        finally:
            stream.close()

    async def close_all_connections(self) -> None:
        await super().close_all_connections()
        for task in list(self._lingering):
            task.cancel()
        self._tornado_log.removeFilter(self._log_router)
        self._tornado_log.setLevel(self._tornado_log_level)


class _GuardedRequest(httputil.HTTPMessageDelegate):
    """The application's delegate for one request, behind the head checks."""

    def __init__(
        self,
        server: BoundedHTTPServer,
        connection: _Connection,
        request_conn: HTTP1Connection,
        delegate: httputil.HTTPMessageDelegate,
    ) -> None:
        self.server = server
        self.connection = connection
        self.request_conn = request_conn
        self.delegate = delegate

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ):
        self.server.head_received(self.connection)
        refusal = self.server.refusal(headers)
        if refusal is None:
            return self.delegate.headers_received(start_line, headers)
        # Taking the stream ends Tornado's reading of this connection: not a byte of the
        # body is read into memory, and the application never sees the request.
        stream = self.request_conn.detach()
        self.server.refuse(stream, start_line, refusal)  # type: ignore[arg-type]
        return None

    def data_received(self, chunk: bytes):
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.delegate.finish()

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()


class _TornadoLogRouter(logging.Filter):
    """Turns the plain-text lines Tornado writes when it refuses a client's bytes into this
    server's count and ECS line (the message formats are Tornado's, pinned in requirements)."""

    def __init__(self, server: BoundedHTTPServer) -> None:
        super().__init__()
        self.server = server

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg
        if not isinstance(message, str):
            return True
        if message.startswith("Unsatisfiable read, closing connection"):
            return False  # an oversized head: counted when its connection closes
        args = record.args if isinstance(record.args, tuple) else ()
        if not args or not self.server.owns(args[0]):
            return True  # not about one of this server's connections
        if message == "Malformed HTTP message from %s: %s" and len(args) == 2:
            self.server.record("bad_request", f"malformed request: {args[1]}", 400)
        elif message == "Timeout reading body from %s":
            timeout = self.server.limits.body_timeout_seconds
            self.server.record(
                "body_timeout", f"closed: request body not received within {timeout:g} s"
            )
        else:
            return True
        return False
