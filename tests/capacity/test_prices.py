"""--prices: money only from the user's own prices, and a bad file named with what to write."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddbspec import summary
from ddbspec.capacity import costs, prices
from ddbspec.errors import UsageError


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    return path


def test_a_price_per_million_units_prices_each_way(tmp_path):
    given = prices.load(written(tmp_path, prices.EXAMPLE + "  # us-east-1, on-demand\n"))
    assert (given.read, given.write, given.currency) == (0.125, 0.625, "USD")
    assert given.of(rcu=2_000_000, wcu=1_000_000) == 2 * 0.125 + 0.625
    assert given.say(2.5, 0) == "USD 0.00000031"  # 2.5 x 0.125 / 10^6, two digits kept
    assert given.say(0, 32000) == "USD 0.020"
    assert given.say(0, 0) == "USD 0"


def test_the_summary_shows_each_ways_money_beside_its_units(tmp_path):
    given = prices.load(written(tmp_path, 'currency = "EUR"\nread = 1\nwrite = 2\n'))
    row = costs.Spend(items=4, read={"t": 500_000.0}, write={"t": 250_000.0}).as_row("way")
    line = summary.cost_lines({"way": row}, given)[0]
    # 500000 read units at 1 and 250000 write units at 2 per million: 0.5 + 0.5
    assert line == "    cost: way: 4 items read, 500000 RCU; 0 items written, 250000 WCU = EUR 1.00"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("read = 0.1\nwrite = ?\n", "not TOML (Invalid value (at line 2, column 9))"),
        ("read = 0.1\n", "'write' must be a price per million write request units"),
        ("read = -1\nwrite = 1\n", "'read' must be a price per million read request units"),
        ("read = true\nwrite = 1\n", "(found True)"),
        ("read = 1\nwrite = 1\nregion = 'x'\n", "unknown key 'region'"),
        ("currency = ''\nread = 1\nwrite = 1\n", "'currency' must be a name"),
    ],
)
def test_a_bad_prices_file_is_refused_naming_the_file_and_the_fault(tmp_path, text, said):
    path = written(tmp_path, text)
    with pytest.raises(UsageError) as refused:
        prices.load(path)
    assert str(refused.value).startswith(f"--prices {path}: ")
    assert said in str(refused.value)
