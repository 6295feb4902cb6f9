"""What a run may cost in an account, shown in the header before anything is created."""

from __future__ import annotations

from math import ceil

from ddbspec.workshop.tables import TLOG_GSI_LOW, TLOG_RAISED, TLOG_SCAN

# us-east-1 list prices (2024-11 on): on-demand per million request units, provisioned per hour.
PRICE_PER_MILLION_WRITES = 0.625
PRICE_PER_MILLION_READS = 0.125
PRICE_WCU_HOUR = 0.00065
PRICE_RCU_HOUR = 0.00013


def on_demand_cost(writes: int, reads: int) -> float:
    return writes / 1e6 * PRICE_PER_MILLION_WRITES + reads / 1e6 * PRICE_PER_MILLION_READS


def provisioned_cost(wcu: int, rcu: int, hours: float) -> float:
    """Provisioned capacity is billed by the hour, a started hour in full."""
    return ceil(hours) * (wcu * PRICE_WCU_HOUR + rcu * PRICE_RCU_HOUR)


def employee_estimate(capacity: str, tables: int = 5, items: int = 4000, indexes: int = 3) -> str:
    """What the employee exercises cost: on-demand by the write, or the workshop's 100 WCU /
    100 RCU per table and index by the (started) hour."""
    if capacity == "workshop":
        cost = provisioned_cost(100 * tables * (1 + indexes), 100 * tables * (1 + indexes), 1)
        return f"about ${cost:.2f} (the workshop's 100 WCU/RCU per table and index, one hour)"
    writes = tables * items * 2  # each item into the table and gsi_overload
    return f"about ${on_demand_cost(writes, writes):.2f} (on-demand, ~{writes:,} writes)"


def capacity_estimate(capacity: str) -> str:
    """What exercise 1 costs: it runs only with the workshop's capacity, tlog and its index
    raised to 100 WCU/RCU and tlog_gsi_low at 1000 (its index 1), for minutes, billed by
    the started hour."""
    if capacity != "workshop":
        return "nothing (it runs only with --aws-capacity workshop)"
    raised = 2 * TLOG_RAISED
    low = TLOG_GSI_LOW.write + sum(i.write for i in TLOG_GSI_LOW.indexes)
    cost = provisioned_cost(raised + low, raised + low, 1)
    return f"about ${cost:.2f} ({raised + low:,} WCU and RCU at most, one hour)"


LOG_ITEM_BYTES = 250  # a tlog_scan item with its shard keys, about
LOG_ROWS = 4000  # rows of the two medium log files, copied --scale times


def log_estimate(capacity: str, scale: int, tables: int = 2, scans: int = 3) -> str:
    """What the log tables of exercises 2-3 cost (two file orders, so two tables): on-demand,
    the writes into each table and its index and a few full scans; or the workshop's 5000 WCU
    tables, by the started hour, which is what makes them dear."""
    if capacity == "workshop":
        t = TLOG_SCAN
        wcu = tables * (t.write + sum(i.write for i in t.indexes))
        rcu = tables * (t.read + sum(i.read for i in t.indexes))
        cost = provisioned_cost(wcu, rcu, 1)
        return f"about ${cost:.2f} (the workshop's {wcu:,} WCU and {rcu:,} RCU, one hour)"
    items = tables * LOG_ROWS * scale
    writes = items * 2  # the table and its sharded index
    reads = scans * items * LOG_ITEM_BYTES // 4096 // 2 + 1  # eventually consistent scans
    return f"about ${on_demand_cost(writes, reads):.2f} (on-demand, ~{writes:,} writes)"
