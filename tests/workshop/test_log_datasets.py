"""datasets, server logs: rows validated with file and line, items as the workshop wrote them,
and the big table built row by row without ever holding it."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest
from boto3.dynamodb.types import TypeSerializer

from ddbspec.errors import DataError, UsageError
from ddbspec.workshop.datasets import (
    FileOrder,
    LogRow,
    LogTableLayout,
    log_item,
    log_table_items,
    log_wire_items,
    read_log_rows,
    request_id,
    shard_of,
)
from ddbspec.workshop.tlog_scan import MEDIUM_FILES

from suite import DATA

MEDIUM = [DATA / name for name in MEDIUM_FILES]
ROW = (
    '7,192.168.1.198,2017-07-20,20,GMT-0700,GET,"/favicon.ico",404,146,'
    '"Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_5_7; en-us)"'
)


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "logfile_test.csv"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_a_row_becomes_a_log_row(tmp_path: Path) -> None:
    (row,) = read_log_rows(write(tmp_path, ROW))
    assert row == LogRow(
        7,
        "192.168.1.198",
        "2017-07-20",
        "20",
        "GMT-0700",
        "GET",
        "/favicon.ico",
        404,
        146,
        "Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_5_7; en-us)",
    )
    assert row.sort_key == "404#2017-07-20#20"


def test_every_workshop_log_file_reads() -> None:
    for name in (
        "logfile_small1.csv",
        "logfile_medium1.csv",
        "logfile_medium2.csv",
        "logfile_stream.csv",
    ):
        rows = list(read_log_rows(DATA / name))
        assert len({r.requestid for r in rows}) == len(rows)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (ROW.replace("7,", "x7,", 1), "requestid is 'x7', expected a whole number"),
        (ROW.replace("2017-07-20", "2017-13-20"), "date is '2017-13-20', expected a date"),
        (ROW.replace(",20,", ",24,"), "hourofday is '24', expected two digits from 00 to 23"),
        (ROW.replace(",404,", ",40,"), "responsecode is '40', expected an HTTP status code"),
        (ROW.replace(",146,", ",-1,"), "bytessent is '-1', expected a whole number"),
        (ROW.replace("GET", ""), "method is '', expected a non-empty text"),
        (ROW + ",extra", "expected 10 columns, found 11"),
    ],
)
def test_a_bad_field_is_reported_with_file_and_line(tmp_path: Path, bad: str, message: str) -> None:
    path = write(tmp_path, ROW, bad)
    with pytest.raises(DataError, match=r"^logfile_test\.csv line 2: ") as error:
        list(read_log_rows(path))
    assert message in str(error.value)


def test_rows_are_streamed(tmp_path: Path) -> None:
    path = write(tmp_path, ROW, "broken")
    rows = read_log_rows(path)
    assert next(rows).requestid == 7  # the bad second line is not read yet
    with pytest.raises(DataError, match="line 2"):
        next(rows)


def test_the_item_has_the_workshops_attributes_and_index_keys(tmp_path: Path) -> None:
    (row,) = read_log_rows(write(tmp_path, ROW))
    item = log_item(row, worker=1)  # requestid 500_007
    assert item["requestid"] == 500_007 and item["hourofday"] == 20
    assert (item["responsecode"], item["bytessent"]) == (404, 146)
    assert item["gsi_responsecode_hk"] == 8  # 500007 % 10 + 1
    assert item["gsi_responsecode_sk"] == "404#2017-07-20#20"


def test_the_wire_item_is_what_boto3_would_send() -> None:
    serializer = TypeSerializer()
    for row in itertools.islice(read_log_rows(MEDIUM[1]), 50):
        item = log_item(row, 1, 3)
        assert item["requestid"] == request_id(1, 3, row.requestid)
        wire = {k: serializer.serialize(v) for k, v in item.items()}
        assert next(log_wire_items(row, 1, [3])) == wire
        copies = [
            {k: serializer.serialize(v) for k, v in log_item(row, 1, c).items()} for c in (0, 1, 7)
        ]
        assert list(log_wire_items(row, 1, (0, 1, 7))) == copies


def test_an_hour_with_a_leading_zero_is_a_number_in_the_item_and_text_in_the_key() -> None:
    row = next(read_log_rows(MEDIUM[1]))  # 2001,...,2017-07-21,01,...
    assert next(log_wire_items(row))["hourofday"] == {"N": "1"}  # requestid 2001
    assert next(log_wire_items(row))["gsi_responsecode_sk"]["S"].endswith("#01")


def test_request_ids_and_shards_follow_the_workshop_loader() -> None:
    assert request_id(0, 0, 1) == 1
    assert request_id(1, 249, 2000) == 1_000_000
    assert request_id(0, 249, 4000) == 502_000
    assert {shard_of(i) for i in range(1, 1001)} == set(range(1, 11))


def test_orders_put_the_files_on_workers() -> None:
    assert [p.name for p in FileOrder.NATURAL.arrange(MEDIUM[::-1])] == [
        "logfile_medium1.csv",
        "logfile_medium2.csv",
    ]
    assert [p.name for p in FileOrder("replay").arrange(MEDIUM)] == [
        "logfile_medium2.csv",
        "logfile_medium1.csv",
    ]


def test_a_scale_out_of_range_is_refused() -> None:
    for scale in (0, -1, 251):
        with pytest.raises(UsageError, match=r"scale is .* a whole number from 1 to 250"):
            LogTableLayout.of(MEDIUM, scale, FileOrder.NATURAL)


@pytest.mark.parametrize("order", list(FileOrder))
def test_below_full_scale_no_write_overlaps(order: FileOrder) -> None:
    items = list(log_table_items(LogTableLayout.of(MEDIUM, 3, order)))
    assert len(items) == 3 * 4000
    assert len({i["requestid"]["N"] for i in items}) == len(items)


def test_the_replay_keeps_worker_0s_write_of_the_2000_overlapping_ids() -> None:
    layout = LogTableLayout.of(MEDIUM, 250, FileOrder.REPLAY)
    # worker 1 (medium1) writes 500001..1000000; worker 0 (medium2) already wrote 500001..502000
    assert layout.kept_copies(1, 1) == [range(1, 250)]
    assert layout.kept_copies(1, 2000) == [range(1, 250)]
    assert layout.kept_copies(0, 2001) == [range(0, 250)]
    natural = LogTableLayout.of(MEDIUM, 250, FileOrder.NATURAL)
    assert natural.kept_copies(1, 2001) == [range(0, 250)]


def test_the_replay_layout_agrees_with_a_plain_simulation_at_full_scale() -> None:
    """Write every id in worker order, the lower worker's write winning, and compare how many
    copies of each row survive with what the layout computes by arithmetic."""
    layout = LogTableLayout.of(MEDIUM, 250, FileOrder.REPLAY)
    table: dict[int, tuple[int, int]] = {}
    for worker in (1, 0):  # the later worker first, so worker 0 overwrites it
        for rid in layout.csv_ids[worker]:
            for copy in range(250):
                table[request_id(worker, copy, rid)] = (worker, rid)
    survivors = Counter(table.values())
    for worker, ids in enumerate(layout.csv_ids):
        for rid in ids:
            kept = sum(len(r) for r in layout.kept_copies(worker, rid))
            assert kept == survivors[worker, rid], (worker, rid)
    assert len(table) == 998_000


def test_one_worker_alone() -> None:
    items = list(log_table_items(LogTableLayout.of(MEDIUM, 2, FileOrder.NATURAL), worker=1))
    assert len(items) == 4000
    assert min(int(i["requestid"]["N"]) for i in items) == 502_001
