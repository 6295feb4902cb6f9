"""--bench-rounds and --bench-parts: how much a benchmark measures, a bad count refused."""

from __future__ import annotations

import argparse

import pytest

from ddbspec.bench import plan

from suite import run_suite


@pytest.mark.parametrize(("text", "number"), [("1", 1), ("3", 3), ("12", 12)])
def test_a_count_is_a_whole_number(text, number):
    assert plan.count(text) == number


@pytest.mark.parametrize("text", ["0", "-2", "1.5", "1e3", "", "three"])
def test_a_count_refuses_anything_else(text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"{text!r} is not a whole number"):
        plan.count(text)


@pytest.mark.parametrize("option", ["--bench-rounds", "--bench-parts"])
def test_pytest_refuses_a_bad_count_naming_the_option(tmp_path, option):
    result = run_suite(
        option, "0", "--collect-only", "-q", "tests/bench/test_plan.py", tmp=tmp_path
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"argument {option}: '0' is not a whole number of at least 1" in result.stderr


def test_a_plan_measures_the_first_parts_or_every_part():
    parts = [["a"], ["b"], ["c"]]
    assert plan.Plan(parts=2).cut(parts) == [["a"], ["b"]]
    assert plan.Plan(parts=5).cut(parts) == parts
    assert plan.Plan().cut(parts) == parts
