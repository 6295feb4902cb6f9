"""Two matrices compared (``ddbspec matrix --compare OLD.json NEW.json``): cells whose verdict
turned, and figures whose measured value moved, for example after an engine upgrade."""

from __future__ import annotations

from ddbspec.matrix.cells import Matrix


def changes(old: Matrix, new: Matrix) -> list[str]:
    """What changed, a line each; empty when the two agree."""
    lines = []
    for ex in sorted(set(old.cells) | set(new.cells)):
        for engine in sorted(set(old.cells.get(ex, {})) | set(new.cells.get(ex, {}))):
            before, after = old.cell(ex, engine), new.cell(ex, engine)
            if before is None or after is None:
                state = "only in the new" if before is None else "only in the old"
                lines.append(f"{ex} on {engine}: {state} matrix")
            elif before.verdict != after.verdict:
                lines.append(f"{ex} on {engine} turned: {before.short()} -> {after.short()}")
            if before is not None and after is not None:
                lines += [
                    f"{ex} on {engine} moved: {m}" for m in moved(before.figures, after.figures)
                ]
    for engine in sorted(set(old.engines) & set(new.engines)):
        was, now = old.engines[engine].get("version"), new.engines[engine].get("version")
        if was != now:
            lines.append(f"{engine}: version {was} -> {now}")
    return lines


def moved(before: list[dict], after: list[dict]) -> list[str]:
    """Figures measured in both whose measured value differs."""
    was = {row["name"]: row["measured"] for row in before}
    return [
        f"{row['name']}: {was[row['name']]} -> {row['measured']}"
        for row in after
        if row["name"] in was and was[row["name"]] != row["measured"]
    ]
