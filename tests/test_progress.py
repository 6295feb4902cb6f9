"""progress: drawn only on a terminal, with the rate and the time left."""

from __future__ import annotations

import io

from ddbspec.progress import Progress, render


def test_the_bar_shows_share_count_rate_and_time_left() -> None:
    text = render("loading t", 250_000, 1_000_000, 50.0)
    assert text.startswith("loading t [#######.......................]  25% 250,000/1,000,000")
    assert "5,000 items/s" in text and "2m30s left" in text


def test_a_finished_or_open_ended_load() -> None:
    assert "left" not in render("t", 10, 10, 1.0)
    assert render("t", 10, None, 2.0) == "t 10 items, 5 items/s"
    assert render("t", 0, 10, 0.0).endswith("0 items/s")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_drawn_unless_the_stream_is_a_terminal() -> None:
    plain = io.StringIO()
    bar = Progress("t", 10, stream=plain, interval=0)
    bar.update(5)
    bar.close()
    assert plain.getvalue() == ""
    tty = Tty()
    bar = Progress("t", 10, stream=tty, interval=0)
    bar.update(5)
    bar.close()
    assert tty.getvalue().startswith("\rt [") and tty.getvalue().endswith("\n")
    assert "5/10" in tty.getvalue()
