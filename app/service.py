"""The function service: Tornado application, Prometheus metrics, ECS access log, main().

`make_app(function, registry=...)` builds one service instance with its own metrics and no
global state; `main()` reads the command line and environment, listens, and on SIGTERM
stops accepting, lets the requests in flight finish and exits. Field and metric names
follow docs/contract.md (summarised in app/CONTRACT.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import NamedTuple

import ecs_logging
import tornado.httpserver
import tornado.web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from app.functions import FUNCTIONS, ArgumentError, FunctionSpec, parse_arguments

# Shared with Traefik's static config (docs/contract.md) so the two quantiles compare.
HISTOGRAM_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
# The codes this service produces itself; pre-created so dashboards show 0, not "no data".
EXPECTED_CODES = (200, 400, 404, 405, 500)
URL_PATH_LOG_LIMIT = 256
ARGUMENTS_LOG_LIMIT = 64
# On SIGTERM the service first keeps serving while /health answers 503, long enough for
# Traefik's health check (every 2 s, stack/render.py) to take the replica out of rotation;
# only then does it stop listening. Without this window a request Traefik had already
# routed here meets a closed socket and the client sees a 502.
DEFAULT_DRAIN_SECONDS = 3.5
MAX_DRAIN_SECONDS = 5.0
# Docker waits 10 s between SIGTERM and SIGKILL: drain window + in-flight wait stay below it.
IN_FLIGHT_TIMEOUT_SECONDS = 4.5
# Fields ecs-logging adds by default that nobody reads here: the caller's file and line,
# process and thread ids, and log.original (a copy of message). Dropping them makes each
# line shorter and the formatter cheaper.
EXCLUDED_LOG_FIELDS = ("log.origin", "log.original", "process")
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"

access_logger = logging.getLogger("lab.access")
lifecycle_logger = logging.getLogger("lab.lifecycle")


class ApiError(tornado.web.HTTPError):
    """An HTTPError whose message (and, for 400, argument and rule) reach the JSON body."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        argument: str | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(status_code)
        self.message = message
        self.argument = argument
        self.rule = rule


class ServiceState:
    """Everything one application instance counts: its metrics and its requests in flight.

    Handlers receive it through their URLSpec kwargs; main() reads `active_requests` to know
    when the requests in flight have finished.
    """

    def __init__(
        self, spec: FunctionSpec, registry: CollectorRegistry, logger: logging.Logger
    ) -> None:
        self.spec = spec
        self.function = spec.name
        self.logger = logger
        self.active_requests = 0
        # Set on SIGTERM: /health turns 503 so the replica leaves the rotation before it stops.
        self.draining = False
        self.prefix_length = len(f"/{self.function}/")
        self.bodies: dict[tuple[int, ...], bytes] = {}
        labels = (self.function,)
        self.requests_total = Counter(
            "lab_requests",
            "Function API requests answered, by HTTP status code",
            ("function", "code"),
            registry=registry,
        )
        self.requests_by_code = {
            code: self.requests_total.labels(self.function, str(code)) for code in EXPECTED_CODES
        }
        self.request_duration = Histogram(
            "lab_request_duration_seconds",
            "Time from the start of the handler to the response, function API requests",
            ("function",),
            buckets=HISTOGRAM_BUCKETS,
            registry=registry,
        ).labels(*labels)
        self.compute_duration = Histogram(
            "lab_compute_duration_seconds",
            "Time spent computing the function itself",
            ("function",),
            buckets=HISTOGRAM_BUCKETS,
            registry=registry,
        ).labels(*labels)
        self.in_flight = Gauge(
            "lab_requests_in_flight",
            "Function API requests being handled",
            ("function",),
            registry=registry,
        ).labels(*labels)

    def request_started(self, counted: bool) -> None:
        self.active_requests += 1
        if counted:
            self.in_flight.inc()

    def request_finished(self, handler: BaseHandler) -> None:
        """Tornado's log_function: count the request, then write its one ECS access line.

        It replaces Tornado's own access log, so each request yields exactly one line.
        """
        elapsed_ns = time.perf_counter_ns() - handler.started_ns
        status = handler.get_status()
        self.active_requests -= 1
        if handler.counted:
            self.in_flight.dec()
            counter = self.requests_by_code.get(status)
            if counter is None:
                counter = self.requests_total.labels(self.function, str(status))
            counter.inc()
            self.request_duration.observe(elapsed_ns / 1e9)
        elif status < 400:
            # A successful probe (/health, /metrics) is not an event worth a log line.
            return
        if status < 400 or (status == 503 and self.draining and not handler.counted):
            # A 503 probe while draining is the service asking to be taken out: expected.
            level = logging.INFO
        elif status < 500:
            level = logging.WARNING
        else:
            level = logging.ERROR
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        request = handler.request
        path = request.path[:URL_PATH_LOG_LIMIT]
        method = request.method
        extra = {
            "event.dataset": "lab.access",
            "event.duration": elapsed_ns,
            "http.request.method": method,
            "http.response.status_code": status,
            "url.path": path,
            "lab.function": self.function,
        }
        if handler.counted:
            # Raw as sent (still percent-encoded), without the one optional trailing slash.
            arguments = request.path[self.prefix_length :]
            if arguments.endswith("/"):
                arguments = arguments[:-1]
            extra["lab.arguments"] = arguments[:ARGUMENTS_LOG_LIMIT]
        if handler.compute_ns is not None:
            extra["lab.compute.duration"] = handler.compute_ns
        if handler.error_message is not None:
            extra["error.message"] = handler.error_message
        # makeRecord + handle is logger.log without the caller lookup (a stack walk for
        # log.origin, which this service excludes from its lines anyway).
        record = logger.makeRecord(
            logger.name, level, "", 0, f"{method} {path} {status}", None, None, extra=extra
        )
        logger.handle(record)


class BaseHandler(tornado.web.RequestHandler):
    """JSON errors, the per-request bookkeeping and no Tornado log lines of its own."""

    # Whether the request is a function API call (counted in lab_requests_total).
    counted = True

    def initialize(self, state: ServiceState) -> None:
        self.state = state
        self.started_ns = time.perf_counter_ns()
        self.compute_ns: int | None = None
        self.error_message: str | None = None
        state.request_started(self.counted)

    def write_error(self, status_code: int, **kwargs: object) -> None:
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if isinstance(exc_info, tuple) else None
        if isinstance(error, ApiError):
            message = error.message
        elif status_code >= 500:
            message = "internal server error"  # never leak an exception to the client
        else:
            message = self._reason
        self.error_message = message
        body: dict[str, object] = {"status": status_code, "message": message}
        if isinstance(error, ApiError) and error.argument is not None:
            body["argument"] = error.argument
            body["rule"] = error.rule
        self.set_header("Content-Type", JSON_CONTENT_TYPE)
        self.finish({"error": body})

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Client errors are already in the access line; only a bug deserves a traceback.
        if not isinstance(value, tornado.web.HTTPError):
            self.state.logger.error(
                "uncaught exception in %s %s",
                self.request.method,
                self.request.path[:URL_PATH_LOG_LIMIT],
                exc_info=(typ, value, tb),
                extra={"event.dataset": "lab.access", "lab.function": self.state.function},
            )


class FunctionHandler(BaseHandler):
    """`GET /{function}/{arg1}/[{arg2}/]`: parse, compute, answer the exact result."""

    def get(self, *raw_arguments: str) -> None:
        state = self.state
        spec = state.spec
        try:
            arguments = parse_arguments(spec, raw_arguments)
        except ArgumentError as error:
            raise ApiError(400, error.message, argument=error.argument, rule=error.rule) from None
        started = time.perf_counter_ns()
        result = spec.compute(*arguments)
        self.compute_ns = compute_ns = time.perf_counter_ns() - started
        state.compute_duration.observe(compute_ns / 1e9)
        self.set_header("Content-Type", JSON_CONTENT_TYPE)
        # The function runs (and is timed) on every call; its rendering is cached because
        # int -> decimal string is quadratic (8 us for 400!, more than computing it). The
        # limits bound the cache: at most 401 entries per function.
        body = state.bodies.get(arguments)
        if body is None:
            # Built by hand: every part is a fixed name or a decimal number, valid JSON.
            body = (
                f'{{"function": "{spec.name}", "args": [{", ".join(map(str, arguments))}], '
                f'"result": "{result}"}}'
            ).encode()
            state.bodies[arguments] = body
        self.finish(body)

    def compute_etag(self) -> None:
        # A sha1 of a few bytes per response buys nothing: clients do not revalidate these.
        return None

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        # Tornado answers undecodable bytes with a bare 400; decode leniently instead so the
        # parser reports the argument and its rule like any other non-ASCII input.
        return value.decode("utf-8", "replace")


class DelayedFunctionHandler(FunctionHandler):
    """Test only (LAB_TEST_DELAY_MS): wait before answering, so a test can catch a request
    in flight. Never routed unless a delay is configured."""

    delay_seconds = 0.0

    async def get(self, *raw_arguments: str) -> None:  # type: ignore[override]
        await asyncio.sleep(self.delay_seconds)
        super().get(*raw_arguments)


class UsageHandler(BaseHandler):
    """The function's prefix with the wrong number of segments: 404 that shows the usage."""

    def prepare(self) -> None:
        spec = self.state.spec
        count = len(spec.parameters)
        plural = "argument" if count == 1 else "arguments"
        raise ApiError(404, f"{spec.name} takes {count} {plural}: {spec.usage}")


class NotFoundHandler(BaseHandler):
    """Every other path, whatever the method."""

    counted = False

    def prepare(self) -> None:
        raise ApiError(404, "no such path")


class HealthHandler(BaseHandler):
    counted = False

    def get(self) -> None:
        self.set_header("Content-Type", JSON_CONTENT_TYPE)
        if self.state.draining:
            # Still answering calls, but asking load balancers to send no more.
            self.set_status(503)
            self.finish(f'{{"status": "draining", "function": "{self.state.function}"}}')
            return
        self.finish(f'{{"status": "ok", "function": "{self.state.function}"}}')


class MetricsHandler(BaseHandler):
    counted = False

    def initialize(self, state: ServiceState, registry: CollectorRegistry) -> None:  # type: ignore[override]
        super().initialize(state)
        self.registry = registry

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(self.registry))


def make_app(
    function: str,
    *,
    registry: CollectorRegistry | None = None,
    logger: logging.Logger | None = None,
    test_delay_seconds: float = 0.0,
) -> tornado.web.Application:
    """One service instance for `function`; its metrics go into `registry` (a new one if
    None), its access lines to `logger`. No side effects: nothing listens yet."""
    spec = FUNCTIONS[function]
    registry = CollectorRegistry() if registry is None else registry
    state = ServiceState(spec, registry, access_logger if logger is None else logger)
    deps = {"state": state}
    function_handler: type[FunctionHandler] = FunctionHandler
    if test_delay_seconds > 0:
        function_handler = type(
            "DelayedFunctionHandler",
            (DelayedFunctionHandler,),
            {"delay_seconds": test_delay_seconds},
        )
    segments = "/".join(["([^/]+)"] * len(spec.parameters))
    routes = [
        # The API's form is /{function}/{args}/; the trailing slash may be left out.
        (rf"/{function}/{segments}/?", function_handler, deps),
        (rf"/{function}(?:/.*)?", UsageHandler, deps),
        (r"/health", HealthHandler, deps),
        (r"/metrics", MetricsHandler, {"state": state, "registry": registry}),
    ]
    return tornado.web.Application(
        routes,
        default_handler_class=NotFoundHandler,
        default_handler_args=deps,
        log_function=state.request_finished,
        lab_state=state,
    )


_SCALAR_TYPES = frozenset({str, int, float, bool})


class _Template(NamedTuple):
    """A record shape's JSON: `pieces[0]`, value of `keys[0]`, `pieces[1]`, ..."""

    pieces: tuple[str, ...]
    keys: tuple[str, ...]


def _json_fallback(value: object) -> object:
    # What ecs-logging does for values json cannot encode.
    structlog = getattr(value, "__structlog__", None)
    return structlog() if structlog is not None else repr(value)


class LabEcsFormatter(ecs_logging.StdlibFormatter):
    """ecs-logging's StdlibFormatter with a fast path that writes the same JSON.

    The stock formatter spends about 30 us per line (generic field extraction, one nested
    dict per dotted key, a JSON encoder built four times); at one line per request that
    is a third of the service's throughput. For the records this service writes (scalar
    values under dotted ECS names, no exception) this class compiles each record shape
    (logger name and `extra` keys) once into constant JSON text around its values and then
    only encodes the values (about 4 us per line); anything else (exceptions, nested dicts
    in `extra`, name clashes) goes through the stock code. tests/app/test_app_logging.py
    holds the two outputs equal, also over random shapes.
    """

    _REQUIRED_EXCLUSIONS = frozenset(EXCLUDED_LOG_FIELDS)

    def __init__(self, *, extra: dict[str, object], exclude_fields: Sequence[str]) -> None:
        super().__init__(extra=extra, exclude_fields=exclude_fields)
        # The fast path knows only the fixed fields left once these groups are excluded.
        self._fast = self._exclude_fields >= self._REQUIRED_EXCLUSIONS and not any(
            self._is_field_excluded(name)
            for name in ("@timestamp", "ecs.version", "log.level", "log.logger", "message")
        )
        self._static_extra = [
            (tuple(key.split(".")), value)
            for key, value in extra.items()
            if not self._is_field_excluded(key)
        ]
        self._second = -1
        self._second_text = ""
        self._encode = json.JSONEncoder(
            sort_keys=True,
            separators=(",", ":"),
            default=_json_fallback,
            ensure_ascii=self.ensure_ascii,
        ).encode
        # What that encoder does with a str, without its type dispatch.
        self._encode_str = (
            json.encoder.encode_basestring_ascii
            if self.ensure_ascii
            else json.encoder.encode_basestring
        )
        # (logger name, extra keys) -> its compiled JSON, or None for the stock path.
        self._templates: dict[tuple[str, frozenset[str]], _Template | None] = {}

    def _document(
        self, name: str, extras: Sequence[tuple[str, object]]
    ) -> dict[str, object] | None:
        """The nested document of a record's fixed fields and scalar `extras`, or None when
        the stock code must handle it (APM fields, a dotted key clashing with another)."""
        document: dict[str, object] = {"ecs.version": ecs_logging.ECS_VERSION}
        document["log"] = {"logger": name}
        pairs = [*self._static_extra]
        for key, value in extras:
            if key.startswith("elasticapm_"):
                return None
            if not self._is_field_excluded(key):
                pairs.append((tuple(key.split(".")), value))
        for parts, value in pairs:
            node = document
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if type(child) is not dict:
                    return None  # a clash: let the stock code report it
                node = child
            if parts[-1] in node:
                return None
            node[parts[-1]] = value
        return document

    def _compile(self, name: str, keys: frozenset[str]) -> _Template | None:
        """The JSON of every record of this logger with these `extra` keys, as constant text
        around the places its values go: the document is encoded once with a placeholder per
        key, exactly as the stock path encodes it, then cut at the placeholders."""
        placeholders = {key: f"\ue000{i}\ue000" for i, key in enumerate(sorted(keys))}
        document = self._document(name, list(placeholders.items()))
        if document is None:
            return None
        text = self._encode(document)[1:]
        found = sorted(
            (text.index(marker), key, marker)
            for key, marker in ((k, self._encode(v)) for k, v in placeholders.items())
            if marker in text
        )
        pieces, order, start = [], [], 0
        for position, key, marker in found:
            pieces.append(text[start:position])
            order.append(key)
            start = position + len(marker)
        pieces.append(text[start:])
        return _Template(tuple(pieces), tuple(order))

    def _fast_body(self, record: logging.LogRecord) -> str | None:
        """Everything after "message": the fixed fields and the record's `extra` values."""
        if not self._fast or record.exc_info or record.stack_info:
            return None
        fields = record.__dict__
        # A set difference in C instead of a Python test per LogRecord attribute.
        keys = frozenset(k for k in fields.keys() - self._LOGRECORD_DICT if fields[k] is not None)
        shape = (record.name, keys)
        try:
            template = self._templates[shape]
        except KeyError:
            template = self._templates[shape] = self._compile(record.name, keys)
        if template is None:
            return None
        pieces = template.pieces
        out = [pieces[0]]
        encode, encode_str = self._encode, self._encode_str
        for key, piece in zip(template.keys, pieces[1:], strict=True):
            value = fields[key]
            kind = type(value)
            if kind is str:
                out.append(encode_str(value))
            elif kind is int:
                out.append(int.__repr__(value))
            elif kind in _SCALAR_TYPES:
                out.append(encode(value))
            else:
                return None  # nested or other data: the stock code knows how to merge it
            out.append(piece)
        return "".join(out)

    def format(self, record: logging.LogRecord) -> str:
        body = self._fast_body(record)
        if body is None:
            return super().format(record)
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(second))
            self._second = second
        timestamp = f"{self._second_text}.{int(record.msecs):03d}Z"
        encode_str = self._encode_str
        return (
            f'{{"@timestamp":{encode_str(timestamp)},'
            f'"log.level":{encode_str(record.levelname.lower())},'
            f'"message":{encode_str(record.getMessage())},{body}'
        )


def make_formatter(function: str) -> logging.Formatter:
    """The ECS formatter every line of this service goes through."""
    return LabEcsFormatter(
        extra={"service.name": f"lab-{function}"}, exclude_fields=EXCLUDED_LOG_FIELDS
    )


class LoopBatchingStreamHandler(logging.StreamHandler):
    """A StreamHandler that formats and writes once per event-loop iteration.

    Under load one loop iteration answers many requests. Their records are kept until the
    iteration ends, then formatted in one tight loop and written with one write(): the
    formatter's code and data stay in the CPU caches and the per-line syscall goes away.
    Lines leave before the loop next waits for I/O, so nothing lingers; outside a running
    loop (start-up, exit) every record is written at once.
    """

    def __init__(self, stream=None) -> None:
        super().__init__(stream)
        self._pending: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            super().emit(record)
            return
        if not self._pending:
            loop.call_soon(self._write_pending)
        self._pending.append(record)

    def _write_pending(self) -> None:
        with self.lock:
            records, self._pending = self._pending, []
        if not records:
            return
        lines = []
        for record in records:
            try:
                lines.append(self.format(record))
            except Exception:
                self.handleError(record)
        lines.append("")
        try:
            self.stream.write(self.terminator.join(lines))
            self.stream.flush()
        except Exception:
            self.handleError(records[0])

    def flush(self) -> None:
        if self._pending:
            self._write_pending()
        super().flush()


def configure_logging(function: str, stream=None, level: int = logging.INFO) -> logging.Handler:
    """Route every logger (ours, Tornado's, asyncio's) to one ECS JSON handler on stdout."""
    handler = LoopBatchingStreamHandler(sys.stdout if stream is None else stream)
    handler.setFormatter(make_formatter(function))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Fields we exclude anyway; skipping them saves work on every record.
    logging.logMultiprocessing = False
    logging.logProcesses = False
    logging.logThreads = False
    return handler


@dataclass(frozen=True)
class Settings:
    function: str
    host: str
    port: int
    event_loop: str
    test_delay_seconds: float
    drain_seconds: float = DEFAULT_DRAIN_SECONDS


def parse_settings(argv: Sequence[str] | None, environ: Mapping[str, str]) -> Settings:
    """Command line over environment over defaults (docs/contract.md)."""
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--function",
        choices=sorted(FUNCTIONS),
        default=environ.get("LAB_FUNCTION"),
        help="the function to serve (env LAB_FUNCTION)",
    )
    parser.add_argument(
        "--host",
        default=environ.get("LAB_HOST", "127.0.0.1"),
        help="address to listen on (env LAB_HOST, default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=environ.get("LAB_PORT", "8080"),
        help="port to listen on (env LAB_PORT, default 8080)",
    )
    args = parser.parse_args(argv)
    if args.function is None:
        parser.error("--function or LAB_FUNCTION is required")
    if args.function not in FUNCTIONS:
        parser.error(f"LAB_FUNCTION must be one of {', '.join(sorted(FUNCTIONS))}")
    event_loop = environ.get("LAB_EVENT_LOOP", "uvloop")
    if event_loop not in ("uvloop", "asyncio"):
        parser.error("LAB_EVENT_LOOP must be uvloop or asyncio")
    raw_drain = environ.get("LAB_DRAIN_SECONDS", str(DEFAULT_DRAIN_SECONDS))
    try:
        drain_seconds = float(raw_drain)
    except ValueError:
        drain_seconds = -1.0
    if not 0 <= drain_seconds <= MAX_DRAIN_SECONDS:
        parser.error(
            f"LAB_DRAIN_SECONDS must be a number from 0 to {MAX_DRAIN_SECONDS:g}, got {raw_drain!r}"
        )
    return Settings(
        function=args.function,
        host=args.host,
        port=args.port,
        event_loop=event_loop,
        test_delay_seconds=float(environ.get("LAB_TEST_DELAY_MS", "0")) / 1000,
        drain_seconds=drain_seconds,
    )


def install_event_loop(preference: str) -> str:
    """Use uvloop when asked for and importable; the name of the loop actually used."""
    if preference == "uvloop":
        try:
            import uvloop
        except ImportError:
            return "asyncio"
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        return "uvloop"
    return "asyncio"


async def serve(settings: Settings, event_loop: str) -> None:
    """Listen until SIGTERM or SIGINT; then answer /health with 503 for the drain window
    (SIGTERM only: Ctrl-C wants the process gone), stop listening, let the requests in
    flight finish and return."""
    app = make_app(settings.function, test_delay_seconds=settings.test_delay_seconds)
    state: ServiceState = app.settings["lab_state"]
    server = tornado.httpserver.HTTPServer(app)
    server.listen(settings.port, address=settings.host)
    stop_requested = asyncio.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        stop_requested.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    lifecycle = {
        "event.dataset": "lab.lifecycle",
        "lab.function": settings.function,
        "server.address": settings.host,
        "server.port": settings.port,
    }
    lifecycle_logger.info(
        f"lab-{settings.function} listening on {settings.host}:{settings.port} ({event_loop})",
        extra={**lifecycle, "event.action": "service-start", "lab.event_loop": event_loop},
    )
    await stop_requested.wait()
    drain_seconds = settings.drain_seconds if received[0] == signal.SIGTERM else 0.0
    if drain_seconds > 0:
        state.draining = True
        lifecycle_logger.info(
            f"lab-{settings.function} draining for {drain_seconds:g} s",
            extra={
                **lifecycle,
                "event.action": "service-drain",
                "lab.drain_seconds": drain_seconds,
            },
        )
        await asyncio.sleep(drain_seconds)
    server.stop()  # no new connections from here on
    deadline = loop.time() + IN_FLIGHT_TIMEOUT_SECONDS
    while state.active_requests > 0 and loop.time() < deadline:
        await asyncio.sleep(0.01)
    unfinished = state.active_requests
    await server.close_all_connections()  # idle keep-alive connections
    lifecycle_logger.info(
        f"lab-{settings.function} stopped",
        extra={**lifecycle, "event.action": "service-stop", "lab.unfinished_requests": unfinished},
    )


async def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_settings(argv, os.environ)
    configure_logging(settings.function)
    await serve(settings, type(asyncio.get_running_loop()).__module__.split(".")[0])
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m app`: pick the event loop, then asyncio.run(main())."""
    install_event_loop(os.environ.get("LAB_EVENT_LOOP", "uvloop"))
    return asyncio.run(main(argv))
