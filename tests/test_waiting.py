"""The one way the suite waits: done, pending with a state, retried errors, the deadline."""

from __future__ import annotations

import pytest

from ddbspec import waiting
from ddbspec.errors import GONE, THROTTLED, code_of

from suite import Ticks


def answers(*results: object):
    left = list(results)
    return lambda: left.pop(0)


def test_it_returns_what_the_check_returned_once_true() -> None:
    clock = Ticks()
    check = answers(None, waiting.Pending("CREATING"), {"TableStatus": "ACTIVE"})
    assert waiting.until("t", check, 10, 1, clock=clock) == {"TableStatus": "ACTIVE"}
    assert clock.t == 2


def test_a_timeout_names_what_was_still_pending() -> None:
    clock = Ticks()
    with pytest.raises(waiting.TimedOut, match=r"table t: still CREATING after 3 s") as late:
        waiting.until("table t", lambda: waiting.Pending("CREATING"), 3, 1, clock=clock)
    assert (late.value.state, late.value.waited, late.value.timeout) == ("CREATING", 3, 3)


def test_progress_lines_come_every_so_often() -> None:
    said: list[str] = []
    check = answers(*[waiting.Pending("CREATING")] * 5, True)
    waiting.until("t", check, 60, 1, every=2, progress=said.append, clock=Ticks())
    assert said == [
        "t: CREATING, waited 2 s of at most 60 s",
        "t: CREATING, waited 4 s of at most 60 s",
    ]


class Recorded(Ticks):
    """Ticks that keep each interval slept."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        super().sleep(seconds)


def test_a_wait_with_a_first_look_backs_off_to_its_poll() -> None:
    clock = Recorded()
    check = answers(*[waiting.Pending("1 of 2 items")] * 6, True)
    waiting.until("replica", check, 60, 2, clock=clock, first=0.25)
    assert clock.slept == [0.25, 0.5, 1, 2, 2, 2]
    clock = Recorded()
    waiting.until("replica", answers(None, None, True), 60, 2, clock=clock)
    assert clock.slept == [2, 2]  # without one, every interval is the poll


def test_retried_errors_are_pending_and_others_end_the_wait() -> None:
    def refused() -> bool:
        raise ConnectionError("refused")

    with pytest.raises(waiting.TimedOut, match=r"not answering \(ConnectionError: refused\)"):
        waiting.until("e", refused, 2, 1, retry=(ConnectionError,), clock=Ticks())
    with pytest.raises(ConnectionError):
        waiting.until("e", refused, 2, 1, clock=Ticks())


class Refusal(Exception):
    def __init__(self, code: str) -> None:
        self.response = {"Error": {"Code": code, "Message": "no"}}


def test_an_error_code_is_read_one_way() -> None:
    assert code_of(Refusal("ThrottlingException")) in THROTTLED
    assert code_of(Refusal("NoSuchEntity")) in GONE
    assert code_of(ValueError("not from AWS")) == ""
    assert code_of(None) == ""
