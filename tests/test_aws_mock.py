"""The --aws path of the exercises, end to end, against moto's in-process mock of AWS."""

from __future__ import annotations

import subprocess
import sys

from suite import REPO


def test_employee_exercises_pass_on_the_aws_path(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ddbspec.mockaws",
            "specs",
            "-p",
            "no:cacheprovider",
            "-k",
            "overloading or sparse or composite or locking",
            "-q",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert " passed" in out and " skipped" not in out and " failed" not in out
    assert "on aws boto3" in out  # the summary names the engine that served each exercise
