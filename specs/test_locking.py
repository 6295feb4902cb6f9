"""Exercise 7, transaction locking.

An employee is four items; moving one to another city changes two of them (the record and
the location item, whose key changes: a delete and a put). A ``lock`` attribute on the record,
taken with a conditional update, keeps a second writer out while the first works. The
workshop's lock had no expiry, so a writer that died holding it locked the employee forever:
here the lock is a lease. TransactWriteItems, which DynamoDB gained after the workshop, does
the same move in one atomic request, at twice the units of each write, where the lock pays
for two writes more (taking it and releasing it).
"""

from __future__ import annotations

import threading
import time

import pytest

from ddbspec.capacity.model import WRITE_UNIT_BYTES, item_size
from ddbspec.workshop import datasets, locks, queries, tables

EMPLOYEE = 251  # the workshop's Wendi Bricknell
MOVES = {"first": ("OR", "Portland", "Operation"), "second": ("IL", "Chicago", "Operation")}


def items_of(ddb, table, employeeid):
    return queries.employee_items(ddb, table, employeeid)


def test_starting_point_is_the_csv(target, employees_table, model):
    master = items_of(target.client(), employees_table, EMPLOYEE)["master"]
    row = model.employee(EMPLOYEE)
    assert (master["name"], master["city"], master["state"]) == (row.name, row.city, row.state)
    assert master["lock"] == "0"


def test_second_writer_is_refused_while_the_first_holds_the_lock(
    target, employees_table, model, figures
):
    ddb = target.client()
    before = model.employee(EMPLOYEE)
    second_tried = threading.Event()
    outcomes: dict[str, locks.MoveResult] = {}

    def second() -> None:
        outcomes["second"] = locks.move_employee(
            target.client(), employees_table, EMPLOYEE, *MOVES["second"], owner="second"
        )
        second_tried.set()

    def first_holding() -> None:
        # the first writer holds the lock; the second, in its own thread, tries now
        threading.Thread(target=second).start()
        assert second_tried.wait(30), "the second writer never finished its attempt"

    outcomes["first"] = locks.move_employee(
        ddb, employees_table, EMPLOYEE, *MOVES["first"], owner="first", while_holding=first_holding
    )
    after = items_of(ddb, employees_table, EMPLOYEE)
    figures.check("second writer's outcome", outcomes["second"].outcome, "locked")
    state, city, _ = MOVES["first"]
    figures.check(
        "employee 251 after the move",
        f"{after['master']['city']}/{after['master']['state']}",
        f"{city}/{state}",
        "Portland/OR",
    )
    assert outcomes["first"].outcome == "updated"
    master = after["master"]
    assert (master["state"], master["city"], master["city_dept"]) == (
        "OR",
        "Portland",
        "Portland:Operation",
    )
    assert master["lock"] == "0" and "lock_owner" not in master  # released
    assert f"state:{before.state}" not in after and "state:OR" in after
    assert after["state:OR"]["name"] == before.name
    assert after["state:OR"]["hire_date"] == before.hire_date
    titles = {k for k in after if k.startswith(("current_title:", "previous_title:"))}
    assert titles == {f"current_title:{before.title}", f"previous_title:{before.previous_title}"}


class LeaseClock:
    """The writers' clock, moved only by the spec. Each writer sends its time with its
    request and the engine compares that with the lease it stored, so on this clock whether
    the lease still holds depends on the moments the spec names, not on how long the engine
    took to answer in between (seconds, on a busy machine: longer than the lease)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_writer_that_dies_holding_the_lock_blocks_only_until_its_lease_ends(
    target, employees_table, model
):
    ddb = target.client()
    victim = model.employee_ids()[1]
    clock = LeaseClock()
    crashed = locks.move_employee(
        ddb,
        employees_table,
        victim,
        "NY",
        "New York",
        "Support",
        owner="crashed",
        lease_seconds=1.5,
        release=False,
        now=clock,
    )
    assert crashed.outcome == "updated"
    held = items_of(ddb, employees_table, victim)["master"]
    assert locks.lock_state(held, clock()) == "held"

    early = locks.move_employee(
        ddb, employees_table, victim, "TX", "Austin", "Support", owner="rescuer", now=clock
    )
    assert early.outcome == "locked"

    clock.now = float(held["lock_expires"]) + 0.2  # the lease has run out
    late = locks.move_employee(
        ddb, employees_table, victim, "TX", "Austin", "Support", owner="rescuer", now=clock
    )
    assert late.outcome == "updated"
    after = items_of(ddb, employees_table, victim)
    assert after["master"]["city"] == "Austin" and after["master"]["lock"] == "0"
    assert "state:TX" in after and "state:NY" not in after


@pytest.fixture(scope="module")
def transactional(pick_target, build_employees):
    """Its own engine and table: TransactWriteItems needs an engine that has transactions."""
    target = pick_target(["transactions"], "locking-tx")
    with build_employees(target) as name:
        yield target, name


def test_transaction_moves_the_employee_in_one_request(transactional, model, figures):
    target, table = transactional
    ddb = target.client()
    row = model.employee(EMPLOYEE)
    result = locks.move_employee_transaction(ddb, table, EMPLOYEE, "OR", "Portland", "Operation")
    after = items_of(ddb, table, EMPLOYEE)
    figures.record(
        f"transaction on {target.info.name}: employee 251 now in",
        after["master"]["city"],
        "Portland",
    )
    assert result.outcome == "updated"
    assert after["master"]["city_dept"] == "Portland:Operation"
    assert f"state:{row.state}" not in after and "state:OR" in after


def test_transaction_respects_a_held_lock(transactional, model):
    target, table = transactional
    ddb = target.client()
    other = model.employee_ids()[2]
    locks.move_employee(
        ddb,
        table,
        other,
        "WA",
        "Seattle",
        "Support",
        owner="holder",
        lease_seconds=60,
        release=False,
    )
    result = locks.move_employee_transaction(ddb, table, other, "IL", "Chicago", "Support")
    assert result.outcome == "locked"
    assert items_of(ddb, table, other)["master"]["city"] == "Seattle"


def test_the_transaction_costs_twice_each_write_the_lock_two_writes_more(
    target, employees_table, transactional, model, ledger, figures, costs
):
    """Both ways move the same employee from the CSV's state. Each of its items is under
    1 KB and in gsi_overload, so each write costs a unit on the table and one on the index
    (DynamoDB's rules), twice that inside a transaction. The lock writes four times (take,
    delete, put, release), the transaction three times (master, delete, put) at double."""
    row = model.employee(model.employee_ids()[3])
    move = ("NV", "Las Vegas", "Support")
    assert row.state != move[0]
    items = [queries.serialize(i) for i in datasets.employee_items(row)]
    schema = tables.schema(tables.EMPLOYEES)
    assert all(item_size(i) < WRITE_UNIT_BYTES and schema.indexes[0].holds(i) for i in items)
    per_write = 1 + len(schema.indexes)
    lock_client = ledger.metered(target.client(), "lock")
    moved = locks.move_employee(lock_client, employees_table, row.employeeid, *move, owner="me")
    tx_target, tx_table = transactional
    tx_client = ledger.metered(tx_target.client(), "transaction")
    done = locks.move_employee_transaction(tx_client, tx_table, row.employeeid, *move)
    assert moved.outcome == done.outcome == "updated"
    lock, transaction = ledger.spent["lock"], ledger.spent["transaction"]
    figures.check("write units, lock (4 writes)", lock.wcu, 4 * per_write)
    figures.check("write units, transaction (3 writes)", transaction.wcu, 2 * 3 * per_write)
    costs.record("transaction", transaction, versus="lock")
    costs.record("lock", lock)
