"""The gate on real benchmark runs: the employee loader saved once as it is, once slowed on
purpose, and compared as CI compares them.

Each run is the smallest that still shows a loader slowed twofold: 4 rounds over the first
part of 500 items (--bench-rounds, --bench-parts), instead of 7 over 8. The best worker
count is looked for on that part alone; the rounds last 2 s a side as CI's do. Four rounds
keep the slowed median under two thirds of the baseline's: resampled from runs of 21 rounds
on a loaded 2-core machine, 3 rounds missed once in 270, 4 once in 5,000."""

from __future__ import annotations

import json
import os

from ddbspec.bench import compare, runs

from suite import run_suite

LOADER = "employee loader / raw BatchWriteItem"
ROUNDS, PARTS = 4, 1
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
    """``pytest -m benchmark -n 0 --benchmark-autosave`` of the employee loader, small; its
    run."""
    before = set(runs.saved_files(storage))
    # The slowing plugin importable, and ddbspec imported from where this run imports it.
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    result = run_suite(
        "specs/test_loading_benchmark.py",
        "-m",
        "benchmark",
        "-n",
        "0",
        "--benchmark-autosave",
        f"--benchmark-storage=file://{storage}",
        f"--bench-rounds={ROUNDS}",
        f"--bench-parts={PARTS}",
        *options,
        tmp=tmp_path,
        env={"PYTHONPATH": path},
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
    assert (bench["extra_info"]["rounds"], bench["extra_info"]["parts"]) == (ROUNDS, PARTS)

    before, after = baseline.ratios[LOADER], slowed.ratios[LOADER]
    assert after.median < before.median / 1.5  # the loader took twice as long, the raw loop not
    status = compare.main(
        ["compare", "--storage", str(storage), "--gate", baseline.number, slowed.number]
    )
    out = capsys.readouterr().out
    assert status == 1, out
    assert f"run {slowed.number}: {LOADER} {after} is under its target {after.target}" in out
    assert f"{LOADER} dropped to {after} from {before}" in out
