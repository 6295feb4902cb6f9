"""What each request costs and whether its table can take it now: the gateway's accounting.

For every data-plane request the gateway (``ddbspec.gateway``) asks this module to handle,
the answer is computed as DynamoDB would: the request's units by the model in
``ddbspec.capacity`` (a write needs the item it replaces, read from the engine first, under a
per-key lock so no other write through the gateway slips in between); admission against the
table's and its indexes' buckets; the engine's answer forwarded with ``ConsumedCapacity``
replaced by the model's; or DynamoDB's throttling error, with its status, ``__type``,
message and ``ThrottlingReasons``. Metrics are recorded on the way.

Capacity comes from what the tables say about themselves: CreateTable and DescribeTable
answers, and after an UpdateTable, the table's description once it is ACTIVE again (until
then the old capacity holds, as in the service). A request the model cannot read (malformed
JSON, an unknown table, a missing key) is forwarded unchanged, so the engine answers it as it
would; so are the operations it does not meter (PartiQL), said in ``UNMETERED``.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ddbspec.capacity import (
    Clock,
    IndexSchema,
    IndexWrite,
    Item,
    Kind,
    Limit,
    Meter,
    Schema,
    WriteCost,
    failed_write_cost,
    item_size,
    query_units,
    read_units,
    write_cost,
    write_units,
)
from ddbspec.metrics import CONSUMED, THROTTLE_EVENTS, THROTTLED_REQUESTS, Metrics

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
UNMETERED = ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction")
REFRESH_SECONDS = 0.05  # how often a table waiting for ACTIVE is described again (real time)
_NAME = re.compile(r"#?[A-Za-z_][A-Za-z0-9_]*")


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
        self, table: str, index: str | None, desc: Mapping[str, Any], on_demand: bool,
        now: float, age: float,
    ) -> Meter:  # fmt: skip
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


# --- The metering of each operation ----------------------------------------------------------


class Metering:
    """Handles the requests the gateway meters; see the module's docstring."""

    def __init__(self, clock: Clock, metrics: Metrics, region: str = "us-east-1") -> None:
        self.clock, self.metrics = clock, metrics
        self.tables = Tables(clock, metrics, region)
        self.locks = KeyLocks()
        self.handlers: dict[str, Callable[[Exchange], Reply]] = {
            "CreateTable": self.create_table,
            "UpdateTable": self.update_table,
            "DescribeTable": self.describe_table,
            "DeleteTable": self.delete_table,
            "PutItem": self.put_item,
            "DeleteItem": self.delete_item,
            "UpdateItem": self.update_item,
            "BatchWriteItem": self.batch_write_item,
            "GetItem": self.get_item,
            "BatchGetItem": self.batch_get_item,
            "Query": self.query,
            "Scan": self.query,
            "TransactWriteItems": self.transact_write_items,
            "TransactGetItems": self.transact_get_items,
        }

    def handle(self, ex: Exchange) -> Reply:
        handler = self.handlers.get(ex.op)
        if handler is None:
            return ex.forward()
        try:
            return handler(ex)
        except Unmetered:
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
            state = self.tables.get(_table_name(ex.body.get("TableName")))
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
            self.tables.forget(_table_name(ex.body.get("TableName")))
        return reply

    def state(self, ex: Exchange, name: Any) -> TableState:
        """The table a request names, learnt from the engine on first sight."""
        table = _table_name(name)
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

    # -- single-item writes --

    def put_item(self, ex: Exchange) -> Reply:
        item = _mapping(ex.body.get("Item"))
        return self._write(ex, item, lambda old: item)

    def delete_item(self, ex: Exchange) -> Reply:
        return self._write(ex, _mapping(ex.body.get("Key")), lambda old: None)

    def update_item(self, ex: Exchange) -> Reply:
        return self._write(ex, _mapping(ex.body.get("Key")), None)

    def _write(
        self, ex: Exchange, item: Item, after: Callable[[Item | None], Item | None] | None
    ) -> Reply:
        """PutItem, DeleteItem, UpdateItem. ``after`` gives the item the write leaves; for an
        update (None) that is only known once the engine has applied it, so admission takes
        an estimate and settlement corrects it."""
        state = self.state(ex, ex.body.get("TableName"))
        key = _checked(lambda: state.schema.key_of(item))
        with self.locks.holding([(state.name, key)]):
            old = self.read(ex, state, [key])[0]
            if after is None:
                new = old
                estimate = update_estimate(state.schema, old, ex.body)
            else:
                new = after(old)
                estimate = _checked(lambda: write_cost(state.schema, old, new))
            taken = write_charges(state, key, estimate, old, new)
            refused = self.admit(state, "write", taken)
            if refused:
                return self.refuse(state, "write", refused, ex.op)
            asked = ex.body.get("ReturnValues", "NONE")
            returns_new = after is None and asked in ("NONE", "ALL_NEW")
            reply = ex.forward({**ex.body, "ReturnValues": "ALL_NEW"} if returns_new else None)
            data = reply.json() or {}
            if reply.status != 200:
                failed = reply.error_code == "ConditionalCheckFailedException"
                cost = failed_write_cost(old) if failed else None
                self.settle(state, "write", taken, write_charges(state, key, cost, old, old), ex.op)
                return reply
            if after is None:
                new = data.get("Attributes") if returns_new else self.read(ex, state, [key])[0]
                if asked == "NONE":
                    data.pop("Attributes", None)
            cost = write_cost(state.schema, old, new)
            self.settle(state, "write", taken, write_charges(state, key, cost, old, new), ex.op)
            state.grow(item_size(new) - item_size(old))
        return with_consumed(
            reply, data, ex.body, "write", [(ex.body["TableName"], usage_of(state, cost))]
        )

    def read(
        self, ex: Exchange, state: TableState, keys: Sequence[Item], consistent: bool = True
    ) -> list[dict[str, Any] | None]:
        """The items at ``keys`` (None where there is none), read from the engine."""
        if len(keys) == 1:
            payload = {"TableName": state.name, "Key": keys[0], "ConsistentRead": consistent}
            reply = ex.call("GetItem", payload)
            if reply.status != 200:
                raise Unmetered(f"the engine refused to read {keys[0]}")
            return [(reply.json() or {}).get("Item")]
        found: dict[str, dict[str, Any]] = {}
        pending: list[Item] = list(keys)
        for _ in range(10):
            if not pending:
                break
            request = {state.name: {"Keys": pending, "ConsistentRead": consistent}}
            data = ex.call("BatchGetItem", {"RequestItems": request}).json()
            if data is None or "Responses" not in data:
                raise Unmetered("the engine refused to read the batch's items")
            for item in data["Responses"].get(state.name, []):
                found[_key_id(state.schema.key_of(item))] = item
            pending = data.get("UnprocessedKeys", {}).get(state.name, {}).get("Keys", [])
        if pending:
            raise Unmetered("the engine kept the batch's items unprocessed")
        return [found.get(_key_id(k)) for k in keys]

    # -- BatchWriteItem: each item admitted on its own, the rest handed back unprocessed --

    def batch_write_item(self, ex: Exchange) -> Reply:
        requests = _mapping(ex.body.get("RequestItems"))
        states = {table: self.state(ex, table) for table in requests}
        plans = []  # (table as named, state, request, key, item after)
        for table, writes in requests.items():
            state = states[table]
            for write in _list(writes):
                if "PutRequest" in _mapping(write):
                    new = _mapping(_mapping(write["PutRequest"]).get("Item"))
                    key = _checked(lambda s=state, n=new: s.schema.key_of(n))
                else:
                    new, key = None, _mapping(_mapping(write.get("DeleteRequest")).get("Key"))
                plans.append((table, state, write, key, new))
        ids = [(table, _key_id(key)) for table, _, _, key, _ in plans]
        if not plans or len(set(ids)) < len(ids):
            raise Unmetered("an empty batch, or one writing an item twice: the engine's to refuse")
        with self.locks.holding([(s.name, k) for _, s, _, k, _ in plans]):
            olds: dict[tuple[str, str], Item | None] = {}
            for table, state in states.items():
                keys = [k for t, _, _, k, _ in plans if t == table]
                found = self.read(ex, state, keys) if keys else []
                olds.update(zip([(table, _key_id(k)) for k in keys], found, strict=True))
            admitted: dict[str, list] = {}
            unprocessed: dict[str, list] = {}
            settling, refusals = [], []
            for (table, state, write, key, new), item_id in zip(plans, ids, strict=True):
                old = olds[item_id]
                cost = _checked(lambda s=state, o=old, n=new: write_cost(s.schema, o, n))
                taken = write_charges(state, key, cost, old, new)
                refused = self.admit(state, "write", taken)
                if refused:
                    unprocessed.setdefault(table, []).append(write)
                    refusals.append((state, refused))
                else:
                    admitted.setdefault(table, []).append(write)
                    settling.append((table, state, write, taken, cost, old, new))
            if not admitted:  # nothing could go: the whole request is throttled
                state, refused = refusals[0]
                tables = list(dict.fromkeys(s.name for s, _ in refusals))
                return self.refuse(state, "write", refused, ex.op, tables)
            reply = ex.forward({**ex.body, "RequestItems": admitted})
            data = reply.json() or {}
            left = data.get("UnprocessedItems") or {}
            usages = {table: Usage() for table in requests}
            for table, state, write, taken, cost, old, new in settling:
                done = reply.status == 200 and write not in left.get(table, [])
                self.settle(state, "write", taken, taken if done else [], ex.op)
                if done:
                    usages[table].add(usage_of(state, cost))
                    state.grow(item_size(new) - item_size(old))
        if reply.status != 200:
            return reply
        merged = data.setdefault("UnprocessedItems", {})
        for table, writes in unprocessed.items():
            merged.setdefault(table, []).extend(writes)
        return with_consumed(reply, data, ex.body, "write", list(usages.items()), many=True)

    # -- reads --

    def get_item(self, ex: Exchange) -> Reply:
        state = self.state(ex, ex.body.get("TableName"))
        key = _mapping(ex.body.get("Key"))
        consistent = bool(ex.body.get("ConsistentRead"))
        taken = [Charge(None, read_units(0, consistent), _hash(state, key))]
        refused = self.admit(state, "read", taken)
        if refused:
            return self.refuse(state, "read", refused, ex.op)
        reply = ex.forward()
        data = reply.json() or {}
        if reply.status != 200:
            self.settle(state, "read", taken, [], ex.op)
            return reply
        item = data.get("Item")
        if item is not None and _projects(ex.body):  # the whole item is read, and paid for
            item = self.read(ex, state, [key], consistent)[0]
        units = read_units(item_size(item), consistent)
        self.settle(state, "read", taken, [Charge(None, units, _hash(state, key))], ex.op)
        return with_consumed(reply, data, ex.body, "read", [(ex.body["TableName"], Usage(units))])

    def batch_get_item(self, ex: Exchange) -> Reply:
        requests = _mapping(ex.body.get("RequestItems"))
        admitted: dict[str, Any] = {}
        unprocessed: dict[str, Any] = {}
        taken: dict[str, list[tuple[Item, Charge]]] = {}
        refusals = []
        for table, asked in requests.items():
            state = self.state(ex, table)
            units = read_units(0, bool(_mapping(asked).get("ConsistentRead")))
            for key in _list(asked.get("Keys")):
                charge = Charge(None, units, _hash(state, _mapping(key)))
                refused = self.admit(state, "read", [charge])
                into = unprocessed if refused else admitted
                into.setdefault(table, {**asked, "Keys": []})["Keys"].append(key)
                if refused:
                    refusals.append((state, refused))
                else:
                    taken.setdefault(table, []).append((key, charge))
        if not admitted:
            if not refusals:
                raise Unmetered("a BatchGetItem without keys is the engine's to refuse")
            tables = list(dict.fromkeys(s.name for s, _ in refusals))
            return self.refuse(*refusals[0][:1], "read", refusals[0][1], ex.op, tables)
        reply = ex.forward({**ex.body, "RequestItems": admitted})
        data = reply.json() or {}
        usages = []
        for table, charges in taken.items():
            state = self.state(ex, table)
            if reply.status != 200:
                self.settle(state, "read", [c for _, c in charges], [], ex.op)
                continue
            consistent = bool(requests[table].get("ConsistentRead"))
            left = data.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            done = [(k, c) for k, c in charges if k not in left]
            if _projects(requests[table]):  # whole items are read, and paid for
                items = self.read(ex, state, [k for k, _ in done], consistent) if done else []
            else:
                returned = data.get("Responses", {}).get(table, [])
                by_key = {_key_id(state.schema.key_of(i)): i for i in returned}
                items = [by_key.get(_key_id(k)) for k, _ in done]
            actual = [
                Charge(None, read_units(item_size(item), consistent), c.key)
                for (_, c), item in zip(done, items, strict=True)
            ]
            self.settle(state, "read", [c for _, c in charges], actual, ex.op)
            usages.append((table, Usage(sum(c.units for c in actual))))
        if reply.status != 200:
            return reply
        merged = data.setdefault("UnprocessedKeys", {})
        for table, asked in unprocessed.items():
            merged.setdefault(table, {**asked, "Keys": []})["Keys"].extend(asked["Keys"])
        return with_consumed(reply, data, ex.body, "read", usages, many=True)

    def query(self, ex: Exchange) -> Reply:
        """Query and Scan: the size of every item evaluated, filtered out or not, summed."""
        state = self.state(ex, ex.body.get("TableName"))
        name = ex.body.get("IndexName")
        index = state.index(name) if name else None
        if name and index is None:
            raise Unmetered(f"no index {name}: the engine's to refuse")
        gsi = index is not None and not index.local
        consistent = bool(ex.body.get("ConsistentRead")) and not gsi
        meter = name if gsi else None
        taken = [Charge(meter, read_units(0, consistent))]
        refused = self.admit(state, "read", taken)
        if refused:
            return self.refuse(state, "read", refused, ex.op)
        reply = ex.forward()
        data = reply.json() or {}
        if reply.status != 200:
            self.settle(state, "read", taken, [], ex.op)
            return reply
        evaluated = data.get("Items", [])
        if _filters(ex.body):
            evaluated = (ex.call(ex.op, unfiltered(ex.body)).json() or {}).get("Items", [])
        units = query_units((item_size(i) for i in evaluated), consistent)
        self.settle(state, "read", taken, [Charge(meter, units)], ex.op)
        usage = Usage(0.0 if index else units)
        if index is not None:
            (usage.lsi if index.local else usage.gsi)[index.name] = units
        return with_consumed(reply, data, ex.body, "read", [(ex.body["TableName"], usage)])

    # -- transactions: all or nothing, at twice the units --

    def transact_write_items(self, ex: Exchange) -> Reply:
        actions = []  # (action kind, action, state, key, item after or None if unknown yet)
        for entry in _list(ex.body.get("TransactItems")):
            kind, action = _single(entry)
            state = self.state(ex, action.get("TableName"))
            if kind == "Put":
                item = _mapping(action.get("Item"))
                actions.append(
                    (kind, action, state, _checked(lambda s=state, i=item: s.schema.key_of(i)))
                )
            else:
                actions.append((kind, action, state, _mapping(action.get("Key"))))
        with self.locks.holding([(s.name, k) for _, _, s, k in actions]):
            olds = [self.read(ex, s, [k])[0] for _, _, s, k in actions]
            takens = []
            for (kind, action, state, key), old in zip(actions, olds, strict=True):
                new = _after(kind, action, old)
                estimate = (
                    update_estimate(state.schema, old, action, transactional=True)
                    if kind == "Update"
                    else _transact_cost(state.schema, kind, old, new)
                )
                takens.append(write_charges(state, key, estimate, old, new))
            reasons = [
                self.admit(s, "write", t) for (_, _, s, _), t in zip(actions, takens, strict=True)
            ]
            if any(reasons):
                for (_, _, state, _), taken, refused in zip(actions, takens, reasons, strict=True):
                    if not refused:
                        self.settle(state, "write", taken, [], ex.op)
                state = next(a[2] for a, r in zip(actions, reasons, strict=True) if r)
                self.metrics.add(THROTTLED_REQUESTS, state.name, None, 1, operation=ex.op)
                return transaction_throttled(reasons)
            reply = ex.forward()
            usages: dict[str, Usage] = {}
            for (kind, action, state, key), old, taken in zip(actions, olds, takens, strict=True):
                if reply.status != 200:
                    self.settle(state, "write", taken, [], ex.op)
                    continue
                new = (
                    self.read(ex, state, [key])[0]
                    if kind == "Update"
                    else _after(kind, action, old)
                )
                cost = _transact_cost(state.schema, kind, old, new)
                self.settle(state, "write", taken, write_charges(state, key, cost, old, new), ex.op)
                usages.setdefault(action["TableName"], Usage()).add(usage_of(state, cost))
        if reply.status != 200:
            return reply
        return with_consumed(
            reply, reply.json() or {}, ex.body, "write", list(usages.items()), many=True
        )

    def transact_get_items(self, ex: Exchange) -> Reply:
        gets = []
        for entry in _list(ex.body.get("TransactItems")):
            action = _mapping(_mapping(entry).get("Get"))
            state = self.state(ex, action.get("TableName"))
            key = _mapping(action.get("Key"))
            gets.append(
                (
                    action,
                    state,
                    key,
                    [Charge(None, read_units(0, transactional=True), _hash(state, key))],
                )
            )
        reasons = [self.admit(s, "read", t) for _, s, _, t in gets]
        if any(reasons):
            for (_, state, _, taken), refused in zip(gets, reasons, strict=True):
                if not refused:
                    self.settle(state, "read", taken, [], ex.op)
            state = next(g[1] for g, r in zip(gets, reasons, strict=True) if r)
            self.metrics.add(THROTTLED_REQUESTS, state.name, None, 1, operation=ex.op)
            return transaction_throttled(reasons)
        reply = ex.forward()
        usages: dict[str, Usage] = {}
        for action, state, key, taken in gets:
            if reply.status != 200:
                self.settle(state, "read", taken, [], ex.op)
                continue
            units = read_units(item_size(self.read(ex, state, [key])[0]), transactional=True)
            self.settle(state, "read", taken, [Charge(None, units, _hash(state, key))], ex.op)
            usages.setdefault(action["TableName"], Usage()).add(Usage(units))
        if reply.status != 200:
            return reply
        return with_consumed(
            reply, reply.json() or {}, ex.body, "read", list(usages.items()), many=True
        )


def _after(kind: str, action: Mapping[str, Any], old: Item | None) -> Item | None:
    """The item a transaction's action leaves (an Update's is read back afterwards)."""
    return {"Put": action.get("Item"), "Delete": None}.get(kind, old)


def _transact_cost(schema: Schema, kind: str, old: Item | None, new: Item | None) -> WriteCost:
    if kind == "ConditionCheck":  # the item is read to check it, and written nowhere
        return failed_write_cost(old, transactional=True)
    return _checked(lambda: write_cost(schema, old, new, transactional=True))


# --- Helpers: costs as charges, consumed capacity, throttling errors ----------------------------


def update_estimate(
    schema: Schema, old: Item | None, request: Mapping[str, Any], transactional: bool = False
) -> WriteCost:
    """What an UpdateItem will cost at least, before it runs: the table the old item's units;
    an index one write if the item is in it or the update names the index's key."""
    named = _names(request)
    indexes = {}
    for index in schema.indexes:
        if index.holds(old) or {index.hash_key, index.range_key} & named:
            entry = schema.projected(index, old)
            indexes[index.name] = IndexWrite(1, write_units(item_size(entry), transactional))
    return WriteCost(write_units(item_size(old), transactional), indexes)


def _names(request: Mapping[str, Any]) -> set[str]:
    """Attribute names an update expression (or the legacy AttributeUpdates) mentions."""
    aliases = request.get("ExpressionAttributeNames") or {}
    words = _NAME.findall(str(request.get("UpdateExpression", "")))
    return {aliases.get(w, w) for w in words} | set(request.get("AttributeUpdates") or ())


def write_charges(
    state: TableState, key: Item, cost: WriteCost | None, old: Item | None, new: Item | None
) -> list[Charge]:
    """A write's units as charges: the table (with its local indexes) under the item's
    partition key, each global index touched under the entry's own partition key."""
    if cost is None:
        return []
    lsi = cost.on(state.schema, local=True)
    charges = [Charge(None, cost.table + sum(lsi.values()), _hash(state, key))]
    for name, units in cost.on(state.schema, local=False).items():
        index = state.index(name)
        assert index is not None
        entry = new if index.holds(new) else old
        charges.append(Charge(name, units, entry.get(index.hash_key) if entry else None))
    return charges


def usage_of(state: TableState, cost: WriteCost) -> Usage:
    return Usage(cost.table, cost.on(state.schema, False), cost.on(state.schema, True))


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


def unfiltered(request: Mapping[str, Any]) -> dict[str, Any]:
    """The same Query or Scan without its filter and projection: what it evaluates.

    Pages match the original's, since Limit and the 1 MB page both count evaluated items.
    Names and values only the filter used are dropped (DynamoDB refuses unused ones).
    """
    dropped = {
        "FilterExpression", "ProjectionExpression", "QueryFilter", "ScanFilter",
        "ConditionalOperator", "AttributesToGet", "Select", "ReturnConsumedCapacity",
        "ExpressionAttributeNames", "ExpressionAttributeValues",
    }  # fmt: skip
    shadow = {k: v for k, v in request.items() if k not in dropped}
    used = set(_NAME.findall(str(request.get("KeyConditionExpression", ""))))
    used |= set(re.findall(r":[A-Za-z0-9_]+", str(request.get("KeyConditionExpression", ""))))
    for field_name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        kept = {k: v for k, v in (request.get(field_name) or {}).items() if k in used}
        if kept:
            shadow[field_name] = kept
    return shadow


def _filters(request: Mapping[str, Any]) -> bool:
    """Whether the items returned are not all the items evaluated, or not whole."""
    select = request.get("Select")
    return (
        _projects(request)
        or any(k in request for k in ("FilterExpression", "QueryFilter", "ScanFilter"))
        or select in ("COUNT", "SPECIFIC_ATTRIBUTES")
    )


def _projects(request: Mapping[str, Any]) -> bool:
    return "ProjectionExpression" in request or "AttributesToGet" in request


def _hash(state: TableState, key: Item) -> Any:
    return key.get(state.schema.hash_key)


def _key_id(key: Mapping[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


def _table_name(name: Any) -> str:
    """A table's name, also when the request names it by ARN."""
    if not isinstance(name, str) or not name:
        raise Unmetered("no table name")
    return name.split(":table/", 1)[1].split("/", 1)[0] if ":table/" in name else name


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Unmetered(f"expected an object, found {value!r:.40}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise Unmetered(f"expected a list, found {value!r:.40}")
    return value


def _single(entry: Any) -> tuple[str, Mapping[str, Any]]:
    """A transaction's entry: one action ({"Put": {...}}), or the engine's to refuse."""
    if not isinstance(entry, Mapping) or len(entry) != 1:
        raise Unmetered(f"not one transaction action: {entry!r:.60}")
    ((kind, action),) = entry.items()
    return kind, _mapping(action)


def _checked(compute: Callable[[], Any]) -> Any:
    """Run a step on the client's input; a malformed input leaves the request to the engine."""
    try:
        return compute()
    except (ValueError, KeyError, TypeError, AttributeError) as problem:
        raise Unmetered(str(problem)) from None
