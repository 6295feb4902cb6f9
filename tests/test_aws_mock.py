"""The --aws path of the exercises, end to end, against moto's in-process mock of AWS."""

from __future__ import annotations

from suite import run_mock_aws


def test_employee_exercises_pass_on_the_aws_path():
    out = run_mock_aws("overloading or sparse or composite or locking", timeout=600)
    assert " passed" in out and " skipped" not in out and " failed" not in out
    assert "on aws boto3" in out  # the summary names the engine that served each exercise
