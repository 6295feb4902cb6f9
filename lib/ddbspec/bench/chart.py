"""The ratios over saved runs, drawn: pytest-benchmark's histogram, for the figures that
matter here.

One panel per ratio: each run's median, a bar over its rounds' spread (min-max), the
baseline's spread as a band across the panel (a run whose bar leaves the band has moved),
and the target as a dashed line. Drawn off-screen (Agg), imported only when drawing.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from ddbspec.bench.runs import Run, ratio_names, target_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes

COLUMNS = 3
MIN_SPAN = 0.2  # of a ratio's median: the least a panel spans
MOVED_COLOUR, HELD_COLOUR, BAND_COLOUR = "#d62728", "#1f77b4", "#c6dbef"


def draw(runs: list[Run], path: Path) -> Path:
    """Every ratio of ``runs`` over the runs, one panel each, in one PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ratio_names(runs)
    rows = max(1, math.ceil(len(names) / COLUMNS))
    figure, axes = plt.subplots(
        rows, COLUMNS, figsize=(5 * COLUMNS, 3.2 * rows), squeeze=False, constrained_layout=True
    )
    for panel, name in zip(axes.flat, names, strict=False):
        ratio_over_runs(panel, runs, name)
    for panel in list(axes.flat)[len(names) :]:
        panel.set_visible(False)
    baseline = runs[0]
    figure.suptitle(
        f"ddbspec benchmarks: ratios over {len(runs)} runs (scale {baseline.scale}, "
        f"{', '.join(sorted(set(baseline.engines.values())))}); band: baseline "
        f"{baseline.number}'s spread"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def y_range(runs: list[Run], name: str, target: float | None) -> tuple[float, float]:
    """The panel's span: every round and the target, and at least a fifth of the median, so
    that a move too small to matter does not fill the panel."""
    ratios = [run.ratios[name] for run in runs if name in run.ratios]
    low = min([r.low for r in ratios] + ([target] if target is not None else []))
    high = max(r.high for r in ratios)
    middle, half = (low + high) / 2, max(high - low, MIN_SPAN * ratios[0].median) / 2
    return middle - half * 1.15, middle + half * 1.15


def ratio_over_runs(panel: Axes, runs: list[Run], name: str) -> None:
    """One ratio's panel: medians with their spread, the baseline's band, the target."""
    baseline = runs[0].ratios.get(name)
    if baseline is not None:
        panel.axhspan(baseline.low, baseline.high, color=BAND_COLOUR, zorder=0)
    for x, run in enumerate(runs):
        ratio = run.ratios.get(name)
        if ratio is None:
            continue
        off = (baseline is not None and ratio.moved_from(baseline) < 0) or ratio.under_target
        panel.errorbar(
            [x],
            [ratio.median],
            yerr=[[ratio.median - ratio.low], [ratio.high - ratio.median]],
            fmt="o",
            capsize=4,
            color=MOVED_COLOUR if off else HELD_COLOUR,
        )
    target = target_of(runs, name)
    if target is not None:
        panel.axhline(target, linestyle="--", color="grey", linewidth=1)
    panel.set_ylim(*y_range(runs, name, target))
    panel.set_xticks(range(len(runs)), [run.number for run in runs], fontsize=8)
    panel.set_xlim(-0.5, len(runs) - 0.5)
    panel.set_title("\n".join(textwrap.wrap(name, 48)), fontsize=9)
    panel.grid(axis="y", alpha=0.3)
