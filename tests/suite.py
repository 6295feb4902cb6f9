"""Run the suite itself in a subprocess, as a user would, and look at what it left behind."""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"  # the workshop's CSV files, as the suite ships them


def suite_environment(tmp: Path | None, env: dict[str, str | None] | None = None) -> dict[str, str]:
    """The environment a run of the suite gets: this one, its temporary files in tmp (if
    given), and ``env``'s variables added (a None value removes one).

    Without this process's xdist worker name: a run that inherits it takes itself for a
    worker (pytest-benchmark then warns that xdist disabled its benchmarks, in worker gw0
    only) and puts the name in its tables'; nor this run's PYTEST_ADDOPTS."""
    changes = {
        **({"TMPDIR": str(tmp)} if tmp else {}),
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


# Exec'd in place of itself (the pid stays the command's) once SIGINT is back to its default.
SIGINT_RESTORED = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


def interruptible(argv: list[str]) -> list[str]:
    """``argv`` as a terminal's foreground job runs it: Ctrl-C (SIGINT) interrupts it.

    A suite started in the background (``pytest ... &`` in a script, a CI step) inherits
    SIGINT ignored, as POSIX shells start background jobs, and every process it starts
    inherits that in turn; a Python started with SIGINT ignored installs no
    KeyboardInterrupt handler, so a test's Ctrl-C would do nothing. A shell restores SIGINT
    for its foreground jobs; so does this. (Popen's preexec_fn could too, but is not safe in
    a process with threads, such as a test serving a stub engine.)"""
    return [sys.executable, "-c", SIGINT_RESTORED, *argv]


def start_suite(
    *args: str, tmp: Path, env: dict[str, str | None] | None = None
) -> subprocess.Popen:
    """``run_suite`` started, not waited for: in a process group of its own, as a shell's
    job is (``timeout`` signals the group), its output in one stream, and Ctrl-C reaching
    it (``interruptible``)."""
    return subprocess.Popen(
        interruptible([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]),
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


# The deadline for what should take moments (a process ending on a signal, a guard seeing
# its owner gone), long enough for a busy 2-core machine running the suite under xdist: a
# wait ends as soon as its condition holds, so a long deadline costs a passing test nothing.
BUSY = 60.0


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


def pytest_outcome(out: str) -> str:
    """The line of a run's output where pytest counts its tests ("3 passed, 1 failed in 9.1s"),
    wherever the suite's own last lines put it."""
    counts = re.compile(r"\d+ \w+(, \d+ \w+)* in [\d.]+s\b.*")
    return next(line for line in reversed(out.splitlines()) if counts.fullmatch(line))


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
        env=suite_environment(tmp),
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


def moto_put_back_afterwards(monkeypatch) -> None:
    """moto's own code back after the test, whatever the test installs over it
    (``motoserver.speed_up``, ``mock_lambda.install``)."""
    from moto import backends
    from moto.awslambda.models import LambdaBackend
    from moto.core import serialize
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table

    replaced = [
        (serialize.BaseJSONSerializer, "_serialize_type_structure"),
        (DynamoType, "cast_value"),
        (DynamoType, "__ne__"),
        (DynamoType, "size"),
        (Item, "__deepcopy__"),
        (Table, "all_items"),
        (backends, "list_of_moto_modules"),
        (LambdaBackend, "send_dynamodb_items"),
    ]
    for owner, name in replaced:
        monkeypatch.setattr(owner, name, inspect.getattr_static(owner, name))
    # and install's mark on the environment, which every process the worker starts later
    # inherits: set first, so that monkeypatch notes how it was and puts it back
    from ddbspec.aws.mock_lambda import MARK

    monkeypatch.setenv(MARK, "")
    monkeypatch.delenv(MARK)


def moto_sped_up() -> bool:
    """Whether moto runs with ``motoserver.speed_up``'s replacements of its hot spots."""
    from moto import backends
    from moto.core import serialize
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table

    from ddbspec.engines import motoserver

    return (
        getattr(serialize.BaseJSONSerializer._serialize_type_structure, "fast", False)
        and getattr(inspect.getattr_static(DynamoType, "cast_value").fget, "fast", False)
        and getattr(DynamoType.__ne__, "fast", False)
        and getattr(DynamoType.size, "fast", False)
        and Item.__deepcopy__ is motoserver.copy_item
        and Table.all_items is motoserver.all_items
        and getattr(backends.list_of_moto_modules, "fast", False)
    )


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
