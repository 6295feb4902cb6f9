"""The --aws path of the exercises, end to end, against moto's in-process mock of AWS."""

from __future__ import annotations

from suite import run_mock_aws


def test_employee_exercises_pass_on_the_aws_path():
    out = run_mock_aws("overloading or sparse or composite or locking", timeout=600)
    assert " passed" in out and " skipped" not in out and " failed" not in out
    assert "on aws boto3" in out  # the summary names the engine that served each exercise


def test_log_exercises_pass_on_the_aws_path():
    # scale 1 (4,000 items a table): moto answers one request at a time
    out = run_mock_aws("scan or sharding", "--scale", "1", timeout=600)
    assert " passed" in out and " skipped" not in out and " failed" not in out
    assert "exercise 2 scan: on aws boto3" in out and "exercise 3 sharding: on aws boto3" in out
    shared = next(line for line in out.splitlines() if " shared tables on aws" in line)
    assert " deleted its 2 shared tables on aws: " in shared  # the two file orders' tables,
    assert shared.count("shared-tlog_scan") == 2  # shared by both exercises
    assert "interrupt" not in out  # nothing else was left to the run's end


def test_the_capacity_walk_through_passes_on_the_aws_path():
    # the mock meters capacity and publishes DynamoDB's metrics to its CloudWatch, on a clock
    # the spec speeds up as it does the gateway's: the 25-minute walk-through takes seconds
    out = run_mock_aws("capacity", "--aws-capacity", "workshop", "-m", "slow", timeout=300)
    assert " passed" in out and " skipped" not in out and " failed" not in out, out
    assert "exercise 1 capacity: on aws boto3" in out
    assert "throttle events on tlog, one per item handed back" in out
