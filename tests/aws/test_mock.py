"""ddbspec.aws.mock: the mock's faults look to the suite exactly as AWS's own errors do."""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from typing import Any

import pytest
from botocore import endpoint
from botocore.exceptions import ClientError
from botocore.retries import bucket
from moto import mock_aws

from ddbspec.aws import account, mock_lambda
from ddbspec.aws.mock import (
    Faults,
    action_of,
    answering,
    counted,
    iam_actions,
    parse,
    prepare_moto,
)
from ddbspec.aws.mock_backoff import Backoff
from ddbspec.engines import clients
from ddbspec.engines.info import EngineInfo

from suite import fake_aws_credentials, moto_put_back_afterwards, moto_sped_up

# one call per wire protocol: JSON 1.0, JSON 1.1, query (XML), REST-JSON
CALLS = [
    ("dynamodb", "list_tables", "dynamodb:ListTables", "AccessDeniedException"),
    ("dynamodbstreams", "list_streams", "dynamodb:ListStreams", "AccessDeniedException"),
    ("logs", "describe_log_groups", "logs:DescribeLogGroups", "AccessDeniedException"),
    ("iam", "list_roles", "iam:ListRoles", "AccessDenied"),
    ("lambda", "list_functions", "lambda:ListFunctions", "AccessDeniedException"),
]


@pytest.fixture
def aws_client(monkeypatch):
    fake_aws_credentials(monkeypatch, "us-east-1")
    with mock_aws():
        yield EngineInfo(name="aws").client


@pytest.mark.parametrize(("service", "call", "action", "code"), CALLS)
def test_a_denied_call_fails_as_aws_refuses_it(aws_client, service, call, action, code):
    with answering(Faults(deny={action})), pytest.raises(ClientError) as refused:
        getattr(aws_client(service), call)()
    assert refused.value.response["Error"]["Code"] == code
    assert account.refused(refused.value).startswith(f"AWS refused {action}: ")


def test_the_mock_runs_moto_with_the_speed_ups_of_the_suites_moto_server(monkeypatch):
    moto_put_back_afterwards(monkeypatch)
    assert not moto_sped_up() and not mock_lambda.active()
    prepare_moto()
    assert moto_sped_up()  # its in-process backend has the server's hot spots
    assert mock_lambda.active()


def test_only_the_denied_action_is_refused(aws_client):
    with answering(Faults(deny={"dynamodb:CreateTable"})) as faults:
        assert aws_client().list_tables()["TableNames"] == []
    assert faults.seen == {"dynamodb:ListTables": 1}


def retried_calls(aws_client: Any, throttled: int) -> dict[str, int]:
    clients.RETRIES.take()  # what earlier tests left in the process's tally
    # standard mode: adaptive mode would also pace the calls after a throttle, 0.5 a second
    # here (the --aws path's adaptive retries are counted end to end in test_aws_faults)
    ddb = aws_client(retries={"mode": "standard"})
    with answering(Faults(throttle={"dynamodb:ListTables": throttled})):
        try:
            ddb.list_tables()
        finally:
            counted_retries = clients.RETRIES.take()
    return counted_retries


def test_throttled_calls_are_retried_and_each_retry_is_counted(aws_client):
    code = "ProvisionedThroughputExceededException"
    assert retried_calls(aws_client, throttled=2) == {code: 2}
    with pytest.raises(ClientError, match=code):  # more than the SDK's 3 attempts
        retried_calls(aws_client, throttled=5)
    assert clients.RETRIES.take() == {}  # (counted in the call above: 2 retries, then gave up)


def test_the_sdk_retries_a_throttle_injected_on_purpose_without_waiting(aws_client, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    with answering(Faults(throttle={"dynamodb:ListTables": 2})):
        aws_client(retries={"mode": "standard"}).list_tables()
    assert slept == []  # botocore would have backed off twice, for up to 1 s and 2 s
    assert endpoint.time is time and bucket.time is time  # the SDK's own clock, afterwards


def test_only_the_wait_after_a_throttle_injected_on_purpose_is_skipped(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    backoff = Backoff()
    backoff.answered(injected=True)
    elsewhere = threading.Thread(target=backoff.sleep, args=(0.25,))  # not after it: slept
    elsewhere.start()
    elsewhere.join()
    backoff.sleep(1.5)  # the SDK's backoff right after it: not slept, but its clock moves on
    assert 1.4 < backoff.time() - time.time() <= 1.5
    backoff.sleep(0.5)  # the next one: slept
    backoff.answered(injected=False)
    backoff.sleep(0.75)
    assert slept == [0.25, 0.5, 0.75]


def test_the_summary_line_says_how_many_retries_and_why():
    from collections import Counter

    from ddbspec.summary import retried

    assert retried(Counter(), "aws") == "SDK retries (adaptive mode): none"
    line = retried(Counter({"ThrottlingException": 1, "InternalServerError": 4}), "dynalite")
    assert line == "SDK retries (standard mode): 5 (InternalServerError 4, ThrottlingException 1)"


TABLE = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def test_interrupt_comes_after_the_nth_call_has_been_answered(aws_client):
    ddb = aws_client()
    with answering(Faults(interrupt={"dynamodb:CreateTable": 2})):
        ddb.create_table(TableName="first", **TABLE)
        with pytest.raises(KeyboardInterrupt, match="after dynamodb:CreateTable"):
            ddb.create_table(TableName="second", **TABLE)
    assert sorted(ddb.list_tables()["TableNames"]) == ["first", "second"]  # AWS made it


class Terminated(Exception):
    """What the test's own SIGTERM handler raises, to see when the signal came."""


def test_terminate_sends_sigterm_after_the_nth_call_has_been_answered(aws_client):
    def received(signum: int, frame: Any) -> None:
        raise Terminated(signal.Signals(signum).name)

    ddb = aws_client()
    previous = signal.signal(signal.SIGTERM, received)
    try:
        with answering(Faults(terminate={"dynamodb:CreateTable": 2})):
            ddb.create_table(TableName="first", **TABLE)
            with pytest.raises(Terminated, match="SIGTERM"):
                ddb.create_table(TableName="second", **TABLE)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert sorted(ddb.list_tables()["TableNames"]) == ["first", "second"]  # AWS made it


def test_the_mocks_options_and_pytests_are_told_apart():
    mine = ["--deny", "iam:CreateRole", "--throttle", "dynamodb:Scan:3"]
    mine += ["--interrupt", "lambda:CreateFunction", "--terminate", "iam:DeleteRole:2"]
    faults, rest = parse([*mine, "specs", "-k", "deny"])
    assert faults.deny == {"iam:CreateRole"}
    assert faults.throttle == {"dynamodb:Scan": 3}
    assert faults.interrupt == {"lambda:CreateFunction": 1}
    assert faults.terminate == {"iam:DeleteRole": 2}
    assert rest == ["specs", "-k", "deny"]
    assert not faults.no_capacity and parse(["--no-capacity", "specs"])[0].no_capacity
    with pytest.raises(argparse.ArgumentTypeError, match="ACTION:N with N >= 1"):
        counted("dynamodb:Scan:0")


def test_botocore_events_name_iam_actions():
    assert action_of("before-send.dynamodb.CreateTable") == "dynamodb:CreateTable"
    assert action_of("before-send.dynamodb-streams.GetRecords") == "dynamodb:GetRecords"
    assert action_of("before-send.cloudwatch-logs.CreateLogGroup") == "logs:CreateLogGroup"


def transaction(*kinds: str) -> Any:
    from botocore.awsrequest import AWSPreparedRequest

    body = json.dumps({"TransactItems": [{kind: {}} for kind in kinds]}).encode()
    return AWSPreparedRequest("POST", "https://dynamodb.us-east-1.amazonaws.com/", {}, body, False)


def test_a_transaction_is_authorized_by_the_actions_of_its_items():
    # IAM has no dynamodb:TransactWriteItems permission: each Put, Update, Delete,
    # ConditionCheck or Get is authorized as the single-item call it stands for
    request = transaction("Put", "ConditionCheck", "Put")
    assert iam_actions("dynamodb:TransactWriteItems", request) == [
        "dynamodb:ConditionCheckItem",
        "dynamodb:PutItem",
    ]
    assert iam_actions("dynamodb:TransactGetItems", transaction("Get")) == ["dynamodb:GetItem"]
    assert iam_actions("lambda:CreateFunction", None) == ["lambda:CreateFunction", "iam:PassRole"]


def test_a_policy_allows_only_what_it_grants(tmp_path, aws_client):
    policy = tmp_path / "policy.json"
    statements = [
        {"Effect": "Allow", "Action": "dynamodb:List*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:CreateTable", "Resource": "*"},
    ]
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    faults, _ = parse(["--policy", str(policy)])
    assert faults.allows("dynamodb:ListTables") and faults.allows("dynamodb:putitem")
    assert not faults.allows("dynamodb:CreateTable") and not faults.allows("dynamodb:GetItem")
    assert faults.allows("sts:GetCallerIdentity")  # needs no permission
    with answering(faults), pytest.raises(ClientError) as refused:
        aws_client().describe_table(TableName="t")
    assert account.refused(refused.value).startswith("AWS refused dynamodb:DescribeTable: ")


def test_a_policy_that_is_not_one_is_a_clear_usage_error(tmp_path, capsys):
    broken = tmp_path / "policy.json"
    broken.write_text("{not json")
    with pytest.raises(SystemExit):
        parse(["--policy", str(broken)])
    assert f"{broken}: not a readable IAM policy document" in capsys.readouterr().err
