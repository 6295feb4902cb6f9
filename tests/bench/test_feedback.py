"""``ddbspec bench feedback``: the README's commands timed, and where a run's time goes."""

from __future__ import annotations

from ddbspec.bench import feedback
from ddbspec.bench.feedback import PHASES, Run

from suite import REPO


def test_the_timed_commands_are_the_readmes():
    readme = (REPO / "README.md").read_text()
    for command in feedback.COMMANDS.values():
        assert f"\n{command} " in readme, f"{command!r} is not one of the README's commands"


def test_a_run_reports_its_outcomes_and_phases_that_fit_in_its_time(tmp_path):
    one = feedback.run("pytest tests/capacity/test_model.py -q -p no:randomly", tmp_path)
    assert one.outcome.endswith("passed") and "failed" not in one.outcome
    assert set(one.phases) == set(PHASES)
    assert all(seconds >= 0 for seconds in one.phases.values())
    assert one.phases["start-up and collection"] > 0 and one.phases["specs"] > 0
    assert sum(one.phases.values()) <= one.seconds  # serial: the phases do not overlap
    assert one.phases["engine start and probe"] == 0  # the model's tests start no engine
    assert one.passed


def test_a_command_that_pytest_refuses_says_so(tmp_path):
    one = feedback.run("pytest --no-such-option", tmp_path)
    assert one.outcome.startswith("exit 4, no timings:") and one.phases == {}
    assert not one.passed


def test_a_run_with_a_failure_did_not_pass():
    assert not Run(1.0, dict.fromkeys(PHASES, 0.1), "3 passed, 1 failed").passed
    assert not Run(1.0, dict.fromkeys(PHASES, 0.1), "no tests").passed


def test_the_report_gives_each_commands_spread_and_its_phases_medians():
    runs = [Run(s, dict.fromkeys(PHASES, s / 10), "4 passed") for s in (3.0, 2.0, 9.0)]
    table = feedback.report({"one": "pytest x"}, {"one": runs}).splitlines()
    assert table[0].startswith("| command | runs | min | median | max | start-up")
    assert table[2] == (
        "| `pytest x` | 3 | 2.0 s | 3.0 s | 9.0 s | 0.3 s | 0.3 s | 0.3 s | 0.3 s | 0.3 s "
        "| 4 passed |"
    )


def test_a_failing_run_names_the_tests_that_failed(tmp_path):
    """A timing run that fails says which test failed, as pytest's short summary names it."""
    failing = tmp_path / "test_fails.py"
    failing.write_text("def test_one():\n    assert 1 == 2\n\n\ndef test_two():\n    pass\n")
    said: list[str] = []
    found = feedback.measure({"x": f"pytest {failing} -q -p no:randomly -rf"}, 1, said.append)
    (one,) = found["x"]
    assert not one.passed and one.outcome == "1 passed, 1 failed"
    (line,) = one.failed
    named = line.split(" - ")[0]  # the message follows when the terminal is wide enough
    assert named.startswith("FAILED ") and named.endswith("test_fails.py::test_one")
    assert said[1].strip() == one.failed[0]
