"""What the data says each exercise must return, computed from the workshop's CSV files.

The specs compare what an engine returns with this model, never with a pasted number: if the
data changed, the expectations would change with it. CAPACITY_PRINTED (exercise 1),
LOG_PRINTED (the log table, exercises 2-3) and EMPLOYEE_PRINTED (exercises 4-6) keep the figures
the workshop printed, only to show them beside the run and to check that the model reproduces
them on the full data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ddbspec.capacity.metering import GSI_MESSAGE
from ddbspec.workshop.datasets import (
    COPY_STRIDE,
    FULL_SCALE,
    SHARDS,
    WORKER_STRIDE,
    Employee,
    FileOrder,
    LogTableLayout,
    employee_items,
    request_id,
    shard_of,
)


@dataclass(frozen=True)
class EmployeeFigures:
    rows: tuple[Employee, ...]
    employees: int
    items: int
    by_state: Counter[str]
    by_current_title: Counter[str]
    by_previous_title: Counter[str]
    by_name: Counter[str]
    managers: int

    @property
    def manager_ids(self) -> frozenset[int]:
        return frozenset(e.employeeid for e in self.rows if e.is_manager)

    def by_overload_key(self) -> Counter[str]:
        """Items per value of colA, gsi_overload's key: every item, each type's own value."""
        return Counter(item["colA"] for e in self.rows for item in employee_items(e))

    def employee(self, employeeid: int) -> Employee:
        for e in self.rows:
            if e.employeeid == employeeid:
                return e
        raise LookupError(f"no employee {employeeid} in the data")

    def employee_ids(self) -> list[int]:
        """In file order, so a spec can pick distinct employees reproducibly."""
        return [e.employeeid for e in self.rows]

    def names_where(self, **fields: str) -> set[str]:
        """Names of the employees whose fields have these values, e.g. names_where(state="WA")."""
        return {e.name for e in self.rows if all(getattr(e, k) == v for k, v in fields.items())}

    def hire_dates(self, name: str) -> list[str]:
        """The master items' hire dates of everyone called `name` (what a name query returns)."""
        return sorted(e.hire_date for e in self.rows if e.name == name)

    def by_location(self, state: str, prefix: str = "") -> int:
        """Employees of `state` whose "city:dept" begins with `prefix` (exercise 6's query)."""
        return sum(
            1 for e in self.rows if e.state == state and f"{e.city}:{e.dept}".startswith(prefix)
        )

    def location_prefixes(self) -> list[tuple[str, str]]:
        """Every (state, prefix) exercise 6 can ask: "" for the state, each city, each city:dept."""
        pairs = {(e.state, p) for e in self.rows for p in ("", e.city, f"{e.city}:{e.dept}")}
        return sorted(pairs)


def employee_figures(employees: list[Employee]) -> EmployeeFigures:
    return EmployeeFigures(
        rows=tuple(employees),
        employees=len(employees),
        items=sum(len(employee_items(e)) for e in employees),
        by_state=Counter(e.state for e in employees),
        by_current_title=Counter(e.title for e in employees),
        by_previous_title=Counter(e.previous_title for e in employees),
        by_name=Counter(e.name for e in employees),
        managers=sum(e.is_manager for e in employees),
    )


@dataclass(frozen=True)
class Printed:
    """One figure the workshop printed: its value, the command, and the output it quoted."""

    exercise: int
    value: Any
    command: str
    output: str

    def __str__(self) -> str:
        return self.output


# Exercise 1's loads as the workshop printed them: only shown beside the run, which computes
# its own expectations from the capacity model (its clock and loader are not the workshop's).
CAPACITY_PRINTED: dict[str, Printed] = {
    "small": Printed(
        1,
        500,
        "python load_tlog.py tlog ./data/logfile_small1.csv",
        "RowCount: 500, Total seconds: 3.79715394974",
    ),
    "turn": Printed(
        1,
        1200,
        "python load_tlog.py tlog ./data/logfile_medium1.csv",
        "row: 1200 in 5.44571805 (then ~20 s per 100 rows)",
    ),
    "medium2": Printed(
        1,
        2000,
        "python load_tlog.py tlog ./data/logfile_medium2.csv",
        "RowCount: 2000, Total seconds: 13.3077070713",
    ),
    "gsi": Printed(
        1,
        "ProvisionedThroughputExceededException",
        "python load_tlog_parallel.py tlog_gsi_low",
        "ProvisionedThroughputExceededException: " + GSI_MESSAGE,
    ),
}


EMPLOYEE_PRINTED: dict[str, Printed] = {
    "state WA": Printed(
        4, 46, "python query_employees.py employees state 'WA'", "Total of employees: 46."
    ),
    "current_title Software Engineer": Printed(
        4,
        18,
        "python query_employees.py employees current_title 'Software Engineer'",
        "Total of employees: 18.",
    ),
    "name Dale Marlin": Printed(
        4,
        (1, "2014-10-19"),
        "python query_employees.py employees name 'Dale Marlin'",
        "Employee name: Dale Marlin - hire date: 2014-10-19 / Total of employees: 1.",
    ),
    "managers by table scan": Printed(
        5,
        (84, 4000),
        "python query_managers_table.py employees 100",
        "Managers count: 84. # of records scanned: 4000.",
    ),
    "managers by sparse index": Printed(
        5,
        (84, 84),
        "python query_managers_gsi.py employees 100",
        "Number of managers: 84. # of records scanned: 84.",
    ),
    "TX": Printed(6, 197, "python query_city_dept.py employees TX", "Total of employees: 197."),
    "TX Dallas": Printed(
        6,
        47,
        "python query_city_dept.py employees TX --citydept Dallas",
        "Total of employees: 47.",
    ),
    "TX Dallas:Op": Printed(
        6,
        9,
        "python query_city_dept.py employees TX --citydept Dallas:Op",
        "Total of employees: 9.",
    ),
}


def model_of_printed(f: EmployeeFigures) -> dict[str, Any]:
    """The model's value for each EMPLOYEE_PRINTED figure, under the same keys."""
    return {
        "state WA": f.by_state["WA"],
        "current_title Software Engineer": f.by_current_title["Software Engineer"],
        "name Dale Marlin": (f.by_name["Dale Marlin"], *f.hire_dates("Dale Marlin")),
        # A filtered scan reads every item: each employee is four items, one of them a master.
        "managers by table scan": (f.managers, f.items),
        # Only managers' master items carry is_manager, so the index holds nothing else.
        "managers by sparse index": (f.managers, f.managers),
        "TX": f.by_location("TX"),
        "TX Dallas": f.by_location("TX", "Dallas"),
        "TX Dallas:Op": f.by_location("TX", "Dallas:Op"),
    }


# --- The 1M-row log table tlog_scan (exercises 2 and 3) ---------------------------------------

# Every copy of a row lands on the row's shard only because both id strides are multiples of
# the shard count; the model below counts a row's copies on one shard, so it relies on this.
if WORKER_STRIDE % SHARDS or COPY_STRIDE % SHARDS:  # pragma: no cover
    raise ImportError("the log table's id strides must be multiples of SHARDS")

WORKSHOP_SHARDS = tuple(range(0, SHARDS))  # query_responsecode.py asked range(SHARDS): 0..9
WRITTEN_SHARDS = tuple(range(1, SHARDS + 1))  # the loader wrote requestid % 10 + 1: 1..10
ALL_SHARDS = tuple(range(0, SHARDS + 1))


@dataclass(frozen=True)
class Spread:
    """How items spread over the values of an index's partition key.

    Each value is one partition key, so the largest share is the fraction of every write
    (and of every read of that key) that lands on one key, whatever the table's size.
    """

    keys: int
    items: int
    largest_key: Any
    largest: int

    @property
    def largest_share(self) -> float:
        return self.largest / self.items if self.items else 0.0

    @classmethod
    def of(cls, counts: Mapping[Any, int]) -> Spread:
        counts = {k: n for k, n in counts.items() if n}
        if not counts:
            return cls(0, 0, None, 0)
        key = max(counts, key=lambda k: (counts[k], str(k)))
        return cls(len(counts), sum(counts.values()), key, counts[key])


@dataclass(frozen=True)
class LogFigures:
    """What tlog_scan holds for one scale and file order, counted from the CSV rows.

    Each row contributes the number of its copies that survive (``kept_copies``); no item is
    built. Every copy of a row lands on the same shard, because both id strides (500000 and
    2000) are multiples of the 10 shards: the shard is the CSV requestid's last digit + 1.
    """

    scale: int
    order: FileOrder
    files: tuple[str, ...]  # in worker order
    items: int
    items_not_200: int
    bytes_not_200: int
    by_shard_and_key: Counter[tuple[int, str]]  # (gsi_responsecode_hk, gsi_responsecode_sk)
    by_code: Counter[int]

    def per_shard(self, prefix: str, shards: Iterable[int] = ALL_SHARDS) -> dict[int, int]:
        """Items a query of each shard with begins_with(gsi_responsecode_sk, prefix) finds."""
        counts = dict.fromkeys(shards, 0)
        for (shard, key), n in self.by_shard_and_key.items():
            if shard in counts and key.startswith(prefix):
                counts[shard] += n
        return counts

    def total(self, prefix: str, shards: Iterable[int] = ALL_SHARDS) -> int:
        return sum(self.per_shard(prefix, shards).values())

    def by_shard(self) -> Counter[int]:
        """Items per value of the sharded key gsi_responsecode_hk."""
        counts: Counter[int] = Counter()
        for (shard, _), n in self.by_shard_and_key.items():
            counts[shard] += n
        return counts

    @property
    def sharded_spread(self) -> Spread:
        return Spread.of(self.by_shard())

    @property
    def unsharded_spread(self) -> Spread:
        """The same items under an index keyed on responsecode alone: one key takes most."""
        return Spread.of(self.by_code)


def log_figures(layout: LogTableLayout) -> LogFigures:
    """What the big table the ``layout`` describes holds, counted from its rows."""
    items = items_not_200 = bytes_not_200 = 0
    keys: Counter[tuple[int, str]] = Counter()
    codes: Counter[int] = Counter()
    for worker, rows in enumerate(layout.rows):
        for row in rows:
            kept = sum(len(r) for r in layout.kept_copies(worker, row.requestid))
            if not kept:
                continue
            items += kept
            keys[shard_of(request_id(worker, 0, row.requestid)), row.sort_key] += kept
            codes[row.responsecode] += kept
            if row.responsecode != 200:
                items_not_200 += kept
                bytes_not_200 += kept * row.bytessent
    return LogFigures(
        scale=layout.scale,
        order=layout.order,
        files=tuple(p.name for p in layout.files),
        items=items,
        items_not_200=items_not_200,
        bytes_not_200=bytes_not_200,
        by_shard_and_key=keys,
        by_code=codes,
    )


# What the workshop printed for exercises 2 and 3 (FIGURES.md explains each). The scan figure
# holds for the natural order (1,000,000 distinct items); the 404 figures for the replayed run
# (medium2 on worker 0, worker 0's write kept) with shards 0..9 asked.
LOG_PRINTED: dict[str, Printed] = {
    "scan bytessent": Printed(
        2,
        6054250,
        "python scan_tlog_simple.py tlog_scan",
        "Total bytessent 6054250 in 23.5063591003 seconds",
    ),
    "parallel scan bytessent": Printed(
        2,
        6054250,
        "python scan_tlog_parallel.py tlog_scan 8",
        "Total bytessent 6054250 in 11.1443469524 seconds",
    ),
    "404 per shard 0..9": Printed(
        3,
        (0, 1746, 2496, 1248, 997, 997, 1745, 1497, 3243, 2745),
        "python query_responsecode.py tlog_scan 404",
        "Records with response code 404 in the shardid 0..9 = "
        "0, 1746, 2496, 1248, 997, 997, 1745, 1497, 3243, 2745",
    ),
    "404 total": Printed(
        3,
        16714,
        "python query_responsecode.py tlog_scan 404",
        "Number of records with responsecode 404 is 16714.",
    ),
    "404 on 2017-07-21 per shard 0..9": Printed(
        3,
        (0, 749, 750, 250, 499, 0, 250, 999, 1000, 999),
        "python query_responsecode.py tlog_scan 404 --date 2017-07-21",
        "Records with response code 404 in the shardid 0..9 = "
        "0, 749, 750, 250, 499, 0, 250, 999, 1000, 999",
    ),
    "404 on 2017-07-21 total": Printed(
        3,
        5496,
        "python query_responsecode.py tlog_scan 404 --date 2017-07-21",
        "Number of records with responsecode 404 is 5496.",
    ),
}
NOT_FOUND = "404"
NOT_FOUND_ON = "404#2017-07-21"


def model_of_log_printed(natural: LogFigures, replay: LogFigures) -> dict[str, Any]:
    """The model's value for each LOG_PRINTED figure, under the same keys."""
    return {
        "scan bytessent": natural.bytes_not_200,
        "parallel scan bytessent": natural.bytes_not_200,
        "404 per shard 0..9": tuple(replay.per_shard(NOT_FOUND, WORKSHOP_SHARDS).values()),
        "404 total": replay.total(NOT_FOUND, WORKSHOP_SHARDS),
        "404 on 2017-07-21 per shard 0..9": tuple(
            replay.per_shard(NOT_FOUND_ON, WORKSHOP_SHARDS).values()
        ),
        "404 on 2017-07-21 total": replay.total(NOT_FOUND_ON, WORKSHOP_SHARDS),
    }


def log_printed(key: str, scale: int) -> str:
    """The workshop's output for a log figure, marked as a full-scale figure when the run is
    smaller (the workshop printed it for 250 copies)."""
    text = str(LOG_PRINTED[key])
    return text if scale == FULL_SCALE else f"{text} (at --scale full)"
