"""How a run's setting is named to people, the same way in plots, tables, W&B and the leaderboard.

A run that built no prompt (the pixel baseline, or predictions scored by `ldct-bench score`) has no
strategy, examples or selection to show: it is named by what it is instead.
"""

from __future__ import annotations

from ldct_bench.config.identity import BASELINE, EXTERNAL, NO_PROMPT
from ldct_bench.run.results import Results

_NAMES = {BASELINE: "baseline (no prompt)", EXTERNAL: "predictions made elsewhere"}


def prompted(results: Results) -> bool:
    return results.strategy not in NO_PROMPT


def strategy_text(results: Results) -> str:
    """`few_shot/random k=10`, `zero_shot`, or what a prompt-less run is."""
    if not prompted(results):
        return _NAMES.get(results.strategy, results.strategy)
    selection, shots = results.selection, results.shots
    return f"{results.strategy}/{selection} k={shots}" if selection and shots else f"{results.strategy} k={shots}"


def setting_text(results: Results) -> str:
    """The strategy with its examples and the metadata shown, for titles and tables; settings away from their
    defaults (repeats, scoring, a changed card field) are named too, so two different runs never read alike."""
    text = strategy_text(results)
    if prompted(results):
        text += f" | metadata {results.metadata}"
        if results.repeats != 1:
            text += f" | repeats {results.repeats}"
        if results.scoring != "text":
            text += f" | scoring {results.scoring}"
    changed = (results.identity or {}).get("changed") or {}
    if changed:
        text += " | " + ", ".join(f"{name}={value}" for name, value in changed.items())
    return text
