"""ddbspec: the 2018 DynamoDB practical workshop's design patterns as executable specifications.

One package, a folder per layer (``lib/ddbspec/README.md`` lists every module):

- ``workshop``: the patterns as plain boto3 code, what the specs read like.
- ``engines``: where specs run: dynalite, moto, ministack, containers, an endpoint, AWS;
  started, probed, shared by xdist workers and stopped.
- ``capacity``: DynamoDB's provisioned throughput emulated, and the gateway that enforces it.
- ``aws``: the live-account path (account, cost, sweep, Lambda) and its in-process mock.

At the top: the pytest ``plugin`` (hooks, options, fixtures), its ``summary``, the run's
``config``, the ``targets`` a spec runs on, the ``cli``, ``progress``, ``errors`` and
``sigterm``.
"""

__version__ = "0.1.0"
