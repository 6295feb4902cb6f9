"""Running the specs on each column: a pytest of its own per engine, side by side as the
cores allow, each writing a JUnit report and a log into the matrix's folder.

Each run starts and stops its own engine, as ``pytest --engine NAME`` does. A run has a
session of its own, so that a Ctrl-C at the terminal reaches the matrix alone, which then
sends each run one SIGTERM (pytest cleans up on it as on Ctrl-C: a second signal would cut
that cleanup short), starts no other, and waits for them.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ddbspec import waiting
from ddbspec.engines import processes
from ddbspec.matrix.cells import Matrix, cells, failed_run
from ddbspec.matrix.columns import Column

ROOT = Path(__file__).resolve().parents[3]  # the checkout: specs/, pytest.ini
COUNTS = re.compile(r"\b(passed|failed|errors?|skipped|no tests ran)\b.* in [\d.]+s")
SCALE = re.compile(r"^ddbspec: engine .*?; scale (\w+);", re.MULTILINE)
STOPPING = 120.0  # seconds a run may take to clean up after Ctrl-C


@dataclass
class Run:
    """One column's pytest: what it answered, and its report."""

    column: Column
    status: int
    seconds: float
    report: Path
    log: Path

    def last_line(self) -> str:
        """pytest's own last word (its counts and time), else the log's last line."""
        lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
        counts = [ln for ln in lines if COUNTS.search(ln)]
        return (counts or lines or [f"exit {self.status}, no output"])[-1].strip("= ")

    def scale(self) -> str | None:
        """The scale the run's header gives ("ddbspec: engine ...; scale 4; ...")."""
        found = SCALE.search(self.log.read_text(errors="replace"))
        return found.group(1) if found else None

    def why_no_report(self) -> str:
        """What pytest said when it wrote no report (it refused to start): its error lines."""
        text = self.log.read_text(errors="replace")
        said = [ln for ln in text.splitlines() if "rror" in ln or ln.startswith("E ")]
        return (said or [self.last_line()])[-1].strip()


class Runs:
    """The runs of one matrix: started side by side, each stopped on Ctrl-C."""

    def __init__(self, folder: Path, extra: list[str], say: Callable[[str], None]) -> None:
        self.folder, self.extra, self.say = folder, extra, say
        self.live: list[subprocess.Popen] = []
        self.lock = threading.Lock()
        self.stopping = False

    def all(self, columns: list[Column], jobs: int) -> list[Run]:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(self.one, c, n) for n, c in enumerate(columns, 1)]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                self.stop()
                raise

    def one(self, column: Column, number: int) -> Run:
        stem = column.name.replace(":", "-")  # container:moto -> container-moto.xml
        report, log = self.folder / f"{stem}.xml", self.folder / f"{stem}.log"
        report.unlink(missing_ok=True)
        command = [
            *(sys.executable, "-m", "pytest", "specs", "-p", "no:cacheprovider", "-q"),
            *column.options,
            f"--junit-xml={report}",
            *self.extra,
        ]
        self.say(f"[{number}] {column.name}: {' '.join(command[3:])}")
        began = time.monotonic()
        with log.open("w") as out, self.lock:
            if self.stopping:
                raise KeyboardInterrupt("the matrix is stopping: no run starts")
            process = subprocess.Popen(
                command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            self.live.append(process)
        status = process.wait()
        run = Run(column, status, time.monotonic() - began, report, log)
        self.say(f"[{number}] {column.name}: {run.last_line()} ({run.seconds:.0f} s)")
        return run

    def stop(self) -> None:
        """One SIGTERM to every run still going, none started after; wait for them and for
        their engines' guards."""
        with self.lock:
            self.stopping = True
            live = [p for p in self.live if p.poll() is None]
        for process in live:
            process.send_signal(signal.SIGTERM)
        for process in live:
            try:
                process.wait(STOPPING)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        owners = {process.pid for process in live}
        with contextlib.suppress(waiting.TimedOut):
            waiting.until("the runs' engines", lambda: not processes.guards_of(owners), 10)


def matrix(runs: list[Run]) -> Matrix:
    """The cells of every run; a run without a report is an error in every exercise."""
    made = Matrix()
    for run in runs:
        found, version = ({}, "") if not run.report.exists() else cells(run.report, run.column.name)
        for exercise, cell in found.items():
            made.cells.setdefault(exercise, {})[run.column.name] = cell
        made.engines[run.column.name] = {
            "version": version,
            "options": list(run.column.options),
            "exit": run.status,
            "seconds": round(run.seconds, 1),
            "said": run.last_line(),
            "scale": run.scale(),
        }
    for run in runs:
        if not run.report.exists():
            exercises = list(made.cells) or ["(the run)"]
            for exercise, cell in failed_run(exercises, run.why_no_report()).items():
                made.cells.setdefault(exercise, {})[run.column.name] = cell
    return made


def jobs_here() -> int:
    """Runs side by side: one per two cores (a run's pytest and its engine each keep one busy;
    exercise 1 paces itself on the clock and needs them)."""
    return max(1, (os.cpu_count() or 1) // 2)
