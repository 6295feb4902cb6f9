"""The server-log tables of exercise 8: ``tlog`` (the source) and ``tlog_replica``.

Both are created as the workshop's create-table commands create them: ``requestid`` (N) as
the partition key and the index ``host-requestid-gsi`` (host, requestid) projecting
``bytessent`` besides the keys. The items are what the workshop's load_tlog.py writes: the
ten CSV columns, with requestid, hourofday, responsecode and bytessent as numbers.
(``datasets.log_item`` is the tlog_scan item of exercises 2-3: it adds the sharded index keys,
which tlog does not have.)
"""

from __future__ import annotations

from pathlib import Path

from ddbspec import tables
from ddbspec.datasets import LogRow, log_columns, read_log_rows

HOST_GSI = tables.Index(
    "host-requestid-gsi", ("host", "S"), ("requestid", "N"), "INCLUDE", non_key=("bytessent",)
)
# The workshop provisioned tlog 5/5 (raised to 100 WCU in exercise 1) and the replica 10/5;
# locally capacity means nothing, and on AWS the run's capacity option decides.
TLOG = tables.TableDef("tlog", ("requestid", "N"), None, (HOST_GSI,))
TLOG_REPLICA = tables.TableDef("tlog_replica", ("requestid", "N"), None, (HOST_GSI,))

COLUMNS = ("requestid", "host", "date", "hourofday", "timezone", "method", "url",
           "responsecode", "bytessent", "useragent")  # fmt: skip


def tlog_item(row: LogRow) -> dict[str, int | str]:
    """One CSV row as load_tlog.py writes it: the columns, without tlog_scan's shard keys."""
    return log_columns(row, row.requestid)


def tlog_items(path: Path) -> list[dict[str, int | str]]:
    """Every row of a logfile CSV as a tlog item; a bad row is named with its file and line."""
    return [tlog_item(row) for row in read_log_rows(path)]
