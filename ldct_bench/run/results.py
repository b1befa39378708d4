"""results.json, typed: metrics with intervals over the scored items, coverage, failures, tokens and cost.

`Results` is what a run writes and what every report reads back (the leaderboard, `compare`, plots, W&B, the
viewer); published tables and W&B runs are read into the same type, with what they lack left unset.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from omegaconf import DictConfig

from ldct_bench.config.identity import NO_PROMPT, Identity, shows_prompt
from ldct_bench.config.schema import effective_shots
from ldct_bench.paths import write_atomic
from ldct_bench.run.records import Prediction, Record
from ldct_bench.stats.diagnostics import diagnostics
from ldct_bench.stats.metrics import ALL, NAMES, confidence_intervals, correlations, undefined_reason

RESULTS = "results.json"


@dataclass
class Results(Record):
    model: str
    task: str
    strategy: str  # `baseline` or `external` for runs that showed no prompt
    metrics: dict[str, float | None]
    selection: str | None = None
    shots: int | None = None
    metadata: str = "-"
    seed: int | None = None
    metrics_abs: dict[str, float | None] = field(default_factory=dict)
    metrics_undefined: str | None = None  # why the metrics are n/a (too few items scored, constant answers)
    ci: dict[str, list[float | None]] = field(default_factory=dict)
    n: int | None = None
    n_answered: int = 0
    n_scored: int = 0
    coverage: float | None = None
    failures: dict[str, int] = field(default_factory=dict)
    n_failed: int = 0
    complete: bool = True
    stopped_by_budget: bool = False
    tokens: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    cost_usd_this_run: float = 0.0
    requests_this_run: int = 0
    cached_answers: int = 0
    seconds: float = 0.0
    config_digest: str = ""
    repeats: int = 1
    scoring: str = "text"
    read_from: dict[str, int] = field(default_factory=dict)
    category_disagreements: int = 0
    sample_spread: float | None = None
    single_sample_metrics: dict[str, dict[str, float | None]] | None = None
    source_file: str | None = None  # `ldct-bench score`: the file the predictions came from
    source: str | None = None  # a published row: where it was published
    identity: dict[str, Any] | None = None  # config/identity.py: the run's name and the settings behind it
    diagnostics: dict[str, Any] | None = None
    batch: dict[str, Any] | None = None  # batch=true: the batches and the price used

    # Written only when set: a plain run's file keeps its shape, and other sources lack them.
    ONLY_WHEN_SET: ClassVar[tuple[str, ...]] = ("metrics_undefined", "sample_spread", "single_sample_metrics",
                                                "source_file", "source", "identity", "diagnostics", "batch")

    @property
    def overall(self) -> float | None:
        return self.metrics.get("overall")

    @property
    def name(self) -> str:
        """The run's one-word name (`o3-few_shot-random-k10-none-s0`), also for runs written before names existed."""
        if self.identity and self.identity.get("name"):
            return str(self.identity["name"])
        if self.strategy in NO_PROMPT:
            return f"{self.model}-{self.strategy}"
        return f"{self.model}-{self.strategy}-k{self.shots}-{self.metadata}"



def read_results(run_dir: Path) -> Results | None:
    """The run's results.json, or None when it is missing or not an ldct-bench results file."""
    try:
        data = json.loads((Path(run_dir) / RESULTS).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not {"metrics", "model", "task", "strategy"} <= set(data):
        return None
    return Results.from_json(data)


def write_results(run_dir: Path, results: Results) -> Path:
    path = Path(run_dir) / RESULTS
    write_atomic(path, json.dumps(results.to_json(), indent=2))
    return path


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def sample_statistics(records: list[Prediction]) -> dict[str, Any]:
    """With repeated samples: the per-item spread (mean sd of an item's samples) and each metric's mean and sd
    over the single-sample runs (sample j of every item), which shows how much one run's numbers could move."""
    multi = [(r.target, r.scores) for r in records if r.scores is not None and len(r.scores) > 1]
    if not multi:
        return {}
    spreads = [float(np.std(readable, ddof=1)) for _, scores in multi
               for readable in [[s for s in scores if s is not None]] if len(readable) > 1]
    per_sample = []
    for j in range(max(len(scores) for _, scores in multi)):
        column = [(target, scores[j]) for target, scores in multi if j < len(scores)]
        pairs = [(target, score) for target, score in column if score is not None]
        per_sample.append(correlations([t for t, _ in pairs], [s for _, s in pairs]))
    return {
        "sample_spread": _finite(float(np.mean(spreads))) if spreads else None,
        "single_sample_metrics": {
            name: {"mean": _finite(float(np.mean(values))) if values else None,
                   "sd": _finite(float(np.std(values, ddof=1))) if len(values) > 1 else None}
            for name in ALL
            for values in [[m[name] for m in per_sample if math.isfinite(m[name])]]},
    }


def summarize(cfg: DictConfig, records: list[Prediction], n_items: int, *, digest: str, requests: int,
              spent: float, seconds: float, stopped_by_budget: bool, identity: Identity | None = None) -> Results:
    """The results of a run's journal lines (`n_items` test items were to be scored)."""
    scored = [r for r in records if r.score is not None]
    targets, scores = [r.target for r in scored], [r.score for r in scored if r.score is not None]
    values = correlations(targets, scores)
    ci = confidence_intervals(targets, scores)
    failures = Counter((r.error or "unknown").split(":")[0] for r in records if r.score is None)
    usage: Counter[str] = Counter()
    for record in records:
        usage.update(record.usage or {})
    costs = [r.cost_usd for r in records if r.cost_usd is not None]
    prompted = shows_prompt(cfg)
    strategy = str(cfg.strategy.name) if prompted else str(cfg.model.backend)  # baseline or external
    shots = effective_shots(cfg.shots, cfg.strategy) if prompted else None
    return Results(
        model=cfg.model.name, task=cfg.task.name, strategy=strategy,
        selection=str(cfg.strategy.selection) if shots else None, shots=shots,
        metadata=cfg.metadata.name if prompted else "-", seed=cfg.seed if prompted else None,
        metrics={name: _finite(values[name]) for name in ALL},
        metrics_abs={name: _finite(abs(values[name])) for name in NAMES},
        metrics_undefined=undefined_reason(targets, scores),
        ci={name: [_finite(lo), _finite(hi)] for name, (lo, hi) in ci.items()},
        n=n_items, n_answered=len(records), n_scored=len(scored),
        coverage=round(len(scored) / n_items, 6) if n_items else 0.0,
        failures=dict(failures), n_failed=sum(failures.values()), complete=len(records) == n_items,
        stopped_by_budget=stopped_by_budget,
        tokens={k: int(usage.get(k, 0)) for k in ("prompt_tokens", "completion_tokens", "cached_tokens")},
        cost_usd=round(sum(costs), 6) if costs else None, cost_usd_this_run=round(spent, 6),
        requests_this_run=requests, cached_answers=sum(1 for r in records if r.cached),
        seconds=round(seconds, 3), config_digest=digest,
        repeats=int(cfg.repeats) if prompted else 1, scoring=str(cfg.scoring) if prompted else "text",
        read_from=dict(Counter(r.read_from for r in scored if r.read_from)),
        category_disagreements=sum(1 for r in scored if r.category_disagrees),
        identity=identity.as_json() if identity else None, diagnostics=diagnostics(scored),
        **sample_statistics(records),
    )
