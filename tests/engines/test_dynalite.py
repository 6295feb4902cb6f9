"""The suite's one fix to dynalite: listing a sub-database's keys reads only its key range.

dynalite 4.0.0 streamed every key of its store to list one table's (ListTables,
ListTagsOfResource, DeleteTable); with the 1M-item log tables on disk each call took 16-22 s.
The fix must change nothing else: the same keys, and no table's keys mixed into another's.
"""

from __future__ import annotations

import os

import pytest

from ddbspec import config
from ddbspec.engines import registry
from ddbspec.engines.dynalite import PREFIX_RANGE, Dynalite, bound_prefix_scans
from ddbspec.errors import EngineError
from ddbspec.workshop import tables
from ddbspec.workshop.loaders import count_items, load


def test_the_installed_dynalite_carries_the_fix_once():
    home = Dynalite().provision(config.Settings().cache_dir)
    text = (home / "node_modules" / "dynalite" / "db" / "index.js").read_text()
    assert text.count(PREFIX_RANGE[1]) == 1 and PREFIX_RANGE[0] + "\n" not in text


def test_a_file_without_the_known_line_is_refused_and_named(tmp_path):
    index_js = tmp_path / "index.js"
    index_js.write_text(f"before\n        {PREFIX_RANGE[0]}\nafter\n")
    bound_prefix_scans(index_js)
    assert PREFIX_RANGE[1] in index_js.read_text()
    with pytest.raises(EngineError, match=str(index_js)):
        bound_prefix_scans(index_js)  # the line it fixes is no longer there


@pytest.fixture
def dynalite(tmp_path):
    settings = config.Settings(run_id="fix", state_dir=tmp_path, owner_pid=os.getpid())
    yield registry.acquire(settings, "dynalite").client()
    registry.release_all(settings)


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
