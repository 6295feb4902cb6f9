"""What moto's in-process mock of AWS cannot do for exercise 8, and what the suite does instead.

moto keeps a Lambda function and its event source mapping but cannot run the function's
code (that needs Docker). Worse, on every write to a table that has a mapping it tries to,
fails, and empties the table's stream: the records are gone for every reader, and sequence
numbers start again from the beginning. ``install()`` (called by ``python -m
ddbspec.aws.mock``) turns that attempt off, so the mock's stream keeps its records as
DynamoDB's does. ``stand_in()`` then plays Lambda's part for a deployed function: it takes
the mapping's own settings (stream, batch size, starting position), loads the very zip that
was deployed, sets the function's environment, and runs the suite's event source mapping
runner with that handler. Everything else, the calls that create and delete the role,
policy, function, mapping and log group, is moto answering the real code path.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ddbspec.aws import lambda_deploy
from ddbspec.workshop.streams import Runner

MARK = "DDBSPEC_MOCK_AWS"


def install() -> None:
    """Under moto's in-process mock: keep streams whole (see the module's docstring)."""
    from moto.awslambda.models import LambdaBackend

    def no_invocation(self: LambdaBackend, function_arn: str, items: Any, source: str) -> None:
        return None  # moto would try Docker and then drop every record of the stream

    LambdaBackend.send_dynamodb_items = no_invocation  # type: ignore[method-assign,assignment]
    os.environ[MARK] = "moto"


def active() -> bool:
    """Whether this process runs under ``ddbspec mock-aws`` (no function can run)."""
    return os.environ.get(MARK) == "moto"


def load_handler(code: bytes, handler: str, where: Path) -> Callable[[Any, Any], Any]:
    """The handler named ``module.function`` from a deployment zip, as Lambda loads it."""
    module_name, _, function = handler.rpartition(".")
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        archive.extractall(where)
    path = where / f"{module_name.replace('.', '/')}.py"
    spec = importlib.util.spec_from_file_location(f"lambda_{uuid.uuid4().hex}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{handler}: no module {path.name} in the deployment package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # imported as Lambda's runtime imports it: registered
    spec.loader.exec_module(module)
    return getattr(module, function)


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set ``variables`` for the duration, and put back what was there."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def stand_in(
    clients: Callable[[str], Any], d: lambda_deploy.Deployment, **options: Any
) -> Iterator[Runner]:
    """Lambda's part for deployment ``d``: the deployed code, run by the suite's runner with
    the mapping's settings and the function's environment, until the block ends."""
    lam = clients("lambda")
    config = lam.get_function_configuration(FunctionName=d.names.function)
    if config["CodeSha256"] != lambda_deploy.code_sha256(d.code):
        raise AssertionError("the deployed code is not the zip that was built")
    mapping = lam.get_event_source_mapping(UUID=d.mapping_uuid)
    variables = {
        **config.get("Environment", {}).get("Variables", {}),
        "AWS_REGION": lambda_deploy.Arn.of(config["FunctionArn"]).region,
        "AWS_LAMBDA_FUNCTION_NAME": config["FunctionName"],
    }
    with tempfile.TemporaryDirectory(prefix="ddbspec-lambda-") as where:
        handler = load_handler(d.code, config["Handler"], Path(where))
        with environment(variables):
            runner = Runner(
                clients("dynamodbstreams"),
                mapping["EventSourceArn"],
                handler,
                start=mapping["StartingPosition"],
                batch_size=mapping["BatchSize"],
                function_name=config["FunctionName"],
                timeout=float(config.get("Timeout", lambda_deploy.FUNCTION_TIMEOUT)),
                **options,
            )
            with runner.running():
                yield runner
