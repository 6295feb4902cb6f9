"""The suite's fixes to dynalite 4.0.0, each checked against dynalite's original code: the
engine ``dynalite-npm``, dynalite as npm publishes it.

- PREFIX_RANGE: listing a sub-database's keys reads only its key range. dynalite streamed
  every key of its store to list one table's (ListTables, ListTagsOfResource, DeleteTable);
  with the 1M-item log tables on disk each call took 16-22 s. The same keys must come out,
  and no table's keys be mixed into another's.
- INDEX_KEYS: an index entry's key carries the whole table key. dynalite kept only 24 bits of
  a hash of it, so entries with one index key collided and replaced each other. The table's
  own keys, and so its scan order and segments, must not move.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections import defaultdict

import pytest

from ddbspec import cli, config
from ddbspec.engines import registry
from ddbspec.engines.dynalite import (
    FIXES,
    INDEX_KEYS,
    PREFIX_RANGE,
    Dynalite,
    DynaliteNpm,
    apply_fixes,
)
from ddbspec.errors import EngineError
from ddbspec.workshop import tables
from ddbspec.workshop.loaders import count_items, load
from ddbspec.workshop.queries import paginate

GSI = tables.Index("by_group", ("group", "S"), None, "KEYS_ONLY")
GROUPED = tables.TableDef("grouped", ("pk", "S"), None, (GSI,))


def test_the_installed_dynalite_carries_each_fix_once():
    home = Dynalite().provision(config.Settings().cache_dir)
    text = (home / "node_modules" / "dynalite" / "db" / "index.js").read_text()
    for old, new in FIXES:
        assert text.count(new) == 1 and old + "\n" not in text


def test_a_file_without_the_known_line_is_refused_named_and_left_as_it_was(tmp_path):
    index_js = tmp_path / "index.js"
    index_js.write_text(f"before\n        {PREFIX_RANGE[0]}\nafter\n")
    apply_fixes(index_js, (PREFIX_RANGE,))
    assert PREFIX_RANGE[1] in index_js.read_text()
    with pytest.raises(EngineError, match=str(index_js)):
        apply_fixes(index_js, (PREFIX_RANGE,))  # the line it fixes is no longer there
    fixed_once = index_js.read_text()
    with pytest.raises(EngineError, match=r"not the dynalite 4\.0\.0"):
        apply_fixes(index_js, (INDEX_KEYS,))
    assert index_js.read_text() == fixed_once  # nothing half-applied


def test_the_published_dynalite_is_its_own_install_with_no_fix_applied():
    fixed, npm = Dynalite(), DynaliteNpm()
    assert npm.fixes == () and npm.build() != fixed.build()
    assert npm.probe_key() != fixed.probe_key()  # nor are its capabilities remembered as one
    home = npm.provision(config.Settings().cache_dir)
    assert home != fixed.provision(config.Settings().cache_dir)
    text = (home / "node_modules" / "dynalite" / "db" / "index.js").read_text()
    for old, new in FIXES:
        assert text.count(old + "\n") == 1 and new not in text and "ddbspec" not in text


def test_the_published_dynalite_can_be_chosen_but_auto_never_picks_it():
    assert isinstance(registry.ENGINES["dynalite-npm"], DynaliteNpm)
    assert "dynalite-npm" not in registry.POOL
    assert cli.engine_name("dynalite-npm") == "dynalite-npm"  # ddbspec capabilities dynalite-npm


def test_the_two_never_share_a_store(tmp_path):
    fixed, npm = Dynalite().data_dir(tmp_path, "s"), DynaliteNpm().data_dir(tmp_path, "s")
    assert fixed == tmp_path / "dynalite-data" / "s"  # where the fixed one always kept it
    assert npm != fixed and fixed not in npm.parents and npm not in fixed.parents


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """The suite's dynalite and the one npm publishes, side by side: {name: client}."""
    state = tmp_path_factory.mktemp("state")
    settings = config.Settings(run_id="fix", state_dir=state, owner_pid=os.getpid())
    try:
        yield {
            "fixed": registry.acquire(settings, "dynalite").client(),
            "original": registry.acquire(settings, "dynalite-npm").client(),
        }
    finally:
        registry.release_all(settings)


@pytest.fixture(params=["fixed", "original"])
def dynalite(engines, request):
    """Each engine in turn: a fix that must not change what comes out holds on both."""
    return engines[request.param]


def hash_prefix(key: str) -> str:
    """dynalite's hashPrefix of a string key: the first 6 hex digits of md5('Outliers' + key)."""
    return hashlib.md5(b"Outliers" + key.encode()).hexdigest()[:6]


def colliding(groups: int) -> list[list[str]]:
    """``groups`` sets of 2+ string keys that dynalite's 24-bit index hash cannot tell apart.

    The hashes that two keys share are counted as they come: recounting them at every key
    took 10 s for the 20,000 keys that five groups need."""
    seen: dict[str, list[str]] = defaultdict(list)
    shared = 0
    for i in itertools.count():
        key = f"item-{i}"
        keys = seen[hash_prefix(key)]
        keys.append(key)
        shared += len(keys) == 2
        if shared == groups:
            return [keys for keys in seen.values() if len(keys) > 1]
    raise AssertionError("unreachable")


def index_keys(ddb, table: str, group: str) -> set[str]:
    pages = paginate(
        ddb,
        "query",
        TableName=table,
        IndexName=GSI.name,
        KeyConditionExpression="#g = :g",
        ExpressionAttributeNames={"#g": "group"},
        ExpressionAttributeValues={":g": {"S": group}},
        Limit=3,  # pages end between colliding entries too
    )
    return {item["pk"]["S"] for page in pages for item in page["Items"]}


@pytest.fixture
def grouped(engines, request):
    name = f"grouped-{request.node.name[-40:]}".replace("[", "-").replace("]", "")
    for ddb in engines.values():
        tables.create_table(ddb, GROUPED, name, tables.Waits())
    yield name
    for ddb in engines.values():
        tables.delete_table(ddb, name, tables.Waits())


def test_items_whose_table_keys_collide_all_stay_in_the_index(engines, grouped):
    keys = [key for group in colliding(5) for key in group]
    found = {}
    for engine, ddb in engines.items():
        load(ddb, grouped, ({"pk": k, "group": "same"} for k in keys))
        assert count_items(ddb, grouped) == len(keys)
        found[engine] = index_keys(ddb, grouped, "same")
    assert found["fixed"] == set(keys)
    assert len(found["original"]) <= len(keys) - 5  # one entry lost per colliding pair at least


def test_moving_an_item_out_of_an_index_key_leaves_the_others_there(engines, grouped):
    (first, second, *_), *_ = colliding(1)
    left = {}
    for engine, ddb in engines.items():
        load(ddb, grouped, [{"pk": second, "group": "a"}])
        load(ddb, grouped, [{"pk": first, "group": "a"}])
        ddb.update_item(
            TableName=grouped,
            Key={"pk": {"S": first}},
            UpdateExpression="SET #g = :b",
            ExpressionAttributeNames={"#g": "group"},
            ExpressionAttributeValues={":b": {"S": "b"}},
        )
        left[engine] = (index_keys(ddb, grouped, "a"), index_keys(ddb, grouped, "b"))
        ddb.delete_item(TableName=grouped, Key={"pk": {"S": first}})
        assert index_keys(ddb, grouped, "b") == set()  # no stale entry once deleted
    assert left["fixed"] == ({second}, {first})
    assert left["original"] == (set(), {first})  # the original lost the other item with it


def test_the_tables_own_keys_scan_order_and_segments_do_not_move(engines, grouped):
    items = [{"pk": f"k{i}", "group": f"g{i % 3}"} for i in range(400)]
    seen = {}
    for engine, ddb in engines.items():
        load(ddb, grouped, items)
        pages = [
            [item["pk"]["S"] for item in page["Items"]]
            for page in paginate(ddb, "scan", TableName=grouped, Limit=37)
        ]
        segments = [
            sorted(
                item["pk"]["S"]
                for page in paginate(ddb, "scan", TableName=grouped, Segment=s, TotalSegments=4)
                for item in page["Items"]
            )
            for s in range(4)
        ]
        seen[engine] = (pages, segments)
    assert seen["fixed"] == seen["original"]


def table(ddb, name: str, tags: dict[str, str]) -> str:
    arn = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )["TableDescription"]["TableArn"]
    tables.wait_active(ddb, name, tables.Waits())
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return arn


def test_tables_whose_names_share_a_prefix_keep_their_own_keys(dynalite: object) -> None:
    ddb = dynalite
    # "tab" and "tab-2": one name is the start of the other, and '-' sorts before '~'
    arns = {name: table(ddb, name, {"name": name}) for name in ("tab", "tab-2")}
    for name in arns:
        load(ddb, name, ({"pk": f"{name}:{i}"} for i in range(30)))
    assert sorted(ddb.list_tables()["TableNames"]) == ["tab", "tab-2"]
    for name, arn in arns.items():
        assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [
            {"Key": "name", "Value": name}
        ]
    tables.delete_table(ddb, "tab", tables.Waits())
    assert ddb.list_tables()["TableNames"] == ["tab-2"]
    assert count_items(ddb, "tab-2") == 30  # the other table's items were not deleted with it
    table(ddb, "tab", {"name": "again"})
    assert count_items(ddb, "tab") == 0  # nor did the deleted table's items survive it
    tables.delete_table(ddb, "tab", tables.Waits())
    tables.delete_table(ddb, "tab-2", tables.Waits())
