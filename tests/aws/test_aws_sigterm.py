"""SIGTERM (``timeout``, a cancelled CI job, ``docker stop``) in the middle of the --aws path:
the run cleans up as on Ctrl-C, and nothing it created is left in the account.

Each emulator of AWS runs exercise 8, has the run sent SIGTERM once the deployment has made
its mapping, and lists what is new in its account afterwards. Another emulator at an
endpoint (ministack) is one more ``Server`` in ``EMULATORS``; each engine serves every run
of the module that asks for it, started once.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from ddbspec.aws.mock import FAKE_CREDENTIALS, inventory

from suite import at_endpoint, engine_server, left_in_mock, mock_aws, start_suite, wait_for

INTERRUPTED = 2  # pytest's exit status
# What a run at an endpoint collects: the moments are exercise 8's, and each of the run's
# xdist workers took 2 s to collect every spec module only to deselect the others.
EXERCISE_8 = "specs/test_streams.py"
Client = Callable[[str], Any]
Served = Callable[[str], str]  # the URL of an engine that serves the module's runs


@dataclass(frozen=True)
class Moment:
    """When SIGTERM comes: right after ``action``'s first call (an emulator in the run's own
    process sees each call), or once ``reached`` holds of the account (one at an endpoint
    is asked, from outside)."""

    action: str
    reached: Callable[[Client], bool]


MAPPED = Moment(
    "lambda:CreateEventSourceMapping",
    lambda client: bool(client("lambda").list_event_source_mappings()["EventSourceMappings"]),
)


@dataclass(frozen=True)
class Terminated:
    """A run sent SIGTERM: its exit status, its output, and what it left (None: unknown)."""

    status: int
    out: str
    left: list[str] | None


class InProcessMock:
    """moto's in-process mock (``ddbspec mock-aws``, serial), whose --terminate sends the
    SIGTERM to the run's process."""

    def terminated(self, when: Moment, *pytest_args: str, tmp: Path, served: Served) -> Terminated:
        status, out = mock_aws("--terminate", when.action, *pytest_args)
        return Terminated(status, out, left_in_mock(out))


@dataclass(frozen=True)
class Server:
    """An emulator at an endpoint, one of the suite's engines, which boto3 is sent to
    (AWS_ENDPOINT_URL); the run is under xdist (-n 2) and SIGTERM comes from outside: to its
    process group, as ``timeout`` sends it, or to pytest's process alone, as ``docker stop``
    does. What the account held before the run is not the run's."""

    engine: str
    group: bool

    def terminated(self, when: Moment, *pytest_args: str, tmp: Path, served: Served) -> Terminated:
        url = served(self.engine)
        client = clients_at(url)
        before = inventory(client)
        args = ("--aws", "-n", "2", EXERCISE_8, *pytest_args)
        run = start_suite(*args, tmp=tmp, env=at_endpoint(url))
        try:
            reached = wait_for(lambda: run.poll() is not None or when.reached(client), 300)
            assert reached, "neither reached the moment nor ended in 300 s"
            if run.poll() is None:
                (os.killpg if self.group else os.kill)(run.pid, signal.SIGTERM)
            out, _ = run.communicate(timeout=300)  # its workers' output too: all ended
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
        left = [found for found in inventory(client) if found not in before]
        return Terminated(run.returncode, out, left)


def clients_at(url: str) -> Client:
    """A client of each service at ``url``, made once: the moment is polled ten times a
    second, and a client costs more CPU to make than the poll (taken from the run)."""
    session = boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    return functools.cache(lambda service: session.client(service, endpoint_url=url))


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """Each engine the module's runs are sent to, started once for all of them (a start
    costs seconds), stopped after the last."""
    with contextlib.ExitStack() as stack:

        @functools.cache
        def url(engine: str) -> str:
            folder = tmp_path_factory.mktemp(engine)
            return stack.enter_context(engine_server(folder, engine))

        yield url


EMULATORS = [
    pytest.param(InProcessMock(), id="moto-in-process"),
    pytest.param(Server("moto", group=True), id="moto-server-n2-group"),
    pytest.param(Server("moto", group=False), id="moto-server-n2-controller"),
    pytest.param(Server("ministack", group=True), id="ministack-n2-group"),
]


@pytest.mark.parametrize("emulator", EMULATORS)
def test_sigterm_in_the_middle_of_a_deployment_leaves_nothing_behind(emulator, tmp_path, served):
    # exercise 8's tables, log group, role and function are there, and the mapping was just
    # made (serially: before its answer reached the deployment)
    run = emulator.terminated(MAPPED, "-k", "streams", tmp=tmp_path, served=served)
    assert run.left == [], f"exit {run.status}, left {run.left}:\n{run.out}"
    assert run.status == INTERRUPTED, run.out
    assert "KeyboardInterrupt: SIGTERM" in run.out, run.out


def test_a_second_sigterm_while_the_run_cleans_up_is_ignored():
    # the first interrupts the deployment; the second comes while the run's end sweeps the
    # account (the sweep alone lists functions): it must not abort the sweep halfway
    second = "lambda:ListFunctions"
    status, out = mock_aws("--terminate", MAPPED.action, "--terminate", second, "-k", "streams")
    assert "ddbspec: SIGTERM ignored: the run is cleaning up" in out, out
    assert left_in_mock(out) == [], out
    assert status == INTERRUPTED, out
