"""Faults a person switches on from outside the process, for the incident drills (lab/incident.py).

A drill sends a real-time signal to one replica: the process opens no port and needs no
capability for it, and `docker kill --signal` reaches it the same way `kill` does under
`make local`. Each signal sets one fault; FAULTS_OFF clears every fault, so a drill's stop is
one idempotent signal whatever was switched on. While a fault is on, the replica's own
`lab_drill_fault_active` series says so, which is how a person (and the drill's status) tells
a drill from a real incident on the dashboard.
"""

from __future__ import annotations

import logging
import os
import random
import signal
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge

from app.contract import DRILL_FAULT_ACTIVE, MEMORY_LIMIT_BYTES

# Real-time signals have no default meaning to Python or Tornado, and Linux queues them.
FAULTS_OFF = signal.SIGRTMIN
FAULT_SIGNALS: dict[str, int] = {
    "slow": signal.SIGRTMIN + 1,
    "errors": signal.SIGRTMIN + 2,
    "memory": signal.SIGRTMIN + 3,
}
# slow: every call answers this much later (the drill catalogue's "some 200 ms").
SLOW_SECONDS = 0.2
# errors: this share of the calls answers 500, chosen per call.
ERROR_SHARE = 0.5
# memory: the ballast grows by this much per step until it holds this share of the limit.
MEMORY_STEP_BYTES = 4 * 1024 * 1024
MEMORY_TARGET_SHARE = 0.9
MEMORY_STEP_SECONDS = 0.25
# Without a cgroup limit (make local) the ballast aims at the limit the lab would declare.
MEMORY_LIMIT_VARIABLE = "LAB_MEMORY_LIMIT_MB"
# cgroup v2, then v1: where the container's memory limit is readable from inside.
CGROUP_LIMIT_FILES = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)
# cgroup v1 says "no limit" with a huge number rather than "max".
_UNLIMITED_ABOVE = 1 << 60


def resident_bytes(statm: Path = Path("/proc/self/statm")) -> int:
    """This process' resident memory (proc(5): statm's second field, in pages)."""
    return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_limit_bytes(
    environ: dict[str, str] | os._Environ = os.environ,
    files: tuple[Path, ...] = CGROUP_LIMIT_FILES,
) -> int | None:
    """The tightest memory limit this process runs under: its cgroup's, or the variable's."""
    limits = []
    for path in files:
        try:
            raw = path.read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < _UNLIMITED_ABOVE:
            limits.append(int(raw))
        break
    raw_mb = environ.get(MEMORY_LIMIT_VARIABLE, "")
    if raw_mb.isdigit() and int(raw_mb) > 0:
        limits.append(int(raw_mb) * 1024 * 1024)
    return min(limits) if limits else None


class Faults:
    """The faults switched on in this process, and the gauges that show them."""

    def __init__(
        self,
        function: str,
        registry: CollectorRegistry,
        *,
        limit_bytes: int | None = None,
        choose: Callable[[], float] = random.random,
        resident: Callable[[], int] = resident_bytes,
    ) -> None:
        self.delay_seconds = 0.0
        self.error_share = 0.0
        self.memory_on = False
        self.ballast: list[bytearray] = []
        self.limit_bytes = limit_bytes
        self._choose = choose
        self._resident = resident
        active = Gauge(
            DRILL_FAULT_ACTIVE,
            "1 while an incident drill's fault is switched on in this replica",
            ("function", "fault"),
            registry=registry,
        )
        self.active = {fault: active.labels(function, fault) for fault in FAULT_SIGNALS}
        if limit_bytes is not None:
            Gauge(
                MEMORY_LIMIT_BYTES,
                "The memory limit this replica runs under (cgroup or LAB_MEMORY_LIMIT_MB)",
                ("function",),
                registry=registry,
            ).labels(function).set(limit_bytes)

    @property
    def any_on(self) -> bool:
        return bool(self.delay_seconds or self.error_share or self.memory_on)

    def switch_on(self, fault: str) -> None:
        if fault == "slow":
            self.delay_seconds = SLOW_SECONDS
        elif fault == "errors":
            self.error_share = ERROR_SHARE
        elif fault == "memory":
            self.memory_on = self.limit_bytes is not None
            if not self.memory_on:
                return  # nothing to grow towards: the gauge stays 0, the drill's status says so
        else:
            raise ValueError(f"no such fault: {fault}")
        self.active[fault].set(1)

    def clear(self) -> None:
        self.delay_seconds = 0.0
        self.error_share = 0.0
        self.memory_on = False
        self.ballast.clear()
        for gauge in self.active.values():
            gauge.set(0)

    def fails_this_call(self) -> bool:
        return self.error_share > 0 and self._choose() < self.error_share

    def grow(self) -> bool:
        """One step of the memory fault; False once the process holds its share of the limit
        (the whole process counts, so the step never carries it into the OOM killer)."""
        if not self.memory_on or self.limit_bytes is None:
            return False
        if self._resident() + MEMORY_STEP_BYTES > self.limit_bytes * MEMORY_TARGET_SHARE:
            return False
        # Written, not only allocated: untouched pages would not count as resident memory.
        self.ballast.append(bytearray(b"\x01") * MEMORY_STEP_BYTES)
        return True


def install(faults: Faults, loop, logger: logging.Logger, fields: dict) -> None:
    """Route FAULTS_OFF and FAULT_SIGNALS to `faults` on the running event loop."""

    def on(fault: str) -> None:
        faults.switch_on(fault)
        logger.warning(
            f"drill fault {fault} switched on",
            extra={**fields, "event.action": "drill-fault-on", "event.reason": fault},
        )
        if fault == "memory" and faults.memory_on:
            loop.call_soon(step)

    def step() -> None:
        if faults.grow():
            loop.call_later(MEMORY_STEP_SECONDS, step)

    def off() -> None:
        was_on = faults.any_on
        faults.clear()
        if was_on:
            logger.info(
                "drill faults switched off",
                extra={**fields, "event.action": "drill-fault-off"},
            )

    loop.add_signal_handler(FAULTS_OFF, off)
    for fault, signum in FAULT_SIGNALS.items():
        loop.add_signal_handler(signum, on, fault)
