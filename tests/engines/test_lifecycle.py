"""Engines start once per run and stop at its end, Ctrl-C and a killed run included.

A failed run stopping its engines is checked in test_bad_input (the malformed row)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ddbspec.config import Settings
from ddbspec.engines import processes, registry
from ddbspec.engines.info import EngineInfo

from suite import BUSY, REPO, processes_mentioning, start_suite, wait_for


def test_ctrl_c_in_the_middle_stops_every_engine(tmp_path):
    started = lambda: len(list(tmp_path.glob("ddbspec-run-*/engine-*.json"))) >= 1  # noqa: E731
    run = start_suite("specs", "-k", "overloading or sparse", tmp=tmp_path)
    try:
        assert wait_for(started, 120), "no engine started"
        assert processes_mentioning(str(tmp_path)), "the engine's guard should be running now"
        run.send_signal(signal.SIGINT)
        out, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:  # a failed test leaves no run behind
            os.killpg(run.pid, signal.SIGKILL)
    assert "KeyboardInterrupt" in out
    assert wait_for(lambda: not processes_mentioning(str(tmp_path)), BUSY), out
    assert not list(tmp_path.glob("ddbspec-run-*")), "the run's state folder was left behind"


def test_guard_ends_the_engine_when_its_owner_is_killed(tmp_path):
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    guard = processes.spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"], owner.pid, tmp_path / "engine.log"
    )
    assert processes.running(guard)
    owner.kill()
    owner.wait()
    assert wait_for(lambda: not processes.running(guard), BUSY)
    assert not processes_mentioning(str(tmp_path))


def test_guard_ends_what_its_engine_started_and_left(tmp_path):
    """An engine's own children (ministack's function workers) end with it: the guard ends
    its process group, not only the engine."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    left = f"sleep 61 # {tmp_path}"
    engine = ["sh", "-c", f"sh -c '{left}' & exec sleep 60"]
    guard = processes.spawn(engine, owner.pid, tmp_path / "engine.log")
    assert wait_for(lambda: len(processes_mentioning(str(tmp_path))) >= 2, BUSY)
    owner.kill()
    owner.wait()
    assert wait_for(lambda: not processes.running(guard), BUSY)
    assert wait_for(lambda: not processes_mentioning(str(tmp_path)), BUSY), processes_mentioning(
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


def test_a_stop_while_the_engine_starts_still_stops_it_and_the_engine_can_be_stopped(tmp_path):
    """The engine asks its guard to stop as soon as it runs: the guard, which blocks its
    signals before it starts the engine, must not die of that SIGTERM and orphan it; and the
    engine must not inherit the block (it would never hear the guard's own SIGTERM)."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    mask = tmp_path / "mask"
    sleep = f"{sys.executable} -c 'import time; time.sleep(61)  # {tmp_path}'"
    script = f"grep SigBlk /proc/self/status > {mask}; kill -TERM $PPID; exec {sleep}"
    guard = processes.spawn(["sh", "-c", script], owner.pid, tmp_path / "engine.log")
    try:
        assert wait_for(lambda: not processes.running(guard), BUSY)
        assert wait_for(lambda: not processes_mentioning(str(tmp_path)), BUSY)
        assert int(mask.read_text().split()[1], 16) == 0, mask.read_text()  # nothing blocked
    finally:
        owner.kill()
        owner.wait()


class Started:
    """An engine that starts at once and runs nothing: the record is what is under test."""

    name = "started"

    def start(self, settings: Settings) -> EngineInfo:
        return EngineInfo(self.name, endpoint_url="http://127.0.0.1:9")

    def stop(self, info: EngineInfo) -> None:
        pass


def test_ctrl_c_while_an_engine_is_recorded_leaves_no_half_record(tmp_path, monkeypatch):
    """The run's end reads every engine record to sweep and stop; an empty one (Ctrl-C after
    the file was created, before a byte was written) stopped that cleanup halfway."""

    def interrupted(path: Path, data: str, *args: object, **kwargs: object) -> None:
        path.open("w").close()
        raise KeyboardInterrupt

    monkeypatch.setitem(registry.ENGINES, Started.name, Started())
    settings = Settings(run_id="r", state_dir=tmp_path, owner_pid=os.getpid())
    with monkeypatch.context() as ctrl_c, pytest.raises(KeyboardInterrupt):
        ctrl_c.setattr(Path, "write_text", interrupted)
        registry.acquire(settings, Started.name)
    assert not list(tmp_path.glob("engine-*.json"))
    assert registry.release_all(settings) == []
    assert registry.acquire(settings, Started.name).endpoint_url == "http://127.0.0.1:9"
    assert registry.release_all(settings) == [Started.name]
