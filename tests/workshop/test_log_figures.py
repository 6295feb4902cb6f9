"""figures, the log table: every printed figure of exercises 2 and 3 follows from counting
CSV rows, for the workshop's replayed run and for the corrected pattern."""

from __future__ import annotations

from collections import Counter

import pytest

from ddbspec.workshop.datasets import FileOrder, LogTableLayout, log_table_items
from ddbspec.workshop.figures import (
    ALL_SHARDS,
    LOG_PRINTED,
    NOT_FOUND,
    NOT_FOUND_ON,
    WRITTEN_SHARDS,
    LogFigures,
    Spread,
    log_figures,
    model_of_log_printed,
)
from ddbspec.workshop.tlog_scan import MEDIUM_FILES

from suite import DATA

MEDIUM = [DATA / name for name in MEDIUM_FILES]


@pytest.fixture(scope="module")
def natural() -> LogFigures:
    return log_figures(LogTableLayout.of(MEDIUM, 250, FileOrder.NATURAL))


@pytest.fixture(scope="module")
def replay() -> LogFigures:
    return log_figures(LogTableLayout.of(MEDIUM, 250, FileOrder.REPLAY))


@pytest.mark.parametrize("name", list(LOG_PRINTED))
def test_the_model_reproduces_the_printed_figure(natural, replay, name: str) -> None:
    printed = LOG_PRINTED[name]
    assert model_of_log_printed(natural, replay)[name] == printed.value, (
        f"{printed.command}: {printed}"
    )


def test_the_replay_holds_998000_items_and_misses_shard_10(replay: LogFigures) -> None:
    assert replay.items == 998_000
    assert replay.per_shard(NOT_FOUND)[0] == 0
    assert replay.per_shard(NOT_FOUND)[10] == 1247
    assert replay.per_shard(NOT_FOUND_ON)[10] == 499


def test_the_corrected_pattern_finds_18000_and_6000(natural: LogFigures) -> None:
    assert natural.items == 1_000_000
    assert natural.total(NOT_FOUND, WRITTEN_SHARDS) == 18_000
    assert natural.total(NOT_FOUND_ON, WRITTEN_SHARDS) == 6_000
    assert natural.bytes_not_200 == LOG_PRINTED["scan bytessent"].value


def test_the_two_orders_differ_only_by_the_overwritten_ids(natural, replay) -> None:
    # 2000 ids of worker 1 (copy 0 of medium1) are lost to worker 0's copy 249 of medium2
    assert natural.items - replay.items == 2000
    assert natural.total(NOT_FOUND) - replay.total(NOT_FOUND) == 39  # medium1's 404 rows


@pytest.mark.parametrize("order", list(FileOrder))
@pytest.mark.parametrize("scale", [1, 3])
def test_the_model_agrees_with_the_items_themselves(order: FileOrder, scale: int) -> None:
    layout = LogTableLayout.of(MEDIUM, scale, order)
    model = log_figures(layout)
    items = list(log_table_items(layout))
    not_200 = [i for i in items if i["responsecode"]["N"] != "200"]
    assert model.items == len(items) == 4000 * scale
    assert model.items_not_200 == len(not_200)
    assert model.bytes_not_200 == sum(int(i["bytessent"]["N"]) for i in not_200)
    keys = Counter(
        (int(i["gsi_responsecode_hk"]["N"]), i["gsi_responsecode_sk"]["S"]) for i in items
    )
    assert model.by_shard_and_key == keys
    assert model.by_code == Counter(int(i["responsecode"]["N"]) for i in items)


def test_per_shard_counts_begins_with_on_the_sort_key() -> None:
    model = log_figures(LogTableLayout.of(MEDIUM, 1, FileOrder.NATURAL))
    everything = model.per_shard("", ALL_SHARDS)
    assert sum(everything.values()) == model.items and everything[0] == 0
    day = model.total("404#2017-07-21")
    assert 0 < day < model.total("404") == model.by_code[404]


def test_sharding_spreads_what_one_response_code_key_concentrates(natural: LogFigures) -> None:
    sharded, unsharded = natural.sharded_spread, natural.unsharded_spread
    assert sharded.keys == 10 and sharded.largest_share == pytest.approx(0.1)
    assert unsharded.largest_key == 200
    assert unsharded.largest == natural.by_code[200]
    assert unsharded.largest_share > 0.8


def test_spread_of_nothing() -> None:
    assert Spread.of({}) == Spread(0, 0, None, 0)
    assert Spread.of({"a": 0}).largest_share == 0.0
    assert Spread.of({"a": 1, "b": 3}) == Spread(2, 4, "b", 3)
