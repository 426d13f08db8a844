"""The service's log lines: one ECS JSON line per event on stdout, through ecs-logging.

`LabEcsFormatter` writes ecs-logging's bytes faster; `LoopBatchingStreamHandler` writes one
event-loop iteration's lines at once; `configure_logging()` routes every logger to them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import NamedTuple

import ecs_logging

from app.contract import ACCESS_DATASET, LIFECYCLE_DATASET, service_name

# Longest request path a line carries, so a client cannot make the log line as large as it likes.
URL_PATH_LOG_LIMIT = 256

# Fields ecs-logging adds by default that nobody reads here: the caller's file and line,
# process and thread ids, and log.original (a copy of message). Dropping them makes each
# line shorter and the formatter cheaper.
EXCLUDED_LOG_FIELDS = ("log.origin", "log.original", "process")

# Named after their datasets, so a line's logger and its `event.dataset` agree.
access_logger = logging.getLogger(ACCESS_DATASET)
lifecycle_logger = logging.getLogger(LIFECYCLE_DATASET)

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
    in `extra`, name clashes) goes through the stock code. tests/app/test_access_log.py
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
        extra={"service.name": service_name(function)}, exclude_fields=EXCLUDED_LOG_FIELDS
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


def log_rejection(
    logger: logging.Logger,
    function: str,
    reason: str,
    message: str,
    status: int | None = None,
    method: str | None = None,
    path: str | None = None,
) -> None:
    """The line of a request or connection refused before any handler ran (app/limits.py);
    `status` is None when the connection was closed without an answer."""
    extra: dict[str, object] = {
        "event.dataset": ACCESS_DATASET,
        "event.action": "request-rejected",
        "event.reason": reason,
        "lab.function": function,
        "error.message": message,
    }
    if status is not None:
        extra["http.response.status_code"] = status
    if method is not None and path is not None:
        extra["http.request.method"] = method
        extra["url.path"] = path.partition("?")[0][:URL_PATH_LOG_LIMIT]
    logger.warning(f"rejected ({reason}): {message}", extra=extra)
