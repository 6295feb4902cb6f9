"""The --aws path of the exercises, end to end, against moto's in-process mock of AWS.

The employee, log and streams exercises agree on their options (only the log exercises read
--scale), so one run of the three serves the tests of each: each reads its exercises' lines
in the run's output. Module-scoped, the run is made once under xdist too (the plugin sends a
module to one worker).
"""

from __future__ import annotations

import re

import pytest

from suite import pytest_outcome, run_mock_aws

EMPLOYEES = ("4 overloading", "5 sparse", "6 composite", "7 locking")


@pytest.fixture(scope="module")
def out() -> str:
    # scale 1 (4,000 items a log table): moto answers one request at a time
    selection = "overloading or sparse or composite or locking or scan or sharding or streams"
    return run_mock_aws(selection, "--scale", "1")


def test_employee_exercises_pass_on_the_aws_path(out):
    counted = pytest_outcome(out)  # not the summary's lines (exercise 8's "failed batch")
    assert " passed" in counted and " skipped" not in counted and " failed" not in counted, out
    # the summary names the engine that served each exercise
    assert all(f"exercise {exercise}: on aws boto3" in out for exercise in EMPLOYEES), out


def test_log_exercises_pass_on_the_aws_path(out):
    counted = pytest_outcome(out)
    assert " passed" in counted and " skipped" not in counted and " failed" not in counted, out
    assert "exercise 2 scan: on aws boto3" in out and "exercise 3 sharding: on aws boto3" in out
    shared = next(line for line in out.splitlines() if " shared tables on aws" in line)
    # the two file orders' log tables, shared by both exercises, exercise 4's employees, and
    # exercises 5 and 6's with their two indexes added
    assert " deleted its 4 shared tables on aws: " in shared
    assert shared.count("shared-tlog_scan") == 2 and shared.count("shared-employees") == 2
    assert "interrupt" not in out  # nothing else was left to the run's end


def test_the_streams_exercise_passes_on_the_aws_path(out):
    # moto cannot run a Lambda function: the spec deploys it for real (role, policy, zip,
    # mapping, log group), runs the deployed zip in Lambda's place, and removes all of it
    summary = pytest_outcome(out)  # "50 passed, 23 deselected in 95.2s"
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
