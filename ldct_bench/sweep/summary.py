"""The table a sweep prints at its end: one line per point, what became of it and where it is."""

from __future__ import annotations

from ldct_bench.sweep.points import Point

HEADERS = ("#", "point", "status", "scored", "overall [95% CI]", "cost $", "run dir / problem")


def _overall(point: Point) -> str:
    results = point.results
    if results is None or results.overall is None:
        return "-"
    low, high = results.ci.get("overall") or (None, None)
    interval = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
    return f"{results.overall:.3f}{interval}"


def _row(point: Point) -> list[str]:
    results = point.results
    merged = "".join(f", #{number}" for number, _ in point.merged)
    where = str(point.run_dir) if point.problem is None else f"{point.problem}"
    return [f"{point.number}{merged}", point.label, point.status,
            f"{results.n_scored}/{results.n}" if results is not None else "-", _overall(point),
            f"{results.cost_usd:.4f}" if results is not None and results.cost_usd is not None else "-", where]


def summary_table(points: list[Point]) -> str:
    """Aligned columns; the last one (run dir, or the problem) runs on as long as it needs."""
    rows = [list(HEADERS)] + [_row(point) for point in sorted(points, key=lambda p: p.number)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
    return "\n".join(line.rstrip() for line in lines)
