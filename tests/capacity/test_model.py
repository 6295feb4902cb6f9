"""The capacity model against the Developer Guide's own examples and rules (no engine)."""

from __future__ import annotations

import base64
import time
from collections import Counter

import pytest

from ddbspec.capacity.model import (
    IndexSchema,
    Meter,
    ScaledClock,
    Schema,
    TokenBucket,
    failed_write_cost,
    index_write,
    integer_size,
    item_size,
    number_size,
    partition_count,
    partition_of,
    query_units,
    read_units,
    real_clock,
    value_size,
    write_cost,
    write_units,
)

KB = 1024


def text(n: int) -> dict:
    return {"S": "x" * n}


# --- Item sizes ---------------------------------------------------------------------------


def test_the_guides_two_attribute_example_is_23_bytes():
    """ "shirt-color" = "R" and "shirt-size" = "M": names and values, 11+1+10+1."""
    assert item_size({"shirt-color": {"S": "R"}, "shirt-size": {"S": "M"}}) == 23


def test_attribute_names_count_in_utf8():
    assert item_size({"a": text(10)}) == 11
    assert item_size({"abcdef": text(10)}) == 16
    assert item_size({"é": text(10)}) == 12  # two bytes in UTF-8
    assert item_size({"k": {"S": "日本"}}) == 1 + 6


@pytest.mark.parametrize(
    ("number", "size"),
    [
        ("0", 1),
        ("7", 2),
        ("12", 2),  # one pair of digits
        ("123", 3),  # 01|23
        ("1234", 3),  # 12|34
        ("12345", 4),
        ("100", 2),  # trailing zeros are trimmed: 1 x 10^2
        ("1000000", 2),
        ("0.001", 2),
        ("1.5", 3),  # 01.50: the pairs align on the decimal point
        ("12.5", 3),
        ("-5", 3),  # a negative number takes a byte more
        ("9" * 38, 20),  # 38 significant digits, the most a number has
        ("00042", 2),  # leading zeros are trimmed
    ],
)
def test_numbers_take_a_byte_per_two_significant_digits_plus_one(number, size):
    assert number_size(number) == size


def test_the_documented_approximation_holds_for_whole_numbers():
    """ "1 byte per two significant digits, plus 1", within the pair alignment's one byte."""
    for n in (1, 9, 10, 99, 101, 4321, 65536, 123456789, 10**20 + 1):
        digits = len(str(n).rstrip("0"))
        assert abs(number_size(str(n)) - (-(-digits // 2) + 1)) <= 1


def test_whole_numbers_take_what_the_decimal_rule_gives():
    """integer_size, the loads' shortcut, against number_size on every kind of whole number."""
    numbers = [*range(-1100, 1100), *(10**k for k in range(30)), 500000, 1502000, 10**20 + 1]
    assert [integer_size(n) for n in numbers] == [number_size(str(n)) for n in numbers]


def test_binary_counts_raw_bytes_not_base64():
    raw = bytes(range(10))
    encoded = base64.b64encode(raw).decode()
    assert len(encoded) == 16
    assert value_size({"B": encoded}) == 10
    assert value_size({"BS": [encoded, base64.b64encode(b"ab").decode()]}) == 12


def test_booleans_nulls_sets_lists_and_maps():
    assert value_size({"BOOL": True}) == 1
    assert value_size({"NULL": True}) == 1
    assert value_size({"SS": ["a", "bb"]}) == 3
    assert value_size({"NS": ["12", "1234"]}) == 2 + 3
    assert value_size({"L": []}) == 3  # an empty list or map: its 3 bytes of overhead
    assert value_size({"M": {}}) == 3
    assert value_size({"L": [{"S": "ab"}, {"N": "7"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"k": {"S": "ab"}}}) == 3 + 1 + 1 + 2  # element byte, name, value
    nested = {"M": {"list": {"L": [{"BOOL": False}]}}}
    assert value_size(nested) == 3 + 1 + 4 + (3 + 1 + 1)


@pytest.mark.parametrize(
    "bad", [{"S": 1}, {"N": "twelve"}, {"N": "NaN"}, {"B": "%%%"}, {"X": "1"}, {"S": "a", "N": "1"}]
)
def test_malformed_values_are_refused(bad):
    with pytest.raises(ValueError):
        value_size(bad)


# --- Capacity units -------------------------------------------------------------------------


def test_write_units_at_the_1_kb_boundary():
    exactly = {"k": text(KB - 1)}  # 1 + 1023 bytes
    assert item_size(exactly) == KB
    assert write_units(item_size(exactly)) == 1
    assert write_units(item_size({"k": text(KB)})) == 2
    assert write_units(0) == 1  # writing nothing (a delete of no item) still costs a unit
    assert write_units(500) == 1
    assert write_units(int(3.5 * KB)) == 4


def test_transactional_writes_cost_double():
    assert write_units(KB, transactional=True) == 2
    assert write_units(KB + 1, transactional=True) == 4


def test_read_units_at_the_4_kb_boundary():
    assert read_units(4 * KB) == 1
    assert read_units(4 * KB + 1) == 2
    assert read_units(3500) == 1  # the guide: 3,500 bytes cost what 4 KB costs
    assert read_units(0) == 1  # reading an item that is not there still costs a read


def test_the_guides_read_examples():
    assert read_units(8 * KB) == 2  # strongly consistent
    assert read_units(8 * KB, consistent=False) == 1  # eventually consistent: half
    assert read_units(8 * KB, transactional=True) == 4  # transactional: double
    assert read_units(10 * KB) == 3  # 10 KB rounds up to 12 KB
    assert read_units(100, consistent=False) == 0.5


def test_query_rounds_the_sum():
    """A Query of 1.5 KB and 6.5 KB costs 8 KB (BatchGetItem rounds each item: the gateway's
    test_a_batch_get_rounds_each_item_where_a_scan_rounds_the_sum)."""
    sizes = [int(1.5 * KB), int(6.5 * KB)]
    assert query_units(sizes) == 2
    assert query_units([40] * 10) == 1  # ten 40-byte items: one unit
    assert query_units([64] * 1500) == 24  # 96,000 bytes
    assert query_units([], consistent=False) == 0.5


# --- Secondary indexes: write amplification -------------------------------------------------


GSI = IndexSchema(
    "by_host", "host", "requestid", projection="INCLUDE", non_key=frozenset({"bytes"})
)
KEYS = IndexSchema("by_code", "code", None, projection="KEYS_ONLY")
ALL = IndexSchema("by_day", "day", None, projection="ALL")
SCHEMA = Schema("requestid", None, (GSI, KEYS, ALL))


def log(rid: int = 1, **attributes: dict) -> dict:
    return {"requestid": {"N": str(rid)}, **attributes}


def test_an_item_entering_an_index_is_one_write_sized_by_its_entry():
    new = log(host={"S": "a"}, bytes={"N": "10"}, agent=text(3000))
    write = index_write(SCHEMA, GSI, None, new)
    assert (write.writes, write.units) == (1, 1)  # 3 KB item, small entry: one unit
    assert index_write(SCHEMA, ALL, None, {**new, "day": {"S": "d"}}).units == 3  # all of it


def test_a_changed_index_key_is_two_writes():
    old = log(host={"S": "a"}, bytes={"N": "10"})
    new = log(host={"S": "b"}, bytes={"N": "10"})
    write = index_write(SCHEMA, GSI, old, new)
    assert (write.writes, write.units) == (2, 2)  # delete the old entry, put the new one


def test_an_item_leaving_an_index_is_one_write():
    old = log(host={"S": "a"})
    assert index_write(SCHEMA, GSI, old, log()).writes == 1  # its index key removed
    assert index_write(SCHEMA, GSI, old, None).writes == 1  # the item deleted


def test_no_write_when_the_item_is_not_in_the_index():
    assert index_write(SCHEMA, GSI, log(), log(bytes={"N": "5"})).writes == 0  # sparse
    assert index_write(SCHEMA, GSI, None, None).writes == 0


def test_a_change_the_index_does_not_project_costs_it_nothing():
    old = log(host={"S": "a"}, code={"N": "200"}, bytes={"N": "1"}, agent={"S": "x"})
    new = {**old, "agent": {"S": "y"}}
    assert index_write(SCHEMA, GSI, old, new).writes == 0  # agent is not in INCLUDE
    assert index_write(SCHEMA, KEYS, old, new).writes == 0  # nor in KEYS_ONLY
    assert index_write(SCHEMA, GSI, old, {**old, "bytes": {"N": "2"}}).writes == 1  # included


def test_a_write_costs_the_table_the_larger_item_and_each_index_its_share():
    old = log(host={"S": "a"}, agent=text(3000))
    cost = write_cost(SCHEMA, old, log(host={"S": "a"}, bytes={"N": "1"}))
    assert cost.table == 3  # the larger of before and after: 3 KB
    assert cost.indexes["by_host"].writes == 1
    assert cost.total() == 4
    assert write_cost(SCHEMA, None, None).table == 1  # deleting nothing


def test_a_refused_condition_costs_the_table_the_item_it_read():
    assert failed_write_cost(log(agent=text(2000))).table == 2
    assert failed_write_cost(None).table == 1
    assert failed_write_cost(None).total() == 1


def test_local_indexes_are_told_apart_from_global_ones():
    lsi = IndexSchema("by_time", "requestid", "time", local=True)
    schema = Schema("requestid", None, (GSI, lsi))
    cost = write_cost(schema, None, log(host={"S": "a"}, time={"N": "1"}))
    assert cost.on(schema, local=False) == {"by_host": 1}
    assert cost.on(schema, local=True) == {"by_time": 1}


def test_schema_from_a_create_table_request():
    request = {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "g",
                "KeySchema": [
                    {"AttributeName": "h", "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["b"]},
            }
        ],
    }
    schema = Schema.from_description(request)
    assert schema.key_names == ("pk",)
    assert schema.indexes == (IndexSchema("g", "h", "pk", "INCLUDE", frozenset({"b"})),)
    entry = schema.projected(schema.indexes[0], {"pk": {"S": "1"}, "h": {"S": "x"}, "c": text(9)})
    assert entry == {"pk": {"S": "1"}, "h": {"S": "x"}}


# --- Burst credit ---------------------------------------------------------------------------


def test_credit_accrues_from_creation_up_to_300_seconds():
    bucket = TokenBucket(rate=5, at=0.0)  # created empty at t = 0
    assert bucket.level(100) == 500
    assert bucket.level(1000) == 1500  # 300 s x 5 WCU, no more
    bucket.take(500, 1000)
    assert bucket.level(1000) == 1000
    assert bucket.level(1010) == 1050


def test_a_request_is_admitted_only_if_the_credit_holds_it():
    bucket = TokenBucket(rate=5, at=0.0)
    assert not bucket.holds(1, 0.1)  # 0.5 units so far
    assert bucket.holds(1, 0.2)
    small = TokenBucket(rate=1, burst=300, at=0.0)
    assert not small.holds(400, 299)  # more than the bucket can ever hold: only once full
    assert small.holds(400, 300)


def test_a_settled_request_can_leave_the_bucket_in_debt():
    bucket = TokenBucket(rate=10, at=0.0, tokens=0.0)
    bucket.take(25, 1.0)  # admitted at 10, cost 25 once it ran (a Query)
    assert bucket.level(1.0) == -15
    assert not bucket.holds(1, 2.0)
    assert bucket.holds(1, 2.6)


def test_new_provisioning_keeps_the_credit_earned():
    bucket = TokenBucket(rate=5, at=0.0)
    bucket.set_rate(100, 10)  # 50 units earned at 5 WCU
    assert bucket.level(10) == 50
    assert bucket.level(11) == 150
    bucket.set_rate(1, 11)  # less capacity: the credit is cut to what 300 s at 1 WCU holds
    assert bucket.level(11) == 150
    bucket.set_rate(0.1, 11)
    assert bucket.level(11) == 30


# --- Partitions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "write", "size", "partitions"),
    [
        (5, 5, 0, 1),
        (1000, 1000, 0, 2),  # 1000/3000 + 1000/1000 = 1.33
        (3000, 0, 0, 1),
        (3001, 0, 0, 2),
        (0, 10_000, 0, 10),
        (5000, 5000, 0, 7),  # the workshop's tlog_scan: 1.67 + 5
        (5, 5, 25 * 1024**3, 3),  # 10 GB a partition
    ],
)
def test_partitions_from_capacity_and_size(read, write, size, partitions):
    assert partition_count(read, write, size) == partitions


def test_partitions_never_merge():
    assert partition_count(5, 5, previous=4) == 4


def test_keys_spread_over_the_partitions():
    counts = Counter(partition_of({"N": str(i)}, 4) for i in range(4000))
    assert set(counts) == {0, 1, 2, 3}
    assert all(800 < n < 1200 for n in counts.values())
    assert partition_of({"S": "a"}, 4) == partition_of({"S": "a"}, 4)


def test_one_partition_takes_1000_wcu_a_second_whatever_the_table_has():
    meter = Meter(read_rate=0, write_rate=10_000, now=0.0)
    meter.buckets["write"].tokens = 100_000
    hot = {"S": "hot"}
    assert meter.shortfall("write", 1000, hot, 0.0) is None
    meter.take("write", 1000, hot, 0.0)
    assert meter.shortfall("write", 1, hot, 0.0) == "KeyRangeThroughputExceeded"
    other = next(
        {"S": f"k{i}"}
        for i in range(100)
        if partition_of({"S": f"k{i}"}, 10) != partition_of(hot, 10)
    )
    assert meter.shortfall("write", 500, other, 0.0) is None
    assert meter.shortfall("write", 1, hot, 0.5) is None  # half a second later: 500 more


def test_an_on_demand_meter_never_refuses():
    meter = Meter(0, 0, on_demand=True)
    assert meter.shortfall("write", 10**6, {"S": "k"}, 0.0) is None


# --- The clock --------------------------------------------------------------------------------


def test_a_scaled_clock_runs_faster_and_sleeps_shorter():
    clock = ScaledClock(50)
    start, real = clock.now(), time.monotonic()
    clock.sleep(5)  # 0.1 s of real time
    assert 0.09 < time.monotonic() - real < 1.0
    assert clock.now() - start >= 5


def test_skipping_moves_a_scaled_clock_at_once():
    clock = ScaledClock(10)
    before = clock.now()
    clock.skip(300)
    assert 300 <= clock.now() - before < 305


def test_rescaling_keeps_the_time_read_so_far():
    clock = ScaledClock(100)
    clock.skip(1000)
    before = clock.now()
    clock.rescale(1)
    assert before <= clock.now() < before + 1
    assert clock.factor == 1
    with pytest.raises(ValueError):
        clock.rescale(0)


def test_the_real_clock_cannot_be_moved_only_waited_out():
    clock = real_clock()
    start = time.monotonic()
    clock.skip(0.1)
    assert time.monotonic() - start >= 0.1
    with pytest.raises(ValueError):
        clock.rescale(10)


def test_the_clocks_calendar_starts_now():
    clock = ScaledClock(60)
    assert abs(clock.epoch(0) - time.time()) < 5
    assert clock.epoch(60) - clock.epoch(0) == 60
