"""``ddbspec emulate-aws``: the --aws path against ministack, an emulator this project did not
write, started for the run and gone after it."""

from __future__ import annotations

from pathlib import Path

from suite import aws_path, processes_mentioning

LEFT_NOTHING = "ddbspec emulate-aws: the run left nothing in ministack's account"


def emulate_aws(*args: str, tmp: Path) -> tuple[int, str]:
    """The command, its ministack's state (and so its guard's command line) under ``tmp``."""
    return aws_path("emulate-aws", *args, timeout=600, tmp=tmp)


def test_exercise_8_deploys_its_function_where_ministack_runs_it(tmp_path):
    status, out = emulate_aws("-k", "replica_holds_every_row", tmp=tmp_path)
    assert status == 0, out
    assert "1 passed" in out, out
    assert "creating function" in out and "deleting function" in out, out
    assert LEFT_NOTHING in out, out
    assert not processes_mentioning(str(tmp_path)), "ministack outlived the command"


def test_what_a_run_keeps_is_listed_and_ministack_still_stops(tmp_path):
    status, out = emulate_aws("-k", "sparse", "--keep-tables", tmp=tmp_path)
    assert status == 0, out
    left = out[out.index("left in ministack's account:") :]
    assert "table ddbspec-" in left and "employees" in left, out
    assert not processes_mentioning(str(tmp_path)), "ministack outlived the command"
