"""A cell's verdict, read from a JUnit report as pytest writes it, and two matrices compared."""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ddbspec.matrix import compare, write
from ddbspec.matrix.cells import Cell, Matrix, cells

WA = {"name": "employees in state WA", "expected": 46, "printed": None, "at_least": False}


def figure(measured: object, row: dict = WA) -> str:
    value = json.dumps({**row, "measured": measured, "within": 0})
    return f'<property name="ddbspec.figure" value={quoteattr(value)} />'


def case(
    module: str, name: str, *, props: str = "", outcome: str = "", engine: str = "dynalite 4.0.0"
) -> str:
    engine = f'<property name="ddbspec.engine" value="{engine}" />'
    return (
        f'<testcase classname="specs.{module}" name="{name}" time="0.1">'
        f"<properties>{props}{engine}</properties>{outcome}</testcase>"
    )


def report(tmp_path: Path, *cases: str) -> Path:
    path = tmp_path / "r.xml"
    body = "".join(cases)
    path.write_text(f'<testsuites><testsuite name="pytest">{body}</testsuite></testsuites>')
    return path


def test_every_spec_passing_holds(tmp_path):
    found, version = cells(report(tmp_path, case("test_overloading", "a", props=figure(46))), "x")
    cell = found["4 overloading"]
    assert (cell.verdict, cell.detail, version) == ("holds", "", "dynalite 4.0.0")
    assert cell.figures[0]["measured"] == 46 and cell.counts["passed"] == 1


def test_a_failed_spec_is_wrong_with_the_first_figure_that_differs(tmp_path):
    failed = "<failure message=\"AssertionError: figure 'employees in state WA'\">...</failure>"
    path = report(
        tmp_path,
        case("test_overloading", "test_first", props=figure(46)),
        case("test_overloading", "test_wa", props=figure(45), outcome=failed),
    )
    cell = cells(path, "x")[0]["4 overloading"]
    assert cell.verdict == "wrong"
    assert cell.detail == "employees in state WA: measured 45, model 46"
    assert cell.spec == "test_wa"


def test_a_failure_without_a_figure_says_its_own_first_line(tmp_path):
    failed = '<failure message="AssertionError: the index lost items&#10;more">tb</failure>'
    cell = cells(report(tmp_path, case("test_sparse", "t", outcome=failed)), "x")[0]["5 sparse"]
    assert (cell.verdict, cell.detail) == ("wrong", "AssertionError: the index lost items")


def test_a_skip_for_a_capability_cannot_run_and_names_it(tmp_path):
    lacks = "dynalite lacks online_gsi (UpdateTable adds a global secondary index)"
    skipped = f'<skipped type="pytest.skip" message="{lacks}">specs/x.py:1: {lacks}</skipped>'
    path = report(
        tmp_path,
        case("test_locking", "passes"),
        case("test_locking", "needs_transactions", outcome=skipped),
    )
    cell = cells(path, "x")[0]["7 locking"]
    assert (cell.verdict, cell.spec) == ("cannot run", "needs_transactions")
    assert cell.detail == "lacks online_gsi (UpdateTable adds a global secondary index)"


def test_an_error_outranks_a_failure(tmp_path):
    error = '<error message="failed on setup with &quot;engine moto: did not answer&quot;">'
    path = report(
        tmp_path,
        case("test_streams", "a", outcome='<failure message="figure">x</failure>'),
        case("test_streams", "b", outcome=error + "tb</error>"),
    )
    cell = cells(path, "x")[0]["8 streams"]
    assert cell.verdict == "error" and "engine moto: did not answer" in cell.detail


def test_the_json_holds_every_figure_and_reads_back_the_same(tmp_path):
    m = Matrix(
        {"4 overloading": {"dynalite": Cell("holds", figures=[{**WA, "measured": 46}])}},
        {"dynalite": {"version": "dynalite 4.0.0"}},
        {"scale": "4", "commit": "abc"},
    )
    again = write.load_json(write.save_json(m, tmp_path / "matrix.json"))
    assert again == m
    assert "| 4 overloading | **holds** |" in write.markdown(m)


def test_compare_says_which_cells_turned_and_which_figures_moved():
    def matrix(verdict: str, measured: int, version: str) -> Matrix:
        cell = Cell(verdict, figures=[{**WA, "measured": measured}])
        return Matrix({"4 overloading": {"dynalite": cell}}, {"dynalite": {"version": version}})

    old, new = matrix("holds", 46, "4.0.0"), matrix("wrong", 45, "4.0.1")
    assert compare.changes(old, new) == [
        "4 overloading on dynalite turned: holds -> wrong",
        "4 overloading on dynalite moved: employees in state WA: 46 -> 45",
        "dynalite: version 4.0.0 -> 4.0.1",
    ]
    assert compare.changes(old, old) == []


def test_a_known_divergence_says_its_cause_and_an_unknown_one_none(tmp_path):
    lacks = '<skipped type="pytest.skip" message="dynalite lacks online_gsi (...)">x</skipped>'
    path = report(tmp_path, case("test_sparse", "t", outcome=lacks))
    assert "ignores it" in cells(path, "dynalite")[0]["5 sparse"].cause
    assert "ignores it" in cells(path, "container:dynalite")[0]["5 sparse"].cause
    moto = report(tmp_path, case("test_sparse", "t", outcome=lacks, engine="moto 5.2.5"))
    assert cells(moto, "moto")[0]["5 sparse"].cause == ""


def cost(approach: str, differs: str | None = None, measured: bool = True) -> str:
    row = {"approach": approach, "rcu": 2.5, "wcu": 0, "differs": differs, "measured": measured}
    return f'<property name="ddbspec.cost" value={quoteattr(json.dumps(row))} />'


def test_metering_is_its_own_result_beside_the_verdict(tmp_path):
    """A cell holds or not by its figures; whether the engine's own ConsumedCapacity matched
    the rules is said apart: the first way that differed, or that it metered like DynamoDB."""
    scan = "Scan of 20 KB: engine 1 RCU, DynamoDB's rules 2.5 RCU"
    path = report(
        tmp_path,
        case("test_sparse", "a", props=cost("sparse index") + cost("table scan", scan)),
        case("test_composite", "b", props=cost("composite key")),
        case("test_sharding", "c", props=cost("load", measured=False)),
    )
    found = cells(path, "moto")[0]
    assert found["5 sparse"].verdict == "holds"
    assert found["5 sparse"].metering == f"table scan: {scan}"
    assert found["6 composite"].metering == "meters like DynamoDB"
    assert found["3 sharding"].metering == ""  # priced by the rules alone: no engine asked
    m = Matrix({ex: {"moto": c} for ex, c in found.items()}, {"moto": {"version": "5.2"}})
    assert f"| 5 sparse | table scan: {scan} |" in write.markdown(m)
    assert "| 6 composite | meters like DynamoDB |" in write.markdown(m)
    assert "| 3 sharding |" not in write.markdown(m).split("| metering |")[1]
    assert f"5 sparse on moto: metering differs: table scan: {scan}" in write.terminal(m)
    assert write.load_json(write.save_json(m, tmp_path / "m.json")) == m
