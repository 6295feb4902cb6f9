"""Exercise 7: keeping an employee's items consistent while one writer changes several of them.

The workshop's lock is an attribute on the master item, taken by a conditional update
(lock = "0") and given back by setting "0" again. A writer that dies holding it blocks the
employee forever, so here the lock is a lease: the holder writes a token (lock_owner) and
a deadline (lock_expires); anyone may take an expired lease over, and every later write of the
holder's on the master is conditioned on its token, so a writer that was taken over cannot
clobber the new holder's work. DynamoDB transactions (2018-11) make the pattern unnecessary
for a change this small: move_employee_transaction is that alternative.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from botocore.exceptions import ClientError

from ddbspec.errors import code_of
from ddbspec.workshop.queries import deserialize, employee_items, serialize

LockState = Literal["free", "held", "expired"]
_TRANSACTION_RETRIES = 3


class LockLost(Exception):
    """The lease ran out and another writer took the lock over before this one finished."""


def lock_state(item: dict[str, Any], now: float) -> LockState:
    """What the acquire condition (lock = "0" OR lock_expires < now) decides for this item.

    A lease is still held at the very second it expires; an item without lock_expires (a
    workshop-style lock) is held until someone sets it back to "0".
    """
    if item.get("lock") == "0":
        return "free"
    expires = item.get("lock_expires")
    if expires is not None and expires < now:
        return "expired"
    return "held"


@dataclass
class MoveResult:
    """outcome "updated": old and new master items; "locked": nothing written, old is the
    master as it was found (holding someone else's lock), new is None."""

    outcome: Literal["updated", "locked"]
    old: dict[str, Any] | None
    new: dict[str, Any] | None


def _key(employeeid: int, col_a: str) -> dict[str, Any]:
    return serialize({"employeeid": employeeid, "colA": col_a})


def _failed_condition(e: ClientError) -> bool:
    return code_of(e) == "ConditionalCheckFailedException"


def _epoch(t: float) -> Decimal:
    return Decimal(str(round(t, 3)))  # N attributes take Decimal, not float


def _master(
    client: Any, table: str, employeeid: int, items: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The master item, from `items` if the employee's items were just read."""
    if items is None:
        items = employee_items(client, table, employeeid)
    if "master" not in items:
        raise LookupError(f"employee {employeeid} has no master item in table {table}")
    return items["master"]


_NAMES = {
    "#state": "state",
    "#city": "city",
    "#dept": "dept",
    "#city_dept": "city_dept",
    "#lock": "lock",
    "#owner": "lock_owner",
    "#expires": "lock_expires",
}


@dataclass(frozen=True)
class _MoveWrites:
    """The writes of one move, built here only, so that the lock and the transaction versions
    of exercise 7 write the same items: the master's new location, every other location item
    deleted, the new one put. As TransactWriteItems actions; move_employee sends them one by one.
    """

    table: str
    employeeid: int
    state: str
    city: str
    dept: str

    def master(self, lock: str, condition: str, values: dict[str, Any]) -> dict[str, Any]:
        """The master's update: the new location, ``lock`` (what becomes of the lock), on
        ``condition``; ``values`` are the lock's and the condition's."""
        return {
            "TableName": self.table,
            "Key": _key(self.employeeid, "master"),
            "UpdateExpression": "SET #state = :state, #city = :city, #dept = :dept, "
            f"#city_dept = :city_dept, {lock}",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": dict(_NAMES),
            "ExpressionAttributeValues": serialize(
                {
                    ":state": self.state,
                    ":city": self.city,
                    ":dept": self.dept,
                    ":city_dept": f"{self.city}:{self.dept}",
                    **values,
                }
            ),
        }

    def locations(self, items: Iterable[str], old: dict[str, Any]) -> list[dict[str, Any]]:
        """Delete each location item (of ``items``, the employee's colA) but the new one, then
        put the new one with the name and hire date of ``old``, the master before the move."""
        new_col = f"state:{self.state}"
        actions: list[dict[str, Any]] = [
            {"Delete": {"TableName": self.table, "Key": _key(self.employeeid, col_a)}}
            for col_a in items
            if col_a.startswith("state:") and col_a != new_col
        ]
        item = {
            "employeeid": self.employeeid,
            "colA": new_col,
            "name": old["name"],
            "hire_date": old["hire_date"],
        }
        actions.append({"Put": {"TableName": self.table, "Item": serialize(item)}})
        return actions


@dataclass(frozen=True)
class _Lease:
    """A holder's token and deadline, on the clock it is read from."""

    owner: str
    seconds: float
    taken: float
    now: Callable[[], float]

    @property
    def expires(self) -> float:
        return self.taken + self.seconds

    def check(self, employeeid: int) -> None:
        """Raise LockLost once the lease has run out: another writer may hold the lock now."""
        if self.now() >= self.expires:
            raise LockLost(
                f"employee {employeeid}: the lease of {self.owner} ran out ({self.seconds:g} s) "
                "before its writes were done; a later writer will repair the location items"
            )


def move_employee(
    client: Any,
    table: str,
    employeeid: int,
    state: str,
    city: str,
    dept: str,
    *,
    owner: str,
    lease_seconds: float = 30.0,
    while_holding: Callable[[], None] | None = None,
    release: bool = True,
    now: Callable[[], float] = time.time,
) -> MoveResult:
    """Move an employee to another location under the master item's lock.

    Acquiring the lock and changing the master are one conditional update, as in the workshop.
    The dependent location item cannot be conditioned on the master's lock without a
    transaction, so the writer checks its lease before each such write, and finds the items to
    replace by reading the employee's partition: a takeover also cleans up what a dead
    holder left half done. release=False leaves the lock held, as a writer that died would.
    """
    writes = _MoveWrites(table, employeeid, state, city, dept)
    lease = _Lease(owner, lease_seconds, now(), now)
    old = _acquire(client, writes, lease)
    if old is None:
        return MoveResult("locked", _master(client, table, employeeid), None)
    _move_locations(client, writes, old, lease)
    if while_holding:
        while_holding()
    if not release:
        return MoveResult("updated", old, _master(client, table, employeeid))
    return MoveResult("updated", old, _release(client, table, employeeid, owner))


def _acquire(client: Any, writes: _MoveWrites, lease: _Lease) -> dict[str, Any] | None:
    """Take the lock (free, or its lease expired) and move the master in one conditional
    update; the master as it was, or None if another writer holds the lock."""
    update = writes.master(
        "#lock = :held, #owner = :me, #expires = :expires",
        "#lock = :free OR #expires < :now",
        {
            ":held": "1",
            ":free": "0",
            ":me": lease.owner,
            ":expires": _epoch(lease.expires),
            ":now": _epoch(lease.taken),
        },
    )
    try:
        response = client.update_item(**update, ReturnValues="ALL_OLD")
    except ClientError as e:
        if not _failed_condition(e):
            raise
        return None
    return deserialize(response["Attributes"])  # the condition held, so the item existed


def _move_locations(client: Any, writes: _MoveWrites, old: dict[str, Any], lease: _Lease) -> None:
    """The location items' writes, one request each, each only while the lease holds; the
    partition is read first, so a stale item a dead holder left is deleted too."""
    items = employee_items(client, writes.table, writes.employeeid)
    for action in writes.locations(items, old):
        lease.check(writes.employeeid)
        ((kind, request),) = action.items()
        {"Put": client.put_item, "Delete": client.delete_item}[kind](**request)


def _release(client: Any, table: str, employeeid: int, owner: str) -> dict[str, Any]:
    """Set the lock free if ``owner`` still holds it; the master after it."""
    try:
        response = client.update_item(
            TableName=table,
            Key=_key(employeeid, "master"),
            UpdateExpression="SET #lock = :free REMOVE #owner, #expires",
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={
                "#lock": "lock",
                "#owner": "lock_owner",
                "#expires": "lock_expires",
            },
            ExpressionAttributeValues=serialize({":free": "0", ":me": owner}),
            ReturnValues="ALL_NEW",
        )
    except ClientError as e:
        if not _failed_condition(e):
            raise
        raise LockLost(
            f"employee {employeeid}: {owner} no longer held the lock when releasing it; "
            "another writer took the expired lease over"
        ) from None
    return deserialize(response["Attributes"])


def move_employee_transaction(
    client: Any,
    table: str,
    employeeid: int,
    state: str,
    city: str,
    dept: str,
    *,
    now: Callable[[], float] = time.time,
) -> MoveResult:
    """The same move as one TransactWriteItems: all the items change together or none does.

    It respects a lock held by a move_employee writer, and clears an expired one. The master's
    state is a condition too, so a move committed between this read and the transaction
    makes it read again instead of deleting the wrong location item.
    """
    writes = _MoveWrites(table, employeeid, state, city, dept)
    for _ in range(_TRANSACTION_RETRIES):
        result = _transact(client, writes, now)
        if result is not None:
            return result
    raise RuntimeError(
        f"employee {employeeid}: the transaction was cancelled {_TRANSACTION_RETRIES} times "
        "although the lock was free; another writer keeps moving this employee"
    )


def _transact(client: Any, writes: _MoveWrites, now: Callable[[], float]) -> MoveResult | None:
    """One read and one transaction; None if the employee moved in between (read again)."""
    table, employeeid = writes.table, writes.employeeid
    items = employee_items(client, table, employeeid)
    old = _master(client, table, employeeid, items)
    update = writes.master(
        "#lock = :free REMOVE #owner, #expires",
        "(#lock = :free OR #expires < :now) AND #state = :old",
        {":free": "0", ":now": _epoch(now()), ":old": old["state"]},
    )
    try:
        client.transact_write_items(
            TransactItems=[{"Update": update}, *writes.locations(items, old)]
        )
    except ClientError as e:
        if code_of(e) != "TransactionCanceledException":
            raise
        found = _master(client, table, employeeid)
        if lock_state(found, now()) == "held":
            return MoveResult("locked", found, None)
        return None  # the employee moved between the read and the transaction
    return MoveResult("updated", old, _master(client, table, employeeid))
