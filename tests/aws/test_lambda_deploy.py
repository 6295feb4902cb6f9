"""lambda_deploy: the documents it writes, and that it removes everything it creates.

The pure pieces are checked as data; the deployment runs against moto's in-process mock of
AWS (no endpoint URL, so the code path is the real one), where a function can be created,
mapped and deleted but not run.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ddbspec.aws import lambda_deploy, sweep
from ddbspec.aws.lambda_deploy import Arn, DeployError, Names, deployed, execution_policy, leftovers
from ddbspec.aws.mock import Faults, answering

from suite import Ticks, fake_aws_credentials

STREAM = "arn:aws:dynamodb:eu-west-1:123456789012:table/run-tlog/stream/2026-11-29T00:00:00.000"
NOTHING = {"timeout": 5.0, "poll": 0.01, "progress": lambda line: None, "quiet": 0.05}


def test_names_fit_the_services_limits_and_stay_unique():
    short = Names.of("ddbspec-1a2b3c4d-main-streams-tlog")
    assert short.function == "ddbspec-1a2b3c4d-main-streams-tlog-replica"
    assert short.role == "ddbspec-1a2b3c4d-main-streams-tlog-replica-role"
    assert short.log_group == f"/aws/lambda/{short.function}"
    long_a, long_b = Names.of("x" * 80 + "a"), Names.of("x" * 80 + "b")
    assert len(long_a.role) <= 64 and len(long_a.function) <= 64
    assert long_a.role != long_b.role and long_a.function != long_b.function


def test_arns_of_the_same_account_and_region_as_the_stream():
    where = Arn.of(STREAM)
    assert where.table("r") == "arn:aws:dynamodb:eu-west-1:123456789012:table/r"
    assert where.log_group("/aws/lambda/f") == (
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f"
    )
    with pytest.raises(ValueError, match="is not an ARN"):
        Arn.of("tlog")


def test_only_lambda_may_assume_the_role():
    (statement,) = lambda_deploy.trust_policy()["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }


def test_the_policy_names_this_runs_stream_replica_and_log_group_and_nothing_else():
    where = Arn.of(STREAM)
    replica, group = where.table("run-tlog_replica"), where.log_group("/aws/lambda/f")
    policy = execution_policy(STREAM, replica, group)
    granted: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        for action in actions if isinstance(actions, list) else [actions]:
            granted.setdefault(action, set()).add(statement["Resource"])
    assert granted == {
        "dynamodb:DescribeStream": {STREAM},
        "dynamodb:GetRecords": {STREAM},
        "dynamodb:GetShardIterator": {STREAM},
        "dynamodb:ListStreams": {"*"},  # IAM cannot scope it; it lists ARNs, reads nothing
        "dynamodb:BatchWriteItem": {replica},
        "dynamodb:PutItem": {replica},
        "dynamodb:DeleteItem": {replica},
        "logs:CreateLogStream": {f"{group}:*"},
        "logs:PutLogEvents": {f"{group}:*"},
    }
    text = json.dumps(policy)
    assert "table/*" not in text and ":*:" not in text  # no wildcard on any table or account


def test_the_zip_holds_the_handler_alone_and_is_the_same_every_time():
    code = lambda_deploy.handler_zip()
    assert code == lambda_deploy.handler_zip()
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        assert archive.namelist() == ["replica.py"]
        assert b"def handler(event" in archive.read("replica.py")
    digest = base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert lambda_deploy.code_sha256(code) == digest


# --- against moto's mock -----------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch):
    """Clients on moto's in-process mock, and a table whose stream the function maps."""
    fake_aws_credentials(monkeypatch, "eu-west-1", AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled")
    with mock_aws():

        def clients(service: str) -> Any:
            return boto3.client(service, region_name="eu-west-1")

        ddb = clients("dynamodb")
        for table in ("run-tlog", "run-tlog_replica"):
            ddb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "requestid", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "requestid", "AttributeType": "N"}],
                BillingMode="PAY_PER_REQUEST",
            )
        arn = ddb.update_table(
            TableName="run-tlog",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]["LatestStreamArn"]
        yield clients, arn


def deploy(clients: Any, arn: str, **options: Any):
    return deployed(
        clients,
        names=Names.of("run-tlog"),
        stream_arn=arn,
        replica_table="run-tlog_replica",
        **{"tags": {"ddbspec-run": "run"}, **NOTHING, **options},
    )


def test_everything_created_is_there_while_in_use_and_gone_afterwards(aws):
    clients, arn = aws
    with deploy(clients, arn) as d:
        assert sorted(leftovers(clients, d)) == sorted(
            [
                f"event source mapping {d.mapping_uuid}",
                "function run-tlog-replica",
                "role run-tlog-replica-role",
                "role policy run-tlog-replica-policy",
                "log group /aws/lambda/run-tlog-replica",
            ]
        )
        mapping = clients("lambda").get_event_source_mapping(UUID=d.mapping_uuid)
        assert (mapping["BatchSize"], mapping["StartingPosition"]) == (100, "TRIM_HORIZON")
        assert mapping["EventSourceArn"] == arn
        assert d.created == ["log group", "role", "role policy", "function", "event source mapping"]
    assert leftovers(clients, d) == [] and d.created == []


@pytest.mark.parametrize("failure", [RuntimeError("the test failed"), KeyboardInterrupt()])
def test_everything_is_removed_when_the_body_fails_or_is_interrupted(aws, failure):
    clients, arn = aws
    with pytest.raises(type(failure)), deploy(clients, arn) as d:
        raise failure
    assert leftovers(clients, d) == []


def test_a_deployment_that_fails_halfway_removes_what_it_had_created(aws):
    clients, _ = aws
    missing = STREAM.replace("run-tlog", "no-such-table")
    with pytest.raises(ClientError, match="Invalid EventSourceArn"), deploy(clients, missing):
        pytest.fail("the body must not run")
    names = Names.of("run-tlog")
    assert clients("lambda").list_functions()["Functions"] == []
    assert names.role not in [r["RoleName"] for r in clients("iam").list_roles()["Roles"]]
    assert clients("logs").describe_log_groups()["logGroups"] == []


def test_an_interrupt_before_the_mapping_was_heard_of_still_removes_it(aws):
    # Ctrl-C (or SIGTERM) lands after Lambda made the mapping, before its answer reached the
    # deployment: no UUID was noted, so the mapping is found through its function
    clients, arn = aws
    interrupted = Faults(interrupt={"lambda:CreateEventSourceMapping": 1})
    with answering(interrupted), pytest.raises(KeyboardInterrupt), deploy(clients, arn):
        pytest.fail("the body must not run")
    assert clients("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert clients("lambda").list_functions()["Functions"] == []


class Refusing:
    """Clients whose IAM refuses to delete the role, as a policy without iam:DeleteRole would."""

    def __init__(self, clients: Any) -> None:
        self.clients = clients

    def __call__(self, service: str) -> Any:
        client = self.clients(service)
        if service == "iam":

            def refuse(**kwargs: Any) -> None:
                raise ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": "not authorized"}},
                    "DeleteRole",
                )

            client.delete_role = refuse
        return client


def test_what_cannot_be_removed_is_reported_with_how_to_remove_it(aws):
    clients, arn = aws
    with pytest.raises(DeployError) as error, deploy(Refusing(clients), arn) as d:
        pass
    message = str(error.value)
    assert (
        "role: " in message and "aws iam delete-role --role-name run-tlog-replica-role" in message
    )
    assert leftovers(clients, d) == ["role run-tlog-replica-role"]  # the rest was removed


class AroundLogs:
    """Clients whose logs client runs its ``method`` through ``around``."""

    method = ""

    def __init__(self, clients: Any) -> None:
        self.clients = clients

    def __call__(self, service: str) -> Any:
        client = self.clients(service)
        if service == "logs":
            call = getattr(client, self.method)
            setattr(client, self.method, lambda **kwargs: self.around(call, **kwargs))
        return client

    def around(self, call: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class LateInvocation(AroundLogs):
    """Clients on which the function's last invocation ends just after its log group was
    deleted, and logs: the group is there again (as ministack makes it, whatever the role)."""

    method, remade = "delete_log_group", 0

    def around(self, delete: Any, **kwargs: Any) -> Any:
        answer = delete(**kwargs)
        if not self.remade:
            self.remade += 1
            self.clients("logs").create_log_group(logGroupName=kwargs["logGroupName"])
        return answer


def test_a_log_group_made_again_by_a_late_invocation_is_deleted_again(aws):
    clients, arn = aws
    late, lines = LateInvocation(clients), []
    with deploy(late, arn, progress=lines.append) as d:
        d.invoked = True  # records were written: an invocation may still be running
    assert late.remade == 1
    assert leftovers(clients, d) == []
    assert any("is back (an invocation ended after it went)" in line for line in lines), lines


class CountingLooks(AroundLogs):
    """Clients whose logs client counts DescribeLogGroups: each is a look for the group."""

    method, looks = "describe_log_groups", 0

    def around(self, describe: Any, **kwargs: Any) -> Any:
        self.looks += 1
        return describe(**kwargs)


def test_the_quiet_watch_looks_for_the_group_in_step_with_its_period_not_the_poll(aws):
    # at the deployment's own poll (2 s) a quiet period of a fraction of it would be one
    # look late: the teardown waited a whole poll past the period
    clients, arn = aws
    counting = CountingLooks(clients)
    with deploy(counting, arn, poll=2.0) as d:
        d.invoked = True
        looks_before = counting.looks
    assert counting.looks - looks_before == lambda_deploy.QUIET_LOOKS + 1
    assert leftovers(clients, d) == []


def test_a_function_never_invoked_has_its_log_group_deleted_once_and_not_watched(aws):
    # nothing was written to the stream (a run interrupted before its load): Lambda had no
    # record to invoke the function with, so nothing can make the group again
    clients, arn = aws
    counting = CountingLooks(clients)
    with deploy(counting, arn, poll=2.0, quiet=60.0) as d:
        looks_before = counting.looks
    assert counting.looks == looks_before  # deleted, and not looked for again
    assert leftovers(clients, d) == []


def test_a_failure_in_the_body_is_not_hidden_by_a_failing_cleanup(aws):
    clients, arn = aws
    with pytest.raises(RuntimeError) as error, deploy(Refusing(clients), arn):
        raise RuntimeError("the real failure")
    assert "the real failure" in str(error.value)
    assert any("aws iam delete-role" in note for note in error.value.__notes__)


def test_waiting_for_the_replica_says_how_far_it_got(aws):
    clients, arn = aws
    lines: list[str] = []
    with deploy(clients, arn) as d:
        with pytest.raises(DeployError, match=r"holds 0 of 5 items after .*mapping Enabled"):
            lambda_deploy.wait_for_items(
                clients, d, 5, timeout=0.5, poll=0.05, progress=lines.append
            )
        assert lines and "0 of 5 items" in lines[0]
        assert (
            lambda_deploy.wait_for_items(
                clients, d, 0, timeout=1, poll=0.01, progress=NOTHING["progress"]
            )
            == 0
        )


IMPORT_ERROR = "Unable to import module 'replica': No module named 'boto3'"


class FailingBatches:
    """Clients whose mapping reports that every batch failed, as an emulator's did when the
    function could not import boto3; ``invoke`` answers as that function would, and notes
    the events it was given. ``grow`` (if given) is called on every poll of the mapping."""

    def __init__(self, clients: Any, grow: Any = None) -> None:
        self.clients, self.grow, self.invoked = clients, grow, []

    def __call__(self, service: str) -> Any:
        client = self.clients(service)
        if service == "lambda":
            mapping = client.get_event_source_mapping

            def failed(**kwargs: Any) -> dict[str, Any]:
                if self.grow:
                    self.grow()
                return {**mapping(**kwargs), "LastProcessingResult": "FAILED"}

            def invoke(**kwargs: Any) -> dict[str, Any]:
                self.invoked.append(json.loads(kwargs["Payload"]))
                error = {"errorMessage": IMPORT_ERROR, "errorType": "Runtime.ImportModuleError"}
                return {
                    "FunctionError": "Unhandled",
                    "Payload": io.BytesIO(json.dumps(error).encode()),
                }

            client.get_event_source_mapping, client.invoke = failed, invoke
        return client


def log_lines(clients: Any, group: str, *lines: str) -> None:
    """Write ``lines`` to ``group`` as the function's runtime would."""
    logs, now = clients("logs"), int(time.time() * 1000)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/11/29/[$LATEST]1")
    events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=group, logStreamName="2026/11/29/[$LATEST]1", logEvents=events)


def test_a_function_failing_every_batch_fails_the_wait_within_a_minute_in_its_own_words(aws):
    clients, arn = aws
    recording = Recording(clients)
    failing, clock = FailingBatches(recording), Ticks()
    with deploy(clients, arn) as d:
        log_lines(
            clients,
            d.names.log_group,
            "INIT_START Runtime Version: python:3.12.v38",
            f"[ERROR] Runtime.ImportModuleError: {IMPORT_ERROR}\n"
            "Traceback (most recent call last):\n",
            "START RequestId: 1 Version: $LATEST",
            "END RequestId: 1",
            "REPORT RequestId: 1 Duration: 2.00 ms",
        )
        with pytest.raises(DeployError) as error:
            lambda_deploy.wait_for_items(
                failing, d, 2000, timeout=600, poll=5, progress=NOTHING["progress"], clock=clock
            )
    message = str(error.value)
    assert clock.t <= 60, f"failed after {clock.t:g} s of the wait's clock, not within a minute"
    assert "holds 0 of 2000 items" in message and "FAILED" in message
    assert f"Runtime.ImportModuleError: {IMPORT_ERROR}" in message
    assert "REPORT RequestId" not in message  # Lambda's own lines say nothing of the error
    assert failing.invoked == []  # the log said why: the function was not run again
    assert "logs:FilterLogEvents" in recording.calls
    assert recording.calls - TABLES <= suite_granted(), recording.calls - TABLES - suite_granted()


def test_with_nothing_in_its_log_the_function_is_invoked_with_an_event_that_writes_nothing(aws):
    clients, arn = aws
    failing, clock = FailingBatches(clients), Ticks()
    with deploy(clients, arn) as d, pytest.raises(DeployError) as error:
        lambda_deploy.wait_for_items(
            failing, d, 2000, timeout=600, poll=5, progress=NOTHING["progress"], clock=clock
        )
    assert clock.t <= 60, f"failed after {clock.t:g} s of the wait's clock, not within a minute"
    assert failing.invoked == [{"Records": []}]
    assert "lambda:InvokeFunction" in suite_granted()  # the run's own policy lets it ask
    assert f"Unhandled: Runtime.ImportModuleError: {IMPORT_ERROR}" in str(error.value)


def test_a_replica_still_growing_after_a_failed_batch_is_waited_on(aws):
    """AWS retries a failed batch (and bisects it): while items arrive, the wait goes on."""
    clients, arn = aws
    polls = iter(range(10**6))

    def one_item_every_third_poll() -> None:  # one every 15 s of the wait's clock, once
        # the wait's first looks (a quarter second, then twice as long each) reach its poll
        if (poll := next(polls)) % 3 == 0:
            item = {"requestid": {"N": str(poll)}}
            clients("dynamodb").put_item(TableName="run-tlog_replica", Item=item)

    failing, clock = FailingBatches(clients, one_item_every_third_poll), Ticks()
    with deploy(clients, arn) as d:
        held = lambda_deploy.wait_for_items(
            failing, d, 8, timeout=600, poll=5, progress=NOTHING["progress"], clock=clock
        )
    assert (held, failing.invoked) == (8, [])
    # twice the stall limit of batches reported FAILED, the replica growing: not cut short
    assert clock.t > 2 * lambda_deploy.STALLED


class Recording:
    """Clients that note every operation they are asked for, as "service:Operation"."""

    def __init__(self, clients: Any) -> None:
        self.clients, self.calls = clients, set()

    def __call__(self, service: str) -> Any:
        client = self.clients(service)
        prefix = client.meta.service_model.signing_name

        def note(model: Any, **kwargs: Any) -> None:
            self.calls.add(f"{prefix}:{model.name}")

        client.meta.events.register("before-call", note)
        return client


TABLES = {"dynamodb:Scan"}  # granted by the suite's policy for its tables already


def suite_granted() -> set[str]:
    """Every action ``suite_permissions()`` grants (on some resource)."""
    return {
        action
        for statement in lambda_deploy.suite_permissions()
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }


def test_the_suites_own_permissions_cover_every_call_the_deployment_makes(aws):
    clients, arn = aws
    recording = Recording(clients)
    with deploy(recording, arn) as d:
        lambda_deploy.wait_for_items(
            recording, d, 0, timeout=1, poll=0.01, progress=NOTHING["progress"]
        )
        assert leftovers(recording, d)
    granted = suite_granted()
    assert recording.calls - TABLES <= granted, recording.calls - TABLES - granted
    assert "iam:PassRole" in granted  # CreateFunction hands the role to Lambda


def test_a_killed_runs_deployment_is_found_by_its_tags_and_swept(aws):
    from ddbspec.aws import account as account

    clients, arn = aws
    lookalike = {"RoleName": "run-lookalike-role", "Path": "/service-role/"}  # ours? no tags
    clients("iam").create_role(**lookalike, AssumeRolePolicyDocument=json.dumps({}))
    tags = {"project": "ddbspec", "ddbspec-run": "dead", "created-at": "2026-11-29T00:00:00"}
    recording = Recording(clients)
    with deploy(clients, arn, tags=tags) as d:  # still deployed: as a killed run left it
        found = sweep.leftovers(recording, "run-")
        assert [(r.kind, r.name) for r in found] == [
            ("event source mapping", d.mapping_uuid),
            ("function", "run-tlog-replica"),
            ("role", "run-tlog-replica-role"),
            ("log group", "/aws/lambda/run-tlog-replica"),
        ]  # the tables of the fixture are not tagged as the suite's: not found, not touched
        assert sweep.leftovers(clients, "run-", run="another") == []
        deleted, failed = sweep.delete(recording, found)
        assert (deleted, failed) == (found, [])
        assert recording.calls <= shipped_policy_actions(), (
            recording.calls - shipped_policy_actions()
        )
        assert leftovers(clients, d) == []
    roles = [r["RoleName"] for r in clients("iam").list_roles()["Roles"]]
    assert roles == ["run-lookalike-role"]
    assert len(clients("dynamodb").list_tables()["TableNames"]) == 2


def shipped_policy_actions() -> set[str]:
    """Every action lib/ddbspec/aws/policy.json grants (on some resource)."""
    policy = json.loads((Path(lambda_deploy.__file__).parent / "policy.json").read_text())
    return {
        action
        for statement in policy["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
