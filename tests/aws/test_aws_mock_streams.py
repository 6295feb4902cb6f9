"""Exercise 8's --aws path end to end, against moto's in-process mock of AWS.

moto cannot run a Lambda function: the spec deploys it for real (role, policy, zip, mapping,
log group), runs the deployed zip in Lambda's place, and checks that all of it is removed.
"""

from __future__ import annotations

import re

from suite import run_mock_aws


def test_the_streams_exercise_passes_on_the_aws_path():
    out = run_mock_aws("streams")
    summary = out.strip().splitlines()[-2]  # "13 passed, 49 deselected in 95.2s"
    assert re.fullmatch(r"\d+ passed, \d+ deselected in .*", summary), out
    assert "exercise 8 streams: on aws boto3" in out
    # the deployment was made and taken down, in order, visibly
    steps = [
        "creating role",
        "creating function",
        "mapping the stream to the function",
        "deleting event source mapping",
        "deleting function",
        "deleting role",
        "deleting log group",
    ]
    positions = [out.index(f"[exercise 8] {step}") for step in steps]
    assert positions == sorted(positions)
