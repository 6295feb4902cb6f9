"""Run the suite's ``--aws`` path against ministack, an emulator of AWS that this project did
not write.

``ddbspec emulate-aws [PYTEST ARGS]`` starts the suite's ministack (``--engine ministack``'s
install, on 127.0.0.1 and a free port), sends boto3 there with ``AWS_ENDPOINT_URL`` and fake
credentials, and runs ``pytest --aws``: every exercise's AWS code, the Lambda deployment of
exercise 8 included, meets an implementation of DynamoDB, Streams, Lambda, IAM, CloudWatch
and its Logs written by others. Unlike ``ddbspec mock-aws`` (moto in-process), it runs under
xdist too. When pytest is done, whatever the run left in ministack's account is listed, and a
run that left anything (without --keep-tables) fails. ministack stops at the end, and with
the run's guard if this command is killed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from ddbspec.aws.mock import ALREADY_IMPORTED, FAKE_CREDENTIALS, LEFTOVERS, inventory
from ddbspec.config import Settings
from ddbspec.engines import registry

ENGINE = "ministack"
FAILED_TO_START = 4  # pytest's own codes are 0-5; this one names the emulator, not the specs


def main(argv: list[str], prog: str = "ddbspec emulate-aws") -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(f"usage: {prog} [PYTEST ARGS]\n\n{__doc__}")
        return 0
    state = Path(tempfile.mkdtemp(prefix="ddbspec-emulate-"))
    settings = Settings(run_id="emulate-aws", state_dir=state, owner_pid=os.getpid())
    try:
        info = registry.acquire(settings, ENGINE)
        if info.error or not info.endpoint_url:
            print(f"{prog}: {ENGINE} did not start: {info.error or info.unavailable}")
            return FAILED_TO_START
        print(f"{prog}: {info.name} {info.version} at {info.endpoint_url}")
        os.environ.update({**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": info.endpoint_url})
        os.environ.pop("AWS_PROFILE", None)
        status = int(pytest.main(["--aws", "-W", ALREADY_IMPORTED, *argv]))
        left = inventory()
    finally:
        registry.release_all(settings)
        shutil.rmtree(state, ignore_errors=True)
    if not left:
        print(f"{prog}: the run left nothing in {ENGINE}'s account")
        return status
    print(f"{prog}: left in {ENGINE}'s account:\n  " + "\n  ".join(left))
    return status or (0 if "--keep-tables" in argv else LEFTOVERS)
