"""The gateway's accounting: the tables it knows, their meters, admission, DynamoDB's answers.

The capacity gateway (``ddbspec.capacity.gateway``) hands each DynamoDB request to ``Metering``. The
control plane is handled here: capacity comes from what the tables say about themselves,
CreateTable and DescribeTable answers and, after an UpdateTable, the table's description
once it is ACTIVE again (until then the old capacity holds, as in the service). Each
data-plane operation is metered by its function in ``ddbspec.capacity.accounting``, with what this
module provides: admission of a request's units against the table's and its indexes'
meters (the table asked first), settlement of what it really cost, metrics on the way, and
the shapes of DynamoDB's answers (ConsumedCapacity, the throttling errors with their
status, ``__type``, message and ``ThrottlingReasons``).

A request the model cannot read (malformed JSON, an unknown table, a missing key) raises
``Unmetered`` and goes to the engine unchanged, so the engine answers it as it would.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ddbspec.capacity.metrics import CONSUMED, THROTTLE_EVENTS, THROTTLED_REQUESTS, Metrics
from ddbspec.capacity.model import (
    Clock,
    IndexSchema,
    Item,
    Kind,
    Limit,
    Meter,
    Schema,
)

ERROR_TYPE = "com.amazonaws.dynamodb.v20120810#"
TABLE_MESSAGE = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)
GSI_MESSAGE = (
    "The level of configured provisioned throughput for one or more global secondary "
    "indexes of the table was exceeded. Consider increasing your provisioning level for the "
    "under-provisioned global secondary indexes with the UpdateTable API"
)
JSON_TYPE = "application/x-amz-json-1.0"
REFRESH_SECONDS = 0.05  # how often a table waiting for ACTIVE is described again (real time)


class Unmetered(Exception):
    """The request cannot be metered (malformed, unknown table): forward it unchanged."""


# --- Replies and the exchange with the engine --------------------------------------------------


@dataclass
class Reply:
    """An HTTP answer: the engine's, or one the gateway makes."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)

    def json(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    @property
    def error_code(self) -> str | None:
        data = self.json() if self.status >= 400 else None
        return str(data.get("__type", "")).rsplit("#", 1)[-1] if data else None

    def with_json(self, data: Mapping[str, Any]) -> Reply:
        """The same answer with another JSON body: its length and checksum follow."""
        body = json.dumps(data, separators=(",", ":")).encode()
        kept = [(k, v) for k, v in self.headers if k.lower() not in _BODY_HEADERS]
        return Reply(self.status, body, kept + body_headers(body))

    @classmethod
    def made(cls, status: int, data: Mapping[str, Any]) -> Reply:
        """An answer of the gateway's own, with the headers the service sends."""
        reply = cls(status, b"", [("Content-Type", JSON_TYPE)])
        reply = reply.with_json(data)
        reply.headers.append(("x-amzn-RequestId", uuid.uuid4().hex.upper()))
        return reply


_BODY_HEADERS = {"content-length", "x-amz-crc32"}


def body_headers(body: bytes) -> list[tuple[str, str]]:
    """Content-Length, and the CRC32 that botocore checks on every DynamoDB answer."""
    return [("Content-Length", str(len(body))), ("x-amz-crc32", str(zlib.crc32(body)))]


def error(status: int, code: str, message: str, **extra: Any) -> Reply:
    return Reply.made(status, {"__type": ERROR_TYPE + code, "message": message, **extra})


class Exchange(Protocol):
    """One client request on its way through the gateway."""

    op: str
    body: dict[str, Any]

    def forward(self, body: Mapping[str, Any] | None = None) -> Reply:
        """Send the client's request (or the same request with ``body``) to the engine."""
        ...

    def call(self, op: str, payload: Mapping[str, Any]) -> Reply:
        """A request of the gateway's own to the engine, with the client's credentials."""
        ...


# --- Tables as the gateway knows them ----------------------------------------------------------


@dataclass
class Usage:
    """Units one request consumed: on the table, on each global and each local index."""

    table: float = 0.0
    gsi: dict[str, float] = field(default_factory=dict)
    lsi: dict[str, float] = field(default_factory=dict)

    def add(self, other: Usage) -> None:
        self.table += other.table
        for mine, theirs in ((self.gsi, other.gsi), (self.lsi, other.lsi)):
            for name, units in theirs.items():
                mine[name] = mine.get(name, 0.0) + units

    def total(self) -> float:
        return self.table + sum(self.gsi.values()) + sum(self.lsi.values())


@dataclass(frozen=True)
class Charge:
    """Units to take from one meter: the table's (index None) or a global index's."""

    index: str | None
    units: float
    key: Any = None  # the partition-key value, for the partition's ceiling


@dataclass
class TableState:
    name: str
    arn: str
    schema: Schema
    meters: dict[str | None, Meter]  # None: the table itself; else a global index
    pending: bool = False  # an UpdateTable waits for the table to be ACTIVE again
    checked: float = 0.0  # real time the pending table was last described
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arn_of(self, index: str | None) -> str:
        return self.arn if index is None else f"{self.arn}/index/{index}"

    def index(self, name: str) -> IndexSchema | None:
        return next((i for i in self.schema.indexes if i.name == name), None)

    def grow(self, size_delta: int) -> None:
        with self.lock:
            self.meters[None].grow(size_delta)


def _capacity(desc: Mapping[str, Any]) -> tuple[float, float]:
    throughput = desc.get("ProvisionedThroughput") or {}
    return float(throughput.get("ReadCapacityUnits", 0)), float(
        throughput.get("WriteCapacityUnits", 0)
    )


def _on_demand(desc: Mapping[str, Any]) -> bool:
    billing = (desc.get("BillingModeSummary") or {}).get("BillingMode") or desc.get("BillingMode")
    return billing == "PAY_PER_REQUEST"


def _settled(desc: Mapping[str, Any]) -> bool:
    """ACTIVE, and so is every index: an UpdateTable has taken effect."""
    indexes = desc.get("GlobalSecondaryIndexes") or ()
    return desc.get("TableStatus") == "ACTIVE" and all(
        i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes
    )


class Tables:
    """The tables the gateway has seen, with their meters."""

    def __init__(self, clock: Clock, metrics: Metrics, region: str = "us-east-1") -> None:
        self.clock, self.metrics, self.region = clock, metrics, region
        self._tables: dict[str, TableState] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> TableState | None:
        with self._lock:
            return self._tables.get(name)

    def forget(self, name: str) -> None:
        with self._lock:
            self._tables.pop(name, None)

    def learn(self, desc: Mapping[str, Any], created: bool = False) -> TableState:
        """A table from its description. A table created through the gateway starts with no
        credit; one it finds already there has the credit it earned since its creation."""
        now = self.clock.now()
        name = desc["TableName"]
        age = 0.0
        if not created and isinstance(desc.get("CreationDateTime"), (int, float)):
            age = max(0.0, (time.time() - desc["CreationDateTime"]) * self.clock.factor)
        meters = {}
        on_demand = _on_demand(desc)
        for index, sub in [(None, desc), *_gsis(desc)]:
            meters[index] = self._meter(name, index, sub, on_demand, now, age)
        arn = desc.get("TableArn") or f"arn:aws:dynamodb:{self.region}:000000000000:table/{name}"
        state = TableState(name, arn, Schema.from_description(desc), meters)
        with self._lock:
            self._tables[name] = state
        return state

    def _meter(
        self,
        table: str,
        index: str | None,
        desc: Mapping[str, Any],
        on_demand: bool,
        now: float,
        age: float,
    ) -> Meter:
        read, write = (0.0, 0.0) if on_demand else _capacity(desc)
        meter = Meter(read, write, now=now, on_demand=on_demand)
        for bucket in meter.buckets.values():
            bucket.tokens = min(bucket.capacity, bucket.rate * age)
        self.metrics.provision(table, index, read, write, now)
        return meter

    def update(self, state: TableState, desc: Mapping[str, Any]) -> None:
        """Apply a description of the table once ACTIVE again: new capacities take effect,
        keeping the credit earned; a new index starts with none; a deleted one goes."""
        if not _settled(desc):
            return
        now, on_demand = self.clock.now(), _on_demand(desc)
        with state.lock:
            meters: dict[str | None, Meter] = {}
            for index, sub in [(None, desc), *_gsis(desc)]:
                read, write = (0.0, 0.0) if on_demand else _capacity(sub)
                meter = state.meters.get(index)
                if meter is None:
                    meters[index] = self._meter(state.name, index, sub, on_demand, now, 0.0)
                    continue
                if (read, write, on_demand) != (meter.read_rate, meter.write_rate, meter.on_demand):
                    meter.provision(read, write, now, on_demand)
                    self.metrics.provision(state.name, index, read, write, now)
                meters[index] = meter
            state.meters = meters
            state.schema = Schema.from_description(desc)
            state.pending = False


def _gsis(desc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(g["IndexName"], g) for g in desc.get("GlobalSecondaryIndexes") or ()]


class KeyLocks:
    """Striped locks on items, so that a write's read-before and the write itself are not
    split by another write to the same item through the gateway."""

    def __init__(self, stripes: int = 64) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    @contextlib.contextmanager
    def holding(self, keys: Sequence[tuple[str, Mapping[str, Any]]]) -> Iterator[None]:
        stripes = sorted(
            {hash((t, json.dumps(k, sort_keys=True))) % len(self._locks) for t, k in keys}
        )
        with contextlib.ExitStack() as stack:
            for s in stripes:
                stack.enter_context(self._locks[s])
            yield


# --- Metering: the control plane, admission and settlement -------------------------------------


class Metering:
    """Handles the requests the gateway meters; see the module's docstring."""

    def __init__(
        self,
        clock: Clock,
        metrics: Metrics,
        region: str = "us-east-1",
        operations: Mapping[str, Callable[[Metering, Exchange], Reply]] | None = None,
    ) -> None:
        """``operations``: how each data-plane operation is metered (``accounting``);
        the control plane (what tables there are, and their capacity) is this class's own."""
        self.clock, self.metrics = clock, metrics
        self.tables = Tables(clock, metrics, region)
        self.locks = KeyLocks()
        self.control: dict[str, Callable[[Exchange], Reply]] = {
            "CreateTable": self.create_table,
            "UpdateTable": self.update_table,
            "DescribeTable": self.describe_table,
            "DeleteTable": self.delete_table,
        }
        self.operations = dict(operations or {})

    def handle(self, ex: Exchange) -> Reply:
        try:
            if ex.op in self.control:
                return self.control[ex.op](ex)
            if ex.op in self.operations:
                return self.operations[ex.op](self, ex)
        except Unmetered:
            pass
        return ex.forward()

    # -- control plane: learn the tables' capacity --

    def create_table(self, ex: Exchange) -> Reply:
        reply = ex.forward()
        desc = (reply.json() or {}).get("TableDescription") if reply.status == 200 else None
        if desc:
            self.tables.learn(desc, created=True)
        return reply

    def update_table(self, ex: Exchange) -> Reply:
        reply = ex.forward()
        if reply.status == 200:
            state = self.tables.get(table_name(ex.body.get("TableName")))
            desc = (reply.json() or {}).get("TableDescription") or {}
            if state is not None:
                state.pending = True
                self.tables.update(state, desc)
        return reply

    def describe_table(self, ex: Exchange) -> Reply:
        reply = ex.forward()
        desc = (reply.json() or {}).get("Table") if reply.status == 200 else None
        if desc:
            state = self.tables.get(desc["TableName"])
            if state is None:
                self.tables.learn(desc)
            elif state.pending:
                self.tables.update(state, desc)
        return reply

    def delete_table(self, ex: Exchange) -> Reply:
        reply = ex.forward()
        if reply.status == 200:
            name = table_name(ex.body.get("TableName"))
            self.tables.forget(name)
            self.metrics.deleted(name, self.clock.now())
        return reply

    def state(self, ex: Exchange, name: Any) -> TableState:
        """The table a request names, learnt from the engine on first sight."""
        table = table_name(name)
        state = self.tables.get(table)
        if state is None:
            state = self.tables.learn(self._describe(ex, table))
        elif state.pending and time.monotonic() - state.checked >= REFRESH_SECONDS:
            state.checked = time.monotonic()
            self.tables.update(state, self._describe(ex, table))
        return state

    def _describe(self, ex: Exchange, table: str) -> dict[str, Any]:
        reply = ex.call("DescribeTable", {"TableName": table})
        desc = (reply.json() or {}).get("Table") if reply.status == 200 else None
        if not desc:
            raise Unmetered(f"the engine does not describe table {table}")
        return desc

    # -- admission and settlement --

    def admit(
        self, state: TableState, kind: Kind, charges: Sequence[Charge]
    ) -> list[tuple[str | None, Limit]]:
        """Take ``charges`` from the meters, or refuse them all: why, per meter short.

        The table is asked first: a write it refuses never reaches the indexes, which is why
        a table short of capacity shows throttles and its index none.
        """
        now = self.clock.now()
        with state.lock:
            for stage in (
                [c for c in charges if c.index is None],
                [c for c in charges if c.index is not None],
            ):
                refused = []
                for c in stage:
                    meter = state.meters.get(c.index)
                    limit = meter and meter.shortfall(kind, c.units, c.key, now)
                    if limit:
                        refused.append((c.index, limit))
                if refused:
                    for index, _ in refused:
                        self.metrics.add(THROTTLE_EVENTS[kind], state.name, index, 1, now)
                    return refused
            self._take(state, kind, charges, 1, now)
        return []

    def settle(
        self,
        state: TableState,
        kind: Kind,
        taken: Sequence[Charge],
        actual: Sequence[Charge],
        operation: str,
    ) -> None:
        """Replace what admission took by what the request really cost; record it."""
        now = self.clock.now()
        with state.lock:
            self._take(state, kind, taken, -1, now)
            self._take(state, kind, actual, 1, now)
        for c in actual:
            if c.units:
                self.metrics.add(CONSUMED[kind], state.name, c.index, c.units, now, operation)

    @staticmethod
    def _take(
        state: TableState, kind: Kind, charges: Sequence[Charge], sign: int, now: float
    ) -> None:
        for c in charges:
            meter = state.meters.get(c.index)
            if meter is not None:
                meter.take(kind, sign * c.units, c.key, now)

    def refuse(
        self,
        state: TableState,
        kind: Kind,
        refused: Sequence[tuple[str | None, Limit]],
        op: str,
        tables: Sequence[str] = (),
    ) -> Reply:
        """DynamoDB's throttling error, and a throttled request in each table's metrics."""
        for table in tables or (state.name,):
            self.metrics.add(THROTTLED_REQUESTS, table, None, 1, operation=op)
        return throttled(state, kind, refused)

    def admit_all(
        self, ex: Exchange, kind: Kind, requests: Sequence[tuple[TableState, Sequence[Charge]]]
    ) -> Reply | None:
        """A transaction's admission: the units of every action, or of none. None when all
        were taken; else the cancellation to answer, each action saying whether it was why."""
        reasons = [self.admit(state, kind, taken) for state, taken in requests]
        if not any(reasons):
            return None
        for (state, taken), refused in zip(requests, reasons, strict=True):
            if not refused:
                self.settle(state, kind, taken, [], ex.op)
        first = next(state for (state, _), r in zip(requests, reasons, strict=True) if r)
        self.metrics.add(THROTTLED_REQUESTS, first.name, None, 1, operation=ex.op)
        return transaction_throttled(reasons)

    def forward_admitted(
        self, ex: Exchange, state: TableState, kind: Kind, taken: Sequence[Charge]
    ) -> tuple[Reply, dict[str, Any] | None]:
        """Admit ``taken`` and forward the request: the answer, and its data when it went
        through. A refused request is answered with the throttling error; one the engine
        refused gives its units back."""
        refused = self.admit(state, kind, taken)
        if refused:
            return self.refuse(state, kind, refused, ex.op), None
        reply = ex.forward()
        if reply.status != 200:
            self.settle(state, kind, taken, [], ex.op)
            return reply, None
        return reply, reply.json() or {}


# --- DynamoDB's answers, and reading the client's input ----------------------------------------


def with_consumed(
    reply: Reply,
    data: dict[str, Any],
    request: Mapping[str, Any],
    kind: Kind,
    usages: Sequence[tuple[str, Usage]],
    many: bool = False,
) -> Reply:
    """The engine's answer with ConsumedCapacity as DynamoDB would give it, or none at all
    when the client did not ask (an engine may add its own: it is removed)."""
    mode = request.get("ReturnConsumedCapacity", "NONE")
    data.pop("ConsumedCapacity", None)
    if mode in ("TOTAL", "INDEXES"):
        field_name = "ReadCapacityUnits" if kind == "read" else "WriteCapacityUnits"
        shaped = [consumed_capacity(t, u, mode, field_name) for t, u in usages]
        data["ConsumedCapacity"] = shaped if many else shaped[0]
    return reply.with_json(data)


def consumed_capacity(table: str, usage: Usage, mode: str, field_name: str) -> dict[str, Any]:
    """One ConsumedCapacity: TOTAL gives the total, INDEXES adds the table and each index."""

    def units(n: float) -> dict[str, float]:
        return {"CapacityUnits": n, field_name: n}

    shaped: dict[str, Any] = {"TableName": table, **units(usage.total())}
    if mode == "INDEXES":
        shaped["Table"] = units(usage.table)
        if usage.gsi:
            shaped["GlobalSecondaryIndexes"] = {n: units(u) for n, u in usage.gsi.items()}
        if usage.lsi:
            shaped["LocalSecondaryIndexes"] = {n: units(u) for n, u in usage.lsi.items()}
    return shaped


def throttled(state: TableState, kind: Kind, refused: Sequence[tuple[str | None, Limit]]) -> Reply:
    """ProvisionedThroughputExceededException: the GSI message when an index refused."""
    gsi = any(index is not None for index, _ in refused)
    reasons = [
        {
            "reason": f"{'Index' if index else 'Table'}{kind.title()}{limit}",
            "resource": state.arn_of(index),
        }
        for index, limit in refused
    ]
    return error(
        400,
        "ProvisionedThroughputExceededException",
        GSI_MESSAGE if gsi else TABLE_MESSAGE,
        ThrottlingReasons=reasons,
    )


def transaction_throttled(reasons: Sequence[Sequence[tuple[str | None, Limit]]]) -> Reply:
    """A transaction short of capacity is cancelled; each action says whether it was why."""
    cancellation = []
    for refused in reasons:
        if refused:
            gsi = any(index is not None for index, _ in refused)
            message = GSI_MESSAGE if gsi else TABLE_MESSAGE
            cancellation.append({"Code": "ThrottlingError", "Message": message})
        else:
            cancellation.append({"Code": "None"})
    codes = ", ".join(c["Code"] for c in cancellation)
    return error(
        400,
        "TransactionCanceledException",
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        CancellationReasons=cancellation,
    )


def hash_of(state: TableState, key: Item) -> Any:
    return key.get(state.schema.hash_key)


def key_id(key: Mapping[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


def table_name(name: Any) -> str:
    """A table's name, also when the request names it by ARN."""
    if not isinstance(name, str) or not name:
        raise Unmetered("no table name")
    return name.split(":table/", 1)[1].split("/", 1)[0] if ":table/" in name else name


def expect_mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Unmetered(f"expected an object, found {value!r:.40}")
    return value


def expect_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise Unmetered(f"expected a list, found {value!r:.40}")
    return value


def single_action(entry: Any) -> tuple[str, Mapping[str, Any]]:
    """A transaction's entry: one action ({"Put": {...}}), or the engine's to refuse."""
    if not isinstance(entry, Mapping) or len(entry) != 1:
        raise Unmetered(f"not one transaction action: {entry!r:.60}")
    ((kind, action),) = entry.items()
    return kind, expect_mapping(action)


def checked(compute: Callable[[], Any]) -> Any:
    """Run a step on the client's input; a malformed input leaves the request to the engine."""
    try:
        return compute()
    except (ValueError, KeyError, TypeError, AttributeError) as problem:
        raise Unmetered(str(problem)) from None
