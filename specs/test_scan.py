"""Exercise 2, table scan and parallel table scan.

A Scan reads every item of the table, whatever its filter: the FilterExpression only decides
which of the items read are returned. The workshop totals the bytes sent by every request
whose response code is not 200 over the 1M-row tlog_scan, once with one worker paging
through the table (Limit and ExclusiveStartKey) and once with 8 workers, each scanning its
own Segment of TotalSegments. Both must find the same total, the one the CSV rows give
(6054250 at full scale), because the segments are disjoint and together cover the table.
Both pay for every item they read, filtered out or not, so they cost the same but for the
rounding of each page.
"""

from __future__ import annotations

import itertools

import pytest

from ddbspec.capacity.model import read_units
from ddbspec.workshop import scans
from ddbspec.workshop.figures import log_printed


@pytest.fixture(scope="module")
def page_size(tlog_natural) -> int:
    """The workshop's Limit (10000) at full scale; a smaller table gets a smaller page, so
    that its scan still turns several pages with ExclusiveStartKey."""
    return min(scans.WORKSHOP_PAGE_SIZE, max(1, tlog_natural.model.items // 8))


SEQUENTIAL, PARALLEL = "sequential scan", "parallel scan"


@pytest.fixture(scope="module")
def sequential(target, tlog_natural, page_size, ledger):
    metered = ledger.metered(target.client(), SEQUENTIAL)
    return scans.sequential_scan(metered, tlog_natural.name, page_size)


@pytest.fixture(scope="module")
def parallel(target, tlog_natural, page_size, ledger):
    metered = ledger.metered(target.client(), PARALLEL)
    return scans.parallel_scan(
        metered, tlog_natural.name, scans.WORKSHOP_SEGMENTS, page_size, with_ids=True
    )


def test_sequential_scan_totals_the_bytes_of_every_request_not_200(
    sequential, tlog_natural, scale, figures
):
    model = tlog_natural.model
    figures.check(
        "bytessent where responsecode <> 200, sequential scan",
        sequential.bytessent,
        model.bytes_not_200,
        log_printed("scan bytessent", scale),
    )
    figures.check("items returned by the filter", sequential.count, model.items_not_200)


def test_a_filtered_scan_still_reads_every_item(sequential, tlog_natural, figures):
    figures.check("items read (ScannedCount)", sequential.scanned, tlog_natural.model.items)


def test_the_scan_follows_last_evaluated_key_through_every_page(
    sequential, tlog_natural, page_size
):
    """A page ends at Limit items (or at 1 MB): the whole table takes this many pages at least,
    and the totals above hold only because every one of them was read."""
    assert sequential.pages >= -(-tlog_natural.model.items // page_size) > 1


def test_parallel_scan_finds_the_same_total(parallel, sequential, tlog_natural, scale, figures):
    figures.check(
        f"bytessent where responsecode <> 200, {len(parallel.segments)} segments",
        parallel.bytessent,
        tlog_natural.model.bytes_not_200,
        log_printed("parallel scan bytessent", scale),
    )
    assert parallel.bytessent == sequential.bytessent
    assert parallel.count == sequential.count


def test_segments_are_disjoint_and_cover_the_table(parallel, tlog_natural, figures):
    segments = parallel.segments
    assert sorted(s.segment for s in segments) == list(range(scans.WORKSHOP_SEGMENTS))
    for a, b in itertools.combinations(segments, 2):
        assert not a.requestids & b.requestids, f"segments {a.segment} and {b.segment} overlap"
    found = frozenset().union(*(s.requestids for s in segments))
    figures.check("items read by all segments together", parallel.scanned, tlog_natural.model.items)
    assert len(found) == tlog_natural.model.items_not_200
    assert all(s.scanned > 0 for s in segments), "a segment read nothing: the split is uneven"


def test_both_scans_cost_the_same_but_for_each_pages_rounding(
    sequential, parallel, ledger, figures, costs
):
    """DynamoDB rounds each page's bytes up to 4 KB: the parallel scan's extra (and smaller)
    pages may cost half a unit more each, never a unit less than the bytes rounded once."""
    one, many = ledger.spent[SEQUENTIAL], ledger.spent[PARALLEL]
    figures.check("bytes read by the parallel scan", many.bytes, one.bytes)
    figures.check("items read by the parallel scan", many.items, one.items)
    for spend, scan in ((one, sequential), (many, parallel)):
        least = read_units(spend.bytes, consistent=False)
        assert least <= spend.rcu <= least + 0.5 * scan.pages, (spend.rcu, least, scan.pages)
    costs.record(PARALLEL, many, versus=SEQUENTIAL)
    costs.record(SEQUENTIAL, one)
