"""Run the suite's ``--aws`` path against moto's in-process mock of the AWS endpoints.

``python -m ddbspec.mockaws [PYTEST ARGS]`` is ``pytest --aws`` with every boto3 call answered
in-process by moto: no account, no cost, and no endpoint URL, so the code path is the real
AWS one (credentials, region, waits, tags, cleanup). What moto cannot run (a Lambda function's
code) the specs say so themselves.
"""

from __future__ import annotations

import os
import sys
import threading

import pytest

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "mock",
    "AWS_SECRET_ACCESS_KEY": "mock",
    "AWS_SESSION_TOKEN": "mock",
    "AWS_DEFAULT_REGION": "us-east-1",
    # botocore sends DynamoDB Streams calls to account-based endpoints
    # (123456789012.streams-ddb.<region>.amazonaws.com), which moto does not route: 404.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


def serialize_requests() -> None:
    """Answer one request at a time, as a server would.

    moto's in-process backend is not thread-safe: parallel BatchWriteItems into a new
    partition can lose items (seen: 3997 of 4000). The suite's loaders and lock writers are
    concurrent on purpose, so the mock takes its requests one at a time.
    """
    from moto.core.botocore_stubber import BotocoreStubber

    answer, lock = BotocoreStubber.process_request, threading.Lock()

    def one_at_a_time(self: BotocoreStubber, request: object) -> object:
        with lock:
            return answer(self, request)

    BotocoreStubber.process_request = one_at_a_time  # type: ignore[method-assign]


def main(args: list[str]) -> int:
    from moto import mock_aws

    from ddbspec import mocklambda

    serialize_requests()
    mocklambda.install()  # moto cannot run a function; keep its streams whole (exercise 8)
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_PROFILE", None)
    with mock_aws():
        return int(pytest.main(["--aws", "-p", "no:xdist", *args]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
