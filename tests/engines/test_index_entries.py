"""The index specs of exercises 3 and 4 on moto too: every item, counted through its index.

The default run serves those exercises on dynalite (whose index keys the suite fixes at
install, tests/engines/test_dynalite.py); the same specs must hold on moto, so that an index
that loses entries is caught on either engine.
"""

from __future__ import annotations

from suite import run_suite


def test_every_item_is_in_its_index_on_moto(tmp_path):
    result = run_suite(
        "specs/test_sharding.py",
        "specs/test_overloading.py",
        "-k",
        "index_holds_every_item",
        "--engine",
        "moto",
        # a lost entry shows at any size: at scale 1 each index key still holds hundreds of
        # items, and moto loads the 4,000 log items in a quarter of the default's time
        "--scale",
        "1",
        "-q",
        tmp=tmp_path,
        timeout=600,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "2 passed" in out and "on moto" in out, out
