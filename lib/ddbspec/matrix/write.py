"""The matrix written out: a table for the terminal, Markdown to paste, JSON with every
figure, and a PNG grid coloured by verdict."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from ddbspec.matrix.cells import METERS_LIKE_DYNAMODB, VERDICTS, Cell, Matrix

COLOURS = {"holds": "#2ca02c", "wrong": "#d62728", "cannot run": "#bdbdbd", "error": "#ff7f0e"}
WIDTH = 12  # of a column in the terminal's table


def terminal(m: Matrix) -> str:
    """The verdicts as a grid, then what each cell that does not hold says."""
    engines = list(m.engines)
    width = max(len(e) for e in m.exercises()) if m.cells else 8
    widths = [max(WIDTH, len(e)) for e in engines]

    def line(first: str, texts: list[str]) -> str:
        return first.ljust(width) + "".join(
            f" {t:<{w}}" for t, w in zip(texts, widths, strict=True)
        )

    lines = [line("exercise", engines)]
    for ex in m.exercises():
        lines.append(line(ex, [(m.cell(ex, e) or Cell("-")).verdict for e in engines]))
    metered = [line("metering", engines)]
    for ex in m.exercises():
        marks = [_metered(m.cell(ex, e)) for e in engines]
        if any(mark != "-" for mark in marks):
            metered.append(line(ex, marks))
    return "\n".join([*lines, "", *details(m), "", *metered, "", *metering_details(m)])


def _metered(cell: Cell | None) -> str:
    if cell is None or not cell.metering:
        return "-"
    return "like DynamoDB" if cell.metering == METERS_LIKE_DYNAMODB else "differs"


def metering_details(m: Matrix) -> list[str]:
    """One line per cell whose engine metered a request unlike DynamoDB: the first one."""
    return [
        f"{ex} on {engine}: metering differs: {cell.metering}"
        for ex in m.exercises()
        for engine, cell in m.cells[ex].items()
        if cell.metering not in ("", METERS_LIKE_DYNAMODB)
    ]


def details(m: Matrix) -> list[str]:
    """One line per cell that does not hold: where, and what decides it."""
    lines = []
    for ex in m.exercises():
        for engine, cell in m.cells[ex].items():
            if cell.verdict != "holds":
                where = f" [{cell.spec}]" if cell.spec else ""
                lines.append(f"{ex} on {engine}: {cell.short()}{where}")
    return lines


def markdown(m: Matrix) -> str:
    """A table to paste into a README or an issue, with the runs it came from."""
    engines = list(m.engines)
    versions = [f"{e} ({m.engines[e].get('version') or 'not started'})" for e in engines]
    lines = ["| exercise | " + " | ".join(versions) + " |", "|---|" + "---|" * len(engines)]
    for ex in m.exercises():
        cells = [_md(m.cell(ex, e)) for e in engines]
        lines.append(f"| {ex} | " + " | ".join(cells) + " |")
    metered = [ex for ex in m.exercises() if any(_metered(m.cell(ex, e)) != "-" for e in engines)]
    if metered:
        lines += ["", "| metering | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]
        for ex in metered:
            marks = [(m.cell(ex, e) or Cell("-")).metering or "-" for e in engines]
            lines.append(f"| {ex} | " + " | ".join(t.replace("|", "\\|") for t in marks) + " |")
    about = m.about
    lines += ["", f"scale {about.get('scale')}, commit {about.get('commit')}, {about.get('made')}"]
    lines += [f"- not run: {why}" for why in about.get("left_out", [])]
    return "\n".join(lines) + "\n"


def _md(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    text = f"**{cell.verdict}**" + (f": {cell.detail}" if cell.detail else "")
    text += f" ({cell.cause})" if cell.cause else ""
    return text.replace("|", "\\|")


def save_json(m: Matrix, path: Path) -> Path:
    path.write_text(json.dumps(m.to_json(), indent=1, default=str) + "\n")
    return path


def load_json(path: Path) -> Matrix:
    return Matrix.from_json(json.loads(path.read_text()))


def png(m: Matrix, path: Path) -> Path:
    """A grid: a row per exercise, a column per engine, the colour its verdict, and the
    figure that differs (or what is missing) written in the cell. Drawn off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    engines, exercises = list(m.engines), m.exercises()
    figure, axes = plt.subplots(
        figsize=(2.6 * len(engines) + 1.8, 0.9 * len(exercises) + 1.4), constrained_layout=True
    )
    for y, ex in enumerate(exercises):
        for x, engine in enumerate(engines):
            cell = m.cell(ex, engine) or Cell("-")
            axes.add_patch(Rectangle((x, y), 0.96, 0.92, color=COLOURS.get(cell.verdict, "#fff")))
            axes.text(x + 0.48, y + 0.46, _boxed(cell), ha="center", va="center", fontsize=6)
    axes.set_xlim(0, len(engines))
    axes.set_ylim(len(exercises), 0)
    axes.set_xticks([x + 0.48 for x in range(len(engines))], engines)
    axes.set_yticks([y + 0.46 for y in range(len(exercises))], exercises)
    axes.xaxis.tick_top()
    axes.tick_params(length=0)
    for side in axes.spines.values():
        side.set_visible(False)
    legend = [Patch(color=COLOURS[v], label=v) for v in VERDICTS]
    axes.legend(
        handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=4, frameon=False
    )
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _boxed(cell: Cell, width: int = 36, lines: int = 5) -> str:
    """The verdict and what decides it (not the cause: the Markdown has that), in a box."""
    text = cell.verdict + (f": {cell.detail}" if cell.detail else "")
    wrapped = textwrap.wrap(text, width)
    return "\n".join(wrapped[:lines]) + (" ..." if len(wrapped) > lines else "")
