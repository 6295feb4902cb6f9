"""``ddbspec bench compare`` on saved runs written as pytest-benchmark writes them: side by
side, drawn, refused when runs differ in engine or scale, and gated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ddbspec.bench import compare, describe, runs
from ddbspec.bench.rounds import Ratio
from ddbspec.config import Settings
from ddbspec.errors import SavedRunError

MACHINE = "Linux-CPython-3.11-64bit"
LOADER = "employee loader / raw BatchWriteItem"
SCAN = "parallel scan (8 segments) speed-up"
BASELINE = {
    LOADER: Ratio((0.97, 1.02, 0.94, 1.05, 0.99, 1.01, 0.96), target=0.9),
    SCAN: Ratio((1.31, 1.36, 1.29, 1.40, 1.33, 1.35, 1.38)),
}


def save(storage: Path, number: int, ratios: dict[str, Ratio], **context) -> Path:
    """A run saved as --benchmark-autosave saves it, with the ddbspec block the plugin adds."""
    scale, engine = context.get("scale", 4), context.get("engine", "dynalite 4.0.0")
    info = {"engine": engine, "items": context.get("items", 4000)}
    output = {
        "machine_info": {"ddbspec": {"engine": "auto", "scale": scale}},
        "commit_info": {"id": "dd437c2ea6e0acdcc884559d351b7337b06700a7", "dirty": False},
        "benchmarks": [
            {
                "name": f"test_{n}",
                "extra_info": {**info, "ratios": {name: ratio.as_json()}},
                "stats": {"median": 1.0},
            }
            for n, (name, ratio) in enumerate(ratios.items())
        ],
        "datetime": f"2026-12-01T20:{number:02d}:00+00:00",
        "version": "5.3.1",
    }
    output["ddbspec"] = describe.run(Settings(run_id=f"r{number}", scale=scale), output)
    path = storage / MACHINE / f"{number:04d}_dd437c2_20261201_000000.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(output))
    return path


def scaled(ratios: dict[str, Ratio], name: str, factor: float) -> dict[str, Ratio]:
    """``ratios`` with ``name``'s every round multiplied by ``factor``."""
    changed = Ratio(tuple(r * factor for r in ratios[name].rounds), ratios[name].target)
    return {**ratios, name: changed}


def run_compare(storage: Path, *args: str) -> int:
    return compare.main(["compare", "--storage", str(storage), *args])


def test_two_runs_print_every_ratio_side_by_side_and_draw_it(tmp_path, capsys):
    save(tmp_path, 1, BASELINE)
    save(tmp_path, 2, scaled(BASELINE, SCAN, 1.01))
    assert run_compare(tmp_path) == 0
    out = capsys.readouterr().out
    for name, ratio in BASELINE.items():
        row = next(line for line in out.splitlines() if line.startswith(name))
        moved = scaled(BASELINE, SCAN, 1.01)[name]
        assert str(ratio) in row and str(moved) in row
    chart = tmp_path / "ratios.png"
    assert f"chart: {chart}" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_gate_passes_runs_that_differ_within_their_spread(tmp_path, capsys):
    save(tmp_path, 1, BASELINE)
    jittered = {n: Ratio(tuple(reversed(r.rounds)), r.target) for n, r in BASELINE.items()}
    save(tmp_path, 2, scaled(jittered, LOADER, 0.97))
    assert run_compare(tmp_path, "1", "2", "--gate") == 0
    assert "gate: passed" in capsys.readouterr().out


def test_the_gate_fails_a_loader_degraded_under_its_target(tmp_path, capsys):
    save(tmp_path, 1, BASELINE)
    degraded = scaled(BASELINE, LOADER, 0.7)
    save(tmp_path, 2, degraded)
    assert run_compare(tmp_path, "1", "2", "--gate") == 1
    out = capsys.readouterr().out
    assert f"run 0002: {LOADER} {degraded[LOADER]} is under its target 0.9" in out
    assert f"{LOADER} dropped to {degraded[LOADER]} from {BASELINE[LOADER]}" in out


def test_the_gate_fails_a_drop_beyond_the_spread_above_the_target(tmp_path, capsys):
    save(tmp_path, 1, BASELINE)
    slower = scaled(BASELINE, SCAN, 0.8)  # no target: only the baseline can tell
    save(tmp_path, 2, slower)
    assert run_compare(tmp_path, "--gate") == 1
    out = capsys.readouterr().out
    assert f"{SCAN} dropped to {slower[SCAN]} from {BASELINE[SCAN]}" in out
    row = next(line for line in out.splitlines() if line.startswith(SCAN))
    assert row.rstrip().endswith("v")


def test_the_gate_fails_a_ratio_the_run_lost(tmp_path, capsys):
    save(tmp_path, 1, BASELINE)
    save(tmp_path, 2, {LOADER: BASELINE[LOADER]})
    assert run_compare(tmp_path, "--gate") == 1
    assert f"run 0002 has no {SCAN!r} (run 0001 has)" in capsys.readouterr().out


def test_a_move_within_the_rounds_resolution_is_not_a_move():
    tight = Ratio((1.000, 1.004, 1.008))
    assert Ratio(tuple(r - 0.02 for r in tight.rounds)).moved_from(tight) == 0
    assert Ratio(tuple(r * 0.9 for r in tight.rounds)).moved_from(tight) == -1
    assert Ratio(tuple(r * 1.1 for r in tight.rounds)).moved_from(tight) == 1


def test_runs_at_different_scales_are_refused_with_the_reason(tmp_path, capsys):
    save(tmp_path, 1, BASELINE, scale=4)
    save(tmp_path, 2, BASELINE, scale=8)
    save(tmp_path, 3, BASELINE, scale=4)
    assert run_compare(tmp_path) == 2
    err = capsys.readouterr().err
    assert "runs 0001 and 0002 were measured at different scales (4 and 8)" in err
    assert "(at scale 4: 0001, 0003; at scale 8: 0002)" in err
    assert not (tmp_path / "ratios.png").exists()


def test_runs_on_different_engines_are_refused_with_the_reason(tmp_path):
    save(tmp_path, 1, BASELINE)
    save(tmp_path, 2, BASELINE, engine="moto 5.2.5")
    with pytest.raises(SavedRunError, match=r"different engines \(dynalite 4.0.0 and moto 5.2.5\)"):
        runs.comparable(runs.find(tmp_path, []))


def test_runs_of_different_tables_are_refused_with_the_reason(tmp_path):
    save(tmp_path, 1, BASELINE)
    save(tmp_path, 2, BASELINE, items=500)  # pytest -m benchmark --bench-parts 1
    with pytest.raises(SavedRunError, match=r"different tables \(4000 and 500 items"):
        runs.comparable(runs.find(tmp_path, []))


def test_a_run_saved_without_its_description_is_refused_saying_what_to_do(tmp_path):
    path = save(tmp_path, 1, BASELINE)
    saved = json.loads(path.read_text())
    del saved["ddbspec"]
    path.write_text(json.dumps(saved))
    with pytest.raises(SavedRunError, match="does not say which engine and scale") as refused:
        runs.find(tmp_path, [])
    assert str(path) in str(refused.value) and runs.SAVE in str(refused.value)


def test_a_malformed_ratio_is_refused_naming_its_file_and_benchmark(tmp_path):
    path = save(tmp_path, 1, BASELINE)
    saved = json.loads(path.read_text())
    del saved["benchmarks"][0]["extra_info"]["ratios"][LOADER]["rounds"]
    path.write_text(json.dumps(saved))
    with pytest.raises(SavedRunError, match=f"{path}: the ratio '{LOADER}' of test_0 is not"):
        runs.find(tmp_path, [])


def test_the_gate_refuses_a_baseline_without_ratios(tmp_path, capsys):
    save(tmp_path, 1, {})
    save(tmp_path, 2, BASELINE)
    assert run_compare(tmp_path, "--gate") == 2
    assert "the baseline, run 0001" in (err := capsys.readouterr().err)
    assert "saved no ratios" in err


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["7"], "no run 0007 in {storage}: the saved runs are 0001"),
        (["latest"], "'latest' is neither a file nor a run number"),
        ([], None),
    ],
)
def test_runs_are_found_by_number_or_file_and_a_wrong_name_says_what_there_is(
    tmp_path, names, message
):
    path = save(tmp_path, 1, BASELINE)
    if message is None:
        assert [run.path for run in runs.find(tmp_path, names)] == [path]
        assert [run.path for run in runs.find(tmp_path, [str(path)])] == [path]
        return
    with pytest.raises(SavedRunError) as refused:
        runs.find(tmp_path, names)
    assert message.format(storage=tmp_path) in str(refused.value)


def test_an_empty_storage_says_how_to_save_a_run(tmp_path, capsys):
    assert run_compare(tmp_path / "nothing") == 2
    assert runs.SAVE in capsys.readouterr().err
