"""Keeping one collector process per shard running.

Each shard runs in a child process, so a crash (or a ``kill -9``) takes one shard down, never the
others, and the child is started again after a backoff that grows while it keeps failing. A child
that ends by itself with status 0 was stopped on purpose and stays stopped. SIGINT and SIGTERM are
passed on to every child; the supervisor waits for them to store what they hold and exits 0.
"""

from __future__ import annotations

import logging
import random
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

from sdk.reconnect import ReconnectPolicy

logger = logging.getLogger("xfeeds.collect")

RESTART_POLICY = ReconnectPolicy(initial=0.5, cap=30.0, healthy_after=60.0)
"""Restart backoff: from half a second up to 30, starting over once a child ran a minute."""

POLL = 0.05
"""Seconds between looks at the children."""


@dataclass
class _Child:
    shard: int
    command: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    stopped: bool = False


@dataclass
class Supervisor:
    """Runs ``commands`` (one per shard index) as child processes and keeps them running."""

    commands: Mapping[int, Sequence[str]]
    policy: ReconnectPolicy = RESTART_POLICY
    stop_timeout: float = 15.0
    """Seconds the children get to stop before they are killed."""
    _children: list[_Child] = field(init=False, default_factory=list)
    _stopping: int | None = field(init=False, default=None)
    _rng: random.Random = field(init=False, default_factory=random.Random)

    def run(self) -> int:
        """Supervise until SIGINT or SIGTERM (or until every child stopped by itself); 0 then."""
        self._children = [_Child(shard, command) for shard, command in sorted(self.commands.items())]
        handlers = {number: signal.signal(number, self._on_signal) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            for child in self._children:
                self._start(child)
            while self._stopping is None and not all(child.stopped for child in self._children):
                self._look_after()
                time.sleep(POLL)
        finally:
            self._stop_all()
            for number, handler in handlers.items():
                signal.signal(number, handler)
        return 0

    @property
    def pids(self) -> dict[int, int]:
        """The running children's process ids by shard."""
        return {child.shard: child.process.pid for child in self._children if child.process is not None}

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        if self._stopping is None:
            logger.info("%s: stopping %d collectors", signal.Signals(number).name, len(self.pids))
        self._stopping = number
        for child in self._children:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(number)

    def _start(self, child: _Child) -> None:
        child.process = subprocess.Popen(child.command)
        child.started = time.monotonic()
        child.restart_at = None
        logger.info("shard %d: collector started (pid %d)", child.shard, child.process.pid)

    def _look_after(self) -> None:
        now = time.monotonic()
        for child in self._children:
            if child.restart_at is not None and now >= child.restart_at:
                self._start(child)
            if child.process is None or (code := child.process.poll()) is None:
                continue
            pid, child.process = child.process.pid, None
            if code == 0:
                logger.info("shard %d: collector (pid %d) stopped; not restarted", child.shard, pid)
                child.stopped = True
                continue
            child.failures = 1 if now - child.started >= self.policy.healthy_after else child.failures + 1
            delay = self.policy.delay(child.failures, self._rng)
            child.restart_at = now + delay
            logger.warning(
                "shard %d: collector (pid %d) %s; restart %d in %.2f s",
                child.shard,
                pid,
                _ending(code),
                child.failures,
                delay,
            )

    def _stop_all(self) -> None:
        """Signal every child still running (SIGTERM unless a signal was already passed on), wait
        for them, and kill what is left after ``stop_timeout``."""
        running = [child.process for child in self._children if child.process is not None]
        for process in running:
            if self._stopping is None and process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("collector (pid %d) did not stop in %.0f s: killed", process.pid, self.stop_timeout)
                process.kill()
                process.wait()
        for child in self._children:
            child.process = None


def _ending(code: int) -> str:
    """How a process ended, from its ``returncode``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"
