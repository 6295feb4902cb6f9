"""Dollars, only from prices the user gives (``--prices FILE``): prices differ by region and
change over time, so none is built in.

The file is TOML, a price per million request units:

    currency = "USD"
    read = 0.125   # per million read request units (on-demand)
    write = 0.625  # per million write request units

A read or write request unit is what the capacity model counts as a read or write unit
(4 KB read strongly consistently, half that eventually; 1 KB written), so the run's units
price as on-demand requests; under provisioned capacity they say how much of it was used.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddbspec.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before the standard library took it in
    import tomli as tomllib

EXAMPLE = 'currency = "USD"\nread = 0.125\nwrite = 0.625'
MILLION = 1_000_000


@dataclass(frozen=True)
class Prices:
    """A price per million read and write request units, and where it came from."""

    read: float
    write: float
    currency: str = "USD"
    source: str = ""

    def of(self, rcu: float, wcu: float) -> float:
        return (rcu * self.read + wcu * self.write) / MILLION

    def say(self, rcu: float, wcu: float) -> str:
        """'USD 0.0000031': small figures keep two significant digits."""
        amount = self.of(rcu, wcu)
        if amount == 0:
            return f"{self.currency} 0"
        digits = max(2, 1 - math.floor(math.log10(amount)))
        return f"{self.currency} {amount:.{digits}f}"


def load(path: Path) -> Prices:
    """The prices in ``path``, or a UsageError naming the file, the line or key, and what to
    write instead."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(
            f"--prices {path}: cannot read it ({error.strerror}); {_expected()}"
        ) from None
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"--prices {path}: not TOML ({error}); {_expected()}") from None
    unknown = sorted(set(raw) - {"currency", "read", "write"})
    if unknown:
        raise UsageError(f"--prices {path}: unknown key {unknown[0]!r}; {_expected()}")
    for key in ("read", "write"):
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise UsageError(
                f"--prices {path}: {key!r} must be a price per million {key} request units, a "
                f"number of at least 0 (found {value!r}); {_expected()}"
            )
    currency = raw.get("currency", "USD")
    if not isinstance(currency, str) or not currency.strip():
        raise UsageError(f"--prices {path}: 'currency' must be a name such as \"USD\"")
    return Prices(float(raw["read"]), float(raw["write"]), currency.strip(), str(path))


def _expected() -> str:
    return "write, for example: " + EXAMPLE.replace("\n", "; ")
