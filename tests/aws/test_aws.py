"""The live-account pieces, against moto's in-process mock of AWS (no endpoint URL)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ddbspec.aws import account as aws_account
from ddbspec.aws import cost
from ddbspec.cli import main as command
from ddbspec.config import Settings
from ddbspec.engines import aws as aws_engine
from ddbspec.engines import clients
from ddbspec.engines.aws import Aws

import suite
from suite import REPO, at_endpoint, fake_aws_credentials, moto_server, run_suite

KEY = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


@pytest.fixture
def account(monkeypatch):
    fake_aws_credentials(monkeypatch, "us-east-1")
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def test_sweep_finds_only_tagged_tables_of_the_suite(account, capsys):
    tags = [{"Key": "project", "Value": "ddbspec"}, {"Key": "ddbspec-run", "Value": "dead"}]
    account.create_table(TableName="ddbspec-dead-main-sparse-employees", Tags=tags, **KEY)
    account.create_table(TableName="ddbspec-lookalike", **KEY)  # named like ours, not tagged
    account.create_table(TableName="production-orders", Tags=tags, **KEY)  # tagged, not named

    assert command(["sweep-aws", "--region", "us-east-1"]) == 1  # lists, deletes nothing
    assert "ddbspec-dead-main-sparse-employees" in capsys.readouterr().out
    assert len(account.list_tables()["TableNames"]) == 3

    assert command(["sweep-aws", "--region", "us-east-1", "--yes"]) == 0
    assert sorted(account.list_tables()["TableNames"]) == ["ddbspec-lookalike", "production-orders"]


def test_access_denied_names_the_missing_permission():
    said = (
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
        "dynamodb:UpdateTable on resource: arn:aws:dynamodb:us-east-1:123456789012:table/x"
    )
    error = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": said}}, "UpdateTable"
    )
    message = aws_account.refused(error)
    assert message.startswith("AWS refused dynamodb:UpdateTable")
    assert "policy.json" in message
    other = ClientError({"Error": {"Code": "ValidationException", "Message": "x"}}, "Query")
    assert aws_account.refused(other) is None


def test_costs_are_estimated_before_anything_is_created():
    assert cost.on_demand_cost(1_000_000, 0) == cost.PRICE_PER_MILLION_WRITES
    assert cost.provisioned_cost(100, 100, 0.2) == pytest.approx(
        100 * cost.PRICE_WCU_HOUR + 100 * cost.PRICE_RCU_HOUR
    )  # a started hour is a whole one
    assert "on-demand" in cost.employee_estimate("on-demand")
    assert "100 WCU/RCU" in cost.employee_estimate("workshop")


def test_the_log_tables_cost_follows_the_scale_unless_the_workshops_capacity_is_asked_for():
    from ddbspec.workshop.tables import TLOG_SCAN

    items = 2 * cost.LOG_ROWS * 4  # two file orders, two tables
    assert f"~{2 * items:,} writes" in cost.log_estimate("on-demand", 4)  # table and index
    small, full = (
        float(cost.log_estimate("on-demand", s).split("$")[1].split()[0]) for s in (1, 250)
    )
    assert full > 100 * small
    wcu = 2 * (TLOG_SCAN.write + sum(i.write for i in TLOG_SCAN.indexes))
    assert f"the workshop's {wcu:,} WCU" in cost.log_estimate("workshop", 1)


def test_exercise_1_costs_its_largest_capacity_for_an_hour_and_only_with_the_workshops():
    from ddbspec.workshop.tables import TLOG_GSI_LOW, TLOG_RAISED

    assert "only with --aws-capacity workshop" in cost.capacity_estimate("on-demand")
    units = 2 * TLOG_RAISED + TLOG_GSI_LOW.write + TLOG_GSI_LOW.indexes[0].write
    dollars = cost.provisioned_cost(units, units, 1)
    assert cost.capacity_estimate("workshop").startswith(f"about ${dollars:.2f} ({units:,} WCU")


def test_the_header_names_account_region_tables_and_cost():
    status, out = suite.mock_aws("--collect-only", "-k", "sparse", timeout=120, quiet=False)
    assert status == 0, out
    header = next(line for line in out.splitlines() if "AWS account" in line)
    assert "123456789012" in header and "us-east-1" in header and "$" in header
    assert "exercise 1 nothing (it runs only with --aws-capacity workshop)" in header


def test_a_run_sent_to_an_emulator_says_where_and_claims_no_cost(tmp_path):
    with moto_server(tmp_path) as url:
        result = run_suite("specs", "--aws", "-k", "sparse", tmp=tmp_path, env=at_endpoint(url))
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    header = next(line for line in out.splitlines() if "123456789012" in line)
    assert header.startswith(f"ddbspec: not AWS: boto3 sends every call to {url} "), header
    assert "not the service and charges nothing" in header
    assert "$" not in header and "Cost" not in header
    engine = f"aws boto3 {boto3.__version__} at {url} (not the service)"
    assert f"exercise 5 sparse: on {engine}" in out, out


def no_endpoints(monkeypatch, tmp_path, config: str = "") -> None:
    """No endpoint set but what the test sets: no AWS_ENDPOINT_URL*, a config file of its own."""
    import os

    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    (tmp_path / "config").write_text(f"[default]\n{config}")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))


def test_every_way_boto3_is_sent_elsewhere_is_seen(monkeypatch, tmp_path):
    no_endpoints(monkeypatch, tmp_path)
    assert clients.elsewhere("us-east-1") == {}
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
    assert clients.elsewhere("us-east-1") == {"dynamodb": "http://127.0.0.1:1"}
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")
    found = clients.elsewhere("us-east-1")
    assert found.pop("dynamodb") == "http://127.0.0.1:1"  # the service's own wins
    assert set(found.values()) == {"http://127.0.0.1:2"} and len(found) == 6

    no_endpoints(monkeypatch, tmp_path, "endpoint_url = http://127.0.0.1:3\n")
    found = clients.elsewhere("us-east-1")
    assert clients.sent_to(found) == "http://127.0.0.1:3"


def test_aws_sessions_share_the_models_and_read_the_credentials_as_they_are_now(monkeypatch):
    fake_aws_credentials(monkeypatch, "us-east-1", AWS_ACCESS_KEY_ID="first")
    first = clients.aws_session()
    assert first.get_credentials().access_key == "first"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second")
    second = clients.aws_session()
    assert second.get_credentials().access_key == "second"  # not the first session's
    loaders = {id(s._session.get_component("data_loader")) for s in (first, second)}
    assert loaders == {id(clients._models())}
    assert second._loader.search_paths == boto3.session.Session()._loader.search_paths


def test_an_emulator_is_polled_faster_than_aws(monkeypatch, tmp_path):
    no_endpoints(monkeypatch, tmp_path)
    settings = Settings(region="us-east-1")
    assert Aws().start(settings).poll == aws_engine.POLL
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
    assert Aws().start(settings).poll == aws_engine.POLL  # Lambda, IAM and Logs are AWS's
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")
    assert Aws().start(settings).poll == aws_engine.EMULATOR_POLL < aws_engine.POLL


def test_a_header_with_only_dynamodb_elsewhere_says_what_still_goes_to_aws(
    account, monkeypatch, tmp_path
):
    from ddbspec.config import Settings
    from ddbspec.summary import aws_header

    no_endpoints(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
    header = aws_header(Settings(engine="aws", region="us-east-1", run_id="r"))
    rest = "dynamodbstreams, lambda, iam, logs, sts, cloudwatch"
    assert header.startswith(
        f"ddbspec: partly not AWS: boto3 sends calls to http://127.0.0.1:1 for dynamodb; "
        f"AWS itself for {rest}; account 123456789012, region us-east-1: "
    ), header
    assert "Cost" not in header  # the estimates are DynamoDB's


def test_the_shipped_policy_grants_what_exercise_8_deploys():
    import json

    from ddbspec.aws.lambda_deploy import suite_permissions

    policy = json.loads((REPO / "lib" / "ddbspec" / "aws" / "policy.json").read_text())
    for statement in suite_permissions():
        assert statement in policy["Statement"], statement["Sid"]
    tables = next(s for s in policy["Statement"] if s["Sid"] == "SuiteTablesOnly")
    assert all(r.startswith("arn:aws:dynamodb:*:*:table/ddbspec-") for r in tables["Resource"])
