"""The workshop's loaders and the capacity-aware one, against scripted clients (no engine)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ddbspec.capacity.model import ScaledClock
from ddbspec.errors import LoadError
from ddbspec.workshop import pacing
from ddbspec.workshop.pacing import Call, LoadLog, legacy_delay

THROTTLE = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}


def items(n: int) -> list[dict[str, Any]]:
    return [{"pk": {"N": str(i)}} for i in range(n)]


class Batches:
    """A BatchWriteItem client that takes at most ``takes[i]`` items on its i-th call
    (None: refuses the whole request), then everything."""

    def __init__(self, takes: list[int | None] | None = None, table_rate: float = 10) -> None:
        self.takes, self.calls = list(takes or []), []
        self.table_rate = table_rate
        self.refused: set[str] = set()  # items whose every PutItem is refused
        self.lock = threading.Lock()

    def batch_write_item(self, RequestItems: dict, ReturnConsumedCapacity: str = "NONE") -> dict:
        ((table, pending),) = RequestItems.items()
        with self.lock:
            self.calls.append(len(pending))
            take = self.takes.pop(0) if self.takes else len(pending)
        if take is None:
            raise ClientError(THROTTLE, "BatchWriteItem")
        answer: dict[str, Any] = {
            "UnprocessedItems": {table: pending[take:]} if take < len(pending) else {}
        }
        if ReturnConsumedCapacity == "INDEXES":
            answer["ConsumedCapacity"] = [
                {"TableName": table, "CapacityUnits": take, "Table": {"CapacityUnits": take}}
            ]
        return answer

    def put_item(self, TableName: str, Item: dict) -> dict:
        with self.lock:
            self.calls.append(1)
            take = self.takes.pop(0) if self.takes else 1
        if not take or Item["pk"]["N"] in self.refused:
            raise ClientError(THROTTLE, "PutItem")
        return {}

    def describe_table(self, TableName: str) -> dict:
        return {
            "Table": {
                "TableName": TableName,
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "ProvisionedThroughput": {"WriteCapacityUnits": self.table_rate},
            }
        }


def test_botocores_legacy_schedule():
    assert [legacy_delay(n) for n in (1, 2, 3, 9)] == [0.05, 0.1, 0.2, 12.8]
    assert sum(legacy_delay(n) for n in range(1, 10)) == pytest.approx(25.55)


def test_the_workshop_loader_retries_what_is_handed_back():
    client = Batches([10, 0, None, 5])
    log = pacing.load_like_the_workshop(client, "t", items(50), ScaledClock(1000))
    assert log.written == 50
    assert client.calls == [25, 15, 15, 15, 10, 25]
    assert log.first_shortfall() == 10  # where the table first handed items back
    assert log.throttled == 4
    assert len(log.refusals) == 1  # the refused request, retried: it reached no one


def test_the_workshop_loader_gives_up_after_ten_attempts_without_progress():
    client = Batches([None] * 10)
    with pytest.raises(ClientError) as raised:
        pacing.load_like_the_workshop(client, "t", items(5), ScaledClock(10_000))
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert len(client.calls) == 10


def test_the_parallel_loader_stops_a_thread_after_ten_refusals():
    client = Batches()
    client.refused = {"0"}  # every write of item 0, the first of one thread, is refused
    others = [{"pk": {"N": str(i)}} for i in range(10, 13)]
    log = pacing.put_in_parallel(client, "t", [items(3), others], ScaledClock(10_000))
    assert len(log.errors) == 1
    assert log.written == 3  # the other thread wrote all of its items, this one none
    assert len(log.refusals) == 10


def test_the_parallel_loader_stops_when_told():
    client = Batches()
    log = pacing.put_in_parallel(
        client, "t", [items(1000)], ScaledClock(1000), stop=lambda log: log.written >= 7
    )
    assert log.written == 7


def test_the_log_reads_like_the_workshops_printout():
    log = LoadLog()
    for i in range(4):  # 50 rows a request, one request every 2 s
        log.record(Call(sent=2.0 * i, answered=2.0 * i + 2, items=50, written=50))
    assert log.seconds_per(100) == [4.0, 4.0]
    assert log.progress()[-1] == (8.0, 200)
    assert log.span() == (0.0, 8.0)
    assert log.first_shortfall() is None


def test_a_load_no_table_throttled_says_the_endpoint_does_not_enforce_capacity():
    log = LoadLog()
    for i in range(4):  # 200 rows in 8 s, none handed back
        log.record(Call(sent=2.0 * i, answered=2.0 * i + 2, items=50, written=50))
    said = pacing.never_throttled(log, "run-tlog", 5)
    assert said.startswith(
        "the table run-tlog never throttled: 200 items written at 25 a second against its 5 WCU, "
        "none handed back. This endpoint does not enforce provisioned capacity"
    ), said


def test_the_paced_loader_keeps_to_the_provisioned_rate():
    clock = ScaledClock(200)
    client = Batches(table_rate=10)
    start = clock.now()
    log = pacing.load_paced(client, "t", items(100), clock, workers=2)
    elapsed = clock.now() - start
    assert log.written == 100 and not log.errors
    assert 9.0 <= elapsed <= 12.0  # 100 units at 10 a second, no faster
    assert set(client.calls) == {25}


def test_the_paced_loader_retries_throttles_and_slows_down():
    client = Batches([None, 3, None], table_rate=50)
    log = pacing.load_paced(client, "t", items(50), ScaledClock(500), workers=1)
    assert log.written == 50
    assert not log.errors and len(log.refusals) == 2  # retried, never raised


def test_the_paced_loader_paces_by_the_model_when_the_engine_does_not_say():
    class Silent(Batches):
        def batch_write_item(self, RequestItems: dict, ReturnConsumedCapacity: str = "") -> dict:
            return super().batch_write_item(RequestItems)  # no ConsumedCapacity

    clock = ScaledClock(200)
    start = clock.now()
    pacing.load_paced(Silent(table_rate=10), "t", items(50), clock, workers=2)
    assert clock.now() - start >= 4.0  # 50 units at 10 a second


def test_the_paced_loader_gives_up_only_on_a_table_that_takes_nothing():
    client = Batches([None] * 10_000, table_rate=1000)
    with pytest.raises(LoadError, match="wrote nothing for 5 s"):
        pacing.load_paced(client, "t", items(5), ScaledClock(1000), patience=5)


def test_on_demand_tables_are_not_paced():
    assert (
        pacing.provisioned_writes({"BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"}}) == {}
    )
    provisioned = {
        "ProvisionedThroughput": {"WriteCapacityUnits": 5},
        "GlobalSecondaryIndexes": [
            {"IndexName": "g", "ProvisionedThroughput": {"WriteCapacityUnits": 1}}
        ],
    }
    assert pacing.provisioned_writes(provisioned) == {None: 5, "g": 1}
