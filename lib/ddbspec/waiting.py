"""One way to wait: call a check until it is done, say what is pending, fail at a deadline.

Every wait of the suite (a table or an index becoming ACTIVE, an engine process or container
answering, a Lambda function ready, a replica catching up, a capability probe) is this loop:
what is awaited, the check, the timeout, the poll interval and the progress line. The check
returns something true when done (that is what ``until`` returns), or something false while
waiting: ``Pending("what is left")`` to say what, which the progress lines and the timeout
show. A caller turns ``TimedOut`` into its own message, one that says what to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ddbspec.errors import EngineError
from ddbspec.progress import say

T = TypeVar("T")


class Clock(Protocol):
    """What a wait reads the time from: real time, or the capacity model's scaled clock."""

    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class Pending:
    """A check's answer while not done: false, and saying what is still pending."""

    state: str

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return self.state


class TimedOut(EngineError):
    """What was awaited was still pending at the deadline."""

    def __init__(self, what: str, state: str, waited: float, timeout: float) -> None:
        self.what, self.state, self.waited, self.timeout = what, state, waited, timeout
        super().__init__(f"{what}: still {state} after {waited:.0f} s (at most {timeout:g} s)")


def until(
    what: str,
    check: Callable[[], T | Pending | None],
    timeout: float,
    poll: float = 0.05,
    every: float | None = None,
    progress: Callable[[str], None] | None = None,
    retry: tuple[type[BaseException], ...] = (),
    clock: Clock | None = None,
    first: float | None = None,
) -> T:
    """Call ``check`` every ``poll`` seconds until it returns something true, and return it.
    With ``first``, the first interval is that, and each next one twice the last up to
    ``poll``: for a wait that an emulator ends in a moment and AWS in minutes.

    Every ``every`` seconds (never, if None) ``progress`` (else ``say``) gets a line saying
    what is pending.
    An exception of a type in ``retry`` counts as not done yet (an engine not listening yet)
    and becomes the pending state; any other exception ends the wait at once. ``clock`` is
    the time the wait is measured in (real time unless given).
    """
    clock = clock or RealClock()
    start = said = clock.now()
    state = "pending"
    interval = poll if first is None else min(first, poll)
    while True:
        try:
            result = check()
            if isinstance(result, Pending):
                state = result.state
            elif result:
                return result
            else:
                state = "pending"
        except retry as error:
            state = f"not answering ({type(error).__name__}: {error})"
        now = clock.now()
        waited = now - start
        if waited >= timeout:
            raise TimedOut(what, state, waited, timeout)
        if every is not None and now - said >= every:
            (progress or say)(f"{what}: {state}, waited {waited:.0f} s of at most {timeout:g} s")
            said = now
        clock.sleep(interval)
        interval = min(2 * interval, poll)
