"""scans and the sharded query: the requests the workshop's scripts make, every page followed,
checked against stub clients."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ddbspec.workshop import queries, scans


class ScanStub:
    """A table of (requestid, responsecode, bytessent) answering Scan pages like DynamoDB:
    Limit items read per page, the filter applied after reading, segments by id."""

    def __init__(self, rows: list[tuple[int, int, int]]) -> None:
        self.rows, self.asked = rows, []
        self.lock = threading.Lock()

    def scan(self, **kw: Any) -> dict[str, Any]:
        with self.lock:
            self.asked.append(dict(kw))
        rows = self.rows
        if "Segment" in kw:
            rows = [r for r in rows if r[0] % kw["TotalSegments"] == kw["Segment"]]
        start = kw.get("ExclusiveStartKey", {}).get("i", 0)
        read = rows[start : start + kw["Limit"]]
        ok = int(kw["ExpressionAttributeValues"][":ok"]["N"])
        items = [
            {"bytessent": {"N": str(b)}, "requestid": {"N": str(r)}} for r, c, b in read if c != ok
        ]
        page = {"Items": items, "Count": len(items), "ScannedCount": len(read)}
        if start + kw["Limit"] < len(rows):
            page["LastEvaluatedKey"] = {"i": start + kw["Limit"]}
        return page


ROWS = [(i, 404 if i % 7 == 0 else 200, i * 10) for i in range(1, 101)]
NOT_200 = [r for r in ROWS if r[1] != 200]


def test_the_sequential_scan_filters_projects_and_pages() -> None:
    stub = ScanStub(ROWS)
    result = scans.sequential_scan(stub, "t", page_size=30)
    assert result.bytessent == sum(b for _, _, b in NOT_200)
    assert (result.count, result.scanned, result.pages) == (len(NOT_200), 100, 4)
    first = stub.asked[0]
    assert first["FilterExpression"] == "responsecode <> :ok"
    assert first["ProjectionExpression"] == "bytessent"
    assert "ExclusiveStartKey" not in first
    assert [a.get("ExclusiveStartKey") for a in stub.asked[1:]] == [{"i": 30}, {"i": 60}, {"i": 90}]


@pytest.mark.parametrize("segments", [1, 3, 8])
def test_the_parallel_scan_splits_and_adds_up(segments: int) -> None:
    stub = ScanStub(ROWS)
    result = scans.parallel_scan(stub, "t", segments, page_size=5, with_ids=True)
    assert result.bytessent == sum(b for _, _, b in NOT_200)
    assert result.scanned == 100
    assert sorted(s.segment for s in result.segments) == list(range(segments))
    assert {(a["Segment"], a["TotalSegments"]) for a in stub.asked} == {
        (s, segments) for s in range(segments)
    }
    ids = [i for s in result.segments for i in s.requestids]
    assert sorted(ids) == [r for r, _, _ in NOT_200]
    assert all(a["ProjectionExpression"] == "bytessent, requestid" for a in stub.asked)


def test_a_segment_count_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="TotalSegments is 0"):
        scans.parallel_scan(ScanStub(ROWS), "t", 0)


class QueryStub:
    """gsi_responsecode answering Select=COUNT queries a page of Limit items at a time."""

    def __init__(self, keys: list[tuple[int, str]]) -> None:
        self.keys, self.asked = keys, []
        self.lock = threading.Lock()

    def query(self, **kw: Any) -> dict[str, Any]:
        with self.lock:
            self.asked.append(dict(kw))
        values = kw["ExpressionAttributeValues"]
        shard = int(values[":shard"]["N"])
        prefix = values.get(":prefix", {"S": ""})["S"]
        found = [k for s, k in self.keys if s == shard and k.startswith(prefix)]
        start = kw.get("ExclusiveStartKey", {}).get("i", 0)
        limit = kw.get("Limit", len(found) or 1)
        page = {"Count": len(found[start : start + limit])}
        if start + limit < len(found):
            page["LastEvaluatedKey"] = {"i": start + limit}
        return page


KEYS = [
    (s, f"{code}#2017-07-2{d}#01")
    for s in range(1, 11)
    for code in (200, 404)
    for d in (0, 1)
    for _ in range(s)
]


def test_the_sharded_query_asks_each_shard_with_begins_with() -> None:
    stub = QueryStub(KEYS)
    found = queries.count_by_shard(stub, "t", "404#2017-07-21", range(0, 10))
    assert found.counts == {s: s for s in range(10)}
    assert found.total == 45
    request = stub.asked[0]
    assert request["IndexName"] == "gsi_responsecode"
    assert request["KeyConditionExpression"] == (
        "gsi_responsecode_hk = :shard AND begins_with(gsi_responsecode_sk, :prefix)"
    )
    assert request["Select"] == "COUNT"


def test_the_sharded_query_follows_every_page() -> None:
    stub = QueryStub(KEYS)
    found = queries.count_by_shard(stub, "t", "404", range(1, 11), page_size=3)
    assert found.counts == {s: 2 * s for s in range(1, 11)}
    assert found.pages[10] == 7  # 20 items, 3 a page
    assert found.pages[1] == 1


def test_no_prefix_counts_the_whole_shard_without_an_empty_begins_with() -> None:
    assert queries.shard_query("t", 3, None)["KeyConditionExpression"] == (
        "gsi_responsecode_hk = :shard"
    )
    assert queries.shard_query("t", 3, "")["ExpressionAttributeValues"] == {":shard": {"N": "3"}}
    found = queries.count_by_shard(QueryStub(KEYS), "t", None, [10])
    assert found.counts == {10: 40}


def test_count_combinations_reads_the_table_by_segments() -> None:
    class Stub:
        def __init__(self) -> None:
            self.asked: list[dict[str, Any]] = []
            self.lock = threading.Lock()

        def scan(self, **kw: Any) -> dict[str, Any]:
            with self.lock:
                self.asked.append(kw)
            items = [
                {"gsi_responsecode_hk": {"N": str(i % 10 + 1)}, "responsecode": {"N": "200"}}
                for i in range(kw["Segment"], 100, kw["TotalSegments"])
            ]
            return {"Items": items, "Count": len(items), "ScannedCount": len(items)}

    stub = Stub()
    counts = scans.count_combinations(stub, "t", ["gsi_responsecode_hk", "responsecode"], 4)
    assert counts == {(str(s), "200"): 10 for s in range(1, 11)}
    assert stub.asked[0]["ProjectionExpression"] == "#a0, #a1"
    assert len(stub.asked) == 4
    assert scans.count_combinations(stub, "t", ["responsecode", "missing"], 4) == {
        ("200", None): 100
    }
