"""SIGTERM as Ctrl-C, so that a terminated run cleans up as an interrupted one does.

``timeout``, a cancelled CI job and ``docker stop`` end a run with SIGTERM, whose default
action ends the process at once: no teardown runs, and on AWS the tables, exercise 8's
function, role, mapping and log group stay (and cost). Raised as KeyboardInterrupt instead,
it runs every cleanup Ctrl-C runs: the specs' teardowns, then the run's sweep.

Only the first SIGTERM interrupts. Once it has, or once the run's own cleanup has begun
(``cleaning``), further SIGTERMs are ignored and counted: one more KeyboardInterrupt would
abort the cleanup halfway and leave whatever it had not deleted yet. A sender that will not
wait sends SIGKILL (``timeout -k``, ``docker stop`` after its grace period), and Ctrl-C still
interrupts at once; what either leaves, ``ddbspec sweep-aws`` finds by its tags.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any


class TermAsInterrupt:
    """``install`` in a pytest process, ``cleaning`` when it starts cleaning up, ``restore``
    at its end."""

    def __init__(self) -> None:
        self.previous: Any = None
        self.stopping = False
        self.ignored = 0

    def install(self) -> None:
        """Handle SIGTERM, unless it is not ours to: Python can only handle signals in the
        main thread, and an ignored SIGTERM or someone else's handler is left as it is (as
        Python leaves an ignored SIGINT)."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            self.previous = signal.signal(signal.SIGTERM, self._received)

    def cleaning(self) -> None:
        """From now on the process is cleaning up: a SIGTERM no longer interrupts."""
        self.stopping = True

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
            self.previous = None

    def _received(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            self.ignored += 1
            os.write(2, b"\nddbspec: SIGTERM ignored: the run is cleaning up (SIGKILL stops it)\n")
            return
        self.stopping = True
        raise KeyboardInterrupt("SIGTERM, handled as Ctrl-C so that the run cleans up")
