"""The leaderboard as a printed table, leaderboard.md, leaderboard.csv and a self-contained leaderboard.html."""

from __future__ import annotations

import base64
import csv
import html
from pathlib import Path
from typing import Any, Callable

from .leaderboard import Row, scatter_for

MARKDOWN, CSV, HTML = "leaderboard.md", "leaderboard.csv", "leaderboard.html"


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(row: Row) -> str:
    low, high = row.overall_ci
    return "-" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"


# (header, text shown, raw value for CSV and for sorting in HTML)
COLUMNS: list[tuple[str, Callable[[Row], str], Callable[[Row], Any]]] = [
    ("rank", lambda r: str(r.rank), lambda r: r.rank),
    ("task", lambda r: r.task, lambda r: r.task),
    ("model", lambda r: r.model, lambda r: r.model),
    ("strategy", lambda r: r.strategy, lambda r: r.strategy),
    ("shots", lambda r: "-" if r.shots is None else str(r.shots), lambda r: r.shots),
    ("metadata", lambda r: r.metadata, lambda r: r.metadata),
    ("overall", lambda r: _num(r.overall), lambda r: r.overall),
    ("overall 95% CI", _ci, lambda r: r.overall_ci[0]),
    ("PLCC", lambda r: _num(r.plcc), lambda r: r.plcc),
    ("SROCC", lambda r: _num(r.srocc), lambda r: r.srocc),
    ("KROCC", lambda r: _num(r.krocc), lambda r: r.krocc),
    ("coverage", lambda r: "-" if r.coverage is None else f"{r.coverage:.0%}", lambda r: r.coverage),
    ("n", lambda r: "-" if r.n is None else str(r.n), lambda r: r.n),
    ("cost $", lambda r: _num(r.cost_usd), lambda r: r.cost_usd),
    ("runs", lambda r: "-" if r.published else str(r.runs), lambda r: None if r.published else r.runs),
    ("source", lambda r: r.source, lambda r: r.source),
]
CSV_HEADER = ["rank", "task", "model", "strategy", "shots", "metadata", "overall", "overall_ci_low",
              "overall_ci_high", "plcc", "srocc", "krocc", "coverage", "n", "cost_usd", "runs", "published", "source"]


def text_table(rows: list[Row]) -> str:
    """Aligned columns for the terminal."""
    cells = [[header for header, _, _ in COLUMNS]] + [[show(row) for _, show, _ in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


def markdown(rows: list[Row]) -> str:
    escape = (lambda text: text.replace("|", "\\|"))
    lines = ["| " + " | ".join(header for header, _, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(escape(show(row)) for _, show, _ in COLUMNS) + " |" for row in rows]
    note = "Rows marked `published, not run here` are numbers from the literature, not runs of this harness."
    return "# ldct-bench leaderboard\n\n" + "\n".join(lines) + f"\n\n{note}\n"


def raw_rows(rows: list[Row]) -> list[list[Any]]:
    """Unformatted values in CSV_HEADER order (the CSV file and the W&B table)."""
    return [[r.rank, r.task, r.model, r.strategy, r.shots, r.metadata, r.overall, *r.overall_ci, r.plcc, r.srocc,
             r.krocc, r.coverage, r.n, r.cost_usd, None if r.published else r.runs, r.published, r.source]
            for r in rows]


def write_csv(rows: list[Row], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        writer.writerows(raw_rows(rows))


_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}th:hover{background:#e8e8e8}
tr.published{color:#666;font-style:italic;background:#fafaf0}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{width:170px;display:block}"""
_SCRIPT = """document.querySelectorAll('#board th').forEach((th, col) => th.addEventListener('click', () => {
  const body = document.querySelector('#board tbody'), rows = Array.from(body.rows);
  const up = th.dataset.dir !== 'asc'; th.dataset.dir = up ? 'asc' : 'desc';
  const key = r => r.cells[col].dataset.sort;
  rows.sort((a, b) => { const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
    if (x === '' || y === '') return (x === '') - (y === '');
    const d = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny; return up ? d : -d; });
  rows.forEach(r => body.appendChild(r));
}));"""


def _html_row(row: Row) -> str:
    cells = []
    for _, show, raw in COLUMNS:
        value = raw(row)
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        cells.append(f'<td data-sort="{html.escape("" if value is None else str(value))}"'
                     f'{" class=num" if numeric else ""}>{html.escape(show(row))}</td>')
    png = scatter_for(row)
    cells.append(f'<td data-sort=""><img alt="scatter" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
                 "</td>" if png else '<td data-sort="">-</td>')
    return f'<tr{" class=published" if row.published else ""}>' + "".join(cells) + "</tr>"


def html_page(rows: list[Row]) -> str:
    """One file with no outside references: inline style, inline sorting script, scatter plots as base64 PNG."""
    head = "".join(f"<th>{html.escape(header)}</th>" for header, _, _ in COLUMNS) + "<th>scatter</th>"
    body = "\n".join(_html_row(row) for row in rows)
    return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>ldct-bench leaderboard</title>"
            f"<style>{_STYLE}</style></head><body>\n<h1>ldct-bench leaderboard</h1>\n"
            "<p>Ranked by overall = |PLCC| + |SROCC| + |KROCC| within each task; click a header to sort. "
            "Grey italic rows are <b>published, not run here</b>.</p>\n"
            f"<table id='board'><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>\n"
            f"<script>{_SCRIPT}</script>\n</body></html>\n")


def write_all(rows: list[Row], out_dir: Path) -> dict[str, Path]:
    """leaderboard.md, .csv and .html in out_dir; returns their paths by format."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"md": out_dir / MARKDOWN, "csv": out_dir / CSV, "html": out_dir / HTML}
    paths["md"].write_text(markdown(rows), encoding="utf-8")
    write_csv(rows, paths["csv"])
    paths["html"].write_text(html_page(rows), encoding="utf-8")
    return paths
