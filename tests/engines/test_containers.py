"""DynamoDB Local's configuration, checked without Docker (this machine has no daemon).

The container path itself (start, readiness, removal) needs a Docker daemon; where there is
none, test_bad_input shows every spec on the engine skipped at once with one reason.
"""

from __future__ import annotations

import json
import time

from ddbspec import config
from ddbspec.engines import containers, registry

from suite import REPO


def test_compose_file_runs_the_same_image_and_command_as_the_engine():
    compose = (REPO / "docker" / "compose.yaml").read_text()
    assert f"image: {containers.IMAGE}:{containers.TAG}" in compose
    assert json.dumps(containers.COMMAND.split()) in compose
    assert f"{containers.PORT}:{containers.PORT}" in compose


def test_engine_version_is_the_image_tag():
    assert registry.ENGINES["dynamodb-local"].version() == containers.TAG


def test_docker_absent_is_reported_quickly_with_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    started = time.monotonic()
    reason = containers.docker_unavailable()
    assert time.monotonic() - started < 5
    assert "Docker is not available" in reason and "--endpoint-url" in reason


def test_without_docker_the_engine_is_unavailable_not_failed(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    info = registry.ENGINES["dynamodb-local"].start(config.Settings(state_dir=tmp_path))
    assert info.unavailable and not info.error and info.endpoint_url is None
