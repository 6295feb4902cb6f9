"""locks: lock_state mirrors the acquire condition (lock = "0" OR lock_expires < now)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ddbspec.workshop.locks import lock_state


@pytest.mark.parametrize(
    ("item", "now", "state"),
    [
        ({"lock": "0"}, 100.0, "free"),
        ({"lock": "1", "lock_owner": "a", "lock_expires": Decimal(130)}, 100.0, "held"),
        ({"lock": "1", "lock_owner": "a", "lock_expires": Decimal(130)}, 130.5, "expired"),
        # at the very second of expiry the lease still holds: the condition is strict
        ({"lock": "1", "lock_owner": "a", "lock_expires": Decimal(130)}, 130.0, "held"),
        ({"lock": "1", "lock_owner": "a", "lock_expires": Decimal("130.25")}, 130.25, "held"),
        # a workshop-style lock without a lease (the script writes "l") is held until released
        ({"lock": "l"}, 1e12, "held"),
        # an item without the lock attribute cannot be acquired by the condition either
        ({}, 100.0, "held"),
    ],
)
def test_lock_state(item: dict[str, object], now: float, state: str) -> None:
    assert lock_state(item, now) == state
