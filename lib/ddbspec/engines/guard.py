"""Run an engine process and end it when the test run that owns it ends.

``python -m ddbspec.engines.guard OWNER_PID LOG [HOLD] -- COMMAND...`` starts COMMAND and stops
it when it is sent SIGTERM or SIGINT, or when OWNER_PID (the pytest process that owns the run)
has gone: an engine outlives neither a finished run nor a killed one. With HOLD, a lock file,
the guard first takes an exclusive lock on it and keeps it while the engine runs, so that two
runs never open one on-disk store; if another run holds it, the guard exits at once with BUSY.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys

POLL_SECONDS = 0.5
BUSY = 75  # EX_TEMPFAIL: the store is another run's
ASKED = {signal.SIGTERM, signal.SIGINT}  # how the guard is asked to stop its engine


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def terminate(child: subprocess.Popen, grace: float = 5.0) -> int:
    """SIGTERM, then SIGKILL after a grace period; returns the exit code."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(grace)
        except subprocess.TimeoutExpired:
            child.kill()
    return child.wait()


def main(argv: list[str]) -> int:
    split = argv.index("--")
    owner, log, hold, command = int(argv[0]), argv[1], argv[2:split], argv[split + 1 :]
    if hold:
        held = open(hold[0], "a")  # noqa: SIM115 - kept open (and locked) until the guard exits
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return BUSY
    # Blocked before the engine starts: a SIGTERM between its start and the block killed
    # the guard and left the engine running, with no one to stop it (seen after an
    # interrupted run). The engine itself starts with them unblocked.
    signal.pthread_sigmask(signal.SIG_BLOCK, ASKED)
    with open(log, "ab", buffering=0) as out:
        child = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_unblocked
        )
    watch(owner, child)
    status = terminate(child)
    end_group()
    return status


def _unblocked() -> None:
    """In the engine's process, before it runs: the signals the guard blocked, unblocked."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, ASKED)


def watch(owner: int, child: subprocess.Popen) -> None:
    """Return when asked to stop (SIGTERM, SIGINT), the owner has gone or the engine exited.

    The signals are blocked (by ``main``) and waited for, not handled: a handler would run
    only after the poll's sleep, and every engine's stop would wait out half a second. One
    that came while the engine was starting is pending, and ends the wait at once."""
    while alive(owner) and child.poll() is None:
        if signal.sigtimedwait(ASKED, POLL_SECONDS) is not None:
            return


def end_group() -> None:
    """SIGTERM what the engine started and left (ministack's function workers): they are in
    the guard's process group, which the guard leads (``processes.spawn`` gives it a session
    of its own). The guard itself has the signal blocked by then."""
    if os.getpgid(0) == os.getpid():
        os.killpg(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
