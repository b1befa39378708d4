"""results.json: metrics with CIs over the scored items, coverage, failures, tokens and cost."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from .stats.metrics import NAMES, confidence_intervals, correlations, undefined_reason
from .paths import write_atomic
from .rundir import RESULTS
from .config import effective_shots
from .report.setting import BASELINE, NO_PROMPT, setting_text
from .cards.lifecycle import LIFECYCLE_FIELDS



def config_digest(cfg: DictConfig, data_fingerprint: str) -> str:
    """Fingerprint of what determines the answers (not limits, loggers, caches or concurrency)."""
    model = OmegaConf.to_container(cfg.model, resolve=True, enum_to_str=True)
    for volatile in ("concurrency", "timeout_s", "max_retries", "max_retry_after_s", "rate_limit_rpm", "description",
                     "serve", *LIFECYCLE_FIELDS):
        model.pop(volatile, None)
    parts = {"model": model, "task": cfg.task.name, "data": data_fingerprint, "strategy": OmegaConf.to_container(cfg.strategy, resolve=True),
             "shots": effective_shots(cfg.shots, cfg.strategy), "metadata": cfg.metadata.name, "seed": cfg.seed}
    for name, default in (("repeats", 1), ("scoring", "text")):  # named only when set, so older run dirs still match
        if cfg.get(name, default) != default:
            parts[name] = cfg[name]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def sample_statistics(records: list[dict[str, Any]]) -> dict[str, Any]:
    """With repeated samples: the per-item spread (mean sd of an item's samples) and each metric's mean and sd
    over the single-sample runs (sample j of every item), which shows how much one run's numbers could move."""
    multi = [r for r in records if len(r.get("scores") or []) > 1]
    if not multi:
        return {}
    spreads = [float(np.std([s for s in r["scores"] if s is not None], ddof=1)) for r in multi
               if sum(s is not None for s in r["scores"]) > 1]
    per_sample = []
    for j in range(max(len(r["scores"]) for r in multi)):
        pairs = [(r["target"], r["scores"][j]) for r in multi if j < len(r["scores"]) and r["scores"][j] is not None]
        per_sample.append(correlations([t for t, _ in pairs], [s for _, s in pairs]))
    return {
        "sample_spread": _finite(float(np.mean(spreads))) if spreads else None,
        "single_sample_metrics": {
            name: {"mean": _finite(float(np.mean(values))) if values else None,
                   "sd": _finite(float(np.std(values, ddof=1))) if len(values) > 1 else None}
            for name in (*NAMES, "overall")
            for values in [[m[name] for m in per_sample if math.isfinite(m[name])]]},
    }


def summarize(cfg: DictConfig, records: list[dict[str, Any]], n_items: int, *, digest: str, requests: int,
              spent: float, seconds: float, stopped_by_budget: bool) -> dict[str, Any]:
    scored = [r for r in records if r.get("score") is not None]
    targets, scores = [r["target"] for r in scored], [r["score"] for r in scored]
    values = correlations(targets, scores)
    ci = confidence_intervals(targets, scores)
    failures = Counter((r.get("error") or "unknown").split(":")[0] for r in records if r.get("score") is None)
    usage = Counter()
    for record in records:
        usage.update(record.get("usage") or {})
    costs = [r["cost_usd"] for r in records if r.get("cost_usd") is not None]
    strategy = BASELINE if cfg.model.backend == BASELINE else cfg.strategy.name  # a baseline asks no prompt
    shots = None if strategy in NO_PROMPT else effective_shots(cfg.shots, cfg.strategy)
    return {
        "model": cfg.model.name, "task": cfg.task.name, "strategy": strategy,
        "selection": cfg.strategy.selection if shots else None,
        "shots": shots, "metadata": cfg.metadata.name, "seed": cfg.seed,
        "metrics": {name: _finite(values[name]) for name in (*NAMES, "overall")},
        "metrics_abs": {name: _finite(abs(values[name])) for name in NAMES},
        "metrics_undefined": undefined_reason(targets, scores),
        "ci": {name: [_finite(lo), _finite(hi)] for name, (lo, hi) in ci.items()},
        "n": n_items, "n_answered": len(records), "n_scored": len(scored),
        "coverage": round(len(scored) / n_items, 6) if n_items else 0.0,
        "failures": dict(failures), "n_failed": sum(failures.values()),
        "complete": len(records) == n_items,
        "stopped_by_budget": stopped_by_budget,
        "tokens": {k: int(usage.get(k, 0)) for k in ("prompt_tokens", "completion_tokens", "cached_tokens")},
        "cost_usd": round(sum(costs), 6) if costs else None,
        "cost_usd_this_run": round(spent, 6),
        "requests_this_run": requests,
        "cached_answers": sum(1 for r in records if r.get("cached")),
        "seconds": round(seconds, 3),
        "config_digest": digest,
        "repeats": cfg.get("repeats", 1), "scoring": cfg.get("scoring", "text"),
        "read_from": dict(Counter(r["read_from"] for r in scored if r.get("read_from"))),
        "category_disagreements": sum(1 for r in scored if r.get("category_disagrees")),
        **sample_statistics(records),
    }


def write_results(run_dir: Path, results: dict[str, Any]) -> Path:
    path = Path(run_dir) / RESULTS
    write_atomic(path, json.dumps(results, indent=2))
    return path


def format_table(results: dict[str, Any]) -> str:
    """The short table a run prints."""
    lines = [f"{results['model']} | {results['task']} | {setting_text(results)}",
             f"{'metric':<8} {'value':>8}   95% CI"]
    for name in (*NAMES, "overall"):
        value, (lo, hi) = results["metrics"][name], results["ci"][name]
        show = (lambda v: f"{v:.4f}" if v is not None else "n/a")
        lines.append(f"{name.upper():<8} {show(value):>8}   [{show(lo)}, {show(hi)}]")
    if results.get("metrics_undefined"):
        lines.append(f"n/a: {results['metrics_undefined']}")
    cost = results["cost_usd"]
    lines.append(f"scored {results['n_scored']}/{results['n']} (coverage {results['coverage']:.0%}), "
                 f"failures {results['n_failed']}, cost {'$%.4f' % cost if cost is not None else 'n/a'}")
    return "\n".join(lines)
