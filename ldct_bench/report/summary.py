"""The short table a finished run prints, and the one line that says why a metric is missing."""

from __future__ import annotations

from ldct_bench.report.setting import setting_text
from ldct_bench.run.results import Results
from ldct_bench.stats.metrics import ALL


def _four(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else "n/a"


def format_table(results: Results) -> str:
    """What scored what, the metrics with their 95% intervals, coverage, failures and cost."""
    lines = [f"{results.model} | {results.task} | {setting_text(results)}",
             f"{'metric':<8} {'value':>8}   95% CI"]
    for name in ALL:
        low, high = results.ci.get(name) or (None, None)
        lines.append(f"{name.upper():<8} {_four(results.metrics.get(name)):>8}   [{_four(low)}, {_four(high)}]")
    if results.metrics_undefined:
        lines.append(f"n/a: {results.metrics_undefined}")
    cost = results.cost_usd
    coverage = results.coverage or 0.0
    lines.append(f"scored {results.n_scored}/{results.n} (coverage {coverage:.0%}), "
                 f"failures {results.n_failed}, cost {f'${cost:.4f}' if cost is not None else 'n/a'}")
    return "\n".join(lines)
