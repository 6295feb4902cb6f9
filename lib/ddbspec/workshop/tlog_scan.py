"""tlog_scan, the 1M-row log table of exercises 2 and 3, built once and shared.

A table is fully described by its dataset fingerprint: the medium files (by name and sha256
from the manifest) in worker order, the scale, the order, the item format and the table
definition. Two specs asking for the same fingerprint get the same table; on dynalite on
disk, the next run reuses it (``Target.shared_table``) instead of loading a million items
again, and any change to what would be loaded changes the fingerprint, so a stale table is
rebuilt rather than trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddbspec.capacity.costs import Spend, weighted_load_spend
from ddbspec.capacity.model import integer_size, item_size
from ddbspec.errors import DataError
from ddbspec.workshop import loaders, tables
from ddbspec.workshop.datasets import (
    COPY_STRIDE,
    SHARDS,
    WORKER_STRIDE,
    FileOrder,
    LogTableLayout,
    log_table_items,
    log_wire_items,
    request_id,
)
from ddbspec.workshop.figures import LogFigures, log_figures

MEDIUM_FILES = ("logfile_medium1.csv", "logfile_medium2.csv")
ITEM_FORMAT = 1  # bump whenever datasets.log_table_items writes different items


@dataclass(frozen=True)
class LogTable:
    """A loaded tlog_scan and what the CSVs say it holds."""

    name: str
    model: LogFigures
    layout: LogTableLayout


def fingerprint(
    data_dir: Path,
    files: Sequence[Path],
    scale: int,
    order: FileOrder | str,
    definition: tables.TableDef = tables.TLOG_SCAN,
) -> str:
    """What a loaded table was built from, as a sha256: equal fingerprints, equal tables."""
    try:
        manifest = json.loads((data_dir / "manifest.json").read_text(encoding="utf-8"))["files"]
        shas = [[p.name, manifest[p.name]["sha256"]] for p in FileOrder(order).arrange(files)]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(
            f"cannot fingerprint the log table: {data_dir / 'manifest.json'} does not list "
            f"{[p.name for p in files]} ({e!r}); restore it from git"
        ) from None
    parts = {
        "files": shas,
        "scale": scale,
        "order": FileOrder(order).value,
        "format": ITEM_FORMAT,
        "layout": [WORKER_STRIDE, COPY_STRIDE, SHARDS],
        # what CreateTable is asked, not the dataclass's repr: a new field with a default
        # must not invalidate every kept table
        "table": tables.create_table_request(definition, definition.name),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def builder(layout: LogTableLayout, total: int | None = None) -> Callable[[Any, str], int]:
    """``build(client, name)`` for Target.shared_table: load the empty table, verify the
    count, return it."""

    def build(client: Any, name: str) -> int:
        items = log_table_items(layout)
        return loaders.load_verified(client, name, items, serialized=True, total=total)

    return build


def shared(
    target: Any,
    data_dir: Path,
    scale: int,
    order: FileOrder | str,
    terminal: contextlib.AbstractContextManager | None = None,
) -> LogTable:
    """The run's tlog_scan for (scale, order) on ``target``, loaded and verified once;
    ``terminal`` is entered around the load (pytest's capture off, for its progress bar)."""
    files = [data_dir / name for name in MEDIUM_FILES]
    layout = LogTableLayout.of(files, scale, order)  # each file read here, and only here
    model = log_figures(layout)
    key = fingerprint(data_dir, files, scale, order)
    with terminal or contextlib.nullcontext():
        name = target.shared_table(tables.TLOG_SCAN, key, builder(layout, model.items))
    return LogTable(name, model, layout)


def load_spend(layout: LogTableLayout, definition: tables.TableDef = tables.TLOG_SCAN) -> Spend:
    """What loading the table costs by DynamoDB's rules, priced without building a million
    items: a row's copies differ only in their requestid (the shard is the same), so copies
    whose ids take as many bytes cost the same, and one of each is priced for all."""
    return weighted_load_spend(tables.schema(definition), _representatives(layout))


def _representatives(layout: LogTableLayout) -> Iterator[tuple[dict[str, Any], int]]:
    for worker, rows in enumerate(layout.rows):
        for row in rows:
            by_size: dict[int, list[int]] = {}  # id bytes: [a copy, how many copies]
            for copy in layout.kept(worker, row.requestid):
                entry = by_size.setdefault(
                    integer_size(request_id(worker, copy, row.requestid)), [copy, 0]
                )
                entry[1] += 1
            for copy, n in by_size.values():
                yield next(log_wire_items(row, worker, (copy,))), n


def entry_sizes(layout: LogTableLayout, prefix: str, shards: Iterable[int]) -> dict[int, list[int]]:
    """The bytes of each gsi_responsecode entry that a query of each shard for ``prefix``
    reads (the index projects KEYS_ONLY), from the CSV rows."""
    schema = tables.schema(tables.TLOG_SCAN)
    (index,) = (i for i in schema.indexes if i.name == tables.GSI_RESPONSECODE.name)
    sizes: dict[int, list[int]] = {shard: [] for shard in shards}
    for worker, rows in enumerate(layout.rows):
        for row in (r for r in rows if r.sort_key.startswith(prefix)):
            for item in log_wire_items(row, worker, layout.kept(worker, row.requestid)):
                shard = int(item["gsi_responsecode_hk"]["N"])
                if shard in sizes:
                    sizes[shard].append(item_size(schema.projected(index, item)))
    return sizes
