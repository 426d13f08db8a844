"""The function service's Tornado application: routes, handlers and their JSON errors.

`make_app(function, registry=...)` builds one service instance with its own metrics and no
global state; nothing listens until app/server.py says so. Names follow docs/contract.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import TracebackType
from typing import Any

import tornado.web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)

from app.access_log import URL_PATH_LOG_LIMIT, access_logger
from app.compute import FUNCTIONS, ArgumentError, FunctionSpec, parse_arguments
from app.contract import ACCESS_DATASET, HEALTH_PATH, METRICS_PATH
from app.faults import Faults
from app.metrics import ServiceMetrics

ARGUMENTS_LOG_LIMIT = 64
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"


def route_table(
    state: ServiceState, registry: CollectorRegistry, call_delay_seconds: float = 0.0
) -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """The service's routes, first match wins; any other path is NotFoundHandler's."""
    spec = state.spec
    deps: dict[str, Any] = {"state": state}
    call: tuple[type[FunctionHandler], dict[str, Any]] = (FunctionHandler, deps)
    if call_delay_seconds > 0:
        call = (DelayedFunctionHandler, {**deps, "delay_seconds": call_delay_seconds})
    segments = "/".join(["([^/]+)"] * len(spec.parameters))
    return [
        # The API's form is /{function}/{args}/; the trailing slash may be left out.
        (rf"/{spec.name}/{segments}/?", *call),
        (rf"/{spec.name}(?:/.*)?", UsageHandler, deps),
        (HEALTH_PATH, HealthHandler, deps),
        (METRICS_PATH, MetricsHandler, {**deps, "registry": registry}),
    ]


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
    """What one application instance keeps between requests: its metrics, its requests in
    flight, whether it is draining, and the rendered bodies.

    Handlers receive it through their URLSpec kwargs; app/server.py reads `active_requests`
    to know when the requests in flight have finished.
    """

    def __init__(
        self,
        spec: FunctionSpec,
        registry: CollectorRegistry,
        logger: logging.Logger,
        memory_limit_bytes: int | None = None,
    ) -> None:
        self.spec = spec
        self.function = spec.name
        self.logger = logger
        self.metrics = ServiceMetrics(spec.name, registry)
        # Switched from outside by the incident drills (app/faults.py); all off by default.
        self.faults = Faults(spec.name, registry, limit_bytes=memory_limit_bytes)
        self.active_requests = 0
        # Set on SIGTERM: /health turns 503 so the replica leaves the rotation before it stops.
        self.draining = False
        self.prefix_length = len(f"/{self.function}/")
        self.bodies: dict[tuple[int, ...], bytes] = {}

    def request_started(self, counted: bool) -> None:
        self.active_requests += 1
        if counted:
            self.metrics.in_flight.inc()

    def request_finished(self, handler: BaseHandler) -> None:
        """Tornado's log_function: count the request, then write its one ECS access line.

        It replaces Tornado's own access log, so each request yields exactly one line.
        """
        elapsed_ns = time.perf_counter_ns() - handler.started_ns
        status = handler.get_status()
        self.active_requests -= 1
        if handler.counted:
            self.metrics.in_flight.dec()
            self.metrics.count_response(status, elapsed_ns / 1e9)
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
            "event.dataset": ACCESS_DATASET,
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
                extra={"event.dataset": ACCESS_DATASET, "lab.function": self.state.function},
            )


class FunctionHandler(BaseHandler):
    """`GET /{function}/{arg1}/[{arg2}/]`: parse, compute, answer the exact result."""

    def prepare(self):
        # Tornado awaits what prepare() returns: a call pays for a coroutine only while an
        # incident drill has a fault switched on in this replica.
        faults = self.state.faults
        if faults.delay_seconds or faults.error_share:
            return self._drill_fault()
        return None

    async def _drill_fault(self) -> None:
        faults = self.state.faults
        if faults.delay_seconds:
            await asyncio.sleep(faults.delay_seconds)
        if faults.fails_this_call():
            raise ApiError(500, "failed on purpose: an incident drill's error fault is on")

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
        state.metrics.compute_duration.observe(compute_ns / 1e9)
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
    """For tests (LAB_TEST_DELAY_MS): each call waits before answering, so a test can catch
    one in flight. Routed only when a delay is configured."""

    def initialize(self, state: ServiceState, delay_seconds: float) -> None:  # type: ignore[override]
        super().initialize(state)
        self.delay_seconds = delay_seconds

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
    call_delay_seconds: float = 0.0,
    memory_limit_bytes: int | None = None,
) -> tornado.web.Application:
    """One service instance for `function`; its metrics go into `registry` (a new one if
    None), its access lines to `logger`. No side effects: nothing listens yet.

    The instance's ServiceState is `app.settings["lab_state"]`, for the server's drain.
    """
    registry = CollectorRegistry() if registry is None else registry
    # Resident memory and CPU of this process (Linux /proc), what the memory drill watches.
    ProcessCollector(registry=registry)
    state = ServiceState(
        FUNCTIONS[function],
        registry,
        access_logger if logger is None else logger,
        memory_limit_bytes=memory_limit_bytes,
    )
    return tornado.web.Application(
        route_table(state, registry, call_delay_seconds),
        default_handler_class=NotFoundHandler,
        default_handler_args={"state": state},
        log_function=state.request_finished,
        lab_state=state,
    )
