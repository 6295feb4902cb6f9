"""ddbspec.aws.mock_capacity: moto's mock throttles, and publishes metrics, as DynamoDB does.

Exercise 1 runs on the mocked ``--aws`` path only if moto refuses what a table's capacity
cannot take, with the service's own errors, and CloudWatch hands back the per-minute
datapoints DynamoDB would have published. Both are checked here through boto3, as a spec
sees them. Most tests run on a clock that all but stands still (``STILL``): time passes by
``skip`` only, so burst credit and minutes are exactly what the test made them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from ddbspec.aws import mock_capacity
from ddbspec.aws.mock import answering
from ddbspec.capacity.metering import GSI_MESSAGE, TABLE_MESSAGE
from ddbspec.capacity.metrics import CONSUMED, PROVISIONED, THROTTLED_REQUESTS, CloudWatchMetrics
from ddbspec.capacity.model import BURST_SECONDS, ScaledClock, item_size, write_units

from suite import fake_aws_credentials

REGION = "us-east-1"
STILL = 0.001  # a clock factor: the test's own real time earns (almost) no credit
MINUTE = mock_capacity.MINUTE
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
INDEX = "by_g"


@dataclass
class Mock:
    clock: ScaledClock
    capacity: mock_capacity.Capacity
    ddb: Any
    cw: CloudWatchMetrics


@contextlib.contextmanager
def mocked(factor: float) -> Iterator[Mock]:
    clock = ScaledClock(factor)
    capacity = mock_capacity.Capacity(clock)
    with mock_aws(), answering(capacity=capacity), mock_capacity.as_cloudwatch_answers():
        ddb = boto3.client("dynamodb", config=NO_RETRIES)
        yield Mock(clock, capacity, ddb, CloudWatchMetrics(boto3.client("cloudwatch"), clock))


@pytest.fixture
def credentials(monkeypatch) -> None:
    fake_aws_credentials(monkeypatch, REGION)


@pytest.fixture
def aws(credentials) -> Iterator[Mock]:
    with mocked(STILL) as mock:
        yield mock


def create(ddb: Any, name: str, write: int, index_write: int | None = None) -> str:
    """A table keyed on k, with a global index on g when ``index_write`` is given; its ARN."""
    throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": write}
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "ProvisionedThroughput": throughput,
    }
    if index_write is not None:
        request["AttributeDefinitions"].append({"AttributeName": "g", "AttributeType": "S"})
        index = {"IndexName": INDEX, "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}
        index["Projection"] = {"ProjectionType": "KEYS_ONLY"}
        index["ProvisionedThroughput"] = {**throughput, "WriteCapacityUnits": index_write}
        request["GlobalSecondaryIndexes"] = [index]
    return ddb.create_table(**request)["TableDescription"]["TableArn"]


def items(n: int, **extra: str) -> list[dict[str, Any]]:
    return [{"k": {"S": f"item-{i}"}, **{a: {"S": v} for a, v in extra.items()}} for i in range(n)]


def next_minute(clock: ScaledClock) -> float:
    """Skip to a second into the next whole Unix minute; that minute's Unix time."""
    now = clock.epoch(clock.now())
    minute = (now // MINUTE + 1) * MINUTE
    clock.skip(minute + 1 - now)
    return minute


def refusal(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded") as refused:
        call()
    return refused.value.response


def test_puts_beyond_the_burst_credit_are_refused_as_dynamodb_refuses_them(aws):
    write, skipped = 1, 400  # credit stops growing after 300 s
    arn = create(aws.ddb, "t", write)
    aws.clock.skip(skipped)
    item = {"k": {"S": "big"}, "v": {"S": "x" * 99_000}}
    cost = write_units(item_size(item))
    going = int(min(BURST_SECONDS, skipped) * write // cost)
    assert going < skipped * write // cost  # without the cap, one more would go
    for i in range(going):
        answer = aws.ddb.put_item(
            TableName="t", Item={**item, "k": {"S": str(i)}}, ReturnConsumedCapacity="TOTAL"
        )
        assert answer["ConsumedCapacity"]["WriteCapacityUnits"] == cost
    response = refusal(lambda: aws.ddb.put_item(TableName="t", Item=item))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"] == {
        "Code": "ProvisionedThroughputExceededException",
        "Message": TABLE_MESSAGE,
    }
    assert response["ThrottlingReasons"] == [
        {"reason": "TableWriteProvisionedThroughputExceeded", "resource": arn}
    ]
    assert aws.ddb.scan(TableName="t", Select="COUNT")["Count"] == going


def test_a_batch_hands_back_what_the_table_cannot_take(aws):
    write, skipped = 5, 2
    create(aws.ddb, "t", write)
    aws.clock.skip(skipped)
    puts = [{"PutRequest": {"Item": item}} for item in items(25)]
    answer = aws.ddb.batch_write_item(RequestItems={"t": puts}, ReturnConsumedCapacity="TOTAL")
    written = int(min(BURST_SECONDS, skipped) * write)  # items of under 1 KB: a unit each
    assert answer["UnprocessedItems"] == {"t": puts[written:]}
    assert answer["ConsumedCapacity"] == [
        {"TableName": "t", "CapacityUnits": written, "WriteCapacityUnits": written}
    ]


def test_an_index_short_of_capacity_refuses_its_tables_writes(aws):
    index_write, skipped = 1, 2
    arn = create(aws.ddb, "t", write=100, index_write=index_write)
    aws.clock.skip(skipped)
    indexed = items(skipped * index_write + 1, g="x")
    for item in indexed[:-1]:
        aws.ddb.put_item(TableName="t", Item=item)
    response = refusal(lambda: aws.ddb.put_item(TableName="t", Item=indexed[-1]))
    assert response["Error"]["Message"] == GSI_MESSAGE
    assert response["ThrottlingReasons"] == [
        {"reason": "IndexWriteProvisionedThroughputExceeded", "resource": f"{arn}/index/{INDEX}"}
    ]


def consumed(aws: Mock, index: str | None = None, **window: float) -> list[dict[str, Any]]:
    span = {"start": 0, "end": aws.clock.now(), **window}
    return aws.cw.datapoints(CONSUMED["write"], "t", index, **span)


def test_a_minute_is_published_once_it_has_ended_at_the_whole_minute(aws):
    create(aws.ddb, "t", write=5)
    aws.clock.skip(BURST_SECONDS)
    minute = next_minute(aws.clock)
    puts = [{"PutRequest": {"Item": item}} for item in items(7)]
    units = 0.0
    for batch in (puts[:4], puts[4:]):  # in two seconds of the minute
        answer = aws.ddb.batch_write_item(RequestItems={"t": batch}, ReturnConsumedCapacity="TOTAL")
        units += answer["ConsumedCapacity"][0]["CapacityUnits"]
        aws.clock.skip(5)
    assert consumed(aws) == []  # the minute has not ended
    aws.clock.skip(MINUTE)
    [point] = consumed(aws)
    assert point["Timestamp"].timestamp() == minute and point["Timestamp"].second == 0
    assert point["Sum"] == units
    aws.capacity.publish(REGION)  # once more: nothing new, nothing twice
    assert consumed(aws) == [point]


def test_a_tables_metrics_leave_out_its_indexes(aws):
    create(aws.ddb, "t", write=100, index_write=100)
    aws.clock.skip(BURST_SECONDS)
    next_minute(aws.clock)
    table_units = index_units = 0.0
    for item in items(4, g="x"):
        used = aws.ddb.put_item(TableName="t", Item=item, ReturnConsumedCapacity="INDEXES")
        table_units += used["ConsumedCapacity"]["Table"]["CapacityUnits"]
        index_units += used["ConsumedCapacity"]["GlobalSecondaryIndexes"][INDEX]["CapacityUnits"]
    aws.clock.skip(MINUTE)
    assert [p["Sum"] for p in consumed(aws)] == [table_units]
    assert [p["Sum"] for p in consumed(aws, INDEX)] == [index_units]


def test_throttled_requests_are_read_per_operation(aws):
    next_minute(aws.clock)
    create(aws.ddb, "t", write=1)  # created now: no credit yet
    item = items(1)[0]
    puts = 2
    for _ in range(puts):
        refusal(lambda: aws.ddb.put_item(TableName="t", Item=item))
    refusal(lambda: aws.ddb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": item}}]}))
    aws.clock.skip(MINUTE)
    span = {"start": 0, "end": aws.clock.now()}

    def throttled(*operations: str) -> list[float]:
        points = aws.cw.datapoints(THROTTLED_REQUESTS, "t", operations=operations, **span)
        return [p["Sum"] for p in points]

    assert throttled("PutItem") == [puts]
    assert throttled("BatchWriteItem") == [1]
    assert throttled("PutItem", "BatchWriteItem") == [puts + 1]
    assert throttled() == []  # published per operation only, as DynamoDB does


def test_a_window_starting_mid_minute_gets_that_minutes_datapoint(aws):
    create(aws.ddb, "t", write=5)
    aws.clock.skip(BURST_SECONDS)
    minute = next_minute(aws.clock)
    aws.clock.skip(MINUTE / 2)
    written_at = aws.clock.now()
    aws.ddb.put_item(TableName="t", Item=items(1)[0])
    aws.clock.skip(MINUTE)
    [point] = consumed(aws, start=written_at)
    assert point["Timestamp"].timestamp() == minute


def test_published_waits_on_the_clock_for_the_minute_to_end(credentials, monkeypatch):
    with mocked(120.0) as aws:  # a minute of the clock is half a second
        slept: list[float] = []
        sleep = aws.clock.sleep
        monkeypatch.setattr(aws.clock, "sleep", lambda s: (slept.append(s), sleep(s)))
        create(aws.ddb, "t", write=5)
        aws.clock.skip(BURST_SECONDS)
        minute = next_minute(aws.clock)
        aws.ddb.put_item(TableName="t", Item=items(1)[0])
        written_at = aws.clock.now()
        assert aws.clock.epoch(written_at) < minute + MINUTE  # the minute has not ended
        window = {"start": 0, "end": written_at, "poll": 1.0}
        assert aws.cw.published(CONSUMED["write"], "t", **window)
        assert slept and aws.clock.epoch(aws.clock.now()) >= minute + MINUTE
        slept.clear()
        assert aws.cw.published(CONSUMED["write"], "t", **window)  # at once, now
        assert slept == []


def test_provisioned_capacity_is_published_and_follows_an_update(aws):
    before, after = 5, 10
    create(aws.ddb, "t", write=before)
    minutes_before = 2  # whole minutes at least: the creation's and the next
    aws.clock.skip(minutes_before * MINUTE)
    throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": after}
    aws.ddb.update_table(TableName="t", ProvisionedThroughput=throughput)
    aws.ddb.describe_table(TableName="t")  # as a spec waits for it to be ACTIVE again
    updated = next_minute(aws.clock) - MINUTE  # the minute the update was made in
    minutes_after = 2
    aws.clock.skip(minutes_after * MINUTE)
    points = aws.cw.datapoints(
        PROVISIONED["write"], "t", start=0, end=aws.clock.now(), statistics=("Average",)
    )
    by_minute = {p["Timestamp"].timestamp(): p["Average"] for p in points}
    earlier = [a for m, a in by_minute.items() if m < updated]
    later = [a for m, a in by_minute.items() if m > updated]
    assert len(earlier) >= minutes_before and set(earlier) == {before}
    assert later == [after] * minutes_after


def test_a_deleted_table_publishes_no_more_capacity(aws):
    create(aws.ddb, "t", write=5)
    aws.clock.skip(2 * MINUTE)
    aws.ddb.delete_table(TableName="t")
    gone = next_minute(aws.clock)  # the first whole minute after the deletion
    aws.clock.skip(3 * MINUTE)
    points = aws.cw.datapoints(PROVISIONED["write"], "t", start=0, end=aws.clock.now())
    stamps = [p["Timestamp"].timestamp() for p in points]
    assert stamps and max(stamps) < gone  # its minutes before the deletion stay


def test_each_region_has_its_own_tables_and_metrics(aws):
    create(aws.ddb, "t", write=5)
    aws.clock.skip(BURST_SECONDS)
    aws.ddb.put_item(TableName="t", Item=items(1)[0])
    aws.clock.skip(2 * MINUTE)
    assert consumed(aws)
    elsewhere = CloudWatchMetrics(boto3.client("cloudwatch", region_name="eu-west-1"), aws.clock)
    assert elsewhere.datapoints(CONSUMED["write"], "t", start=0, end=aws.clock.now()) == []
    assert set(aws.capacity.regions) == {REGION}


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://monitoring.eu-west-1.amazonaws.com/", "eu-west-1"),
        ("https://monitoring.ap-southeast-2.amazonaws.com", "ap-southeast-2"),
        ("https://monitoring.us-gov-west-1.amazonaws.com/", "us-gov-west-1"),
        ("http://localhost:5000/", REGION),
        ("not a url", REGION),
    ],
)
def test_region_of_reads_the_region_from_the_endpoint(url, region):
    assert mock_capacity.region_of(url) == region
