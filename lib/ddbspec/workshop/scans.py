"""Exercise 2: a sequential paginated Scan against a parallel Scan of N segments.

Both answer the workshop's question, the total of bytessent over the requests whose
responsecode is not 200, the way its scripts do: a FilterExpression drops the 200s on the
server, a ProjectionExpression returns only what is summed, and Limit pages through the
table with ExclusiveStartKey. A filter does not make a scan cheaper: every item is read
(ScannedCount) and only the matches are returned (Count). A parallel scan splits the reading
among workers, each with its own Segment of TotalSegments; the segments are disjoint and
together cover the table, which the per-segment counts let a caller check.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ddbspec.workshop.queries import paginate

WORKSHOP_PAGE_SIZE = 10000  # scan_tlog_*.py: pageSize = 10000
WORKSHOP_SEGMENTS = 8  # python scan_tlog_parallel.py tlog_scan 8


@dataclass(frozen=True)
class SegmentTotal:
    """One worker's share: what it summed, found (Count) and read (ScannedCount)."""

    segment: int | None  # None for a sequential scan
    bytessent: int
    count: int
    scanned: int
    pages: int
    requestids: frozenset[int] | None = None  # the matches' ids, when asked for


@dataclass(frozen=True)
class ScanTotal:
    bytessent: int
    count: int
    scanned: int
    pages: int
    seconds: float
    segments: tuple[SegmentTotal, ...]

    @classmethod
    def of(cls, segments: list[SegmentTotal], seconds: float) -> ScanTotal:
        return cls(
            bytessent=sum(s.bytessent for s in segments),
            count=sum(s.count for s in segments),
            scanned=sum(s.scanned for s in segments),
            pages=sum(s.pages for s in segments),
            seconds=seconds,
            segments=tuple(segments),
        )


def not_200_request(
    table: str, page_size: int, with_ids: bool = False, consistent: bool = False
) -> dict[str, Any]:
    """The workshop's Scan: filter out the 200s, return bytessent only (and requestid)."""
    request: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "responsecode <> :ok",
        "ExpressionAttributeValues": {":ok": {"N": "200"}},
        "ProjectionExpression": "bytessent, requestid" if with_ids else "bytessent",
        "Limit": page_size,
    }
    if consistent:
        request["ConsistentRead"] = True
    return request


def scan_segment(
    client: Any,
    table: str,
    page_size: int = WORKSHOP_PAGE_SIZE,
    segment: int | None = None,
    total_segments: int | None = None,
    with_ids: bool = False,
) -> SegmentTotal:
    """Scan the table, or one segment of it, page by page until no LastEvaluatedKey."""
    request = not_200_request(table, page_size, with_ids)
    if segment is not None:
        request |= {"Segment": segment, "TotalSegments": total_segments}
    total = count = scanned = pages = 0
    ids: set[int] = set()
    for page in paginate(client, "scan", **request):
        pages += 1
        count += page["Count"]
        scanned += page["ScannedCount"]
        for item in page["Items"]:
            total += int(item["bytessent"]["N"])
            if with_ids:
                ids.add(int(item["requestid"]["N"]))
    return SegmentTotal(segment, total, count, scanned, pages, frozenset(ids) if with_ids else None)


def sequential_scan(
    client: Any, table: str, page_size: int = WORKSHOP_PAGE_SIZE, with_ids: bool = False
) -> ScanTotal:
    """scan_tlog_simple.py: one worker reads the whole table, page after page."""
    start = time.perf_counter()
    result = scan_segment(client, table, page_size, with_ids=with_ids)
    return ScanTotal.of([result], time.perf_counter() - start)


def parallel_scan(
    client: Any,
    table: str,
    segments: int = WORKSHOP_SEGMENTS,
    page_size: int = WORKSHOP_PAGE_SIZE,
    with_ids: bool = False,
) -> ScanTotal:
    """scan_tlog_parallel.py: ``segments`` threads, each scanning its own segment."""
    if not 1 <= segments <= 1_000_000:
        raise ValueError(f"TotalSegments is {segments}: DynamoDB accepts 1 to 1000000")
    start = time.perf_counter()
    with ThreadPoolExecutor(segments, thread_name_prefix=f"scan-{table}") as pool:
        futures = [
            pool.submit(scan_segment, client, table, page_size, s, segments, with_ids)
            for s in range(segments)
        ]
        results = [f.result() for f in futures]
    return ScanTotal.of(results, time.perf_counter() - start)


def count_combinations(
    client: Any, table: str, attributes: Sequence[str], segments: int = WORKSHOP_SEGMENTS
) -> Counter[tuple[str | None, ...]]:
    """How many items carry each combination of the attributes' values (None where an item
    has none), read by a parallel scan of the base table: what an index keyed on them must
    hold, to compare with what the index answers."""
    names = {f"#a{i}": a for i, a in enumerate(attributes)}

    def segment(s: int) -> Counter[tuple[str | None, ...]]:
        counts: Counter[tuple[str | None, ...]] = Counter()
        request = {
            "TableName": table,
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
            "Segment": s,
            "TotalSegments": segments,
        }
        for page in paginate(client, "scan", **request):
            for item in page["Items"]:
                counts[tuple(_scalar(item.get(a)) for a in attributes)] += 1
        return counts

    with ThreadPoolExecutor(segments, thread_name_prefix=f"count-{table}") as pool:
        return sum(pool.map(segment, range(segments)), Counter())


def _scalar(value: dict[str, str] | None) -> str | None:
    """A wire-format scalar's text ({"N": "200"} -> "200")."""
    return None if value is None else next(iter(value.values()))
