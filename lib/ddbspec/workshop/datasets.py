"""CSV rows -> items: the workshop's data, checked against its manifest before it is trusted.

Every expected figure is computed from these files, so an edited or truncated CSV would make
the specs agree with the wrong data. The manifest pins each file's row count and sha256.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any

from ddbspec.errors import DataError, UsageError

_CHUNK = 1 << 20
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE = re.compile(r"[0-9]+")


def _digest_and_lines(path: Path) -> tuple[str, int]:
    """Stream the file once: the big log tables must not be read into memory to be checked."""
    sha, lines = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
            lines += chunk.count(b"\n")
    return sha.hexdigest(), lines


def verify_manifest(data_dir: Path) -> dict[str, int]:
    """Check every file the manifest lists; return {file name: rows}."""
    manifest = data_dir / "manifest.json"
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        raise DataError(
            f"{manifest} is missing: restore it from git (git checkout -- data/manifest.json) "
            "or point --data-dir at the project's data folder"
        ) from None
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(
            f"{manifest} is not a valid manifest ({e!r}): restore it from git "
            "(git checkout -- data/manifest.json)"
        ) from None
    fix = "restore it from git (git checkout -- data/{0}) or point --data-dir at an unchanged copy"
    rows: dict[str, int] = {}
    for name, expected in files.items():
        path = data_dir / name
        if not path.is_file():
            raise DataError(f"{path} is missing: " + fix.format(name))
        sha, lines = _digest_and_lines(path)
        differences = []
        if lines != expected["rows"]:
            differences.append(f"{lines} rows where the manifest expects {expected['rows']}")
        if sha != expected["sha256"]:
            differences.append(f"sha256 {sha} where the manifest expects {expected['sha256']}")
        if differences:
            raise DataError(
                f"{path} has been altered ({'; '.join(differences)}): " + fix.format(name)
            )
        rows[name] = lines
    return rows


def read_rows(path: Path, min_cols: int, max_cols: int) -> Iterator[tuple[int, list[str]]]:
    """Yield (1-based line number, row), refusing a row whose width would shift every field."""
    if min_cols == max_cols:
        want = f"{min_cols}"
    elif max_cols == min_cols + 1:
        want = f"{min_cols} or {max_cols}"
    else:
        want = f"{min_cols} to {max_cols}"
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        for row in reader:
            if not min_cols <= len(row) <= max_cols:
                raise DataError(
                    f"{path.name} line {reader.line_num}: expected {want} columns, found {len(row)}"
                )
            yield reader.line_num, row


@dataclass(frozen=True)
class Employee:
    """One row of employees.csv; an 11th column "1" marks a manager."""

    employeeid: int
    name: str
    title: str
    dept: str
    city: str
    state: str
    dob: str
    hire_date: str
    previous_title: str
    previous_title_end: str
    is_manager: bool = False


def _iso_date(value: str) -> bool:
    if not _ISO_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _employee(row: list[str]) -> Employee:
    """One validated row; a ValueError says which field is wrong and what was expected."""
    eid, name, title, dept, city, state, dob, hired, prev, prev_end = row[:10]

    def bad(field: str, value: str, want: str) -> ValueError:
        return ValueError(f"{field} is {value!r}, expected {want}")

    if not _WHOLE.fullmatch(eid):
        raise bad("employeeid", eid, "a whole number")
    texts = {
        "name": name,
        "title": title,
        "dept": dept,
        "city": city,
        "state": state,
        "previous_title": prev,
    }
    for field, value in texts.items():
        # These become key attributes (colA, the overloaded index's name, state, city_dept),
        # and a key attribute cannot be an empty string.
        if not value.strip():
            raise bad(field, value, "a non-empty text")
    for field, value in (("dob", dob), ("hire_date", hired), ("previous_title_end", prev_end)):
        if not _iso_date(value):
            raise bad(field, value, "a date as YYYY-MM-DD")
    if len(row) == 11 and row[10] != "1":
        raise bad("the manager column", row[10], '"1" or no 11th column')
    return Employee(
        int(eid),
        name,
        title,
        dept,
        city,
        state,
        dob,
        hired,
        prev,
        prev_end,
        is_manager=len(row) == 11,
    )


def read_employees(path: Path) -> list[Employee]:
    """Parse and validate employees.csv; every bad field is reported with its file and line."""
    employees = []
    for line, row in read_rows(path, 10, 11):
        try:
            employees.append(_employee(row))
        except ValueError as e:
            raise DataError(f"{path.name} line {line}: {e}") from None
    return employees


def employee_items(e: Employee) -> list[dict[str, Any]]:
    """The workshop's four items per employee, as load_employees.py writes them.

    Only the master item carries state, city_dept and is_manager, so the composite index and
    the sparse manager index hold one item per employee; is_manager is the string "1" because
    the sparse index's key is of type S.
    """
    master: dict[str, Any] = {
        "employeeid": e.employeeid,
        "colA": "master",
        "name": e.name,
        "title": e.title,
        "dept": e.dept,
        "city": e.city,
        "state": e.state,
        "city_dept": f"{e.city}:{e.dept}",
        "dob": e.dob,
        "hire_date": e.hire_date,
        "previous_title": e.previous_title,
        "previous_title_end": e.previous_title_end,
        "lock": "0",
    }
    if e.is_manager:
        master["is_manager"] = "1"
    # The current title began when the previous one ended: the workshop stores that date as the
    # title item's hire_date, which is why one person shows two "hire dates" in exercise 4.
    return [
        master,
        {
            "employeeid": e.employeeid,
            "colA": f"current_title:{e.title}",
            "name": e.name,
            "hire_date": e.previous_title_end,
        },
        {
            "employeeid": e.employeeid,
            "colA": f"previous_title:{e.previous_title}",
            "name": e.name,
            "hire_date": e.hire_date,
        },
        {
            "employeeid": e.employeeid,
            "colA": f"state:{e.state}",
            "name": e.name,
            "hire_date": e.hire_date,
        },
    ]


# --- Server logs (exercises 1-3 and 8) -------------------------------------------------------

_HOUR = re.compile(r"[0-9]{2}")
_STATUS = re.compile(r"[1-5][0-9]{2}")


@dataclass(frozen=True)
class LogRow:
    """One row of a logfile_*.csv.

    ``hourofday`` keeps the CSV's text ("01"): the workshop builds the index sort key from the
    raw text (``row[7] + "#" + row[2] + "#" + row[3]``) but stores the attribute as a number.
    """

    requestid: int
    host: str
    date: str
    hourofday: str
    timezone: str
    method: str
    url: str
    responsecode: int
    bytessent: int
    useragent: str

    @property
    def sort_key(self) -> str:
        """gsi_responsecode_sk: response code, then date, then hour, so that begins_with can
        narrow a response code to a day or an hour."""
        return f"{self.responsecode}#{self.date}#{self.hourofday}"


def _log_row(row: list[str]) -> LogRow:
    """One validated row; a ValueError says which field is wrong and what was expected."""
    rid, host, day, hour, tz, method, url, code, sent, agent = row

    def bad(field: str, value: str, want: str) -> ValueError:
        return ValueError(f"{field} is {value!r}, expected {want}")

    if not _WHOLE.fullmatch(rid):
        raise bad("requestid", rid, "a whole number")
    if not _iso_date(day):
        raise bad("date", day, "a date as YYYY-MM-DD")
    if not _HOUR.fullmatch(hour) or int(hour) > 23:
        raise bad("hourofday", hour, "two digits from 00 to 23")
    if not _STATUS.fullmatch(code):
        raise bad("responsecode", code, "an HTTP status code (100-599)")
    if not _WHOLE.fullmatch(sent):
        raise bad("bytessent", sent, "a whole number")
    # Older engines (and DynamoDB before 2020) refuse empty strings: refuse them here, once.
    for field, value in (
        ("host", host),
        ("timezone", tz),
        ("method", method),
        ("url", url),
        ("useragent", agent),
    ):
        if not value:
            raise bad(field, value, "a non-empty text")
    return LogRow(int(rid), host, day, hour, tz, method, url, int(code), int(sent), agent)


def read_log_rows(path: Path) -> Iterator[LogRow]:
    """Stream and validate a log file row by row; a bad field is reported with file and line.

    A generator, so a caller that makes a million items from it never holds the file.
    """
    for line, row in read_rows(path, 10, 10):
        try:
            yield _log_row(row)
        except ValueError as e:
            raise DataError(f"{path.name} line {line}: {e}") from None


# The workshop's loader (load_tlog_parallel.py): one thread per medium file, each row written
# 250 times as requestid = thread * 500000 + copy * 2000 + csv requestid.
WORKER_STRIDE = 500_000
COPY_STRIDE = 2_000
SHARDS = 10
FULL_SCALE = 250


def checked_scale(copies: int, given: str | None = None) -> int:
    """``copies`` if each row can be copied that many times; else a UsageError naming the
    limits (``given``: what the user typed). More copies would reach the next worker's ids."""
    if not 1 <= copies <= FULL_SCALE:
        raise UsageError(
            f"{given if given is not None else copies!r}: the scale is the number of copies of "
            f"each medium log row, a whole number from 1 to {FULL_SCALE} ({FULL_SCALE}, or "
            "'full', is the workshop's 1,000,000-item table; more would repeat requestids and "
            "so overwrite items)"
        )
    return copies


def request_id(worker: int, copy: int, csv_requestid: int) -> int:
    return worker * WORKER_STRIDE + copy * COPY_STRIDE + csv_requestid


def shard_of(requestid: int) -> int:
    """gsi_responsecode_hk: the workshop's shards are 1..10 (its query asked 0..9)."""
    return requestid % SHARDS + 1


def log_columns(row: LogRow, requestid: int) -> dict[str, Any]:
    """The ten CSV columns as the workshop's loaders write them (int for the numbers)."""
    return {
        "requestid": requestid,
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


def log_item(row: LogRow, worker: int = 0, copy: int = 0) -> dict[str, Any]:
    """The workshop's tlog_scan item for copy ``copy`` of a row, as loader worker ``worker``
    writes it: the columns and the shard keys. Every form of the item derives from this."""
    requestid = request_id(worker, copy, row.requestid)
    return {
        **log_columns(row, requestid),
        "gsi_responsecode_hk": shard_of(requestid),
        "gsi_responsecode_sk": row.sort_key,
    }


def log_wire_items(
    row: LogRow, worker: int = 0, copies: Iterable[int] = (0,)
) -> Iterator[dict[str, dict[str, str]]]:
    """``log_item`` for each of ``copies``, in DynamoDB's wire format.

    Numbers are N and texts S, as boto3's TypeSerializer would make them, without its cost
    (several times that of the write itself on a fast local engine): a row's attributes are
    converted once; each copy only renumbers its requestid and shard, the hot path of the
    million-item loads.
    """
    shared = {
        k: {"N": str(v)} if type(v) is int else {"S": v} for k, v in log_item(row, worker).items()
    }
    for copy in copies:
        requestid = request_id(worker, copy, row.requestid)
        yield {
            **shared,
            "requestid": {"N": str(requestid)},
            "gsi_responsecode_hk": {"N": str(shard_of(requestid))},
        }


def tlog_items(path: Path) -> list[dict[str, Any]]:
    """Exercise 8's tlog items, as the workshop's load_tlog.py writes them: the columns of every
    row of a logfile CSV, without tlog_scan's shard keys; a bad row is named with its file and
    line."""
    return [log_columns(row, row.requestid) for row in read_log_rows(path)]


class FileOrder(str, Enum):
    """Which medium file each loader worker gets.

    NATURAL: by name, medium1 on worker 0: 250 copies of both files, 1,000,000 distinct ids.
    REPLAY: the workshop's run. Its loader took the files in directory (glob) order, which put
    medium2 on worker 0: worker 0 then writes ids 2001..502000 and worker 1 500001..1000000,
    so 2000 ids are written twice. The workshop's printed figures need worker 0's write to be
    the one kept for every such id (see FIGURES.md); the replay decides it that way.
    """

    NATURAL = "natural"
    REPLAY = "replay"

    def arrange(self, files: Sequence[Path]) -> list[Path]:
        by_name = sorted(files, key=lambda p: p.name)
        return by_name if self is FileOrder.NATURAL else by_name[::-1]


@dataclass(frozen=True)
class LogTableLayout:
    """Where each copy of each row lands in the big table, and which writes survive.

    Worker ``w`` writes copy ``c`` of the row with CSV requestid ``r`` as
    ``request_id(w, c, r)``. When two workers write the same id, the lower worker's write is
    kept (the replay's rule). Everything here is arithmetic on the CSV rows, each file read
    once: nothing holds the million items.
    """

    files: tuple[Path, ...]  # in worker order
    scale: int
    order: FileOrder
    rows: tuple[tuple[LogRow, ...], ...]  # each worker's file

    @classmethod
    def of(cls, files: Sequence[Path], scale: int, order: FileOrder | str) -> LogTableLayout:
        checked_scale(scale)
        arranged = FileOrder(order).arrange(files)
        rows = tuple(tuple(read_log_rows(f)) for f in arranged)
        return cls(tuple(arranged), scale, FileOrder(order), rows)

    @cached_property
    def csv_ids(self) -> tuple[frozenset[int], ...]:
        """The requestids of each worker's file."""
        return tuple(frozenset(r.requestid for r in rows) for rows in self.rows)

    @cached_property
    def _by_residue(self) -> tuple[dict[int, list[int]], ...]:
        """Each worker's CSV requestids by their residue modulo COPY_STRIDE: only those can
        produce a given id, so an overlap check looks at a handful of rows, not the file."""
        tables = []
        for ids in self.csv_ids:
            table: dict[int, list[int]] = {}
            for s in ids:
                table.setdefault(s % COPY_STRIDE, []).append(s)
            tables.append(table)
        return tuple(tables)

    def kept_copies(self, worker: int, csv_requestid: int) -> list[range]:
        """The copies of this row whose write survives, as ranges of copy numbers.

        Copy ``c`` is lost when an earlier worker ``v`` writes the same id: some row ``s`` of
        its file and copy ``c + d`` with ``d = ((worker - v) * WORKER_STRIDE + r - s) /
        COPY_STRIDE`` a whole number and ``0 <= c + d < scale``; each such ``s`` removes one
        interval of copies.
        """
        lost: list[tuple[int, int]] = []
        for earlier in range(worker):
            offset = (worker - earlier) * WORKER_STRIDE + csv_requestid
            for s in self._by_residue[earlier].get(offset % COPY_STRIDE, ()):
                d = (offset - s) // COPY_STRIDE
                lo, hi = max(0, -d), min(self.scale, self.scale - d)
                if lo < hi:
                    lost.append((lo, hi))
        kept, start = [], 0
        for lo, hi in sorted(lost):
            if lo > start:
                kept.append(range(start, lo))
            start = max(start, hi)
        if start < self.scale:
            kept.append(range(start, self.scale))
        return kept

    def kept(self, worker: int, csv_requestid: int) -> Iterator[int]:
        """The copy numbers of this row whose write survives, in order."""
        return itertools.chain.from_iterable(self.kept_copies(worker, csv_requestid))


def log_table_items(
    layout: LogTableLayout, worker: int | None = None
) -> Iterator[dict[str, dict[str, str]]]:
    """The big table tlog_scan, item by item, in wire format; each id once.

    Worker by worker (files in the layout's order), row by row, copy by copy, as the
    workshop's loader wrote them; or only ``worker``'s items. An id two workers would write
    comes from the lower worker only, so any number of loader threads build the same table.
    Streams: it holds the layout's rows, never the items.
    """
    workers = range(len(layout.files)) if worker is None else (worker,)
    for w in workers:
        for row in layout.rows[w]:
            yield from log_wire_items(row, w, layout.kept(w, row.requestid))
