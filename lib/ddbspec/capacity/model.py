"""DynamoDB's provisioned-capacity model, as the service documents it: no I/O, no threads.

No local engine meters or enforces throughput (DynamoDB Local, moto and dynalite ignore it),
so what exercise 1 shows (a table that spends its burst credit, then runs at its provisioned
rate; a global secondary index short of write capacity throttling its table) can only be seen
locally through something that computes what DynamoDB would. The capacity gateway
(``capacity.gateway``) applies this model to live traffic; specs and unit tests use it to say
what the service must do. Everything here follows the Developer Guide's pages "Item sizes and
formats", "Capacity unit consumption", "Provisioned throughput considerations for global
secondary indexes", "Burst and adaptive capacity" and, for partitions, the formula the guide
published until 2019 (the service no longer documents it, but its effect is the same).

Times are seconds on a ``Clock``: the real one, or one that runs faster by a factor, so a
workshop step of minutes takes seconds while every ratio (burst / rate, rows / rate) holds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from typing import Any, Literal, Protocol

Item = Mapping[str, Any]  # an item in DynamoDB's wire format: {"name": {"S": "x"}, ...}
Kind = Literal["read", "write"]

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
BURST_SECONDS = 300.0  # "DynamoDB retains up to five minutes (300 seconds) of unused capacity"
PARTITION_READ_UNITS = 3000  # per partition and second, whatever the table's provisioning
PARTITION_WRITE_UNITS = 1000
PARTITION_BYTES = 10 * 1024**3
_EXACT = Context(prec=100)  # DynamoDB keeps 38 significant digits; Decimal's default is 28


# --- Item sizes --------------------------------------------------------------------------------


def number_size(text: str) -> int:
    """Bytes DynamoDB stores for a number: an exponent byte, then the significant digits in
    pairs aligned on the decimal point (so 1.5 is "01.50", two pairs), and a byte more when
    negative. The guide rounds this to "1 byte per two significant digits, plus 1"; the exact
    form is the one dynalite's author measured on the service (12 and 1234 take 2 and 3 bytes,
    but 1.2 takes 3).
    """
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a number: {text!r}")
    if value.is_zero():
        return 1
    sign, digits, exponent = value.normalize(_EXACT).as_tuple()
    assert isinstance(exponent, int)
    lead = exponent + len(digits) - 1  # power of ten of the first significant digit
    pairs = lead // 2 - exponent // 2 + 1
    return 1 + pairs + sign


def integer_size(n: int) -> int:
    """``number_size`` of a whole number, without Decimal: the million-item loads' hot path.
    Trailing zeros are not significant (500000 takes 2 bytes, as 5 does)."""
    text = str(abs(n))
    if n == 0:
        return 1
    zeros = len(text) - len(text.rstrip("0"))
    return 2 + (len(text) - 1) // 2 - zeros // 2 + (n < 0)


def binary_size(text: str) -> int:
    """Binary travels as base64, but DynamoDB counts the raw bytes."""
    try:
        return len(base64.b64decode(text, validate=True))
    except (ValueError, TypeError):
        raise ValueError(f"not base64: {text!r:.40}") from None


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value (without its name); ValueError if it is malformed."""
    if type(value) is dict and len(value) == 1:  # the usual string or whole number, quickly
        ((kind, v),) = value.items()
        if kind == "S" and type(v) is str:
            return len(v) if v.isascii() else len(v.encode())
        if kind == "N" and type(v) is str and v.isdigit() and v.isascii():
            return integer_size(int(v))
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ValueError(f"not an attribute value: {value!r:.60}")
    ((kind, v),) = value.items()
    if kind == "S":
        return len(_text(v).encode())
    if kind == "N":
        return number_size(_text(v))
    if kind == "B":
        return binary_size(_text(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(_text(s).encode()) for s in _list(v))
    if kind == "NS":
        return sum(number_size(_text(n)) for n in _list(v))
    if kind == "BS":
        return sum(binary_size(_text(b)) for b in _list(v))
    # A list or a map: 3 bytes of its own, and 1 byte for each element.
    if kind == "L":
        return 3 + sum(1 + value_size(e) for e in _list(v))
    if kind == "M":
        if not isinstance(v, Mapping):
            raise ValueError(f"not a map: {v!r:.60}")
        return 3 + sum(1 + len(k.encode()) + value_size(e) for k, e in v.items())
    raise ValueError(f"unknown attribute type {kind!r}")


def item_size(item: Item | None) -> int:
    """Bytes of an item: every attribute name's UTF-8 length plus its value's size."""
    if item is None:
        return 0
    if not isinstance(item, Mapping):
        raise ValueError(f"not an item: {item!r:.60}")
    size = 0
    for name, value in item.items():
        size += (len(name) if name.isascii() else len(name.encode())) + value_size(value)
    return size


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected a string, found {v!r:.40}")
    return v


def _list(v: Any) -> list:
    if not isinstance(v, list):
        raise ValueError(f"expected a list, found {v!r:.40}")
    return v


# --- Capacity units ----------------------------------------------------------------------------


def write_units(size: int, transactional: bool = False) -> int:
    """1 KB per write unit, rounded up, at least 1; a transactional write costs double."""
    units = max(1, math.ceil(size / WRITE_UNIT_BYTES))
    return 2 * units if transactional else units


def read_units(size: int, consistent: bool = True, transactional: bool = False) -> float:
    """4 KB per read unit, rounded up, at least 1 (reading nothing still costs a read);
    eventually consistent reads cost half, transactional reads double."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    if transactional:
        return 2.0 * units
    return float(units) if consistent else units / 2


def query_units(sizes: Iterable[int], consistent: bool = True) -> float:
    """Query and Scan add up the size of every item they evaluate (before any filter), then
    round once: ten 40-byte items cost one unit."""
    return read_units(sum(sizes), consistent)


# --- Tables and their indexes -----------------------------------------------------------------


@dataclass(frozen=True)
class IndexSchema:
    """A secondary index as far as capacity goes: its key and what it projects."""

    name: str
    hash_key: str
    range_key: str | None = None
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    non_key: frozenset[str] = frozenset()
    local: bool = False  # a local index draws on its table's capacity

    def holds(self, item: Item | None) -> bool:
        """An item is in the index only if it carries the index's key (sparse indexes)."""
        return (
            item is not None
            and self.hash_key in item
            and (self.range_key is None or self.range_key in item)
        )

    def key_of(self, item: Item) -> tuple:
        return tuple(_canonical(item.get(k)) for k in (self.hash_key, self.range_key) if k)


@dataclass(frozen=True)
class Schema:
    """A table's primary key and secondary indexes."""

    hash_key: str
    range_key: str | None = None
    indexes: tuple[IndexSchema, ...] = ()

    @property
    def key_names(self) -> tuple[str, ...]:
        return (self.hash_key, self.range_key) if self.range_key else (self.hash_key,)

    @classmethod
    def from_description(cls, desc: Mapping[str, Any]) -> Schema:
        """From a CreateTable request or a DescribeTable ``Table``; KeyError if incomplete."""

        def keys(schema: list[Mapping[str, str]]) -> tuple[str, str | None]:
            by_type = {k["KeyType"]: k["AttributeName"] for k in schema}
            return by_type["HASH"], by_type.get("RANGE")

        indexes = []
        for local, field_name in (
            (False, "GlobalSecondaryIndexes"),
            (True, "LocalSecondaryIndexes"),
        ):
            for index in desc.get(field_name) or ():
                projection = index.get("Projection") or {}
                indexes.append(
                    IndexSchema(
                        index["IndexName"],
                        *keys(index["KeySchema"]),
                        projection=projection.get("ProjectionType", "ALL"),
                        non_key=frozenset(projection.get("NonKeyAttributes") or ()),
                        local=local,
                    )
                )
        return cls(*keys(desc["KeySchema"]), indexes=tuple(indexes))

    def key_of(self, item: Item) -> dict[str, Any]:
        """The primary key of ``item``; ValueError when a key attribute is missing."""
        missing = [k for k in self.key_names if k not in item]
        if missing:
            raise ValueError(f"the item lacks its key attribute {missing[0]!r}")
        return {k: item[k] for k in self.key_names}

    def projected(self, index: IndexSchema, item: Item | None) -> dict[str, Any] | None:
        """The index's copy of ``item`` (its entry), or None when the item is not in it."""
        if not index.holds(item):
            return None
        assert item is not None
        if index.projection == "ALL":
            return dict(item)
        keep = {*self.key_names, index.hash_key, index.range_key}
        if index.projection == "INCLUDE":
            keep |= index.non_key
        return {k: v for k, v in item.items() if k in keep}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# --- Writes: the table and its indexes ---------------------------------------------------------


@dataclass(frozen=True)
class IndexWrite:
    """What one table write costs one index: 0, 1 or 2 writes, and their units."""

    writes: int
    units: float


NO_WRITE = IndexWrite(0, 0.0)


def index_write(
    schema: Schema,
    index: IndexSchema,
    old: Item | None,
    new: Item | None,
    transactional: bool = False,
) -> IndexWrite:
    """The guide's rules, each write sized by the index entry (the projected item):

    - the item enters the index (a new item, or an update that adds the index key): 1 write;
    - it leaves (deleted, or its index key removed): 1 write, the old entry's size;
    - its index key changes: 2 writes, a delete of the old entry and a put of the new one;
    - it stays with the same key and a projected attribute changes: 1 write, the larger entry;
    - it is in the index neither before nor after, or nothing projected changes: no write.
    """
    before, after = schema.projected(index, old), schema.projected(index, new)
    if before is None and after is None:
        return NO_WRITE
    if before is None or after is None:
        entry = after if before is None else before
        return IndexWrite(1, write_units(item_size(entry), transactional))
    assert old is not None and new is not None
    old_size, new_size = item_size(before), item_size(after)
    if index.key_of(old) != index.key_of(new):
        units = write_units(old_size, transactional) + write_units(new_size, transactional)
        return IndexWrite(2, units)
    if _canonical(before) == _canonical(after):
        return NO_WRITE
    return IndexWrite(1, write_units(max(old_size, new_size), transactional))


@dataclass(frozen=True)
class WriteCost:
    """Write units of one item write: on the table, and on each index it touches."""

    table: float
    indexes: Mapping[str, IndexWrite] = field(default_factory=dict)

    def on(self, schema: Schema, local: bool) -> dict[str, float]:
        """Units per index of one kind (global or local) that the write touches."""
        by_name = {i.name: i for i in schema.indexes}
        return {
            name: w.units
            for name, w in self.indexes.items()
            if w.writes and by_name[name].local == local
        }

    def total(self) -> float:
        return self.table + sum(w.units for w in self.indexes.values())


def write_cost(
    schema: Schema, old: Item | None, new: Item | None, transactional: bool = False
) -> WriteCost:
    """PutItem/UpdateItem (``new`` the item after) or DeleteItem (``new`` None).

    The table is charged for the larger of the item before and after (a delete, for the item
    it removes; at least one unit, so deleting nothing still costs a write).
    """
    size = max(item_size(old), item_size(new))
    indexes = {i.name: index_write(schema, i, old, new, transactional) for i in schema.indexes}
    return WriteCost(write_units(size, transactional), indexes)


def failed_write_cost(old: Item | None, transactional: bool = False) -> WriteCost:
    """A write refused by its condition still costs the table its units (at least one):
    DynamoDB had to read the item to evaluate the condition. No index is written."""
    return WriteCost(write_units(item_size(old), transactional))


# --- Partitions ----------------------------------------------------------------------------


def partition_count(read: float, write: float, size_bytes: int = 0, previous: int = 1) -> int:
    """Partitions for a provisioned table or index, as the guide documented them: enough for
    3000 RCU and 1000 WCU each, and 10 GB each; a table never merges partitions, so the count
    only grows (``previous``)."""
    by_throughput = math.ceil(read / PARTITION_READ_UNITS + write / PARTITION_WRITE_UNITS)
    by_size = math.ceil(size_bytes / PARTITION_BYTES)
    return max(1, previous, by_throughput, by_size)


def partition_of(key_value: Any, partitions: int) -> int:
    """The partition a partition-key value hashes to: its share of the hash range."""
    digest = hashlib.md5(_canonical(key_value).encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") * partitions >> 64


# --- Token buckets -------------------------------------------------------------------------


@dataclass
class TokenBucket:
    """Capacity units that accrue at ``rate`` per second and keep up to ``burst`` seconds of
    what was not used. A bucket starts empty when its table is created: the credit a table
    has is what it accumulated since then, minus what it spent.

    A request is admitted when the bucket holds its cost (or is full, for a request costing
    more than the bucket can ever hold). Its real cost is settled afterwards and may leave the
    bucket in debt: a Query's cost is only known once it has run, as in the service.
    """

    rate: float
    burst: float = BURST_SECONDS
    tokens: float = 0.0
    at: float = 0.0  # clock time of the last refill

    @property
    def capacity(self) -> float:
        return self.rate * self.burst

    def level(self, now: float) -> float:
        if now > self.at:
            self.tokens = min(self.capacity, self.tokens + self.rate * (now - self.at))
            self.at = now
        return self.tokens

    def holds(self, units: float, now: float) -> bool:
        return self.level(now) >= min(units, self.capacity) - 1e-9

    def take(self, units: float, now: float) -> None:
        """Spend ``units`` (negative units give back what a settled request did not use)."""
        self.level(now)
        self.tokens = min(self.capacity, self.tokens - units)

    def set_rate(self, rate: float, now: float) -> None:
        """New provisioning: the credit earned so far is kept, up to the new bucket's size."""
        self.level(now)
        self.rate = rate
        self.tokens = min(self.tokens, self.capacity)


Limit = Literal["ProvisionedThroughputExceeded", "KeyRangeThroughputExceeded"]


@dataclass
class Meter:
    """The provisioned throughput of a table or of one global secondary index, as buckets:
    one for reads and one for writes at the provisioned rate with 300 s of burst, and per
    partition a hard ceiling of 3000 RCU / 1000 WCU a second (no burst beyond one second).

    The whole provisioned rate is available to any partition (adaptive capacity), so
    partitions only matter for a hot key or a table provisioned above one partition's ceiling.
    An on-demand meter never refuses: the gateway does not model on-demand scaling limits.
    """

    read_rate: float
    write_rate: float
    now: float = 0.0
    on_demand: bool = False
    size_bytes: int = 0
    partitions: int = field(init=False)
    buckets: dict[Kind, TokenBucket] = field(init=False)
    hot: dict[tuple[Kind, int], TokenBucket] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.buckets = {
            "read": TokenBucket(self.read_rate, at=self.now),
            "write": TokenBucket(self.write_rate, at=self.now),
        }
        self.partitions = partition_count(self.read_rate, self.write_rate, self.size_bytes)

    def provision(self, read: float, write: float, now: float, on_demand: bool = False) -> None:
        self.read_rate, self.write_rate, self.on_demand = read, write, on_demand
        self.buckets["read"].set_rate(read, now)
        self.buckets["write"].set_rate(write, now)
        self.partitions = partition_count(read, write, self.size_bytes, self.partitions)

    def grow(self, size_delta: int) -> None:
        """Data written or removed; a table over 10 GB a partition splits."""
        self.size_bytes = max(0, self.size_bytes + size_delta)
        self.partitions = partition_count(
            self.read_rate, self.write_rate, self.size_bytes, self.partitions
        )

    def _partition(self, kind: Kind, partition: int) -> TokenBucket:
        ceiling = PARTITION_READ_UNITS if kind == "read" else PARTITION_WRITE_UNITS
        bucket = self.hot.get((kind, partition))
        if bucket is None:
            bucket = self.hot[(kind, partition)] = TokenBucket(ceiling, 1.0, ceiling)
        return bucket

    def shortfall(
        self, kind: Kind, units: float, key_value: Any | None, now: float
    ) -> Limit | None:
        """Why a request of ``units`` would be throttled now, or None if it can go."""
        if self.on_demand or units <= 0:
            return None
        if not self.buckets[kind].holds(units, now):
            return "ProvisionedThroughputExceeded"
        if key_value is not None:
            part = partition_of(key_value, self.partitions)
            if not self._partition(kind, part).holds(units, now):
                return "KeyRangeThroughputExceeded"
        return None

    def take(self, kind: Kind, units: float, key_value: Any | None, now: float) -> None:
        if self.on_demand or not units:
            return
        self.buckets[kind].take(units, now)
        if key_value is not None:
            self._partition(kind, partition_of(key_value, self.partitions)).take(units, now)


# --- Clocks ------------------------------------------------------------------------------------


class Clock(Protocol):
    """Seconds since the clock started; ``skip`` lets time pass without waiting for it."""

    @property
    def factor(self) -> float: ...

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def skip(self, seconds: float) -> None: ...

    def epoch(self, t: float) -> float:
        """The Unix time (on this clock's calendar) of clock time ``t``: for timestamps."""
        ...


class ScaledClock:
    """A clock that runs ``factor`` times faster than the real one.

    ``sleep(s)`` waits s / factor real seconds. ``skip(s)`` moves the clock on at once, for
    a pause in which nothing happens (the workshop's reader waiting for a table and reading
    the next step): that is only right when this clock is the time of everything that
    counts (the gateway's buckets); a clock that is not ``movable`` (``real_clock()``, the
    real service's time) waits instead. ``rescale`` changes the factor from now on, keeping
    the time read so far. The calendar starts at the real time of the clock's creation, so
    CloudWatch-shaped timestamps look like today's, at a whole second, so that a per-second
    sample's second and minute are the same on the clock and on the calendar. Thread-safe:
    its state is one tuple, replaced whole.
    """

    def __init__(self, factor: float = 1.0, *, movable: bool = True) -> None:
        self.movable = movable
        self._calendar = float(math.floor(time.time()))
        self._lock = threading.Lock()
        self._state = (time.monotonic(), _positive(factor), 0.0)  # origin, factor, offset

    @property
    def factor(self) -> float:
        return self._state[1]

    def now(self) -> float:
        origin, factor, offset = self._state
        return offset + (time.monotonic() - origin) * factor

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.factor)

    def skip(self, seconds: float) -> None:
        if not self.movable:
            self.sleep(seconds)
            return
        with self._lock:
            origin, factor, offset = self._state
            self._state = (origin, factor, offset + max(0.0, seconds))

    def rescale(self, factor: float) -> None:
        if not self.movable:
            raise ValueError("the real clock's speed cannot be changed")
        with self._lock:
            self._state = (time.monotonic(), _positive(factor), self.now())

    def epoch(self, t: float) -> float:
        return self._calendar + t

    def __repr__(self) -> str:
        return f"ScaledClock(factor={self.factor:g}, movable={self.movable})"


def _positive(factor: float) -> float:
    if not factor > 0:
        raise ValueError(f"a clock factor must be positive, not {factor}")
    return float(factor)


def real_clock() -> ScaledClock:
    """The real time, which ``skip`` waits out: the service's, or a gateway's by default."""
    return ScaledClock(1.0, movable=False)
