"""Engine processes on 127.0.0.1: free ports, guarded start, readiness, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ddbspec import waiting
from ddbspec.errors import EngineError

HOST = "127.0.0.1"


def free_port() -> int:
    """A port the kernel says is free now (the engine binds it a moment later)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) == 0


GUARD = "ddbspec.engines.guard"  # the module every engine runs under (``spawn``)


def spawn(
    command: list[str],
    owner_pid: int,
    log: Path,
    env: dict[str, str] | None = None,
    hold: Path | None = None,
) -> int:
    """Start ``command`` under a guard that ends it with the run; returns the guard's pid.

    The guard gets a session of its own, so a Ctrl-C at the terminal reaches pytest (which
    then stops the engines in order) rather than killing engines under running tests. With
    ``hold``, the guard keeps an exclusive lock on that file for the engine's lifetime.
    """
    held = [str(hold)] if hold else []
    guard = [
        sys.executable,
        "-m",
        GUARD,
        str(owner_pid),
        str(log),
        *held,
        "--",
        *command,
    ]
    proc = subprocess.Popen(
        guard,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    return proc.pid


def guards_of(owners: set[int]) -> list[int]:
    """The guards still running whose owner is one of ``owners``: a run stopped while it was
    starting an engine may not have learnt its guard's pid, which then ends on its own once
    it sees the owner gone (within its poll)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone, or not a process
        if argv[1:3] == [b"-m", GUARD.encode()] and int(argv[3]) in owners:
            found.append(int(entry.name))
    return found


class StoreBusy(EngineError):
    """The engine's on-disk store is held by another run."""


_exits: dict[int, int] = {}


def busy(pid: int) -> bool:
    from ddbspec.engines.guard import BUSY

    return _exits.get(pid) == BUSY


def running(pid: int) -> bool:
    if pid in _exits:
        return False
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        waited = 0  # not our child (started by another xdist worker)
    if waited:
        _exits[pid] = os.waitstatus_to_exitcode(status)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_ready(
    pid: int, ready: Callable[[], bool], log: Path, what: str, timeout: float = 60.0
) -> None:
    """Poll ``ready`` until it is true; a dead process or a timeout raises with the log's tail."""

    def answered() -> bool:
        if not running(pid):
            if busy(pid):
                raise StoreBusy(what)
            raise EngineError(f"{what} exited while starting. {tail(log)}")
        with contextlib.suppress(Exception):
            return ready()
        return False

    try:
        waiting.until(what, answered, timeout)
    except waiting.TimedOut:
        stop(pid)
        raise EngineError(f"{what} did not answer within {timeout:.0f}s. {tail(log)}") from None


def tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return f"(no log at {log})"
    if not text:
        return f"Its log {log} is empty."
    return f"Its log ({log}) ends:\n    " + "\n    ".join(text)


def stop(pid: int, timeout: float = 10.0) -> None:
    """Ask the guard to stop its engine, and wait until the guard has gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(waiting.TimedOut):
        waiting.until(f"guard {pid}", lambda: not running(pid), timeout)
    if running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
