"""Exercise 3, GSI write sharding.

An index keyed on the response code would put most of the log on one key (the 200s) and so
on one partition. The workshop keys ``gsi_responsecode`` on a shard instead,
``requestid % 10 + 1``, with "responsecode#date#hourofday" as the sort key: writes spread
evenly over ten keys, and a read of one response code asks every shard with begins_with on
the sort key and adds up.

Two scenarios, both against the figures the CSV rows give:

- the corrected pattern: the files in natural order, every shard 1..10 asked, every page
  followed: 18000 404s, 6000 on 2017-07-21, at full scale;
- the workshop's run replayed: medium2 on the first loader worker (so 2000 requestids are
  written twice and the first worker's write is kept) and shards 0..9 asked, as its query
  script did: 16714 and 5496 at full scale, shard by shard as printed.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from ddbspec.capacity import costs as costs_of
from ddbspec.capacity.model import query_units
from ddbspec.workshop import queries, scans, tlog_scan
from ddbspec.workshop.datasets import FULL_SCALE, FileOrder
from ddbspec.workshop.figures import (
    LOG_PRINTED,
    NOT_FOUND,
    NOT_FOUND_ON,
    WORKSHOP_SHARDS,
    WRITTEN_SHARDS,
    Spread,
    log_printed,
)
from ddbspec.workshop.tables import GSI_RESPONSECODE, TLOG_SCAN

PREFIXES = {NOT_FOUND: "404", NOT_FOUND_ON: "404 on 2017-07-21"}


@pytest.fixture(scope="module")
def replay(target, data_dir, scale, capture_off) -> tlog_scan.LogTable:
    return tlog_scan.shared(target, data_dir, scale, FileOrder.REPLAY, capture_off())


@pytest.mark.parametrize("prefix", list(PREFIXES))
def test_corrected_every_shard_asked(target, tlog_natural, prefix, figures):
    found = queries.count_by_shard(target.client(), tlog_natural.name, prefix, WRITTEN_SHARDS)
    expected = tlog_natural.model.per_shard(prefix, WRITTEN_SHARDS)
    figures.check(
        f"{PREFIXES[prefix]}, shards 1..10 (corrected)", found.total, sum(expected.values())
    )
    assert found.counts == expected


@pytest.mark.parametrize("prefix", list(PREFIXES))
def test_workshop_run_replayed_shards_0_to_9(target, replay, scale, prefix, figures):
    found = queries.count_by_shard(target.client(), replay.name, prefix, WORKSHOP_SHARDS)
    expected = replay.model.per_shard(prefix, WORKSHOP_SHARDS)
    label = PREFIXES[prefix]
    per_shard, total = f"{label} per shard 0..9", f"{label} total"
    figures.check(
        f"{label}, shards 0..9 (replay)",
        found.total,
        sum(expected.values()),
        log_printed(total, scale),
    )
    figures.check(
        f"{label} per shard 0..9 (replay)",
        list(found.counts.values()),
        list(expected.values()),
        log_printed(per_shard, scale),
    )
    assert found.counts == expected
    if scale == FULL_SCALE:  # the model reproduces the printed figures there (tests/)
        assert tuple(found.counts.values()) == LOG_PRINTED[per_shard].value
        assert found.total == LOG_PRINTED[total].value


def test_the_workshop_asked_an_empty_shard_and_missed_one(target, replay):
    """Shards are 1..10; the query asked 0..9: shard 0 is empty, shard 10's 404s are missed."""
    found = queries.count_by_shard(target.client(), replay.name, NOT_FOUND, (0, 10))
    assert found.counts[0] == 0
    assert found.counts[10] == replay.model.per_shard(NOT_FOUND)[10] > 0


@pytest.mark.parametrize("prefix", list(PREFIXES))
def test_every_page_is_followed(target, tlog_natural, prefix):
    """A page ends at Limit items (or 1 MB): the counts hold only if every page is read."""
    expected = tlog_natural.model.per_shard(prefix, WRITTEN_SHARDS)
    page_size = max(1, max(expected.values()) // 4)
    found = queries.count_by_shard(
        target.client(), tlog_natural.name, prefix, WRITTEN_SHARDS, page_size=page_size
    )
    assert found.counts == expected
    assert max(found.pages.values()) >= 4


@pytest.fixture(scope="module")
def through_index(target, tlog_natural) -> dict[tuple[int, int], int]:
    """Items per (response code, shard 1..10), each counted by queries of gsi_responsecode."""
    client, name = target.client(), tlog_natural.name
    return {
        (code, shard): n
        for code in sorted(tlog_natural.model.by_code)
        for shard, n in queries.count_by_shard(
            client, name, f"{code}#", WRITTEN_SHARDS
        ).counts.items()
    }


def test_the_index_holds_every_item_of_every_code_on_every_shard(
    target, tlog_natural, through_index, figures
):
    """Beyond the workshop: each response code in the data, on each shard, counted through the
    index, is what the table holds with that code and shard, and what the data says. (dynalite
    4.0.0 let entries with one index key overwrite each other; the suite fixes it at install,
    ``engines.dynalite.INDEX_KEYS``.)"""
    columns = ["responsecode", "gsi_responsecode_hk"]
    in_table = scans.count_combinations(target.client(), tlog_natural.name, columns)
    table = {key: in_table[(str(key[0]), str(key[1]))] for key in through_index}
    model = {
        (code, shard): n
        for code in sorted(tlog_natural.model.by_code)
        for shard, n in tlog_natural.model.per_shard(f"{code}#", WRITTEN_SHARDS).items()
    }
    figures.check(
        "items in the table, not in the index",
        sum(in_table.values()) - sum(through_index.values()),
        0,
    )
    assert sum(table.values()) == sum(in_table.values())  # no item outside the keys asked
    assert through_index == table == model


def test_shards_spread_the_writes_that_one_response_code_key_would_concentrate(
    tlog_natural, through_index, figures
):
    """The write side: each shard key takes a tenth of the items, where an index keyed on
    responsecode alone would put most of them (the 200s) on one key, one partition. Counted
    through the index, as the workshop counts."""
    model = tlog_natural.model
    per_shard, per_code = Counter(), Counter()
    for (code, shard), n in through_index.items():
        per_shard[shard] += n
        per_code[code] += n
    sharded, unsharded = Spread.of(per_shard), Spread.of(per_code)
    shards = sorted(per_shard)
    figures.check(
        "items per shard 1..10",
        [per_shard[s] for s in shards],
        [model.by_shard()[s] for s in shards],
    )
    figures.check(
        "busiest key's share, sharded key (10 shards)",
        f"{sharded.largest_share:.1%}",
        f"{model.sharded_spread.largest_share:.1%}",
    )
    figures.check(
        f"busiest key's share, responsecode as key ({unsharded.largest_key})",
        f"{unsharded.largest_share:.1%}",
        f"{model.unsharded_spread.largest_share:.1%}",
    )
    assert per_shard == dict(model.by_shard())
    assert per_code == dict(model.by_code)
    assert sharded.largest_share < unsharded.largest_share


SHARDED, ONE_KEY = "404s from ten shards", "404s under one key"
INDEXED, TABLE_ONLY = "load with gsi_responsecode", "load without the index"


@pytest.fixture(scope="module")
def sharded_404s(target, tlog_natural, ledger) -> queries.ShardCounts:
    metered = ledger.metered(target.client(), SHARDED)
    return queries.count_by_shard(metered, tlog_natural.name, NOT_FOUND, WRITTEN_SHARDS)


def test_reading_one_code_from_ten_shards_costs_a_rounding_per_shard(
    sharded_404s, tlog_natural, ledger, figures, costs
):
    """The read side of sharding. Each shard's query rounds its entries' bytes up to 4 KB
    (KEYS_ONLY entries, eventually consistent), where one key would round them once: the ten
    queries cost at most half a unit per shard more than one would. Select=COUNT returns no
    item, but pays for every entry it counts."""
    spend = ledger.spent[SHARDED]
    sizes = tlog_scan.entry_sizes(tlog_natural.layout, NOT_FOUND, WRITTEN_SHARDS)
    assert sharded_404s.counts == {shard: len(s) for shard, s in sizes.items()}
    assert all(sum(s) <= costs_of.PAGE_BYTES for s in sizes.values()), "a shard needs pages"
    figures.check("index entries the ten queries read", spend.items, sharded_404s.total)
    figures.check("bytes of those entries", spend.bytes, sum(map(sum, sizes.values())))
    per_shard = sum(query_units(s, consistent=False) for s in sizes.values())
    figures.check("read units, ten shards", spend.rcu, per_shard)
    one_key = costs_of.query_spend("one key", [n for s in sizes.values() for n in s])
    assert one_key.rcu <= spend.rcu <= one_key.rcu + 0.5 * len(sizes)
    assert spend.read == {GSI_RESPONSECODE.name: spend.rcu}
    costs.record(SHARDED, spend, versus=ONE_KEY)
    costs.record(ONE_KEY, one_key)


def test_the_index_doubles_what_loading_the_log_costs(tlog_natural, figures, costs):
    """The write side: every item carries the shard key, so gsi_responsecode takes an entry
    for each, and an entry of three keys is under 1 KB, one unit, as the item itself is: the
    index doubles the load's write units, whichever key it spreads them over."""
    layout, items = tlog_natural.layout, tlog_natural.model.items
    indexed = tlog_scan.load_spend(layout)
    table_only = tlog_scan.load_spend(layout, dataclasses.replace(TLOG_SCAN, indexes=()))
    figures.check("items the load wrote", indexed.written, items)
    figures.check("write units gsi_responsecode adds", indexed.write[GSI_RESPONSECODE.name], items)
    figures.check("write units of the items alone", table_only.wcu, items)
    assert indexed.wcu == 2 * table_only.wcu
    costs.record(INDEXED, indexed, versus=TABLE_ONLY)
    costs.record(TABLE_ONLY, table_only)
