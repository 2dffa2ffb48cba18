"""Local endpoints that come back: `tessera up` restarts a crashed endpoint, and after a reboot starts
again every endpoint that was serving.

An endpoint whose record says it serves but whose process is gone is started again at once the first
time, then after 1, 2, 4 … 60 seconds. More than `max_restarts` restarts within `window_seconds` is a
crash loop: the endpoint is marked `crash loop`, its log's last lines kept as its message, and left
alone until someone starts it by hand (`tessera endpoint start`), which clears the mark.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from serving.endpoint_registry import SERVING_STATES
from serving.local_target import LocalProcessTarget, server_alive
from tessera.errors import TesseraError

CRASH_LOOP = "crash loop"
log = logging.getLogger("tessera.supervisor")


@dataclass
class _Crashes:
    restarts: list[float] = field(default_factory=list)  # when each restart was tried
    next_try: float = 0.0


class EndpointSupervisor:
    """Watches a workspace's local endpoints; `tick()` does one round, `run(stop)` rounds until stopped."""

    def __init__(
        self,
        target: LocalProcessTarget,
        max_restarts: int = 5,
        window_seconds: float = 600.0,
        max_backoff: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.target, self.max_restarts, self.window, self.max_backoff = (
            target,
            max_restarts,
            window_seconds,
            max_backoff,
        )
        self.clock = clock
        self._crashes: dict[str, _Crashes] = {}

    def tick(self) -> list[str]:
        """Restart what crashed (when its backoff has passed); returns what was done, one line each."""
        done = []
        for record in self.target.registry.all():
            if record.status not in SERVING_STATES or server_alive(record.pid):
                continue
            crashes = self._crashes.setdefault(record.name, _Crashes())
            now = self.clock()
            if now < crashes.next_try:
                continue
            crashes.restarts = [t for t in crashes.restarts if now - t < self.window]
            if len(crashes.restarts) >= self.max_restarts:
                tail = self.target.logs(record.name, tail=8)
                self.target.registry.set_fields(record.name, status=CRASH_LOOP, pid=None, last_error=tail[-1500:])
                self.target.registry.log(
                    record.name, CRASH_LOOP, {"restarts": len(crashes.restarts)}, actor="supervisor"
                )
                del self._crashes[record.name]
                done.append(f"{record.name}: {len(crashes.restarts)} restarts in {self.window:.0f}s, marked crash loop")
                self._alert(record.name, f"endpoint {record.name} is in a crash loop", tail[-800:])
                continue
            if not crashes.restarts:
                self._alert(record.name, f"endpoint {record.name} crashed; restarting it", "")
            crashes.restarts.append(now)
            crashes.next_try = now + min(self.max_backoff, 2.0 ** (len(crashes.restarts) - 1))
            try:
                self.target.start(record.name)
                self.target.registry.log(
                    record.name, "restarted", {"attempt": len(crashes.restarts)}, actor="supervisor"
                )
                done.append(f"{record.name}: restarted (attempt {len(crashes.restarts)})")
            except TesseraError as exc:
                done.append(f"{record.name}: restart {len(crashes.restarts)} failed: {str(exc).splitlines()[0]}")
        for line in done:
            log.warning(line)
        return done

    def _alert(self, name: str, title: str, detail: str) -> None:
        from tessera.alerts import Alert, send_alert

        send_alert(self.target.workspace, Alert("endpoint_crashed", title, detail, {"endpoint": name}))

    def run(self, stop: threading.Event, every_seconds: float = 2.0) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # the studio must outlive a bad round
                log.exception("endpoint supervision round failed")
            stop.wait(every_seconds)
