"""The cost ledger on a real engine: the model's units for what each request really read and
wrote, the engine's own units beside them, and the caller's answers left as they were.

The table is the issue's: 100 items of 1.5-5 KB (318 KB in all), every tenth carrying the
key of a global index that projects everything. Expectations come from the items themselves,
through the model's rules (``capacity.model``), whose own tests hold them against the guide's
examples.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ddbspec import summary
from ddbspec.capacity import costs
from ddbspec.capacity.model import (
    IndexSchema,
    Schema,
    item_size,
    query_units,
    read_units,
    write_cost,
)
from ddbspec.engines import probes
from ddbspec.engines.info import EngineInfo

from faulty import MisreportingProxy

INDEX = "by_tag"
DEFINITION: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [
        {"AttributeName": "id", "AttributeType": "S"},
        {"AttributeName": "tag", "AttributeType": "S"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": INDEX,
            "KeySchema": [{"AttributeName": "tag", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
SCHEMA = Schema.from_description(DEFINITION)


def item(n: int) -> dict[str, Any]:
    """1.5-5 KB; every tenth item in the index."""
    made = {"id": {"S": f"item-{n:03}"}, "body": {"S": "x" * (1500 + 35 * n)}}
    if n % 10 == 0:
        made["tag"] = {"S": f"tag-{n % 3}"}
    return made


ITEMS = [item(n) for n in range(100)]
INDEXED = [i for i in ITEMS if "tag" in i]


@pytest.fixture(scope="module")
def table(dynalite: EngineInfo) -> Iterator[str]:
    with loaded(dynalite) as name:
        yield name


@pytest.fixture
def scratch(dynalite: EngineInfo) -> Iterator[str]:
    """A table of the test's own, for a test that changes items."""
    with loaded(dynalite) as name:
        yield name


@contextlib.contextmanager
def loaded(engine: EngineInfo, client: Any = None) -> Iterator[str]:
    """A table of ITEMS on ``engine``, written by ``client`` (a plain one if None)."""
    plain = engine.client()
    name = f"costs-{uuid.uuid4().hex[:8]}"
    plain.create_table(TableName=name, **DEFINITION)
    try:
        plain.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1})
        for start in range(0, len(ITEMS), 25):
            batch = [{"PutRequest": {"Item": i}} for i in ITEMS[start : start + 25]]
            (client or plain).batch_write_item(RequestItems={name: batch})
        yield name
    finally:
        plain.delete_table(TableName=name)


def spend_of(engine: EngineInfo, approach: str, call) -> costs.Spend:
    ledger = costs.Ledger()
    call(ledger.metered(engine.client(), approach))
    return ledger.spent[approach]


def test_a_scan_costs_the_items_it_evaluated_summed_then_rounded(dynalite, table):
    spend = spend_of(dynalite, "scan", lambda c: c.scan(TableName=table))
    sizes = [item_size(i) for i in ITEMS]  # 333 KB: one page
    assert spend.read == {costs.TABLE: query_units(sizes, consistent=False)}
    assert (spend.items, spend.bytes, spend.requests) == (100, sum(sizes), 1)


def test_a_filtered_scan_costs_what_the_unfiltered_one_does(dynalite, table):
    def filtered(client):
        page = client.scan(
            TableName=table,
            FilterExpression="attribute_exists(tag)",
            ProjectionExpression="id",
        )
        assert page["Count"] == len(INDEXED) and "ConsumedCapacity" not in page

    everything = spend_of(dynalite, "scan", lambda c: c.scan(TableName=table))
    assert spend_of(dynalite, "filtered", filtered).read == everything.read


def test_the_index_costs_only_the_entries_it_holds(dynalite, table):
    spend = spend_of(dynalite, "index", lambda c: c.scan(TableName=table, IndexName=INDEX))
    sizes = [item_size(i) for i in INDEXED]
    assert spend.read == {INDEX: query_units(sizes, consistent=False)}
    assert spend.rcu < query_units([item_size(i) for i in ITEMS], consistent=False) / 5


def test_a_strongly_consistent_read_costs_double(dynalite, table):
    key = {"id": ITEMS[99]["id"]}
    weak = spend_of(dynalite, "get", lambda c: c.get_item(TableName=table, Key=key))
    strong = spend_of(
        dynalite, "get", lambda c: c.get_item(TableName=table, Key=key, ConsistentRead=True)
    )
    assert strong.rcu == 2 * weak.rcu == read_units(item_size(ITEMS[99]))


def test_a_put_of_an_indexed_item_costs_its_table_and_its_index(dynalite, scratch):
    new = {**ITEMS[10], "body": {"S": "y" * 2500}}
    spend = spend_of(dynalite, "put", lambda c: c.put_item(TableName=scratch, Item=new))
    expected = write_cost(SCHEMA, ITEMS[10], new)  # the item replaced is read first
    assert spend.write == {costs.TABLE: expected.table, INDEX: expected.indexes[INDEX].units}
    assert spend.write[INDEX] > 0


def test_an_update_is_charged_for_the_item_it_leaves_and_answers_as_asked(dynalite, scratch):
    key = {"id": ITEMS[20]["id"]}

    def update(client):
        answer = client.update_item(
            TableName=scratch,
            Key=key,
            UpdateExpression="SET tag = :t",
            ExpressionAttributeValues={":t": {"S": "moved"}},
        )
        assert "Attributes" not in answer and "ConsumedCapacity" not in answer

    spend = spend_of(dynalite, "update", update)
    moved = {**ITEMS[20], "tag": {"S": "moved"}}
    expected = write_cost(SCHEMA, ITEMS[20], moved)
    assert expected.indexes[INDEX].writes == 2  # the index key changed: a delete and a put
    assert spend.write == {costs.TABLE: expected.table, INDEX: expected.indexes[INDEX].units}


def test_a_refused_condition_costs_the_item_it_read(dynalite, table):
    def refused(client):
        with pytest.raises(client.exceptions.ConditionalCheckFailedException):
            client.put_item(
                TableName=table, Item=ITEMS[30], ConditionExpression="attribute_not_exists(id)"
            )

    spend = spend_of(dynalite, "refused", refused)
    assert spend.write == {costs.TABLE: write_cost(SCHEMA, ITEMS[30], ITEMS[30]).table}


def test_a_transaction_costs_twice_the_same_writes(moto):
    """Each put replaces an item of another size, one of them indexed; then the same two
    puts back as one transaction, which replaces the items the plain puts left."""
    changed = [{**ITEMS[n], "body": {"S": "z" * 1800}} for n in (40, 41)]
    with loaded(moto) as table:
        plain = spend_of(
            moto, "plain", lambda c: [c.put_item(TableName=table, Item=i) for i in changed]
        )
        back = [{"Put": {"TableName": table, "Item": i}} for i in ITEMS[40:42]]
        transaction = spend_of(
            moto, "transaction", lambda c: c.transact_write_items(TransactItems=back)
        )
    assert transaction.write == {k: 2 * v for k, v in plain.write.items()}
    assert plain.write[INDEX] > 0


def test_loading_costs_what_the_metered_batches_cost(dynalite):
    ledger = costs.Ledger()
    with loaded(dynalite, ledger.metered(dynalite.client(), "load")):
        pass
    load = costs.load_spend(SCHEMA, ITEMS)
    assert ledger.spent["load"].write == load.write
    assert (load.written, load.requests) == (100, 4)


def test_an_engine_that_misreports_is_named_with_the_first_request_that_differs(dynalite, table):
    with MisreportingProxy(dynalite.endpoint_url) as proxy:
        engine = EngineInfo(**{**vars(dynalite), "endpoint_url": proxy.url})
        spend = spend_of(engine, "scan", lambda c: c.scan(TableName=table))
    sizes = [item_size(i) for i in ITEMS]
    model = query_units(sizes, consistent=False)
    kb = f"{sum(sizes) / 1024:.0f} KB"
    assert spend.differs == f"Scan of {kb}: engine 0.5 RCU, DynamoDB's rules {model:g} RCU"
    assert spend.rcu == model  # the figures stay the model's


def test_an_engine_that_meters_a_scan_as_dynamodb_does_is_not_named(dynalite, table):
    spend = spend_of(dynalite, "scan", lambda c: c.scan(TableName=table))
    assert spend.meters_like_dynamodb(), spend.differs  # dynalite gets scans right
    assert spend.engine_read == spend.rcu


def test_the_summary_gives_each_ways_units_the_ratio_and_the_first_difference():
    cheap = costs.Spend(requests=1, items=84, bytes=9000, read={"gsi": 1.5})
    both = costs.Spend(requests=3, items=1, bytes=500, written=2, read={"t": 0.5}, write={"t": 4})
    dear = costs.Spend(requests=40, items=4000, bytes=480000, read={costs.TABLE: 60.0})
    dear.differs = "Scan of 20 KB: engine 0.5 RCU, DynamoDB's rules 2.5 RCU"
    rows = {r["approach"]: r for r in (cheap.as_row("index"), dear.as_row("scan"))}
    assert summary.spent(both.as_row("lock")) == "1 item read, 0.5 RCU; 2 items written, 4 WCU"
    rows["index"]["versus"] = "scan"
    assert summary.cost_lines(rows) == [
        "    cost: index: 84 items read, 1.5 RCU; 1/40 of scan",
        "    cost: scan: 4000 items read, 60 RCU",
        "    metering: the engine's own ConsumedCapacity differs: scan: Scan of 20 KB: "
        "engine 0.5 RCU, DynamoDB's rules 2.5 RCU",
    ]


def test_a_query_by_the_rules_alone_rounds_each_1_mb_page_once():
    """Query and Scan sum a page's bytes, then round up to 4 KB; a page ends at 1 MB."""
    spend = costs.query_spend("gsi", [100] * 10)
    assert (spend.requests, spend.items, spend.bytes, spend.read) == (1, 10, 1000, {"gsi": 0.5})
    big = costs.query_spend("gsi", [400 * 1024] * 5, consistent=True)  # 2 + 2 + 1 per page
    assert big.requests == 3
    assert big.rcu == 200 + 200 + 100
    assert not big.measured


def test_a_weighted_load_costs_what_the_items_it_stands_for_cost():
    schema = Schema("pk", None, (IndexSchema("gsi", "g"),))
    small = {"pk": {"S": "a"}, "g": {"S": "x"}}
    large = {"pk": {"S": "b"}, "big": {"S": "y" * 1500}}  # not in the index
    weighted = costs.weighted_load_spend(schema, [(small, 3), (large, 2)])
    plain = costs.load_spend(schema, [small, small, small, large, large])
    assert weighted == plain
    assert plain.write == {costs.TABLE: 3 + 2 * 2, "gsi": 3.0}
    assert plain.requests == 1


def test_the_summary_marks_a_way_priced_by_the_rules_alone_and_compares_no_metering():
    loaded = costs.load_spend(Schema("pk"), [{"pk": {"S": "a"}}])
    rows = {"load": loaded.as_row("load")}
    assert summary.cost_lines(rows) == [
        "    cost: load (by the rules alone): 1 item written, 1 WCU"
    ]


def test_the_metering_probe_names_each_kind_of_request_an_engine_misreports(dynalite):
    """dynalite meters reads right and leaves the index out of a write's units (measured);
    the same engine behind a proxy that rewrites a Scan's units is named for its scans."""
    found = probes.metering(dynalite.client, f"metering-{uuid.uuid4().hex[:8]}")
    assert list(found) == [
        "PutItem to an indexed table",
        "Scan",
        "Scan of an index",
        "GetItem",
        "GetItem of non-ASCII text",
    ]
    assert found["Scan"] is found["Scan of an index"] is found["GetItem"] is None
    # 2000 en dashes: 6000 bytes in UTF-8 (2 units read consistently); 2000 as JavaScript counts
    assert found["GetItem of non-ASCII text"] == (
        "GetItem of 5.9 KB: engine 1 RCU, DynamoDB's rules 2 RCU"
    )
    # the first item, 1.5 KB and in the index: 2 units on the table, 2 more on the index
    assert found["PutItem to an indexed table"] == (
        "PutItem of 1.5 KB: engine 2 WCU, DynamoDB's rules 4 WCU"
    )
    with MisreportingProxy(dynalite.endpoint_url) as proxy:
        engine = EngineInfo(**{**vars(dynalite), "endpoint_url": proxy.url})
        behind = probes.metering(engine.client, f"metering-{uuid.uuid4().hex[:8]}")
    assert behind["Scan"] is not None and "engine 0.5 RCU" in behind["Scan"]
    assert behind["GetItem"] is None


def test_two_engines_give_the_same_costs_and_each_its_own_metering(dynalite, moto):
    """The costs come from the rules, applied to what each engine read and wrote, so the same
    requests cost the same on dynalite and moto; what each engine itself reported does not."""

    def requests(client: Any, table: str) -> None:
        client.scan(TableName=table)
        client.scan(TableName=table, FilterExpression="attribute_exists(tag)")
        client.query(
            TableName=table,
            IndexName=INDEX,
            KeyConditionExpression="tag = :t",
            ExpressionAttributeValues={":t": {"S": "tag-1"}},
        )
        client.get_item(TableName=table, Key={"id": ITEMS[7]["id"]}, ConsistentRead=True)
        client.put_item(TableName=table, Item={**ITEMS[20], "body": {"S": "y" * 3000}})

    spent = {}
    for engine in (dynalite, moto):
        with loaded(engine) as table:
            spent[engine.name] = spend_of(engine, "the same requests", lambda c: requests(c, table))
    one, other = spent["dynalite"], spent["moto"]
    model = ("requests", "items", "bytes", "written", "written_bytes", "read", "write")
    assert [getattr(one, f) for f in model] == [getattr(other, f) for f in model]
    assert one.write[INDEX] > 0 and one.read[INDEX] > 0
    assert (one.engine_read, one.engine_write) != (other.engine_read, other.engine_write)
    assert one.differs != other.differs


def test_ways_priced_apart_add_up_to_one():
    """Exercise 4 prices each query of the design it replaces on its own, then adds them."""
    one, two = costs.query_spend("a", [5000]), costs.query_spend("b", [100, 100])
    both = costs.combined([one, two])
    assert (both.requests, both.items, both.bytes) == (2, 3, 5200)
    assert both.read == {"a": 1.0, "b": 0.5}
    assert not both.measured


class Node:
    """What a spec's item offers Costs: the properties the report keeps."""

    def __init__(self) -> None:
        self.user_properties: list[tuple[str, str]] = []


def test_against_the_service_a_difference_fails_the_spec_as_the_models_fault():
    """Under --aws the service's ConsumedCapacity is the truth: a way metered unlike it fails
    (after its row is kept); on any other engine the difference is only named."""
    spend = costs.Spend(requests=1, items=3, read={costs.TABLE: 2.5}, engine_read=2.0)
    spend.differs = "Scan of 9 KB: engine 2 RCU, DynamoDB's rules 2.5 RCU"
    local = Node()
    summary.Costs(local, reference=False).record("scan", spend)  # type: ignore[arg-type]
    service = Node()
    with pytest.raises(AssertionError, match="model differs from the service: scan: Scan of"):
        summary.Costs(service, reference=True).record("scan", spend)  # type: ignore[arg-type]
    assert [k for k, _ in service.user_properties] == ["ddbspec.cost"]
    priced = costs.Spend(read={costs.TABLE: 1.0}, measured=False, differs="not compared")
    summary.Costs(Node(), reference=True).record("rules", priced)  # type: ignore[arg-type]
