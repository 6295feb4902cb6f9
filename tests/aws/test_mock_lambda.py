"""mocklambda: the stand-in loads the deployed zip as Lambda would and sets its environment."""

from __future__ import annotations

import os

from ddbspec.aws import lambda_deploy, mock_lambda


def test_the_handler_is_loaded_from_the_deployment_zip(tmp_path, monkeypatch):
    handler = mock_lambda.load_handler(lambda_deploy.handler_zip(), "replica.handler", tmp_path)
    assert handler.__module__.startswith("lambda_")  # the zip's copy, not ddbspec.workshop.replica
    assert (tmp_path / "replica.py").exists()
    monkeypatch.delenv("REPLICA_TABLE", raising=False)
    try:
        handler({"Records": []}, None)
    except Exception as error:  # the zip's own ReplicaError class
        assert "REPLICA_TABLE is not set" in str(error)
    else:
        raise AssertionError("a handler without REPLICA_TABLE must refuse to run")


def test_the_environment_is_set_for_the_block_and_put_back(monkeypatch):
    monkeypatch.setenv("KEPT", "before")
    monkeypatch.delenv("ADDED", raising=False)
    with mock_lambda.environment({"KEPT": "during", "ADDED": "x"}):
        assert (os.environ["KEPT"], os.environ["ADDED"]) == ("during", "x")
    assert os.environ["KEPT"] == "before" and "ADDED" not in os.environ


def test_active_only_under_the_mock_runner(monkeypatch):
    monkeypatch.delenv(mock_lambda.MARK, raising=False)
    assert not mock_lambda.active()
    monkeypatch.setenv(mock_lambda.MARK, "moto")
    assert mock_lambda.active()
