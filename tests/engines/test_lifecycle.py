"""Engines start once per run and stop at its end, Ctrl-C and a killed run included.

A failed run stopping its engines is checked in test_bad_input (the malformed row)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from ddbspec.engines import processes

from suite import REPO, processes_mentioning, wait_for


def test_ctrl_c_in_the_middle_stops_every_engine(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "specs",
            "-k",
            "overloading or sparse",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started = lambda: len(list(tmp_path.glob("ddbspec-run-*/engine-*.json"))) >= 1  # noqa: E731
    assert wait_for(started, 120), "no engine started"
    assert processes_mentioning(str(tmp_path)), "the engine's guard should be running now"
    run.send_signal(signal.SIGINT)
    out, _ = run.communicate(timeout=120)
    assert "KeyboardInterrupt" in out
    assert wait_for(lambda: not processes_mentioning(str(tmp_path)), 15), out
    assert not list(tmp_path.glob("ddbspec-run-*")), "the run's state folder was left behind"


def test_guard_ends_the_engine_when_its_owner_is_killed(tmp_path):
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    guard = processes.spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"], owner.pid, tmp_path / "engine.log"
    )
    assert processes.running(guard)
    owner.kill()
    owner.wait()
    assert wait_for(lambda: not processes.running(guard), 10)
    assert not processes_mentioning(str(tmp_path))


def test_guard_ends_what_its_engine_started_and_left(tmp_path):
    """An engine's own children (ministack's function workers) end with it: the guard ends
    its process group, not only the engine."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    left = f"sleep 61 # {tmp_path}"
    engine = ["sh", "-c", f"sh -c '{left}' & exec sleep 60"]
    guard = processes.spawn(engine, owner.pid, tmp_path / "engine.log")
    assert wait_for(lambda: len(processes_mentioning(str(tmp_path))) >= 2, 10)
    owner.kill()
    owner.wait()
    assert wait_for(lambda: not processes.running(guard), 10)
    assert wait_for(lambda: not processes_mentioning(str(tmp_path)), 10), processes_mentioning(
        str(tmp_path)
    )


def test_the_guard_stops_its_engine_when_asked_not_at_its_next_poll(tmp_path):
    """A stop is a signal the guard waits for: with a poll of a minute, SIGTERM still ends it
    at once (a handler would have run only after the poll's sleep)."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    code = (
        "import sys; from ddbspec.engines import guard; guard.POLL_SECONDS = 60; "
        "sys.exit(guard.main(sys.argv[1:]))"
    )
    engine = [sys.executable, "-c", f"import time; time.sleep(120)  # {tmp_path}"]
    argv = [sys.executable, "-c", code, str(owner.pid), str(tmp_path / "log"), "--", *engine]
    guard = subprocess.Popen(argv, cwd=REPO)
    try:
        assert wait_for(lambda: len(processes_mentioning(str(tmp_path))) >= 2, 30)
        guard.send_signal(signal.SIGTERM)
        assert wait_for(lambda: guard.poll() is not None, 30), "the guard slept through SIGTERM"
        assert wait_for(lambda: not processes_mentioning(str(tmp_path)), 10)
    finally:
        guard.kill()
        owner.kill()
        owner.wait()
