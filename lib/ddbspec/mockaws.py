"""Run the suite's ``--aws`` path against moto's in-process mock of the AWS endpoints.

``python -m ddbspec.mockaws [PYTEST ARGS]`` is ``pytest --aws`` with every boto3 call answered
in-process by moto: no account, no cost, and no endpoint URL, so the code path is the real
AWS one (credentials, region, waits, tags, cleanup). What moto cannot run (a Lambda function's
code) the specs say so themselves.
"""

from __future__ import annotations

import os
import sys

import pytest

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "mock", "AWS_SECRET_ACCESS_KEY": "mock",
                    "AWS_SESSION_TOKEN": "mock", "AWS_DEFAULT_REGION": "us-east-1"}


def main(args: list[str]) -> int:
    from moto import mock_aws

    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_PROFILE", None)
    with mock_aws():
        return int(pytest.main(["--aws", "-p", "no:xdist", *args]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
