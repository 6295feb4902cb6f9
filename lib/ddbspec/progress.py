"""A one-line progress bar for long loads, drawn only on a terminal, and ``say`` for waits.

A million-item load takes minutes on a local engine; a bar with the rate and the time left
tells the user it is moving. It writes to stderr only when stderr is a TTY, so logs, CI and
pytest's captured output never see it, and it needs nothing beyond the standard library.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 30
log = logging.getLogger("ddbspec")
_shown: Callable[[str], None] | None = None


def say(line: str) -> None:
    """A line for the user while something slow runs (a table or an index being created on
    AWS, a deployment): logged, and shown on the terminal when the plugin has set a sink."""
    log.info(line)
    if _shown is not None:
        _shown(line)


def show_with(sink: Callable[[str], None] | None) -> None:
    """Where ``say`` shows its lines: the pytest plugin sets the terminal, None unsets it."""
    global _shown
    _shown = sink


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def render(label: str, done: int, total: int | None, elapsed: float) -> str:
    """The bar's text: pure, so it can be tested without a terminal."""
    rate = done / elapsed if elapsed > 0 else 0.0
    if not total:
        return f"{label} {done:,} items, {rate:,.0f} items/s"
    share = min(1.0, done / total)
    filled = int(share * WIDTH)
    left = (total - done) / rate if rate > 0 else 0.0
    eta = f", {_duration(left)} left" if done < total and rate > 0 else ""
    bar = "#" * filled + "." * (WIDTH - filled)
    return f"{label} [{bar}] {share:4.0%} {done:,}/{total:,} items, {rate:,.0f} items/s{eta}"


class Progress:
    """``update(done)`` redraws at most every ``interval`` seconds; ``close()`` ends the line."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        stream: TextIO | None = None,
        interval: float = 0.25,
    ) -> None:
        self.label, self.total, self.interval = label, total, interval
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = self.last = time.monotonic()
        self.done = 0

    def update(self, done: int, force: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < self.interval):
            return
        self.last = now
        self.stream.write("\r" + render(self.label, done, self.total, now - self.start) + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.update(self.done, force=True)
            self.stream.write("\n")
            self.stream.flush()
