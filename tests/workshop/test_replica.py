"""replica: the replication function, against a recording client (no engine).

It must write exactly what the stream says (numbers as their decimal text, binary as
bytes), delete on REMOVE, be idempotent, and fail loudly on anything it cannot apply.
"""

from __future__ import annotations

import ast
import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ddbspec.workshop import replica
from ddbspec.workshop.replica import BadRecord, ReplicaError, Replicator, Write, from_event, plan


class RecordingClient:
    """A low-level client that applies BatchWriteItem to a dict, and can refuse some."""

    def __init__(self, unprocessed_rounds: int = 0, error: Exception | None = None) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.calls: list[dict[str, Any]] = []
        self.unprocessed_rounds = unprocessed_rounds
        self.error = error

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        self.calls.append(RequestItems)
        if self.error:
            raise self.error
        ((table, requests),) = RequestItems.items()
        if self.unprocessed_rounds:
            self.unprocessed_rounds -= 1
            return {"UnprocessedItems": {table: requests}}
        for r in requests:
            if "PutRequest" in r:
                item = r["PutRequest"]["Item"]
                self.items[json.dumps(item["requestid"])] = item
            else:
                self.items.pop(json.dumps(r["DeleteRequest"]["Key"]["requestid"]), None)
        return {"UnprocessedItems": {}}


def record(name: str, rid: int, seq: int, **image: Any) -> dict[str, Any]:
    keys = {"requestid": {"N": str(rid)}}
    ddb: dict[str, Any] = {
        "Keys": keys,
        "SequenceNumber": str(seq),
        "SizeBytes": 10,
        "StreamViewType": "NEW_IMAGE",
    }
    if name != "REMOVE":
        ddb["NewImage"] = {**keys, **image}
    return {
        "eventID": f"e{seq}",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/tlog/stream/x",
        "dynamodb": ddb,
    }


def test_numbers_stay_exact_and_binary_stays_binary():
    """The workshop's int() would fail on 1.50 and round a 38-digit number; its binary was
    base64 text. A JSON event carries binary as base64: it is decoded back to bytes."""
    blob = b"\x00\xffbinary"
    event = {
        "Records": [
            record(
                "INSERT",
                1,
                1,
                price={"N": "1.50"},
                big={"N": "12345678901234567890123456789012345678"},
                blob={"B": base64.b64encode(blob).decode()},
                blobs={"BS": [base64.b64encode(b"a").decode()]},
                nested={"M": {"x": {"L": [{"B": base64.b64encode(b"z").decode()}]}}},
            )
        ]
    }
    client = RecordingClient()
    Replicator("replica", client)(event, None)
    item = client.items['{"N": "1"}']
    assert item["price"] == {"N": "1.50"}
    assert item["big"] == {"N": "12345678901234567890123456789012345678"}
    assert item["blob"] == {"B": blob}
    assert item["blobs"] == {"BS": [b"a"]}
    assert item["nested"] == {"M": {"x": {"L": [{"B": b"z"}]}}}


def test_raw_bytes_from_the_client_are_kept_as_they_are():
    assert from_event({"B": b"\x01"}) == {"B": b"\x01"}


def test_insert_modify_remove_in_order_and_the_last_write_per_key_wins():
    event = {
        "Records": [
            record("INSERT", 1, 1, v={"S": "a"}),
            record("INSERT", 2, 2, v={"S": "b"}),
            record("MODIFY", 1, 3, v={"S": "a2"}),
            record("REMOVE", 2, 4),
        ]
    }
    writes = plan(event)
    assert writes == [
        Write("put", {"requestid": {"N": "1"}}, {"requestid": {"N": "1"}, "v": {"S": "a2"}}),
        Write("delete", {"requestid": {"N": "2"}}),
    ]
    client = RecordingClient()
    summary = Replicator("replica", client)(event, None)
    assert summary == {"records": 4, "puts": 1, "deletes": 1}
    assert list(client.items) == ['{"N": "1"}']


def test_a_batch_applied_twice_leaves_what_one_delivery_leaves():
    event = {"Records": [record("INSERT", i, i, v={"N": str(i)}) for i in range(1, 60)]}
    event["Records"].append(record("REMOVE", 7, 100))
    once, twice = RecordingClient(), RecordingClient()
    Replicator("r", once)(event, None)
    Replicator("r", twice)(event, None)
    Replicator("r", twice)(event, None)
    assert once.items == twice.items and len(once.items) == 58
    assert all(len(c["r"]) <= 25 for c in once.calls)  # BatchWriteItem's limit


def test_unprocessed_writes_are_retried_then_fail_the_batch(monkeypatch):
    monkeypatch.setattr(replica, "_backoff", lambda attempt: 0)
    client = RecordingClient(unprocessed_rounds=2)
    Replicator("r", client)({"Records": [record("INSERT", 1, 1)]}, None)
    assert len(client.calls) == 3 and client.items
    stuck = RecordingClient(unprocessed_rounds=100)
    with pytest.raises(ReplicaError, match="still unprocessed after 8 attempts"):
        Replicator("r", stuck)({"Records": [record("INSERT", 1, 1)]}, None)


def test_a_client_error_propagates_instead_of_being_printed():
    """The workshop printed the traceback and returned: Lambda then checkpointed past it."""
    client = RecordingClient(error=RuntimeError("ResourceNotFoundException: no table r"))
    with pytest.raises(RuntimeError, match="no table r"):
        Replicator("r", client)({"Records": [record("INSERT", 1, 1)]}, None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(eventName="UPSERT"), "unknown eventName 'UPSERT'"),
        (
            lambda r: r["dynamodb"].pop("NewImage"),
            "no NewImage .*one of NEW_IMAGE, NEW_AND_OLD_IMAGES",
        ),
        (lambda r: r["dynamodb"].pop("Keys"), "no dynamodb.Keys"),
        (lambda r: r.update(eventSource="aws:kinesis"), "not a DynamoDB stream"),
        (lambda r: r["dynamodb"]["NewImage"].update(b={"B": "%%%"}), "is not base64"),
        (lambda r: r["dynamodb"]["NewImage"].update(x={"S": "a", "N": "1"}), "not a DynamoDB"),
    ],
)
def test_a_record_it_cannot_apply_fails_the_batch_naming_the_record(change, message):
    bad = record("INSERT", 2, 42)
    change(bad)
    client = RecordingClient()
    with pytest.raises(BadRecord, match=message) as failure:
        Replicator("r", client)({"Records": [record("INSERT", 1, 41), bad]}, None)
    assert "e42" in str(failure.value) and "42" in str(failure.value)
    assert client.calls == []  # validated before anything is written


def test_an_event_that_is_not_a_stream_event_is_refused():
    with pytest.raises(ReplicaError, match="no Records list"):
        plan({"body": "hello"})


def test_the_table_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("REPLICA_TABLE", raising=False)
    with pytest.raises(ReplicaError, match="REPLICA_TABLE is not set"):
        replica.handler({"Records": []}, None)
    client = RecordingClient()
    monkeypatch.setenv("REPLICA_TABLE", "tlog_replica_7")
    monkeypatch.setattr(replica, "_client", lambda: client)
    replica.handler({"Records": [record("INSERT", 1, 1)]}, None)
    assert list(client.calls[0]) == ["tlog_replica_7"]


def test_the_module_runs_alone_in_lambda():
    """It is zipped alone: it may import only the standard library and boto3."""
    source = Path(replica.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) - {"__future__"} == {"boto3"}
