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

Under xdist, ``docker stop`` signals the controller alone (a shell's ``timeout`` signals the
whole group): the controller passes its first SIGTERM on to its workers (``relay_to``), so
that each interrupts its spec and cleans up at once instead of running on while the
controller waits for it (measured: a run stopped 4 s after SIGTERM, not 9). A worker already
cleaning up, signaled by the group too, ignores the relayed one without a word: the
controller has said it for the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from types import FrameType
from typing import Any

IGNORED = b"\nddbspec: SIGTERM ignored: the run is cleaning up (SIGKILL stops it)\n"


class TermAsInterrupt:
    """``install`` in a pytest process, ``cleaning`` when it starts cleaning up, ``restore``
    at its end."""

    def __init__(self, quiet: bool = False) -> None:
        self.previous: Any = None
        self.stopping = False
        self.ignored = 0
        self.quiet = quiet  # ignore a SIGTERM while cleaning up without saying so (a worker)
        self.relay_to: set[int] = set()  # the processes the first SIGTERM is passed on to

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
            if not self.quiet:
                os.write(2, IGNORED)
            return
        self.stopping = True
        for pid in self.relay_to:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        raise KeyboardInterrupt("SIGTERM, handled as Ctrl-C so that the run cleans up")
