"""How a run's setting is named to people, the same way in plots, tables, W&B and the leaderboard.

A run that built no prompt (the pixel baseline, or predictions scored by `ldct-bench score`) has no
strategy, examples or selection to show: it is named by what it is instead. Light on imports on purpose:
the run's own summary table uses it.
"""

from __future__ import annotations

from typing import Any

BASELINE, EXTERNAL = "baseline", "external"
NO_PROMPT = (BASELINE, EXTERNAL)  # values of results["strategy"] for runs that asked no model anything
_NAMES = {BASELINE: "baseline (no prompt)", EXTERNAL: "predictions made elsewhere"}


def prompted(results: dict[str, Any]) -> bool:
    return results.get("strategy") not in NO_PROMPT


def strategy_text(results: dict[str, Any]) -> str:
    """`few_shot/random k=10`, `zero_shot`, or what a prompt-less run is."""
    strategy = str(results.get("strategy"))
    if not prompted(results):
        return _NAMES[strategy]
    selection, shots = results.get("selection"), results.get("shots")
    return f"{strategy}/{selection} k={shots}" if selection and shots else f"{strategy} k={shots}"


def setting_text(results: dict[str, Any]) -> str:
    """The strategy with its examples and the metadata shown, for titles and tables."""
    text = strategy_text(results)
    return f"{text} | metadata {results.get('metadata')}" if prompted(results) else text


def run_name(results: dict[str, Any]) -> str:
    """A short name without spaces: `o3-few_shot-k10-none`, `noise-baseline-baseline`."""
    if not prompted(results):
        return f"{results['model']}-{results['strategy']}"
    return f"{results['model']}-{results['strategy']}-k{results['shots']}-{results['metadata']}"
