"""The leaderboard as a printed table, leaderboard.md, leaderboard.csv and a self-contained leaderboard.html."""

from __future__ import annotations

import base64
import csv
import html
from itertools import groupby
from pathlib import Path
from typing import Any, Callable

from ldct_bench.report.leaderboard import Row, scatter_for
from ldct_bench.report.plots import CostPoint, cost_chart_png

MARKDOWN, CSV, HTML = "leaderboard.md", "leaderboard.csv", "leaderboard.html"
TIED = "≈ best"  # the paired interval of the difference from the best run holds 0
LOW = "low coverage"


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _interval(pair: tuple[float | None, float | None], signed: bool = False) -> str:
    low, high = pair
    if low is None or high is None:
        return "-"
    return f"[{low:+.3f}, {high:+.3f}]" if signed else f"[{low:.3f}, {high:.3f}]"


def _delta(row: Row) -> str:
    if row.best:
        return "best"
    if row.delta is None:
        return "-"
    return f"{row.delta:+.3f}" + (f" {TIED}" if row.tied_with_best else "")


def _coverage(row: Row) -> str:
    return "-" if row.coverage is None else f"{row.coverage:.0%}" + (f" ({LOW})" if row.low_coverage else "")


# (header, text shown, raw value for CSV) of the terminal and markdown tables
COLUMNS: list[tuple[str, Callable[[Row], str]]] = [
    ("rank", lambda r: str(r.rank)),
    ("task", lambda r: r.task),
    ("model", lambda r: r.model),
    ("strategy", lambda r: r.strategy),
    ("shots", lambda r: "-" if r.shots is None else str(r.shots)),
    ("metadata", lambda r: r.metadata),
    ("overall", lambda r: _num(r.overall)),
    ("overall 95% CI", lambda r: _interval(r.overall_ci)),
    ("vs best", _delta),
    ("vs best 95% CI", lambda r: _interval(r.delta_ci, signed=True)),
    ("PLCC", lambda r: _num(r.plcc)),
    ("SROCC", lambda r: _num(r.srocc)),
    ("KROCC", lambda r: _num(r.krocc)),
    ("coverage", _coverage),
    ("n", lambda r: "-" if r.n is None else str(r.n)),
    ("cost $", lambda r: _num(r.cost_usd)),
    ("runs", lambda r: "-" if r.published else str(r.runs)),
    ("source", lambda r: r.source),
]
CSV_HEADER = ["rank", "task", "model", "strategy", "shots", "metadata", "overall", "overall_ci_low",
              "overall_ci_high", "delta_vs_best", "delta_ci_low", "delta_ci_high", "tied_with_best", "plcc", "srocc",
              "krocc", "coverage", "low_coverage", "n", "cost_usd", "runs", "published", "source"]
NOTE = ("`vs best` is overall minus the best run of the task, with the paired 95% bootstrap interval over the "
        f"items both scored; `{TIED}` marks rows whose interval holds 0 (not told apart from the best). "
        f"Runs marked `{LOW}` scored fewer items than --min-coverage asks and are ranked after the rest. "
        "Rows marked `published, not run here` are numbers from the literature, not runs of this harness.")


def text_table(rows: list[Row]) -> str:
    """Aligned columns for the terminal."""
    cells = [[header for header, _ in COLUMNS]] + [[show(row) for _, show in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


def markdown(rows: list[Row]) -> str:
    escape = (lambda text: text.replace("|", "\\|"))
    lines = ["| " + " | ".join(header for header, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(escape(show(row)) for _, show in COLUMNS) + " |" for row in rows]
    return "# ldct-bench leaderboard\n\n" + "\n".join(lines) + f"\n\n{NOTE}\n"


def raw_rows(rows: list[Row]) -> list[list[Any]]:
    """Unformatted values in CSV_HEADER order (the CSV file and the W&B table)."""
    return [[r.rank, r.task, r.model, r.strategy, r.shots, r.metadata, r.overall, *r.overall_ci, r.delta, *r.delta_ci,
             r.tied_with_best, r.plcc, r.srocc, r.krocc, r.coverage, r.low_coverage, r.n, r.cost_usd,
             None if r.published else r.runs, r.published, r.source] for r in rows]


def write_csv(rows: list[Row], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        writer.writerows(raw_rows(rows))


# ---- leaderboard.html: one table per task, sized for a 1400-px window ----

SCALE = 3.0  # overall runs from 0 to 3
_STYLE = """body{font-family:system-ui,sans-serif;margin:1.2em 1.5em;color:#222;max-width:1360px}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .4em}
p.note{font-size:13px;color:#444;max-width:1100px}
table{border-collapse:collapse;font-size:13px;width:100%;table-layout:fixed}
th,td{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:middle}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0;white-space:nowrap;font-weight:600}
th:hover{background:#e8e8e8}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.src{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;color:#555;font-size:12px}
th{overflow:hidden;text-overflow:ellipsis}td{overflow-wrap:break-word}
td.set small{color:#666;display:block}
tr.published{color:#555;font-style:italic;background:#fafaf0}tr.low{background:#fdf1f1}
.tag{display:inline-block;font-size:11px;font-style:normal;padding:0 5px;border-radius:8px;margin-left:4px;
white-space:nowrap}
.tag.pub{background:#ece7c6}.tag.low{background:#f4c7c7}.tag.tie{background:#d5ead3}.tag.best{background:#cfe0f3}
.ov{display:flex;align-items:center;gap:6px;white-space:nowrap}.ov span{width:3.2em;text-align:right}
img.thumb{width:64px;height:64px;object-fit:cover;cursor:zoom-in;display:block;border:1px solid #ccc}
#zoom{display:none;position:fixed;inset:0;background:rgba(0,0,0,.65);align-items:center;justify-content:center;
cursor:zoom-out}
#zoom img{max-width:92vw;max-height:92vh;background:#fff;padding:8px}
img.chart{max-width:100%;border:1px solid #eee}"""
_SCRIPT = """document.querySelectorAll('table.board').forEach(table => table.querySelectorAll('th').forEach((th, col) =>
  th.addEventListener('click', () => {
    const body = table.tBodies[0], rows = Array.from(body.rows);
    const up = th.dataset.dir !== 'asc'; th.dataset.dir = up ? 'asc' : 'desc';
    const key = r => r.cells[col].dataset.sort;
    rows.sort((a, b) => { const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      if (x === '' || y === '') return (x === '') - (y === '');
      const d = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny; return up ? d : -d; });
    rows.forEach(r => body.appendChild(r));
  })));
const zoom = document.getElementById('zoom');
document.querySelectorAll('img.thumb').forEach(img => img.addEventListener('click', () => {
  zoom.querySelector('img').src = img.src; zoom.style.display = 'flex'; }));
zoom.addEventListener('click', () => { zoom.style.display = 'none'; });
document.addEventListener('keydown', e => { if (e.key === 'Escape') zoom.style.display = 'none'; });"""


def _overall_bar(row: Row) -> str:
    """The overall as a bar on a 0-3 axis with its 95% interval drawn as a whisker."""
    if row.overall is None:
        return "-"
    x = (lambda v: round(max(0.0, min(SCALE, v)) / SCALE * 140, 1))
    parts = [f'<rect x="0" y="4" width="{x(row.overall)}" height="10" fill="#9cc3e6"/>']
    low, high = row.overall_ci
    if low is not None and high is not None:
        parts.append(f'<path d="M{x(low)} 9H{x(high)}M{x(low)} 4V14M{x(high)} 4V14" stroke="#1f4e79" '
                     'stroke-width="1.5" fill="none"/>')
    title = f"overall {row.overall:.4f}" + (f", 95% CI {_interval(row.overall_ci)}" if low is not None else "")
    axis = '<path d="M0 16.5H140M46.7 14V18M93.3 14V18M140 14V18" stroke="#bbb"/>'  # ticks at 1, 2 and 3
    return (f'<div class="ov" title="{html.escape(title)}"><span>{row.overall:.3f}</span><svg width="142" '
            f'height="19" role="img">{axis}{"".join(parts)}</svg></div>')


def _delta_cell(row: Row) -> str:
    if row.best:
        return '<span class="tag best">best</span>'
    if row.delta is None:
        return "-"
    interval = _interval(row.delta_ci, signed=True)
    tie = f'<span class="tag tie" title="the interval holds 0">{TIED}</span>' if row.tied_with_best else ""
    return f"{row.delta:+.3f}{tie}" + (f'<br><small>{interval}</small>' if interval != "-" else "")


def _setting_cell(row: Row) -> str:
    shots = "" if row.shots is None else f" k={row.shots}"
    metadata = "" if row.metadata == "-" else f"<small>metadata {html.escape(row.metadata)}</small>"
    strategy = html.escape(row.strategy).replace("/", "/<wbr>")  # wrap after the strategy, not inside a name
    return f"{strategy}{shots}{metadata}"


def _model_cell(row: Row) -> str:
    tags = ('<span class="tag pub">published</span>' if row.published else "") + \
           (f'<span class="tag low">{LOW}</span>' if row.low_coverage else "")
    return html.escape(row.model) + tags


def _scatter_cell(row: Row) -> str:
    png = scatter_for(row)
    if not png:
        return "-"
    alt = f"scatter of {row.model}, {row.strategy}; click to enlarge"
    return (f'<img class="thumb" alt="{html.escape(alt)}" title="click to enlarge" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode()}">')


def _short_source(row: Row) -> str:
    if row.run_dir is None:
        return row.source
    parts = Path(row.source).parts
    return ("…/" if len(parts) > 3 else "") + "/".join(parts[-3:])


# (header, width in px or None for the rest, cell HTML, sort value, numeric) of the HTML table; fixed widths
# that add up to fit a 1400-px window, so the tables of all tasks line up; the task is each table's heading
_HTML_COLUMNS: list[tuple[str, int | None, Callable[[Row], str], Callable[[Row], Any], bool]] = [
    ("#", 32, lambda r: str(r.rank), lambda r: r.rank, True),
    ("model", 155, _model_cell, lambda r: r.model, False),
    ("setting", 170, _setting_cell, lambda r: f"{r.strategy} {r.shots} {r.metadata}", False),
    ("overall (0-3) and 95% CI", 192, _overall_bar, lambda r: r.overall, False),
    ("vs best", 140, _delta_cell, lambda r: r.delta, True),
    ("PLCC", 60, lambda r: _num(r.plcc, 3), lambda r: r.plcc, True),
    ("SROCC", 68, lambda r: _num(r.srocc, 3), lambda r: r.srocc, True),
    ("KROCC", 68, lambda r: _num(r.krocc, 3), lambda r: r.krocc, True),
    ("coverage", 84, lambda r: "-" if r.coverage is None else f"{r.coverage:.0%}", lambda r: r.coverage, True),
    ("n", 44, lambda r: "-" if r.n is None else str(r.n), lambda r: r.n, True),
    ("cost $", 62, lambda r: _num(r.cost_usd, 2), lambda r: r.cost_usd, True),
    ("runs", 48, lambda r: "-" if r.published else str(r.runs), lambda r: None if r.published else r.runs, True),
    ("scatter", 72, _scatter_cell, lambda r: None, False),
    ("source", None, lambda r: html.escape(_short_source(r)), lambda r: r.source, False),
]


def _html_row(row: Row) -> str:
    cells = []
    for header, _, cell, sort, numeric in _HTML_COLUMNS:
        value = sort(row)
        classes = "num" if numeric else ("src" if header == "source" else ("set" if header == "setting" else ""))
        extra = f' title="{html.escape(row.source)}"' if header == "source" else ""
        cells.append(f'<td data-sort="{html.escape("" if value is None else str(value))}"'
                     f'{f" class={classes}" if classes else ""}{extra}>{cell(row)}</td>')
    kind = "published" if row.published else ("low" if row.low_coverage else "")
    return f'<tr{f" class={kind}" if kind else ""}>' + "".join(cells) + "</tr>"


def _task_table(task: str, rows: list[Row]) -> str:
    widths = "".join(f"<col style='width:{width}px'>" if width else "<col>" for _, width, _, _, _ in _HTML_COLUMNS)
    head = "".join(f"<th>{html.escape(header)}</th>" for header, _, _, _, _ in _HTML_COLUMNS)
    body = "\n".join(_html_row(row) for row in rows)
    return (f"<h2>task {html.escape(task)}</h2>\n<table class='board'><colgroup>{widths}</colgroup>"
            f"<thead><tr>{head}</tr></thead><tbody>\n{body}\n"
            "</tbody></table>")


def _cost_points(rows: list[Row]) -> list[CostPoint]:
    """Runs of this harness that have both a cost and an overall (published rows have no cost)."""
    return [CostPoint(r.task, r.rank or 0, r.model + f" {r.strategy}" + ("" if r.shots is None else f" k={r.shots}"),
                      r.cost_usd, r.overall, *r.overall_ci)
            for r in rows if not r.published and r.cost_usd is not None and r.overall is not None]


def html_page(rows: list[Row]) -> str:
    """One file with no outside references: inline style and script, plots as base64 PNG."""
    tables = "\n".join(_task_table(task, list(group)) for task, group in groupby(rows, key=lambda r: r.task))
    chart = cost_chart_png(_cost_points(rows))
    figure = ("<h2>overall against cost</h2>\n<img class='chart' alt='overall against cost per run' "
              f"src='data:image/png;base64,{base64.b64encode(chart).decode()}'>\n") if chart else ""
    note = html.escape(NOTE).replace("`", "")
    return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>ldct-bench leaderboard</title>"
            f"<style>{_STYLE}</style></head><body>\n<h1>ldct-bench leaderboard</h1>\n"
            "<p class='note'>Ranked by overall = |PLCC| + |SROCC| + |KROCC| within each task; the bar is the overall "
            "on a 0-3 scale and the whisker its 95% interval. Click a header to sort, a scatter plot to "
            f"enlarge it. {note}</p>\n{tables}\n{figure}"
            "<div id='zoom'><img alt='enlarged scatter plot'></div>\n"
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
