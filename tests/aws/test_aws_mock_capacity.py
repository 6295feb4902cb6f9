"""Exercise 1's --aws path end to end, against moto's in-process mock of AWS: a run of its
own, as its tables are provisioned as the workshop's (--aws-capacity workshop)."""

from __future__ import annotations

from suite import run_mock_aws


def test_the_capacity_walk_through_passes_on_the_aws_path():
    # the mock meters capacity and publishes DynamoDB's metrics to its CloudWatch, on a clock
    # the spec speeds up as it does the gateway's: the 25-minute walk-through takes seconds
    out = run_mock_aws("capacity", "--aws-capacity", "workshop", "-m", "slow", timeout=300)
    assert " passed" in out and " skipped" not in out and " failed" not in out, out
    assert "exercise 1 capacity: on aws boto3" in out
    assert "throttle events on tlog, one per item handed back" in out
