"""What each way of doing one thing costs, by DynamoDB's rules, and what the engine said.

A metered client (``Ledger.metered``) works out, for every request it makes, the read and
write units that DynamoDB's documented rules (``model``) charge for the items the request
really read and wrote: the items a Scan or Query evaluated (filtered out or not, read again
without the filter when one hides them), the item a write replaced (read first) and the one
it left. The figures are the model's, so they mean the same on every engine. Beside them it
keeps what the engine itself reported (every request asks ``ReturnConsumedCapacity`` =
INDEXES, removed from the answer unless the caller asked) and the first request where the
two differ. Nothing is admitted or refused: throttling is the gateway's
(``capacity.gateway``).

The reads that metering adds are made by the same client, unmetered; they cost time on the
approach measured, so benchmarks never use a metered client.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore import xform_name

from ddbspec.capacity.accounting import filters, projects, unfiltered
from ddbspec.capacity.metering import single_action
from ddbspec.capacity.model import (
    Item,
    Schema,
    WriteCost,
    failed_write_cost,
    item_size,
    query_units,
    read_units,
    write_cost,
)

TABLE = "table"  # the key of a table's own units, beside its indexes' names
PAGE_BYTES = 1024 * 1024  # a Query or Scan page ends at 1 MB of items evaluated
READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITES = {"PutItem", "DeleteItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems"}

_quiet = threading.local()  # set while metering makes its own requests


@contextlib.contextmanager
def unmetered() -> Iterator[None]:
    """Requests made here, on this thread, are metering's own: not counted."""
    before = getattr(_quiet, "on", False)
    _quiet.on = True
    try:
        yield
    finally:
        _quiet.on = before


@dataclass
class Spend:
    """What one approach consumed: units by DynamoDB's rules (by table, ``TABLE``, and by
    index name), what the engine reported, and the first request where the two differ."""

    requests: int = 0
    items: int = 0  # items evaluated by reads
    bytes: int = 0
    written: int = 0  # items written (a refused condition writes nothing)
    written_bytes: int = 0
    read: dict[str, float] = field(default_factory=dict)
    write: dict[str, float] = field(default_factory=dict)
    engine_read: float = 0.0
    engine_write: float = 0.0
    unreported: int = 0  # requests the engine answered without ConsumedCapacity
    differs: str | None = None
    measured: bool = True  # False: priced by the rules alone, no engine asked

    @property
    def rcu(self) -> float:
        return sum(self.read.values())

    @property
    def wcu(self) -> float:
        return sum(self.write.values())

    def meters_like_dynamodb(self) -> bool:
        return self.differs is None

    def as_row(self, name: str) -> dict[str, Any]:
        return {
            "approach": name,
            "requests": self.requests,
            "items": self.items,
            "bytes": self.bytes,
            "written": self.written,
            "written_bytes": self.written_bytes,
            "rcu": self.rcu,
            "wcu": self.wcu,
            "read": self.read,
            "write": self.write,
            "engine_rcu": self.engine_read,
            "engine_wcu": self.engine_write,
            "unreported": self.unreported,
            "differs": self.differs,
            "measured": self.measured,
        }


class Ledger:
    """The approaches of one spec module, each with its spend."""

    def __init__(self) -> None:
        self.spent: dict[str, Spend] = {}
        self._lock = threading.Lock()

    def metered(self, client: Any, approach: str) -> Any:
        """``client``, every request it makes from now on counted under ``approach``. The
        client should be a fresh one: its handlers stay."""
        meter = _Meter(client, self._spend(approach), self._lock)
        client.meta.events.register("before-parameter-build.dynamodb", meter.before)
        client.meta.events.register("after-call.dynamodb", meter.after)
        return client

    def _spend(self, approach: str) -> Spend:
        return self.spent.setdefault(approach, Spend())


def load_spend(schema: Schema, items: Iterable[Item]) -> Spend:
    """What writing ``items`` into an empty table costs: each item a put that replaces
    nothing (the loaders check that every item arrived, so these are the items written)."""
    return weighted_load_spend(schema, ((item, 1) for item in items))


def weighted_load_spend(schema: Schema, items: Iterable[tuple[Item, int]]) -> Spend:
    """``load_spend`` where each item stands for ``n`` items of its size and index entries:
    a million-item load priced from a few thousand."""
    spend = Spend(measured=False)
    for item, n in items:
        cost = write_cost(schema, None, item)
        spend.written += n
        spend.written_bytes += n * item_size(item)
        _add_write(spend.write, schema, cost, n)
    spend.requests = -(-spend.written // 25)
    return spend


def query_spend(where: str, sizes: Sequence[int], consistent: bool = False) -> Spend:
    """What one Query reading entries of these ``sizes`` from ``where`` costs, by the rules
    alone: a page ends at 1 MB, and each page rounds its bytes up once. (The service ends a
    page at 1 MB of its stored form, smaller than the billed size, as dynalite's author
    measured; a page priced here may end sooner, half a unit a page at most.)"""
    spend = Spend(items=len(sizes), bytes=sum(sizes), measured=False)
    pages: list[list[int]] = [[]]
    filled = 0
    for size in sizes:
        if pages[-1] and filled + size > PAGE_BYTES:
            pages.append([])
            filled = 0
        pages[-1].append(size)
        filled += size
    spend.requests = len(pages)
    spend.read[where] = sum(query_units(page, consistent) for page in pages)
    return spend


def combined(spends: Iterable[Spend]) -> Spend:
    """The spends of several requests priced apart, as one approach's."""
    total = Spend(measured=False)
    for spend in spends:
        for name in ("requests", "items", "bytes", "written", "written_bytes"):
            setattr(total, name, getattr(total, name) + getattr(spend, name))
        for mine, theirs in ((total.read, spend.read), (total.write, spend.write)):
            for where, units in theirs.items():
                mine[where] = mine.get(where, 0.0) + units
    return total


@dataclass
class _Pending:
    op: str
    request: dict[str, Any]
    asked: Any  # the caller's ReturnConsumedCapacity
    returns: Any  # the caller's ReturnValues
    olds: list[Item | None] = field(default_factory=list)


class _Meter:
    """The handlers of one metered client."""

    def __init__(self, client: Any, spend: Spend, lock: threading.Lock) -> None:
        self.client = client
        self.spend = spend
        self.lock = lock
        self.schemas: dict[str, Schema] = {}

    def before(self, params: dict[str, Any], model: Any, context: dict, **_: Any) -> None:
        op = model.name
        if getattr(_quiet, "on", False) or op not in READS | WRITES:
            return
        pending = _Pending(
            op, dict(params), params.get("ReturnConsumedCapacity"), params.get("ReturnValues")
        )
        if op in WRITES:
            pending.olds = self._olds(op, params)
        params["ReturnConsumedCapacity"] = "INDEXES"
        if op == "UpdateItem" and pending.returns in (None, "NONE"):
            params["ReturnValues"] = "ALL_NEW"
        context["ddbspec.cost"] = pending

    def after(self, http_response: Any, parsed: dict, context: dict, **_: Any) -> None:
        pending = context.pop("ddbspec.cost", None)
        if pending is None:
            return
        ok = http_response.status_code < 300
        code = parsed.get("Error", {}).get("Code") if not ok else None
        if not ok and code != "ConditionalCheckFailedException":
            return
        reported = parsed.pop("ConsumedCapacity", None) if ok else None
        if ok and pending.asked in ("TOTAL", "INDEXES") and reported is not None:
            parsed["ConsumedCapacity"] = reported
        with unmetered():
            kind, units, size = self._charge(pending, parsed, ok)
        if ok and pending.op == "UpdateItem" and pending.returns in (None, "NONE"):
            parsed.pop("Attributes", None)
        with self.lock:
            self._record(pending, kind, units, size, reported if ok else None, ok)

    # --- What the model charges ------------------------------------------------------------

    def _charge(
        self, p: _Pending, parsed: dict, ok: bool
    ) -> tuple[str, dict[str, float], tuple[int, int]]:
        """('read' or 'write', units by table or index, (items, bytes))."""
        if p.op in ("Query", "Scan"):
            return ("read", *self._query(p, parsed))
        if p.op in ("GetItem", "BatchGetItem", "TransactGetItems"):
            return ("read", *self._gets(p, parsed))
        units: dict[str, float] = {}
        count = written = 0
        left = parsed.get("UnprocessedItems") or {}
        batch = _batch_writes(p.request) if p.op == "BatchWriteItem" else [None] * len(p.olds)
        actions = zip(self._actions(p), p.olds, batch, strict=True)
        for (kind, action, schema, key), old, raw in actions:
            if raw is not None and raw in left.get(action["TableName"], []):
                continue  # handed back unprocessed: not written
            transactional = p.op == "TransactWriteItems"
            if not ok or kind == "ConditionCheck":
                cost = failed_write_cost(old, transactional)
                new = old
            else:
                new = self._new(p, kind, action, parsed, key)
                cost = write_cost(schema, old, new, transactional)
            _add_write(units, schema, cost)
            count += 1
            written += max(item_size(old), item_size(new))
        return "write", units, (count, written)

    def _query(self, p: _Pending, parsed: dict) -> tuple[dict[str, float], tuple[int, int]]:
        request = p.request
        evaluated = parsed.get("Items", [])
        if filters(request):
            shadow = getattr(self.client, xform_name(p.op))(**unfiltered(request))
            evaluated = shadow.get("Items", [])
        sizes = [item_size(i) for i in evaluated]
        consistent = bool(request.get("ConsistentRead"))
        where = request.get("IndexName") or TABLE
        return {where: query_units(sizes, consistent)}, (len(sizes), sum(sizes))

    def _gets(self, p: _Pending, parsed: dict) -> tuple[dict[str, float], tuple[int, int]]:
        """GetItem, BatchGetItem, TransactGetItems: each item read, whole, on its own."""
        reads: list[tuple[str, Mapping[str, Any], bool, bool]] = []  # table, key, consistent
        found: list[Item | None] = []
        if p.op == "GetItem":
            reads.append(_get(p.request, False))
            found.append(parsed.get("Item"))
        elif p.op == "TransactGetItems":
            for entry, answer in zip(p.request["TransactItems"], parsed["Responses"], strict=True):
                reads.append(_get(entry["Get"], True))
                found.append(answer.get("Item"))
        else:
            left = parsed.get("UnprocessedKeys") or {}
            for table, asked in p.request["RequestItems"].items():
                schema = self._schema(table)
                returned = {
                    _key_id(schema.key_of(i)): i for i in parsed["Responses"].get(table, [])
                }
                skipped = left.get(table, {}).get("Keys", [])
                for key in (k for k in asked["Keys"] if k not in skipped):
                    reads.append(_get({**asked, "TableName": table, "Key": key}, False))
                    found.append(returned.get(_key_id(key)))
        units: dict[str, float] = {}
        sizes = []
        for (table, key, consistent, transactional), item in zip(reads, found, strict=True):
            if item is not None and projects(p.request):  # the whole item is read
                item = self._read(table, key)
            sizes.append(item_size(item))
            units[TABLE] = units.get(TABLE, 0.0) + read_units(sizes[-1], consistent, transactional)
        return units, (sum(1 for i in found if i is not None), sum(sizes))

    def _actions(self, p: _Pending) -> list[tuple[str, Mapping[str, Any], Schema, Item]]:
        """Each item a write request writes: (kind, its action, its table, its key)."""
        if p.op == "TransactWriteItems":
            actions = [single_action(entry) for entry in p.request["TransactItems"]]
        elif p.op == "BatchWriteItem":
            actions = []
            for table, writes in p.request["RequestItems"].items():
                for w in writes:
                    kind = "Put" if "PutRequest" in w else "Delete"
                    action = w.get("PutRequest") or w.get("DeleteRequest")
                    actions.append((kind, {**action, "TableName": table}))
        else:
            actions = [(p.op.removesuffix("Item"), p.request)]
        out = []
        for kind, action in actions:
            schema = self._schema(action["TableName"])
            key = schema.key_of(action["Item"]) if kind == "Put" else action["Key"]
            out.append((kind, action, schema, key))
        return out

    def _olds(self, op: str, params: dict[str, Any]) -> list[Item | None]:
        """The items a write will replace, read before it runs (a batch's in batches)."""
        with unmetered():
            actions = self._actions(_Pending(op, params, None, None))
            if op != "BatchWriteItem":
                return [self._read(a["TableName"], key) for _, a, _, key in actions]
            found = self._read_many([(a["TableName"], key) for _, a, _, key in actions])
            return [found.get((a["TableName"], _key_id(key))) for _, a, _, key in actions]

    def _read_many(self, keys: list[tuple[str, Item]]) -> dict[tuple[str, str], Item]:
        """The items at ``keys`` (table, key), strongly consistent, by (table, key id)."""
        asked: dict[str, Any] = {}
        for table, key in keys:
            entry = asked.setdefault(table, {"Keys": [], "ConsistentRead": True})
            if key not in entry["Keys"]:
                entry["Keys"].append(key)
        found: dict[tuple[str, str], Item] = {}
        while asked:
            answer = self.client.batch_get_item(RequestItems=asked)
            for table, items in answer.get("Responses", {}).items():
                schema = self._schema(table)
                found.update({(table, _key_id(schema.key_of(i))): i for i in items})
            asked = answer.get("UnprocessedKeys") or {}
        return found

    def _new(
        self, p: _Pending, kind: str, action: Mapping[str, Any], parsed: dict, key: Item
    ) -> Item | None:
        if kind == "Put":
            return action["Item"]
        if kind == "Delete":
            return None
        if p.op == "UpdateItem" and p.returns in (None, "NONE", "ALL_NEW"):
            return parsed.get("Attributes")
        return self._read(action["TableName"], key)

    def _read(self, table: str, key: Mapping[str, Any]) -> Item | None:
        return self.client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def _schema(self, table: str) -> Schema:
        if table not in self.schemas:
            with unmetered():
                desc = self.client.describe_table(TableName=table)["Table"]
            self.schemas[table] = Schema.from_description(desc)
        return self.schemas[table]

    # --- The ledger ---------------------------------------------------------------------------

    def _record(
        self,
        p: _Pending,
        kind: str,
        units: dict[str, float],
        size: tuple[int, int],
        reported: Any,
        ok: bool,
    ) -> None:
        s = self.spend
        s.requests += 1
        if kind == "read":
            s.items += size[0]
            s.bytes += size[1]
        elif ok:
            s.written += size[0]
            s.written_bytes += size[1]
        into = s.read if kind == "read" else s.write
        for where, n in units.items():
            into[where] = into.get(where, 0.0) + n
        if not ok:  # an engine reports nothing on a refused condition: nothing to compare
            return
        if reported is None:
            s.unreported += 1
        engine = engine_units(reported)
        setattr(s, f"engine_{kind}", getattr(s, f"engine_{kind}") + engine)
        model = sum(units.values())
        if s.differs is None and engine != model:
            what = "RCU" if kind == "read" else "WCU"
            said = "no ConsumedCapacity" if reported is None else f"{engine:g} {what}"
            s.differs = (
                f"{p.op} of {_kb(size[1])}: engine {said}, DynamoDB's rules {model:g} {what}"
            )


def engine_units(reported: Any) -> float:
    """The units an engine reported in ConsumedCapacity (one, or a list for batches)."""
    if reported is None:
        return 0.0
    entries = reported if isinstance(reported, list) else [reported]
    return float(sum(e.get("CapacityUnits", 0.0) for e in entries))


def _add_write(units: dict[str, float], schema: Schema, cost: WriteCost, times: int = 1) -> None:
    units[TABLE] = units.get(TABLE, 0.0) + times * cost.table
    for local in (False, True):
        for name, n in cost.on(schema, local).items():
            units[name] = units.get(name, 0.0) + times * n


def _get(action: Mapping[str, Any], transactional: bool) -> tuple[str, Any, bool, bool]:
    return action["TableName"], action["Key"], bool(action.get("ConsistentRead")), transactional


def _batch_writes(request: Mapping[str, Any]) -> list[Any]:
    return [w for writes in request["RequestItems"].values() for w in writes]


def _key_id(key: Mapping[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in key.items()))


def _kb(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    return f"{size / 1024:.1f} KB" if size < 10 * 1024 else f"{size / 1024:.0f} KB"
