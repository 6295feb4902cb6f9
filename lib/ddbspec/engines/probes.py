"""Capability probes: what an engine really does, asked when it starts.

Declared capabilities are not enough: dynalite accepts an UpdateTable that adds a global
secondary index and silently ignores it, so each probe checks the effect, not the answer.

An engine whose build fixes what it does (``Engine.probe_key``) is probed once per build: the
answer is kept in the cache (``recall``, ``remember``), so that a later run neither probes it
again nor starts it for a spec it cannot serve. ``ddbspec capabilities`` probes afresh.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from ddbspec import files, waiting
from ddbspec.capacity.costs import Ledger

CAPABILITIES = {
    "online_gsi": "UpdateTable adds a global secondary index and backfills it",
    "transactions": "TransactWriteItems and TransactGetItems",
    "streams": "DynamoDB Streams on a table (the dynamodbstreams API)",
    "enforced_capacity": "provisioned throughput is enforced (throttling)",
    "metering": "ConsumedCapacity as DynamoDB's rules give it (scans, a read, indexed writes)",
}

KEY = [{"AttributeName": "pk", "KeyType": "HASH"}]
PK = [{"AttributeName": "pk", "AttributeType": "S"}]
THROUGHPUT = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
Clients = Callable[[str], Any]


def probe(clients: Clients, prefix: str, timeout: float = 10.0) -> dict[str, bool]:
    """Run every probe on the engine behind ``clients``; tables are named from ``prefix``."""
    ddb = clients("dynamodb")
    found = {"enforced_capacity": False}  # no local engine throttles: nothing to probe
    table = f"{prefix}probe"
    _create(
        ddb,
        table,
        timeout,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    try:
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "g": {"S": "x"}})
        found["online_gsi"] = _online_gsi(ddb, table, timeout)
        found["transactions"] = _transactions(ddb, table)
        found["streams"] = _streams(clients, ddb, table)
    finally:
        with contextlib.suppress(ClientError):
            ddb.delete_table(TableName=table)
    found["metering"] = not any(metering(clients, f"{prefix}metering", timeout).values())
    return found


def metering(clients: Clients, table: str, timeout: float = 10.0) -> dict[str, str | None]:
    """Each kind of request the patterns pay for, sent with ReturnConsumedCapacity, and what
    the engine reported against DynamoDB's rules (``capacity.costs``): None where the two
    agree, else the first difference. 10 items of 1.5-5 KB, every other one in the index, as a
    new user would try it, and one of 6 KB of non-ASCII text (the log files have some)."""
    ddb = clients("dynamodb")
    index = {
        "IndexName": "probe_gsi",
        "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
        "ProvisionedThroughput": THROUGHPUT,
    }
    attributes = [*PK, {"AttributeName": "g", "AttributeType": "S"}]
    _create(ddb, table, timeout, attributes, GlobalSecondaryIndexes=[index])
    ledger = Ledger()
    try:
        put = ledger.metered(clients("dynamodb"), "PutItem to an indexed table")
        for n in range(10):
            item = {"pk": {"S": f"p{n}"}, "pad": {"S": "x" * (1500 + 360 * n)}}
            put.put_item(TableName=table, Item={**item, "g": {"S": "g"}} if n % 2 == 0 else item)
        ledger.metered(clients("dynamodb"), "Scan").scan(TableName=table)
        ledger.metered(clients("dynamodb"), "Scan of an index").scan(
            TableName=table, IndexName="probe_gsi"
        )
        ledger.metered(clients("dynamodb"), "GetItem").get_item(  # 4.7 KB: two units
            TableName=table, Key={"pk": {"S": "p9"}}, ConsistentRead=True
        )
        # An en dash is 3 bytes in UTF-8, which DynamoDB counts; 1 in JavaScript's length.
        text = {"pk": {"S": "text"}, "pad": {"S": "\u2013" * 2000}}
        ddb.put_item(TableName=table, Item=text)
        ledger.metered(clients("dynamodb"), "GetItem of non-ASCII text").get_item(
            TableName=table, Key={"pk": {"S": "text"}}, ConsistentRead=True
        )
    finally:
        with contextlib.suppress(ClientError):
            ddb.delete_table(TableName=table)
    return {way: spend.differs for way, spend in ledger.spent.items()}


def _create(
    ddb: Any, table: str, timeout: float, attributes: list | None = None, **extra: Any
) -> None:
    defined = {"KeySchema": KEY, "AttributeDefinitions": attributes or PK}
    try:
        ddb.create_table(TableName=table, ProvisionedThroughput=THROUGHPUT, **defined, **extra)
    except ClientError:  # an engine without streams may refuse the specification
        if "StreamSpecification" not in extra:
            raise
        ddb.create_table(TableName=table, ProvisionedThroughput=THROUGHPUT, **defined)
    _until(lambda: ddb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE", timeout)


def _online_gsi(ddb: Any, table: str, timeout: float) -> bool:
    ddb.update_table(
        TableName=table,
        AttributeDefinitions=[*PK, {"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "probe_gsi",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                    "ProvisionedThroughput": THROUGHPUT,
                }
            }
        ],
    )

    def index() -> dict | None:
        indexes = ddb.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
        return next((i for i in indexes if i["IndexName"] == "probe_gsi"), None)

    if index() is None:  # accepted and ignored
        return False
    if not _until(lambda: (index() or {}).get("IndexStatus") == "ACTIVE", timeout):
        return False
    hits = ddb.query(
        TableName=table,
        IndexName="probe_gsi",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "x"}},
    )
    return hits["Count"] == 1  # backfilled, not only created


def _transactions(ddb: Any, table: str) -> bool:
    try:
        ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "t"}}}}]
        )
        got = ddb.transact_get_items(
            TransactItems=[{"Get": {"TableName": table, "Key": {"pk": {"S": "t"}}}}]
        )
    except ClientError:
        return False
    return got["Responses"][0].get("Item") == {"pk": {"S": "t"}}


def _streams(clients: Clients, ddb: Any, table: str) -> bool:
    arn = ddb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
    if not arn:
        return False
    try:
        shards = clients("dynamodbstreams").describe_stream(StreamArn=arn)
    except (ClientError, EndpointConnectionError):
        return False
    return "StreamDescription" in shards


def _until(condition: Callable[[], bool], timeout: float) -> bool:
    """Whether ``condition`` came true within ``timeout``: a probe answers no, never raises."""
    try:
        return waiting.until("probe", condition, timeout)
    except waiting.TimedOut:
        return False


def _kept(cache_dir: Path, engine: str, key: str) -> Path:
    return cache_dir / "probes" / f"{engine}-{key}.json"


def recall(cache_dir: Path, engine: str, key: str) -> dict[str, bool] | None:
    """What an earlier probe of this build found, or None (never probed, or unreadable)."""
    try:
        found = json.loads(_kept(cache_dir, engine, key).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and set(found) == set(CAPABILITIES) else None


def remember(cache_dir: Path, engine: str, key: str, found: dict[str, bool]) -> None:
    """Keep what a probe of this build found (written whole: workers may read it meanwhile)."""
    path = _kept(cache_dir, engine, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_whole(path, json.dumps(found, sort_keys=True))


def forget(cache_dir: Path, engine: str, key: str) -> None:
    _kept(cache_dir, engine, key).unlink(missing_ok=True)
