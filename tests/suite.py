"""Run the suite itself in a subprocess, as a user would, and look at what it left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"  # the workshop's CSV files, as the suite ships them


def run_suite(
    *args: str, tmp: Path, env: dict[str, str | None] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``pytest ARGS`` from the project root, its temporary files (and engines' logs) in tmp.

    ``env`` adds variables to the environment; a None value removes one.
    """
    changes = {
        "TMPDIR": str(tmp),
        "PYTEST_XDIST_WORKER": None,
        "PYTEST_ADDOPTS": None,
        **(env or {}),
    }
    environment = {k: v for k, v in {**os.environ, **changes}.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
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


def mock_aws(*args: str, timeout: float = 900, quiet: bool = True) -> tuple[int, str]:
    """``ddbspec mock-aws ARGS specs -q``: the --aws path against moto's in-process
    mock (ARGS may start with the mock's faults); returns its exit status and output.
    Not ``quiet``, the output has pytest's header (the suite's lines about the account)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ddbspec",
            "mock-aws",
            *args,
            "specs",
            "-p",
            "no:cacheprovider",
            *(["-q"] if quiet else []),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


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
