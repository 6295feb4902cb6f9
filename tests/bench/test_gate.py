"""The gate on real benchmark runs: the employee loader saved once as it is, once slowed on
purpose, and compared as CI compares them."""

from __future__ import annotations

import json

from ddbspec.bench import compare, runs

from suite import run_suite

LOADER = "employee loader / raw BatchWriteItem"
SLOWED = '''"""Makes ddbspec's loader take twice as long: a degraded loader, on purpose."""
import time

from ddbspec.workshop import loaders

original = loaders.load


def load(*args, **kwargs):
    start = time.perf_counter()
    written = original(*args, **kwargs)
    time.sleep(time.perf_counter() - start)
    return written


loaders.load = load
'''


def saved_run(tmp_path, storage, *options: str) -> runs.Run:
    """``pytest -m benchmark -n 0 --benchmark-autosave`` of the employee loader; its run."""
    before = set(runs.saved_files(storage))
    result = run_suite(
        "specs/test_loading_benchmark.py",
        "-m",
        "benchmark",
        "-n",
        "0",
        "--benchmark-autosave",
        f"--benchmark-storage=file://{storage}",
        *options,
        tmp=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [path] = set(runs.saved_files(storage)) - before
    return runs.Run.read(path)


def test_the_gate_fails_a_run_whose_loader_was_slowed(tmp_path, capsys):
    (tmp_path / "slowed_loader.py").write_text(SLOWED)
    storage = tmp_path / "benchmarks"
    baseline = saved_run(tmp_path, storage)
    slowed = saved_run(tmp_path, storage, "-p", "slowed_loader")

    saved = json.loads(slowed.path.read_text())
    assert saved["ddbspec"]["scale"] == baseline.scale
    [bench] = saved["benchmarks"]
    assert bench["extra_info"]["engine"] == baseline.engines[LOADER]
    assert bench["extra_info"]["items"] > 0 and bench["extra_info"]["workers"] > 0

    before, after = baseline.ratios[LOADER], slowed.ratios[LOADER]
    assert after.median < before.median / 1.5  # the loader took twice as long, the raw loop not
    status = compare.main(
        ["compare", "--storage", str(storage), "--gate", baseline.number, slowed.number]
    )
    out = capsys.readouterr().out
    assert status == 1, out
    assert f"run {slowed.number}: {LOADER} {after} is under its target {after.target}" in out
    assert f"{LOADER} dropped to {after} from {before}" in out
