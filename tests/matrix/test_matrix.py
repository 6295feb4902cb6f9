"""``ddbspec matrix`` as a user runs it: one engine that holds, one faulty engine (Query pages
one item short), one that is not there; then ``--compare``; and nothing left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ddbspec.engines import processes

from faulty import DroppingProxy
from suite import (
    BUSY,
    REPO,
    interruptible,
    processes_mentioning,
    suite_environment,
    wait_for,
)

SPECS = "sparse or overloading"  # a Query-read exercise, and one that needs an online GSI


def lib_path() -> str:
    """This checkout's package first: the matrix's runs import what the test imports."""
    return os.pathsep.join([str(REPO / "lib"), *filter(None, [os.environ.get("PYTHONPATH")])])


def ddbspec(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ddbspec", *args],
        cwd=tmp,
        env=suite_environment(tmp, {"PYTHONPATH": lib_path()}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def made(proxy_module: DroppingProxy, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One matrix: dynalite, the faulty proxy in front of the run's dynalite, and an endpoint
    where nothing listens; its JSON, what it printed, and its folder."""
    tmp = tmp_path_factory.mktemp("matrix")
    dead = f"http://127.0.0.1:{processes.free_port()}"
    run = ddbspec(
        "matrix", "dynalite", "--endpoint", f"faulty={proxy_module.url}",
        "--endpoint", f"dead={dead}", "-k", SPECS, "--out", "out", tmp=tmp,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    out = tmp / "out"
    return {"json": json.loads((out / "matrix.json").read_text()), "run": run, "out": out}


def cell(made: dict, exercise: str, engine: str) -> dict:
    return made["json"]["cells"][exercise][engine]


def test_the_faulty_engine_is_wrong_with_the_figure_measured_and_the_model(made):
    faulty = cell(made, "4 overloading", "faulty")
    assert faulty["verdict"] == "wrong"
    figure, _, numbers = faulty["detail"].partition(": measured ")
    measured, model = (int(n) for n in numbers.split(", model "))
    assert measured == model - 1, faulty  # the first figure read from Query pages
    assert figure == "employees in state WA" and faulty["spec"] == "test_employees_in_wa"
    assert "wrong: employees in state WA: measured 45, model 46" in made["run"].stdout


def test_the_engine_itself_holds_with_every_figure_kept(made):
    holds = cell(made, "4 overloading", "dynalite")
    assert holds["verdict"] == "holds" and holds["counts"]["passed"] > 0
    assert {f["name"] for f in holds["figures"]} >= {"employees in state WA"}
    assert made["json"]["engines"]["dynalite"]["version"].startswith("dynalite ")


def test_a_missing_capability_cannot_run_and_is_named(made):
    for engine in ("dynalite", "faulty"):
        lacks = cell(made, "5 sparse", engine)
        assert lacks["verdict"] == "cannot run" and "online_gsi" in lacks["detail"], lacks


def test_an_engine_that_is_not_there_is_an_error_and_the_others_still_fill(made):
    for exercise in ("4 overloading", "5 sparse"):
        dead = cell(made, exercise, "dead")
        assert dead["verdict"] == "error" and "does not answer" in dead["detail"], dead
    assert made["json"]["engines"]["dead"]["exit"] not in (0, 1)  # pytest refused to start


def test_the_markdown_and_the_picture_are_written(made):
    md = (made["out"] / "matrix.md").read_text()
    assert "| 4 overloading | **holds** | **wrong**: employees in state WA" in md
    assert (made["out"] / "matrix.png").stat().st_size > 10_000


def test_compare_reports_a_cell_that_turned(made, tmp_path):
    old = made["json"]
    new = json.loads(json.dumps(old))
    new["cells"]["4 overloading"]["faulty"] = {**cell(made, "4 overloading", "dynalite")}
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    run = ddbspec("matrix", "--compare", "old.json", "new.json", tmp=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "4 overloading on faulty turned: wrong: employees in state WA" in run.stdout
    assert "-> holds" in run.stdout


def test_nothing_is_left_running(made):
    assert processes_mentioning(str(made["out"].parent)) == []


def test_check_fails_on_an_error_or_a_wrong_cell(tmp_path):
    dead = f"dead=http://127.0.0.1:{processes.free_port()}"
    run = ddbspec("matrix", "--endpoint", dead, "-k", "sparse", "--check", tmp=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "(the run) on dead: error" in run.stdout


def test_ctrl_c_stops_the_run_going_starts_no_other_and_leaves_nothing(tmp_path):
    matrix = subprocess.Popen(
        interruptible([sys.executable, "-m", "ddbspec", "matrix", "dynalite", "moto",
                       "-k", "overloading", "--out", "out"]),
        cwd=tmp_path,
        env=suite_environment(tmp_path, {"PYTHONPATH": lib_path()}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        # the first run's engine is up: its guard names the run's state folder, under tmp
        assert wait_for(lambda: processes_mentioning(str(tmp_path)), BUSY)
        os.kill(matrix.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the matrix alone
        out, _ = matrix.communicate(timeout=BUSY * 2)
    finally:
        matrix.kill()
    assert matrix.returncode == 130, out
    assert "interrupted; every run stopped" in out and "[2] moto" not in out, out
    assert processes_mentioning(str(tmp_path)) == []
