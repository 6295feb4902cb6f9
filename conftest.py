"""The suite's pytest plugin lives in the package, so that it can be read and tested there.

An installed package hands it to pytest itself (its ``pytest11`` entry point, named like the
module, so pytest registers it once); this line loads it in a checkout not installed."""

pytest_plugins = ["ddbspec.plugin"]
