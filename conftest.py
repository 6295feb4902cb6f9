"""The suite's pytest plugin lives in the package, so that it can be read and tested there."""

pytest_plugins = ["ddbspec.plugin"]
