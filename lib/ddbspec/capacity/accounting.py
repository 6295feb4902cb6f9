"""The accounting of each data-plane operation, as DynamoDB does it (see ``metering``).

One function per operation, each given the gateway's ``Metering`` (its tables, meters and
metrics) and the ``Exchange`` in flight: it reads what the model needs from the engine (the
items a write replaces, whole items where a read projects), asks admission for the units,
forwards, settles what the request really cost, and shapes the answer. Writes to an item
hold its lock from that first read to the settlement, so no other write through the gateway
can change the item in between. ``OPERATIONS`` maps each operation's name to its function;
the others (PartiQL among them, whose statements the model does not parse) go unmetered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from ddbspec.capacity.metering import (
    Charge,
    Exchange,
    Metering,
    Reply,
    TableState,
    Unmetered,
    Usage,
    checked,
    expect_list,
    expect_mapping,
    hash_of,
    key_id,
    single_action,
    with_consumed,
)
from ddbspec.capacity.model import (
    IndexWrite,
    Item,
    Schema,
    WriteCost,
    failed_write_cost,
    item_size,
    query_units,
    read_units,
    write_cost,
    write_units,
)

NAME = re.compile(r"#?[A-Za-z_][A-Za-z0-9_]*")  # a name in an expression, or its #alias

# --- Single-item writes ----------------------------------------------------------------------


def put_item(m: Metering, ex: Exchange) -> Reply:
    item = expect_mapping(ex.body.get("Item"))
    return _write(m, ex, item, lambda old: item)


def delete_item(m: Metering, ex: Exchange) -> Reply:
    return _write(m, ex, expect_mapping(ex.body.get("Key")), lambda old: None)


def update_item(m: Metering, ex: Exchange) -> Reply:
    return _write(m, ex, expect_mapping(ex.body.get("Key")), None)


def _write(
    m: Metering, ex: Exchange, item: Item, after: Callable[[Item | None], Item | None] | None
) -> Reply:
    """PutItem, DeleteItem, UpdateItem. ``after`` gives the item the write leaves; for an
    update (None) that is only known once the engine has applied it, so admission takes
    an estimate and settlement corrects it."""
    state = m.state(ex, ex.body.get("TableName"))
    key = checked(lambda: state.schema.key_of(item))
    with m.locks.holding([(state.name, key)]):
        old = read_items(ex, state, [key])[0]
        new: Item | None
        if after is None:
            new = old
            estimate = update_estimate(state.schema, old, ex.body)
        else:
            new = after(old)
            estimate = checked(lambda: write_cost(state.schema, old, new))
        taken = write_charges(state, key, estimate, old, new)
        refused = m.admit(state, "write", taken)
        if refused:
            return m.refuse(state, "write", refused, ex.op)
        asked = ex.body.get("ReturnValues", "NONE")
        returns_new = after is None and asked in ("NONE", "ALL_NEW")
        reply = ex.forward({**ex.body, "ReturnValues": "ALL_NEW"} if returns_new else None)
        data = reply.json() or {}
        if reply.status != 200:
            failed = reply.error_code == "ConditionalCheckFailedException"
            cost = failed_write_cost(old) if failed else None
            m.settle(state, "write", taken, write_charges(state, key, cost, old, old), ex.op)
            return reply
        if after is None:
            new = data.get("Attributes") if returns_new else read_items(ex, state, [key])[0]
            if asked == "NONE":
                data.pop("Attributes", None)
        cost = write_cost(state.schema, old, new)
        m.settle(state, "write", taken, write_charges(state, key, cost, old, new), ex.op)
        state.grow(item_size(new) - item_size(old))
    return with_consumed(
        reply, data, ex.body, "write", [(ex.body["TableName"], usage_of(state, cost))]
    )


def read_items(
    ex: Exchange, state: TableState, keys: Sequence[Item], consistent: bool = True
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
            found[key_id(state.schema.key_of(item))] = item
        pending = data.get("UnprocessedKeys", {}).get(state.name, {}).get("Keys", [])
    if pending:
        raise Unmetered("the engine kept the batch's items unprocessed")
    return [found.get(key_id(k)) for k in keys]


# --- BatchWriteItem: each item admitted on its own, the rest handed back ----------------------


def batch_write_item(m: Metering, ex: Exchange) -> Reply:
    requests = expect_mapping(ex.body.get("RequestItems"))
    states = {table: m.state(ex, table) for table in requests}
    plans = []  # (table as named, state, request, key, item after)
    for table, writes in requests.items():
        state = states[table]
        for write in expect_list(writes):
            if "PutRequest" in expect_mapping(write):
                new = expect_mapping(expect_mapping(write["PutRequest"]).get("Item"))
                key = checked(partial(state.schema.key_of, new))
            else:
                new = None
                key = expect_mapping(expect_mapping(write.get("DeleteRequest")).get("Key"))
            plans.append((table, state, write, key, new))
    ids = [(table, key_id(key)) for table, _, _, key, _ in plans]
    if not plans or len(set(ids)) < len(ids):
        raise Unmetered("an empty batch, or one writing an item twice: the engine's to refuse")
    with m.locks.holding([(s.name, k) for _, s, _, k, _ in plans]):
        olds: dict[tuple[str, str], Item | None] = {}
        for table, state in states.items():
            keys = [k for t, _, _, k, _ in plans if t == table]
            found = read_items(ex, state, keys) if keys else []
            olds.update(zip([(table, key_id(k)) for k in keys], found, strict=True))
        admitted: dict[str, list] = {}
        unprocessed: dict[str, list] = {}
        settling, refusals = [], []
        for (table, state, write, key, new), item_id in zip(plans, ids, strict=True):
            old = olds[item_id]
            cost = checked(partial(write_cost, state.schema, old, new))
            taken = write_charges(state, key, cost, old, new)
            refused = m.admit(state, "write", taken)
            if refused:
                unprocessed.setdefault(table, []).append(write)
                refusals.append((state, refused))
            else:
                admitted.setdefault(table, []).append(write)
                settling.append((table, state, write, taken, cost, old, new))
        if not admitted:  # nothing could go: the whole request is throttled
            state, refused = refusals[0]
            tables = list(dict.fromkeys(s.name for s, _ in refusals))
            return m.refuse(state, "write", refused, ex.op, tables)
        reply = ex.forward({**ex.body, "RequestItems": admitted})
        data = reply.json() or {}
        left = data.get("UnprocessedItems") or {}
        usages = {table: Usage() for table in requests}
        for table, state, write, taken, cost, old, new in settling:
            done = reply.status == 200 and write not in left.get(table, [])
            m.settle(state, "write", taken, taken if done else [], ex.op)
            if done:
                usages[table].add(usage_of(state, cost))
                state.grow(item_size(new) - item_size(old))
    if reply.status != 200:
        return reply
    merged = data.setdefault("UnprocessedItems", {})
    for table, writes in unprocessed.items():
        merged.setdefault(table, []).extend(writes)
    return with_consumed(reply, data, ex.body, "write", list(usages.items()), many=True)


# --- Reads ------------------------------------------------------------------------------------


def get_item(m: Metering, ex: Exchange) -> Reply:
    state = m.state(ex, ex.body.get("TableName"))
    key = expect_mapping(ex.body.get("Key"))
    consistent = bool(ex.body.get("ConsistentRead"))
    taken = [Charge(None, read_units(0, consistent), hash_of(state, key))]
    reply, data = m.forward_admitted(ex, state, "read", taken)
    if data is None:
        return reply
    item = data.get("Item")
    if item is not None and projects(ex.body):  # the whole item is read, and paid for
        item = read_items(ex, state, [key], consistent)[0]
    units = read_units(item_size(item), consistent)
    m.settle(state, "read", taken, [Charge(None, units, hash_of(state, key))], ex.op)
    return with_consumed(reply, data, ex.body, "read", [(ex.body["TableName"], Usage(units))])


def batch_get_item(m: Metering, ex: Exchange) -> Reply:
    requests = expect_mapping(ex.body.get("RequestItems"))
    states = {table: m.state(ex, table) for table in requests}
    admitted: dict[str, Any] = {}
    unprocessed: dict[str, Any] = {}
    taken: dict[str, list[tuple[Item, Charge]]] = {}
    refusals = []
    for table, asked in requests.items():
        state = states[table]
        units = read_units(0, bool(expect_mapping(asked).get("ConsistentRead")))
        for key in expect_list(asked.get("Keys")):
            charge = Charge(None, units, hash_of(state, expect_mapping(key)))
            refused = m.admit(state, "read", [charge])
            into = unprocessed if refused else admitted
            into.setdefault(table, {**asked, "Keys": []})["Keys"].append(key)
            if refused:
                refusals.append((state, refused))
            else:
                taken.setdefault(table, []).append((key, charge))
    if not admitted:
        if not refusals:
            raise Unmetered("a BatchGetItem without keys is the engine's to refuse")
        state, refused = refusals[0]
        tables = list(dict.fromkeys(s.name for s, _ in refusals))
        return m.refuse(state, "read", refused, ex.op, tables)
    reply = ex.forward({**ex.body, "RequestItems": admitted})
    data = reply.json() or {}
    usages = []
    for table, charges in taken.items():
        state = states[table]
        if reply.status != 200:
            m.settle(state, "read", [c for _, c in charges], [], ex.op)
            continue
        consistent = bool(requests[table].get("ConsistentRead"))
        left = data.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        done = [(k, c) for k, c in charges if k not in left]
        if projects(requests[table]):  # whole items are read, and paid for
            items = read_items(ex, state, [k for k, _ in done], consistent) if done else []
        else:
            returned = data.get("Responses", {}).get(table, [])
            by_key = {key_id(state.schema.key_of(i)): i for i in returned}
            items = [by_key.get(key_id(k)) for k, _ in done]
        actual = [
            Charge(None, read_units(item_size(item), consistent), c.key)
            for (_, c), item in zip(done, items, strict=True)
        ]
        m.settle(state, "read", [c for _, c in charges], actual, ex.op)
        usages.append((table, Usage(sum(c.units for c in actual))))
    if reply.status != 200:
        return reply
    merged = data.setdefault("UnprocessedKeys", {})
    for table, asked in unprocessed.items():
        merged.setdefault(table, {**asked, "Keys": []})["Keys"].extend(asked["Keys"])
    return with_consumed(reply, data, ex.body, "read", usages, many=True)


def query(m: Metering, ex: Exchange) -> Reply:
    """Query and Scan: the size of every item evaluated, filtered out or not, summed."""
    state = m.state(ex, ex.body.get("TableName"))
    name = ex.body.get("IndexName")
    index = state.index(name) if name else None
    if name and index is None:
        raise Unmetered(f"no index {name}: the engine's to refuse")
    gsi = index is not None and not index.local
    consistent = bool(ex.body.get("ConsistentRead")) and not gsi
    meter = name if gsi else None
    taken = [Charge(meter, read_units(0, consistent))]
    reply, data = m.forward_admitted(ex, state, "read", taken)
    if data is None:
        return reply
    evaluated = data.get("Items", [])
    if filters(ex.body):
        evaluated = (ex.call(ex.op, unfiltered(ex.body)).json() or {}).get("Items", [])
    units = query_units((item_size(i) for i in evaluated), consistent)
    m.settle(state, "read", taken, [Charge(meter, units)], ex.op)
    usage = Usage(0.0 if index else units)
    if index is not None:
        (usage.lsi if index.local else usage.gsi)[index.name] = units
    return with_consumed(reply, data, ex.body, "read", [(ex.body["TableName"], usage)])


# --- Transactions: all or nothing, at twice the units -------------------------------------------


def transact_write_items(m: Metering, ex: Exchange) -> Reply:
    actions = []  # (Put, Update, Delete or ConditionCheck; the action; its table; its key)
    for entry in expect_list(ex.body.get("TransactItems")):
        kind, action = single_action(entry)
        state = m.state(ex, action.get("TableName"))
        if kind == "Put":
            item = expect_mapping(action.get("Item"))
            actions.append((kind, action, state, checked(partial(state.schema.key_of, item))))
        else:
            actions.append((kind, action, state, expect_mapping(action.get("Key"))))
    with m.locks.holding([(s.name, k) for _, _, s, k in actions]):
        olds = [read_items(ex, s, [k])[0] for _, _, s, k in actions]
        takens = []
        for (kind, action, state, key), old in zip(actions, olds, strict=True):
            new = _after(kind, action, old)
            estimate = (
                update_estimate(state.schema, old, action, transactional=True)
                if kind == "Update"
                else _transact_cost(state.schema, kind, old, new)
            )
            takens.append(write_charges(state, key, estimate, old, new))
        tables = [state for _, _, state, _ in actions]
        refusal = m.admit_all(ex, "write", list(zip(tables, takens, strict=True)))
        if refusal is not None:
            return refusal
        reply = ex.forward()
        usages: dict[str, Usage] = {}
        for (kind, action, state, key), old, taken in zip(actions, olds, takens, strict=True):
            if reply.status != 200:
                m.settle(state, "write", taken, [], ex.op)
                continue
            new = read_items(ex, state, [key])[0] if kind == "Update" else _after(kind, action, old)
            cost = _transact_cost(state.schema, kind, old, new)
            m.settle(state, "write", taken, write_charges(state, key, cost, old, new), ex.op)
            usages.setdefault(action["TableName"], Usage()).add(usage_of(state, cost))
    if reply.status != 200:
        return reply
    return with_consumed(
        reply, reply.json() or {}, ex.body, "write", list(usages.items()), many=True
    )


def transact_get_items(m: Metering, ex: Exchange) -> Reply:
    gets = []  # (the Get, its table, its key, the units admission takes)
    for entry in expect_list(ex.body.get("TransactItems")):
        action = expect_mapping(expect_mapping(entry).get("Get"))
        state = m.state(ex, action.get("TableName"))
        key = expect_mapping(action.get("Key"))
        taken = [Charge(None, read_units(0, transactional=True), hash_of(state, key))]
        gets.append((action, state, key, taken))
    refusal = m.admit_all(ex, "read", [(state, taken) for _, state, _, taken in gets])
    if refusal is not None:
        return refusal
    reply = ex.forward()
    usages: dict[str, Usage] = {}
    for action, state, key, taken in gets:
        if reply.status != 200:
            m.settle(state, "read", taken, [], ex.op)
            continue
        units = read_units(item_size(read_items(ex, state, [key])[0]), transactional=True)
        m.settle(state, "read", taken, [Charge(None, units, hash_of(state, key))], ex.op)
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
    return checked(lambda: write_cost(schema, old, new, transactional=True))


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
    words = NAME.findall(str(request.get("UpdateExpression", "")))
    return {aliases.get(w, w) for w in words} | set(request.get("AttributeUpdates") or ())


def write_charges(
    state: TableState, key: Item, cost: WriteCost | None, old: Item | None, new: Item | None
) -> list[Charge]:
    """A write's units as charges: the table (with its local indexes) under the item's
    partition key, each global index touched under the entry's own partition key."""
    if cost is None:
        return []
    lsi = cost.on(state.schema, local=True)
    charges = [Charge(None, cost.table + sum(lsi.values()), hash_of(state, key))]
    for name, units in cost.on(state.schema, local=False).items():
        index = state.index(name)
        assert index is not None
        entry = new if index.holds(new) else old
        charges.append(Charge(name, units, entry.get(index.hash_key) if entry else None))
    return charges


def usage_of(state: TableState, cost: WriteCost) -> Usage:
    return Usage(cost.table, cost.on(state.schema, False), cost.on(state.schema, True))


def unfiltered(request: Mapping[str, Any]) -> dict[str, Any]:
    """The same Query or Scan without its filter and projection: what it evaluates.

    Pages match the original's, since Limit and the 1 MB page both count evaluated items.
    Names and values only the filter used are dropped (DynamoDB refuses unused ones).
    """
    dropped = {
        "FilterExpression",
        "ProjectionExpression",
        "QueryFilter",
        "ScanFilter",
        "ConditionalOperator",
        "AttributesToGet",
        "Select",
        "ReturnConsumedCapacity",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
    }
    shadow = {k: v for k, v in request.items() if k not in dropped}
    used = set(NAME.findall(str(request.get("KeyConditionExpression", ""))))
    used |= set(re.findall(r":[A-Za-z0-9_]+", str(request.get("KeyConditionExpression", ""))))
    for field_name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        kept = {k: v for k, v in (request.get(field_name) or {}).items() if k in used}
        if kept:
            shadow[field_name] = kept
    return shadow


def filters(request: Mapping[str, Any]) -> bool:
    """Whether the items returned are not all the items evaluated, or not whole."""
    select = request.get("Select")
    return (
        projects(request)
        or any(k in request for k in ("FilterExpression", "QueryFilter", "ScanFilter"))
        or select in ("COUNT", "SPECIFIC_ATTRIBUTES")
    )


def projects(request: Mapping[str, Any]) -> bool:
    return "ProjectionExpression" in request or "AttributesToGet" in request


OPERATIONS: dict[str, Callable[[Metering, Exchange], Reply]] = {
    "PutItem": put_item,
    "DeleteItem": delete_item,
    "UpdateItem": update_item,
    "BatchWriteItem": batch_write_item,
    "GetItem": get_item,
    "BatchGetItem": batch_get_item,
    "Query": query,
    "Scan": query,
    "TransactWriteItems": transact_write_items,
    "TransactGetItems": transact_get_items,
}
