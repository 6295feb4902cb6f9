"""Run the suite itself in a subprocess, as a user would, and look at what it left behind."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"  # the workshop's CSV files, as the suite ships them


def suite_environment(tmp: Path, env: dict[str, str | None] | None = None) -> dict[str, str]:
    """The environment a run of the suite gets: this one, its temporary files in tmp, and
    ``env``'s variables added (a None value removes one)."""
    changes = {
        "TMPDIR": str(tmp),
        "PYTEST_XDIST_WORKER": None,
        "PYTEST_ADDOPTS": None,
        **(env or {}),
    }
    return {k: v for k, v in {**os.environ, **changes}.items() if v is not None}


def run_suite(
    *args: str, tmp: Path, env: dict[str, str | None] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``pytest ARGS`` from the project root, its temporary files (and engines' logs) in tmp.

    ``env`` adds variables to the environment; a None value removes one.
    """
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        env=suite_environment(tmp, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_suite(
    *args: str, tmp: Path, env: dict[str, str | None] | None = None
) -> subprocess.Popen:
    """``run_suite`` started, not waited for: in a process group of its own, as a shell's
    job is (``timeout`` signals the group), its output in one stream."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        env=suite_environment(tmp, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (an engine left running)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in argv and " -m pytest " not in argv:
            found.append(argv)
    return found


def wait_for(condition: Callable[[], object], timeout: float) -> bool:
    """Whether ``condition`` came true within ``timeout`` seconds (a process ending, say)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


NOTHING_LEFT = "ddbspec mock-aws: the run left nothing in the mocked account"
LEFT = "ddbspec mock-aws: left in the mocked account:"


def left_in_mock(out: str) -> list[str] | None:
    """What ``ddbspec mock-aws`` listed as left in the mocked account; None if it listed
    nothing at all (the process did not live to take the inventory)."""
    if NOTHING_LEFT in out:
        return []
    if LEFT not in out:
        return None
    listed = out.split(LEFT, 1)[1].splitlines()[1:]
    return [line.strip() for line in listed if line.startswith("  ")]


def aws_path(
    command: str, *args: str, timeout: float = 900, quiet: bool = True, tmp: Path | None = None
) -> tuple[int, str]:
    """``ddbspec COMMAND ARGS specs -q``, a command that runs the --aws path (mock-aws,
    emulate-aws; ARGS may start with its own options); its exit status and output. Not
    ``quiet``, the output has pytest's header (the suite's lines about the account). With
    ``tmp``, its temporary files (and its engines' logs) are there."""
    ddbspec = [sys.executable, "-m", "ddbspec", command]
    result = subprocess.run(
        [*ddbspec, *args, "specs", "-p", "no:cacheprovider", *(["-q"] if quiet else [])],
        cwd=REPO,
        env=suite_environment(tmp) if tmp else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def mock_aws(*args: str, timeout: float = 900, quiet: bool = True) -> tuple[int, str]:
    """The --aws path against moto's in-process mock (``aws_path``)."""
    return aws_path("mock-aws", *args, timeout=timeout, quiet=quiet)


class Ticks:
    """A clock that moves only when slept on: a wait of minutes takes no real time, and each
    wait's course is exact."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


POLICY = str(REPO / "lib" / "ddbspec" / "aws" / "policy.json")


def run_mock_aws(selection: str, *options: str, timeout: float = 900) -> str:
    """``pytest --aws -k SELECTION OPTIONS`` against the mock, with only what the shipped
    policy allows; asserts it passed and left nothing in the mocked account, and returns its
    output."""
    status, out = mock_aws("--policy", POLICY, "-k", selection, *options, timeout=timeout)
    assert status == 0, out
    assert NOTHING_LEFT in out, out
    return out


def fake_aws_credentials(monkeypatch, region: str, **extra: str) -> None:
    """The environment moto's in-process mock is run with (as ddbspec.aws.mock sets it)."""
    from ddbspec.aws.mock import FAKE_CREDENTIALS

    for name, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region, **extra}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@contextlib.contextmanager
def engine_server(tmp: Path, engine: str = "moto") -> Iterator[str]:
    """One of the suite's engines (moto's server, ministack) for the test's own use: its URL,
    an account of every service at one endpoint, new and empty."""
    from ddbspec.config import Settings
    from ddbspec.engines import registry

    state = tmp / f"{engine}-server"
    state.mkdir()
    settings = Settings(run_id="emulator", state_dir=state, owner_pid=os.getpid())
    try:
        info = registry.acquire(settings, engine)
        assert info.endpoint_url, info.error or info.unavailable
        yield info.endpoint_url
    finally:
        registry.release_all(settings)


moto_server = engine_server


def at_endpoint(url: str) -> dict[str, str | None]:
    """The environment of a ``--aws`` run that boto3 sends to ``url`` instead of AWS."""
    from ddbspec.aws.mock import FAKE_CREDENTIALS

    return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": url, "AWS_PROFILE": None}
