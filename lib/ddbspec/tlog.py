"""The server-log tables of exercise 8: ``tlog`` (the source) and ``tlog_replica``.

Both are created as the workshop's create-table commands create them: ``requestid`` (N) as
the partition key and the index ``host-requestid-gsi`` (host, requestid) projecting
``bytessent`` besides the keys. ``tables.Index`` cannot say which attributes an INCLUDE
projection carries, so this module adds them to the request it builds with
``tables.create_table_request``. The items are what the workshop's load_tlog.py writes: the
ten CSV columns, with requestid, hourofday, responsecode and bytessent as numbers.
(``datasets.log_item`` is the tlog_scan item of exercises 2-3: it adds the sharded index keys,
which tlog does not have.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ddbspec import tables
from ddbspec.datasets import LogRow, read_log_rows

HOST_GSI = tables.Index("host-requestid-gsi", ("host", "S"), ("requestid", "N"), "INCLUDE")
INCLUDED = {HOST_GSI.name: ("bytessent",)}
# The workshop provisioned tlog 5/5 (raised to 100 WCU in exercise 1) and the replica 10/5;
# locally capacity means nothing, and on AWS the run's capacity option decides.
TLOG = tables.TableDef("tlog", ("requestid", "N"), None, (HOST_GSI,))
TLOG_REPLICA = tables.TableDef("tlog_replica", ("requestid", "N"), None, (HOST_GSI,))

COLUMNS = ("requestid", "host", "date", "hourofday", "timezone", "method", "url",
           "responsecode", "bytessent", "useragent")  # fmt: skip


def create_request(
    d: tables.TableDef, name: str, on_demand: bool = False, tags: dict[str, str] | None = None
) -> dict[str, Any]:
    """CreateTable arguments, with each INCLUDE projection's NonKeyAttributes."""
    request = tables.create_table_request(d, name, on_demand=on_demand, tags=tags)
    for index in request.get("GlobalSecondaryIndexes", []):
        if index["Projection"]["ProjectionType"] == "INCLUDE":
            index["Projection"]["NonKeyAttributes"] = list(INCLUDED[index["IndexName"]])
    return request


@contextlib.contextmanager
def log_table(target: Any, d: tables.TableDef, base: str | None = None) -> Iterator[str]:
    """``target.table`` for these tables: created under the run's unique name, yielded,
    deleted afterwards (even if the create was interrupted) unless --keep-tables."""
    name = target.table_name(base or d.name)
    ddb = target.client()
    on_demand = bool(getattr(target, "on_demand", False))
    try:
        ddb.create_table(**create_request(d, name, on_demand, target.tags()))
        tables.wait_active(ddb, name, target.waits)
        yield name
    finally:
        if not target.settings.keep_tables:
            tables.delete_table(ddb, name, target.waits)


def tlog_item(row: LogRow) -> dict[str, int | str]:
    """One CSV row as load_tlog.py writes it: int for the numbers, the text for the rest."""
    return {
        "requestid": row.requestid,
        "host": row.host,
        "date": row.date,
        "hourofday": int(row.hourofday),
        "timezone": row.timezone,
        "method": row.method,
        "url": row.url,
        "responsecode": row.responsecode,
        "bytessent": row.bytessent,
        "useragent": row.useragent,
    }


def tlog_items(path: Path) -> list[dict[str, int | str]]:
    """Every row of a logfile CSV as a tlog item; a bad row is named with its file and line."""
    return [tlog_item(row) for row in read_log_rows(path)]
