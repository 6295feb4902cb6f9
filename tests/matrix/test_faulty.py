"""The faulty engine the matrix's tests rely on: Query pages one item short, nothing else.

The upstream is the run's dynalite, acquired as every test that needs a suite engine does;
the suite run through it, as ``ddbspec matrix`` runs a user's endpoint, is in
``test_matrix.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ddbspec.engines.info import EngineInfo
from ddbspec.workshop import tables

ITEMS = 5
KEY = {":p": {"S": "p"}}


@pytest.fixture
def table(dynalite: EngineInfo) -> Iterator[str]:
    """A table of ITEMS items under one partition key, made on dynalite itself."""
    ddb = dynalite.client()
    name = f"faulty-{uuid.uuid4().hex[:8]}"  # xdist's workers share the engine
    definition = tables.TableDef(name, ("pk", "S"), ("sk", "N"))
    tables.create_table(ddb, definition, name, tables.Waits())
    for sk in range(ITEMS):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(sk)}})
    yield name
    tables.delete_table(ddb, name, tables.Waits())


def query(ddb: Any, table: str) -> dict[str, Any]:
    return ddb.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues=KEY
    )


def test_a_query_page_loses_its_last_item(proxy, dynalite, table):
    engine = query(dynalite.client(), table)
    faulty = query(EngineInfo(name="faulty", endpoint_url=proxy.url).client(), table)
    assert faulty["Items"] == engine["Items"][:-1]
    assert (faulty["Count"], faulty["ScannedCount"]) == (ITEMS - 1, ITEMS)
    assert proxy.changed == 1


def test_a_changed_answer_still_passes_botocore_checksum(proxy, table):
    """Plain boto3 retries in legacy mode, which checks x-amz-crc32 against the body."""
    legacy = EngineInfo(name="faulty", endpoint_url=proxy.url).client(
        retries={"mode": "legacy", "max_attempts": 1}
    )
    assert query(legacy, table)["Count"] == ITEMS - 1


def test_scan_and_get_item_pass_unchanged(proxy, dynalite, table):
    engine, faulty = dynalite.client(), EngineInfo(name="faulty", endpoint_url=proxy.url).client()
    key = {"pk": {"S": "p"}, "sk": {"N": "0"}}
    for ddb in (engine, faulty):
        ddb.meta.events.register("after-call.dynamodb", drop_request_metadata)
    assert faulty.scan(TableName=table) == engine.scan(TableName=table)
    assert faulty.get_item(TableName=table, Key=key) == engine.get_item(TableName=table, Key=key)
    assert faulty.describe_table(TableName=table) == engine.describe_table(TableName=table)
    assert proxy.changed == 0


def drop_request_metadata(parsed: dict[str, Any], **_: Any) -> None:
    """Two answers compare by content: their request ids and dates differ anyway."""
    parsed.pop("ResponseMetadata", None)


def test_empty_query_pages_pass_unchanged(proxy, table):
    faulty = EngineInfo(name="faulty", endpoint_url=proxy.url).client()
    empty = faulty.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "nobody"}},
    )
    assert (empty["Items"], empty["Count"], proxy.changed) == ([], 0, 0)
