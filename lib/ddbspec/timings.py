"""Where a run's time goes, for ``ddbspec bench feedback`` (``ddbspec.bench.feedback``).

When ``DDBSPEC_TIMINGS`` names a file, the run's controller writes there, as JSON: the instant
the first spec's setup began, the seconds the specs spent in setup, call and teardown (summed over
xdist's workers), how long its engines took to start and probe, the instant the session ended
(the cleanup that follows, until pytest exits, is timed by whoever started it), and the
outcomes' counts. Instants are ``time.time()``, so that the process that started pytest can
subtract its own.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import pytest

from ddbspec.engines.info import EngineInfo

ENV = "DDBSPEC_TIMINGS"
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "deselected")


class Timings:
    """The controller's plugin that writes the file; registered only when it is asked for."""

    def __init__(self, path: Path, state_dir: Path) -> None:
        self.path, self.state_dir = path, state_dir
        self.marks: dict[str, float] = {}
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Every phase of every spec, xdist's workers' included (their controller collects
        nothing itself, so start-up ends where the first setup began)."""
        self.seconds[report.when] += report.duration
        self.marks["began"] = min(report.start, self.marks.get("began", report.start))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        self.marks["finished"] = time.time()
        for path in self.state_dir.glob("engine-*.json"):  # read before the engines stop
            self.seconds["engines"] += EngineInfo.from_json(path.read_text()).start_seconds

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        stats = reporter.stats if reporter else {}
        counts = {k: len(stats[k]) for k in OUTCOMES if stats.get(k)}
        found = {"marks": self.marks, "seconds": dict(self.seconds), "outcomes": counts}
        self.path.write_text(json.dumps(found))
