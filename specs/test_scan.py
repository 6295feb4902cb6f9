"""Exercise 2, table scan and parallel table scan.

A Scan reads every item of the table, whatever its filter: the FilterExpression only decides
which of the items read are returned. The workshop totals the bytes sent by every request
whose response code is not 200 over the 1M-row tlog_scan, once with one worker paging
through the table (Limit and ExclusiveStartKey) and once with 8 workers, each scanning its
own Segment of TotalSegments. Both must find the same total, the one the CSV rows give
(6054250 at full scale), because the segments are disjoint and together cover the table.
"""

from __future__ import annotations

import itertools

import pytest

from ddbspec.workshop import scans, tlog_scan
from ddbspec.workshop.datasets import FileOrder
from ddbspec.workshop.figures import log_printed


@pytest.fixture(scope="module")
def tlog(target, data_dir, scale, capture_off) -> tlog_scan.LogTable:
    """tlog_scan with the medium files in natural order: every requestid distinct."""
    return tlog_scan.shared(target, data_dir, scale, FileOrder.NATURAL, capture_off())


@pytest.fixture(scope="module")
def page_size(tlog) -> int:
    """The workshop's Limit (10000) at full scale; a smaller table gets a smaller page, so
    that its scan still turns several pages with ExclusiveStartKey."""
    return min(scans.WORKSHOP_PAGE_SIZE, max(1, tlog.model.items // 8))


@pytest.fixture(scope="module")
def sequential(target, tlog, page_size):
    return scans.sequential_scan(target.client(), tlog.name, page_size)


@pytest.fixture(scope="module")
def parallel(target, tlog, page_size):
    return scans.parallel_scan(
        target.client(), tlog.name, scans.WORKSHOP_SEGMENTS, page_size, with_ids=True
    )


def test_sequential_scan_totals_the_bytes_of_every_request_not_200(
    sequential, tlog, scale, figures
):
    model = tlog.model
    figures.record(
        "bytessent where responsecode <> 200, sequential scan",
        sequential.bytessent,
        model.bytes_not_200,
        log_printed("scan bytessent", scale),
    )
    figures.record("items returned by the filter", sequential.count, model.items_not_200)
    figures.record("items read (ScannedCount)", sequential.scanned, model.items)
    assert sequential.bytessent == model.bytes_not_200
    assert sequential.count == model.items_not_200


def test_a_filtered_scan_still_reads_every_item(sequential, tlog):
    assert sequential.scanned == tlog.model.items


def test_the_scan_follows_last_evaluated_key_through_every_page(sequential, tlog, page_size):
    """A page ends at Limit items (or at 1 MB): the whole table takes this many pages at least,
    and the totals above hold only because every one of them was read."""
    assert sequential.pages >= -(-tlog.model.items // page_size) > 1


def test_parallel_scan_finds_the_same_total(parallel, sequential, tlog, scale, figures):
    figures.record(
        f"bytessent where responsecode <> 200, {len(parallel.segments)} segments",
        parallel.bytessent,
        tlog.model.bytes_not_200,
        log_printed("parallel scan bytessent", scale),
    )
    assert parallel.bytessent == sequential.bytessent == tlog.model.bytes_not_200
    assert parallel.count == sequential.count


def test_segments_are_disjoint_and_cover_the_table(parallel, tlog, figures):
    segments = parallel.segments
    assert sorted(s.segment for s in segments) == list(range(scans.WORKSHOP_SEGMENTS))
    for a, b in itertools.combinations(segments, 2):
        assert not a.requestids & b.requestids, f"segments {a.segment} and {b.segment} overlap"
    found = frozenset().union(*(s.requestids for s in segments))
    figures.record("items read by all segments together", parallel.scanned, tlog.model.items)
    assert len(found) == tlog.model.items_not_200
    assert parallel.scanned == tlog.model.items
    assert all(s.scanned > 0 for s in segments), "a segment read nothing: the split is uneven"
