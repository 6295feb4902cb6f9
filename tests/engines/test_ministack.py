"""ministack, provisioned by the suite: its own virtualenv in the cache, started under the guard,
and gone with its functions' workers when the run that owns it is killed."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ddbspec.config import Settings, default_cache_dir
from ddbspec.engines import ministack, processes
from ddbspec.engines.ministack import Ministack
from ddbspec.errors import EngineError

from suite import BUSY, processes_mentioning, wait_for


def test_the_pins_name_ministack_and_boto3_for_its_functions():
    assert ministack.pinned("ministack") == Ministack().version()
    assert ministack.pinned("boto3")  # the Lambda runtime's, for the functions it runs


def test_its_virtualenv_keeps_its_botocore_apart_from_the_suites():
    home = Ministack().provision(default_cache_dir())
    python = home / "bin" / "python"
    script = "import boto3, botocore; print(boto3.__version__, botocore.__version__)"
    versions = subprocess.run([python, "-c", script], capture_output=True, text=True, check=True)
    assert versions.stdout.split() == [ministack.pinned("boto3"), ministack.pinned("botocore")]
    assert not Path(sys.prefix).resolve().is_relative_to(home.resolve())


def test_an_install_that_fails_says_so_and_leaves_nothing(tmp_path, monkeypatch):
    pins = tmp_path / "pins.txt"
    pins.write_text("ministack==1.5.33\nddbspec-no-such-package==0.0.1\n")
    monkeypatch.setattr(ministack, "PINS", pins)
    failed = r"(?s)could not install ministack into .*no-such-package.*PyPI"
    with pytest.raises(EngineError, match=failed):
        Ministack().provision(tmp_path / "cache")
    assert not [p for p in (tmp_path / "cache").iterdir() if p.suffix != ".lock"]


def a_function(lam) -> None:
    """A function whose handler imports boto3, invoked once: ministack keeps a worker."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("f.py", "import boto3\n\ndef h(event, context):\n    return boto3.__version__\n")
    lam.create_function(
        FunctionName="ddbspec-probe-fn",
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/ddbspec-probe",
        Handler="f.h",
        Code={"ZipFile": code.getvalue()},
    )
    answer = lam.invoke(FunctionName="ddbspec-probe-fn", Payload=b"{}")
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert answer["Payload"].read().decode().strip('"') == ministack.pinned("boto3")


def test_a_killed_run_leaves_neither_ministack_nor_its_functions_workers(tmp_path):
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    settings = Settings(state_dir=tmp_path, owner_pid=owner.pid, run_id="killed")
    info = Ministack().start(settings)
    a_function(info.client("lambda"))
    port = int((info.endpoint_url or "").rsplit(":", 1)[1])
    workers = [p for p in processes_mentioning(str(tmp_path)) if "_worker.py" in p]
    assert workers, "ministack keeps a worker for the function it ran"
    owner.kill()
    owner.wait()
    assert wait_for(lambda: not processes_mentioning(str(tmp_path)), BUSY)
    assert not processes.running(info.pid or 0)
    assert not processes.port_taken(port), "ministack itself is still listening"
