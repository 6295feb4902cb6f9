"""logtable: the fingerprint that decides whether a kept table can be reused."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from ddbspec.capacity import costs
from ddbspec.capacity.model import item_size
from ddbspec.errors import DataError
from ddbspec.workshop import tables, tlog_scan
from ddbspec.workshop.datasets import FileOrder, LogTableLayout, log_table_items
from ddbspec.workshop.figures import log_figures

from suite import DATA

FILES = [DATA / name for name in tlog_scan.MEDIUM_FILES]


def test_the_fingerprint_is_stable_and_names_what_was_loaded() -> None:
    one = tlog_scan.fingerprint(DATA, FILES, 4, FileOrder.NATURAL)
    assert one == tlog_scan.fingerprint(DATA, FILES[::-1], 4, "natural")
    assert len(one) == 64
    others = {
        tlog_scan.fingerprint(DATA, FILES, 5, FileOrder.NATURAL),
        tlog_scan.fingerprint(DATA, FILES, 4, FileOrder.REPLAY),
        tlog_scan.fingerprint(
            DATA, FILES, 4, FileOrder.NATURAL, dataclasses.replace(tables.TLOG_SCAN, indexes=())
        ),
    }
    assert one not in others and len(others) == 3


def test_an_altered_file_changes_the_fingerprint(tmp_path: Path) -> None:
    shutil.copy(DATA / "manifest.json", tmp_path / "manifest.json")
    before = tlog_scan.fingerprint(tmp_path, FILES, 4, FileOrder.NATURAL)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["files"]["logfile_medium2.csv"]["sha256"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert tlog_scan.fingerprint(tmp_path, FILES, 4, FileOrder.NATURAL) != before


def test_files_missing_from_the_manifest_are_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"files": {}}')
    with pytest.raises(DataError, match="does not list"):
        tlog_scan.fingerprint(tmp_path, FILES, 4, FileOrder.NATURAL)


class FakeTarget:
    """shared_table as the plugin's Target does it, minus the engine: build once."""

    def __init__(self) -> None:
        self.built: dict[str, int] = {}

    def shared_table(self, definition, fingerprint, build) -> str:
        name = f"{definition.name}-{fingerprint[:12]}"
        if name not in self.built:
            self.built[name] = build(Recorder(), name)
        return name


class Recorder:
    """Takes every batch, counts what a consistent count scan would see."""

    def __init__(self) -> None:
        self.items = 0

    def batch_write_item(self, RequestItems):
        ((_, requests),) = RequestItems.items()
        self.items += len(requests)
        return {}

    def scan(self, **kwargs):
        return {"Count": self.items, "ScannedCount": self.items}


def test_shared_builds_each_fingerprint_once_and_verifies_the_count() -> None:
    target = FakeTarget()
    one = tlog_scan.shared(target, DATA, 1, FileOrder.REPLAY)
    again = tlog_scan.shared(target, DATA, 1, FileOrder.REPLAY)
    other = tlog_scan.shared(target, DATA, 1, FileOrder.NATURAL)
    assert one.name == again.name != other.name
    assert target.built == {one.name: 4000, other.name: 4000}
    assert one.model.items == 4000 and one.model.order is FileOrder.REPLAY


def test_a_definition_that_asks_for_the_same_table_keeps_the_fingerprint() -> None:
    """Only what CreateTable is asked counts: a field added with its default changes nothing."""
    same = dataclasses.replace(tables.TLOG_SCAN, name="tlog_scan")
    assert tlog_scan.fingerprint(DATA, FILES, 4, "natural", same) == tlog_scan.fingerprint(
        DATA, FILES, 4, "natural"
    )
    projection = dataclasses.replace(tables.GSI_RESPONSECODE, projection="ALL")
    other = dataclasses.replace(tables.TLOG_SCAN, indexes=(projection,))
    assert tlog_scan.fingerprint(DATA, FILES, 4, "natural", other) != tlog_scan.fingerprint(
        DATA, FILES, 4, "natural"
    )


@pytest.mark.parametrize(("scale", "order"), [(1, FileOrder.NATURAL), (3, FileOrder.REPLAY)])
def test_the_loads_price_is_the_price_of_every_item_it_writes(scale, order) -> None:
    """load_spend prices one copy per row and id length; pricing each item gives the same."""
    layout = LogTableLayout.of(FILES, scale, order)
    every_item = costs.load_spend(tables.schema(tables.TLOG_SCAN), log_table_items(layout))
    assert tlog_scan.load_spend(layout) == every_item
    assert every_item.written == log_figures(layout).items


def test_the_entries_a_shard_query_reads_are_the_items_with_its_prefix() -> None:
    layout = LogTableLayout.of(FILES, 2, FileOrder.NATURAL)
    sizes = tlog_scan.entry_sizes(layout, "404#", range(1, 11))
    assert {s: len(v) for s, v in sizes.items()} == log_figures(layout).per_shard("404#", sizes)
    schema = tables.schema(tables.TLOG_SCAN)
    wanted = [
        item_size(schema.projected(schema.indexes[0], i))
        for i in log_table_items(layout)
        if i["gsi_responsecode_sk"]["S"].startswith("404#")
    ]
    assert sorted(n for v in sizes.values() for n in v) == sorted(wanted)
