"""The read patterns of exercises 3-6: a sharded index, an overloaded index, a sparse index, a
composite key.

Each function runs what the workshop's script runs, through the low-level client, following
every page, and returns plain Python items so the caller compares them with the figures model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore import xform_name

from ddbspec.workshop.tables import (
    GSI_CITY_DEPT,
    GSI_MANAGER,
    GSI_OVERLOAD,
    GSI_RESPONSECODE,
    Index,
)

OVERLOADED = ("state", "current_title", "previous_title", "name")
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """Plain Python values (int or Decimal for N) -> DynamoDB's wire format."""
    return {k: _serializer.serialize(v) for k, v in item.items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def paginate(client: Any, op: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Yield each page of a Scan or Query ("scan", "Query", ...), following LastEvaluatedKey."""
    call = getattr(client, xform_name(op))
    while True:
        page = call(**kwargs)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def count_on_index(client: Any, table: str, index: Index, value: str) -> int:
    """Items whose index hash key is ``value``, counted through the index, every page read."""
    name, typ = index.hash_key
    pages = paginate(
        client,
        "query",
        TableName=table,
        IndexName=index.name,
        KeyConditionExpression="#k = :v",
        ExpressionAttributeNames={"#k": name},
        ExpressionAttributeValues={":v": {typ: value}},
        Select="COUNT",
    )
    return sum(page["Count"] for page in pages)


def _items(client: Any, op: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [deserialize(i) for page in paginate(client, op, **kwargs) for i in page["Items"]]


def employees_by(client: Any, table: str, attribute: str, value: str) -> list[dict[str, Any]]:
    """Employees whose `attribute` is `value`, all served by the one overloaded index.

    colA holds a different attribute in each of an employee's items ("state:WA",
    "current_title:...", "master"), so one index on (colA, name) answers four access patterns.
    """
    if attribute not in OVERLOADED:
        valid = ", ".join(OVERLOADED)
        raise ValueError(f"unknown attribute {attribute!r}: expected one of {valid}")
    if attribute == "name":
        condition = "colA = :a AND #n = :v"
        values = {":a": {"S": "master"}, ":v": {"S": value}}
    else:
        condition = "colA = :a"
        values = {":a": {"S": f"{attribute}:{value}"}}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": GSI_OVERLOAD.name,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }
    if attribute == "name":
        kwargs["ExpressionAttributeNames"] = {"#n": "name"}  # "name" is a reserved word
    return _items(client, "query", **kwargs)


def employee_items(client: Any, table: str, employeeid: int) -> dict[str, dict[str, Any]]:
    """All of one employee's items by colA, read consistently: they share the partition key."""
    items = _items(
        client,
        "query",
        TableName=table,
        KeyConditionExpression="employeeid = :e",
        ExpressionAttributeValues={":e": {"N": str(employeeid)}},
        ConsistentRead=True,
    )
    return {item["colA"]: item for item in items}


@dataclass
class ScanResult:
    """What a paginated scan found, and how many items it read to find them (the cost)."""

    count: int
    scanned: int
    items: list[dict[str, Any]] = field(default_factory=list)


def _scan(client: Any, **kwargs: Any) -> ScanResult:
    result = ScanResult(0, 0, [])
    for page in paginate(client, "scan", **kwargs):
        result.count += page["Count"]
        result.scanned += page["ScannedCount"]
        result.items += [deserialize(i) for i in page["Items"]]
    return result


def managers_by_table_scan(client: Any, table: str, page_size: int = 100) -> ScanResult:
    """Managers found the slow way: every item of the table is read, then filtered."""
    return _scan(
        client,
        TableName=table,
        FilterExpression="is_manager = :f",
        ExpressionAttributeValues={":f": {"S": "1"}},
        Limit=page_size,
    )


def managers_by_sparse_index(client: Any, table: str, page_size: int = 100) -> ScanResult:
    """Managers found through the sparse index: only items with is_manager are in it."""
    return _scan(client, TableName=table, IndexName=GSI_MANAGER.name, Limit=page_size)


def employees_by_location(
    client: Any, table: str, state: str, city_dept_prefix: str | None = None
) -> list[dict[str, Any]]:
    """Employees of a state, narrowed by a prefix of "city:dept" (a city, or a city and dept)."""
    condition = "#s = :s"
    values = {":s": {"S": state}}
    if city_dept_prefix:
        condition += " AND begins_with(city_dept, :p)"
        values[":p"] = {"S": city_dept_prefix}
    return _items(
        client,
        "query",
        TableName=table,
        IndexName=GSI_CITY_DEPT.name,
        KeyConditionExpression=condition,
        ExpressionAttributeNames={"#s": "state"},  # "state" is a reserved word
        ExpressionAttributeValues=values,
    )


def employees_by_state_scan(client: Any, table: str, state: str) -> list[dict[str, Any]]:
    """The same question without the index: every item of the table read, then filtered."""
    return _items(
        client,
        "scan",
        TableName=table,
        FilterExpression="#s = :s",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":s": {"S": state}},
    )


# --- Exercise 3: GSI write sharding ------------------------------------------------------------


@dataclass(frozen=True)
class ShardCounts:
    """Items each shard's query found, and how many pages each took."""

    counts: dict[int, int]
    pages: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def shard_query(
    table: str, shard: int, prefix: str | None, page_size: int | None = None
) -> dict[str, Any]:
    """One shard of gsi_responsecode, narrowed by a prefix of "responsecode#date#hour"."""
    condition = "gsi_responsecode_hk = :shard"
    values: dict[str, Any] = {":shard": {"N": str(shard)}}
    if prefix:  # an empty begins_with value is refused: no prefix means the whole shard
        condition += " AND begins_with(gsi_responsecode_sk, :prefix)"
        values[":prefix"] = {"S": prefix}
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": GSI_RESPONSECODE.name,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "Select": "COUNT",
    }
    if page_size:
        request["Limit"] = page_size
    return request


def _count_shard(
    client: Any, table: str, shard: int, prefix: str | None, page_size: int | None
) -> tuple[int, int]:
    count = pages = 0
    for page in paginate(client, "query", **shard_query(table, shard, prefix, page_size)):
        count += page["Count"]
        pages += 1
    return count, pages


def count_by_shard(
    client: Any,
    table: str,
    prefix: str | None,
    shards: Iterable[int],
    page_size: int | None = None,
) -> ShardCounts:
    """query_responsecode.py, corrected: every shard in its own thread, every page followed.

    A sharded key spreads one response code over all the shards, so a read of that code asks
    each shard and adds up. The workshop's script read only the first page of each shard's
    answer; a page ends at 1 MB or at ``page_size`` items, so here LastEvaluatedKey is
    followed until the shard is exhausted.
    """
    shards = list(shards)
    with ThreadPoolExecutor(max(1, len(shards)), thread_name_prefix=f"shards-{table}") as pool:
        futures = [pool.submit(_count_shard, client, table, s, prefix, page_size) for s in shards]
        answers = [f.result() for f in futures]
    return ShardCounts(
        {s: count for s, (count, _) in zip(shards, answers, strict=True)},
        {s: pages for s, (_, pages) in zip(shards, answers, strict=True)},
    )
