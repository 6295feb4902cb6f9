"""The --aws path when AWS misbehaves or the user presses Ctrl-C, against moto's in-process
mock with faults (``python -m ddbspec.aws.mock --deny/--throttle/--interrupt/--no-capacity``).

Each run ends with the mock's own inventory of the account: whatever happened, nothing the
run created may be left in it.
"""

from __future__ import annotations

import re

from suite import NOTHING_LEFT, mock_aws

INTERRUPTED, FAILED = 2, 1  # pytest's exit statuses


def test_ctrl_c_in_the_middle_of_a_deployment_leaves_nothing_behind():
    # Ctrl-C lands after Lambda created the function, before the suite heard back: the
    # deployment removes what it knows of, and the run's sweep finds the function by its tags
    status, out = mock_aws("--interrupt", "lambda:CreateFunction", "-k", "streams")
    assert status == INTERRUPTED, out
    assert "KeyboardInterrupt" in out
    assert "deleting role" in out and "deleting log group" in out
    swept = next(line for line in out.splitlines() if "what an interrupted spec left" in line)
    assert "function ddbspec-" in swept, out
    assert NOTHING_LEFT in out, out


def test_ctrl_c_while_a_table_is_being_created_leaves_nothing_behind():
    status, out = mock_aws("--interrupt", "dynamodb:CreateTable", "-k", "sparse")
    assert status == INTERRUPTED, out
    assert NOTHING_LEFT in out, out


def test_a_failing_spec_still_removes_its_tables():
    # a refusal in the middle of the spec's body: the specs fail, the teardown runs (exercise
    # 7's table is its own: exercises 5 and 6 share theirs, deleted at the run's end)
    status, out = mock_aws("--deny", "dynamodb:Query", "-k", "locking")
    assert status == FAILED, out
    assert " failed" in out
    assert "ddbspec: deleted table ddbspec-" in out  # the teardown says what it deleted
    assert NOTHING_LEFT in out, out


def test_a_missing_permission_is_named_and_nothing_is_left_half_built():
    # sparse creates its table, then adds the index online: UpdateTable refused
    status, out = mock_aws("--deny", "dynamodb:UpdateTable", "-k", "sparse")
    assert status == FAILED, out
    assert "AWS refused dynamodb:UpdateTable: the credentials in use lack it" in out
    assert "lib/ddbspec/aws/policy.json" in out
    assert "Traceback" not in out  # the message, not a stack
    assert NOTHING_LEFT in out, out


def test_throttling_is_retried_and_counted_not_hidden():
    status, out = mock_aws("--throttle", "dynamodb:Scan:3", "-k", "sparse")
    assert status == 0, out
    assert "SDK retries (adaptive mode): 3 (ProvisionedThroughputExceededException 3)" in out
    assert NOTHING_LEFT in out, out


def test_exercise_1_on_an_endpoint_that_never_throttles_says_so():
    # as an emulator of AWS: no capacity enforced; every step after the first that needs a
    # throttle fails at once with the same sentence (not after a million writes)
    capacity = ("-k", "capacity", "--aws-capacity", "workshop", "-m", "slow")
    status, out = mock_aws("--no-capacity", *capacity, timeout=300)
    assert status == FAILED, out
    said = re.search(
        r"the table (ddbspec-\S+-tlog) never throttled: 2000 items written at (\d+) a second "
        r"against its 5 WCU, none handed back\. This endpoint does not enforce provisioned "
        r"capacity",
        out,
    )
    assert said, out
    assert int(said[2]) > 2 * 5, said[0]  # the load outran the rate: 5 WCU should have throttled
    later = ("throttles_are_on", "more_capacity", "a_low_capacity_index", "charts")
    assert all(f"FAILED specs/test_capacity.py::test_{step}" in out for step in later), out
    assert out.count(f"{said[1]} never throttled") >= 1 + len(later), out
    assert NOTHING_LEFT in out, out
