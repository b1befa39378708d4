"""The leaderboard as a printed table, leaderboard.md, leaderboard.csv and a self-contained leaderboard.html."""

from __future__ import annotations

import base64
import csv
import html
import io
import os
import shlex
from collections.abc import Callable
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ldct_bench.paths import write_atomic
from ldct_bench.report.leaderboard import Row, scatter_for
from ldct_bench.report.plots import CostPoint, cost_chart_png, free_tasks
from ldct_bench.stats.diagnostics import MEANING
from ldct_bench.view import page_of
from ldct_bench.view.text import signed

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


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


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
    ("bias", lambda r: signed(r.bias, 3)),
    ("slope", lambda r: _num(r.slope, 3)),
    ("mode share", lambda r: _share(r.mode_share)),
    ("coverage", _coverage),
    ("n", lambda r: "-" if r.n is None else str(r.n)),
    ("cost $", lambda r: _num(r.cost_usd)),
    ("runs", lambda r: "-" if r.published else str(r.runs)),
    ("source", lambda r: r.source),
]
CSV_HEADER = ["rank", "task", "model", "strategy", "shots", "metadata", "overall", "overall_ci_low",
              "overall_ci_high", "delta_vs_best", "delta_ci_low", "delta_ci_high", "tied_with_best", "plcc", "srocc",
              "krocc", "bias", "slope", "mode_share", "coverage", "low_coverage", "n", "cost_usd", "runs", "published",
              "source"]
NOTE = ("`vs best` is overall minus the best run of the task, with the paired 95% bootstrap interval over the "
        f"items both scored; `{TIED}` marks rows whose interval holds 0 (not told apart from the best). "
        f"How the scores go wrong: bias = {MEANING['bias']}; slope: {MEANING['slope']}; mode share: "
        f"{MEANING['mode_share']}. `ldct-bench view RUN_DIR` shows a run's items and the rest of its diagnostics. "
        f"Runs marked `{LOW}` scored fewer items than --min-coverage asks and are ranked after the rest. "
        "Rows marked `published, not run here` are numbers from the literature, not runs of this harness.")


def text_table(rows: list[Row]) -> str:
    """Aligned columns for the terminal."""
    cells = [[header for header, _ in COLUMNS]] + [[show(row) for _, show in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(header for header, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(show(row).replace("|", "\\|") for _, show in COLUMNS) + " |" for row in rows]
    return "# ldct-bench leaderboard\n\n" + "\n".join(lines) + f"\n\n{NOTE}\n"


def raw_rows(rows: list[Row]) -> list[list[Any]]:
    """Unformatted values in CSV_HEADER order (the CSV file and the W&B table)."""
    return [[r.rank, r.task, r.model, r.strategy, r.shots, r.metadata, r.overall, *r.overall_ci, r.delta, *r.delta_ci,
             r.tied_with_best, r.plcc, r.srocc, r.krocc, r.bias, r.slope, r.mode_share, r.coverage, r.low_coverage,
             r.n, r.cost_usd, None if r.published else r.runs, r.published, r.source] for r in rows]


def csv_text(rows: list[Row]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    writer.writerows(raw_rows(rows))
    return buffer.getvalue()


# ---- leaderboard.html: one table per task, sized for a 1400-px window ----

SCALE = 3.0  # overall runs from 0 to 3
BAR_PX = 120  # the overall bar's length at 3
_STYLE = """body{font-family:system-ui,sans-serif;margin:1.2em 1em;color:#222;max-width:1360px}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .4em}
p.note{font-size:13px;color:#444;max-width:1100px}
table{border-collapse:collapse;font-size:13px;width:100%;table-layout:fixed}
th,td{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:middle}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0;white-space:nowrap;font-weight:600}
th:hover{background:#e8e8e8}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.src{color:#555;font-size:12px}
td.src span,td.src a{display:-webkit-box;-webkit-line-clamp:5;-webkit-box-orient:vertical;overflow:hidden;
overflow-wrap:anywhere}
td.diag small{display:block;white-space:nowrap;font-size:11.5px;line-height:1.35}
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
    def x(value: float) -> float:
        return round(max(0.0, min(SCALE, value)) / SCALE * BAR_PX, 1)

    parts = [f'<rect x="0" y="4" width="{x(row.overall)}" height="10" fill="#9cc3e6"/>']
    low, high = row.overall_ci
    if low is not None and high is not None:
        parts.append(f'<path d="M{x(low)} 9H{x(high)}M{x(low)} 4V14M{x(high)} 4V14" stroke="#1f4e79" '
                     'stroke-width="1.5" fill="none"/>')
    title = f"overall {row.overall:.4f}" + (f", 95% CI {_interval(row.overall_ci)}" if low is not None else "")
    ticks = "".join(f"M{x(tick)} 14V18" for tick in (1, 2, 3))
    axis = f'<path d="M0 16.5H{BAR_PX}{ticks}" stroke="#bbb"/>'
    return (f'<div class="ov" title="{html.escape(title)}"><span>{row.overall:.3f}</span><svg width="{BAR_PX + 2}" '
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
    setting = f' title="{html.escape(row.details)}"' if row.details else ""  # every setting behind the row
    return f"<span{setting}>{html.escape(row.model)}</span>" + tags


def _scatter_cell(row: Row) -> str:
    png = scatter_for(row)
    if not png:
        return "-"
    alt = f"scatter of {row.model}, {row.strategy}; click to enlarge"
    return (f'<img class="thumb" alt="{html.escape(alt)}" title="click to enlarge" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode()}">')


def _tip(text: str | None) -> str:
    return f' title="{html.escape(text)}"' if text else ""


def _diagnostics_cell(row: Row) -> str:
    """Bias, slope and mode share, a small line each; a dash for rows without them (published, older runs)."""
    if row.bias is None and row.slope is None and row.mode_share is None:
        return "-"
    return (f"<small>bias {signed(row.bias)}</small><small>slope {_num(row.slope, 2)}</small>"
            f"<small>mode {_share(row.mode_share)}</small>")


DIAGNOSTICS_TIP = f"bias: {MEANING['bias']}\nslope: {MEANING['slope']}\nmode: {MEANING['mode_share']}"


def _short_source(row: Row, out_dir: Path) -> str:
    """The run dir from the leaderboard's folder when it lies inside it, else its last three folders (the full
    path is on hover)."""
    if row.run_dir is None:
        return row.source
    path, here = row.run_dir.resolve(), out_dir.resolve()
    if path != here and path.is_relative_to(here):
        return path.relative_to(here).as_posix()
    return ("…/" if len(path.parts) > 3 else "") + "/".join(path.parts[-3:])


def _href(page: Path, out_dir: Path) -> str:
    """The address of `page` from the leaderboard's folder: relative, unless they sit on different drives."""
    try:
        return quote(Path(os.path.relpath(page.resolve(), out_dir.resolve())).as_posix())
    except ValueError:  # Windows, another drive: no relative path leads there
        return page.resolve().as_uri()


def _source_cell(row: Row, out_dir: Path) -> str:
    """Where the row comes from, the full path on hover; a run dir links to its view page, or, before the page
    exists, the hover says how to make it."""
    shown = html.escape(_short_source(row, out_dir))
    if row.run_dir is None:
        link = row.source.startswith(("https://", "http://"))  # a W&B run
        tip = _tip(row.source)
        return f'<a href="{html.escape(row.source)}"{tip}>{shown}</a>' if link else f'<span{tip}>{shown}</span>'
    page, path = page_of(row.run_dir), str(row.run_dir)
    if page.is_file():
        return f'<a href="{html.escape(_href(page, out_dir))}"{_tip(path)}>{shown}</a>'
    hint = (f"{path}\nno view page of its items yet; make it with: ldct-bench view {shlex.quote(path)} "
            "(the leaderboard links it once written again)")
    return f'<span{_tip(hint)}>{shown}</span>'


# (header, width in px or None for the rest, cell HTML, sort value, numeric) of the HTML table; fixed widths
# that add up to fit a 1400-px window, so the tables of all tasks line up; the task is each table's heading.
# The source cell needs the leaderboard's folder, so the columns are made for it.
Column = tuple[str, int | None, Callable[[Row], str], Callable[[Row], Any], bool]


def _html_columns(out_dir: Path) -> list[Column]:
    return [
        ("#", 32, lambda r: str(r.rank), lambda r: r.rank, True),
        ("model", 140, _model_cell, lambda r: r.model, False),
        ("setting", 150, _setting_cell, lambda r: f"{r.strategy} {r.shots} {r.metadata}", False),
        ("overall (0-3), 95% CI", 172, _overall_bar, lambda r: r.overall, False),
        ("vs best", 116, _delta_cell, lambda r: r.delta, True),
        ("PLCC", 60, lambda r: _num(r.plcc, 3), lambda r: r.plcc, True),
        ("SROCC", 64, lambda r: _num(r.srocc, 3), lambda r: r.srocc, True),
        ("KROCC", 64, lambda r: _num(r.krocc, 3), lambda r: r.krocc, True),
        ("diagnostics", 100, _diagnostics_cell, lambda r: r.bias, False),
        ("coverage", 84, lambda r: "-" if r.coverage is None else f"{r.coverage:.0%}", lambda r: r.coverage, True),
        ("n", 44, lambda r: "-" if r.n is None else str(r.n), lambda r: r.n, True),
        ("cost $", 62, lambda r: _num(r.cost_usd, 2), lambda r: r.cost_usd, True),
        ("runs", 48, lambda r: "-" if r.published else str(r.runs), lambda r: None if r.published else r.runs, True),
        ("scatter", 72, _scatter_cell, lambda r: None, False),
        ("source", None, lambda r: _source_cell(r, out_dir), lambda r: r.source, False),
    ]


_CLASSES = {"source": "src", "setting": "set", "diagnostics": "diag"}
_HEADER_TIPS = {"diagnostics": DIAGNOSTICS_TIP}


def _html_row(row: Row, columns: list[Column]) -> str:
    cells = []
    for header, _, cell, sort, numeric in columns:
        value = sort(row)
        classes = "num" if numeric else _CLASSES.get(header, "")
        cells.append(f'<td data-sort="{html.escape("" if value is None else str(value))}"'
                     f'{f" class={classes}" if classes else ""}>{cell(row)}</td>')
    kind = "published" if row.published else ("low" if row.low_coverage else "")
    return f'<tr{f" class={kind}" if kind else ""}>' + "".join(cells) + "</tr>"


def _task_table(task: str, rows: list[Row], columns: list[Column]) -> str:
    widths = "".join(f"<col style='width:{width}px'>" if width else "<col>" for _, width, _, _, _ in columns)
    head = "".join(f"<th{_tip(_HEADER_TIPS.get(header))}>{html.escape(header)}</th>" for header, _, _, _, _ in columns)
    body = "\n".join(_html_row(row, columns) for row in rows)
    return (f"<h2>task {html.escape(task)}</h2>\n<table class='board'><colgroup>{widths}</colgroup>"
            f"<thead><tr>{head}</tr></thead><tbody>\n{body}\n"
            "</tbody></table>")


def _cost_points(rows: list[Row]) -> list[CostPoint]:
    """Runs of this harness that have both a cost and an overall (published rows have no cost)."""
    return [CostPoint(r.task, r.rank or 0, r.model + f" {r.strategy}" + ("" if r.shots is None else f" k={r.shots}"),
                      r.cost_usd, r.overall, *r.overall_ci)
            for r in rows if not r.published and r.cost_usd is not None and r.overall is not None]


def _cost_section(rows: list[Row]) -> str:
    """The overall-against-cost chart of the tasks where some run cost money, and one line naming the tasks
    where every run cost $0 (their chart would be a column of points at $0)."""
    points = _cost_points(rows)
    chart, free = cost_chart_png(points), free_tasks(points)
    if chart is None and not free:
        return ""
    said = (f"<p class='note'>{'; '.join(f'task {html.escape(task)}: all runs cost $0' for task in free)}"
            f"{', so no cost chart' if chart is None else ''}.</p>\n") if free else ""
    image = ("<img class='chart' alt='overall against cost per run' "
             f"src='data:image/png;base64,{base64.b64encode(chart).decode()}'>\n") if chart else ""
    return f"<h2>overall against cost</h2>\n{said}{image}"


def html_page(rows: list[Row], out_dir: Path) -> str:
    """One file with no outside references: inline style and script, plots as base64 PNG; the only links lead
    to runs' view pages (relative to `out_dir`, the page's folder) and W&B runs."""
    columns = _html_columns(out_dir)
    tables = "\n".join(_task_table(task, list(group), columns) for task, group in groupby(rows, key=lambda r: r.task))
    figure = _cost_section(rows)
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
    paths = {"md": out_dir / MARKDOWN, "csv": out_dir / CSV, "html": out_dir / HTML}
    for kind, text in (("md", markdown(rows)), ("csv", csv_text(rows)), ("html", html_page(rows, out_dir))):
        write_atomic(paths[kind], text)  # a reader never sees half a file; a failed write leaves the old one
    return paths
