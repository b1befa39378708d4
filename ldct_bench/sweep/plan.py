"""What a sweep needs before it starts: the keys it reads, the cards near or past retirement, and how long it
will take, from each point's estimated requests (`ldct-bench estimate`).

Wall time is an estimate of the sweep run at once, with the limits it runs under (backends/limits.py): the
points on one endpoint and key share as many requests in flight as the largest of their cards allows, each
point sends at most its own card's concurrency, and each model keeps to its requests and tokens per minute;
endpoints run side by side, and points that launch their own vLLM server take turns. Seconds per answer come
from the card's `latency_s`, else a default.
"""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ldct_bench.cards.cost import is_reasoning
from ldct_bench.cards.lifecycle import effective_status
from ldct_bench.config.schema import Backend
from ldct_bench.secrets import redact

DEFAULT_LATENCY_S = {True: 20.0, False: 6.0}  # seconds per answer, reasoning models or not, when a card says nothing
LOCAL = "a vLLM server this machine launches"


@dataclass(frozen=True)
class PointPlan:
    """One point as the sweep plan sees it."""

    model: str
    model_id: str
    requests: int
    prompt_tokens: int
    endpoint: str  # base URL, or LOCAL
    key_env: str | None
    concurrency: int
    rpm: float | None
    tpm: float | None
    latency_s: float
    latency_assumed: bool
    status: str  # active | deprecated | retired, on today's date
    retires: str | None
    successor: str | None


def point_plan(card: Any, estimate: dict[str, Any], today: dt.date | None = None) -> PointPlan:
    """A point's plan from its model card and its estimate (requests, prompt tokens)."""
    from ldct_bench.backends.openai_compat import resolve_endpoint  # the openai client: only for an estimate

    launches = card.backend == Backend.vllm and not card.base_url
    endpoint = resolve_endpoint(card) if card.backend != Backend.baseline and not launches else None
    return PointPlan(
        model=card.name, model_id=endpoint.model_id if endpoint else card.model_id,
        requests=int(estimate["requests"]), prompt_tokens=int(estimate.get("prompt_tokens") or 0),
        endpoint=LOCAL if launches else (redact(endpoint.base_url) if endpoint else "(reads pixels here)"),
        key_env=endpoint.key_env if endpoint else None, concurrency=int(card.concurrency), rpm=card.rate_limit_rpm,
        tpm=card.rate_limit_tpm, latency_s=float(card.latency_s or DEFAULT_LATENCY_S[is_reasoning(card)]),
        latency_assumed=card.latency_s is None, status=effective_status(card, today), retires=card.retires,
        successor=card.successor)


def _paced_seconds(points: list[PointPlan]) -> float:
    """How long one model's requests take under its requests- and tokens-per-minute limits."""
    rpm = min((p.rpm for p in points if p.rpm), default=None)
    tpm = min((p.tpm for p in points if p.tpm), default=None)
    requests, tokens = sum(p.requests for p in points), sum(p.prompt_tokens for p in points)
    return max(requests / rpm * 60 if rpm else 0.0, tokens / tpm * 60 if tpm else 0.0)


def endpoint_seconds(points: list[PointPlan]) -> float:
    """How long the points sharing one endpoint take: the slowest of the shared requests in flight, each point's
    own concurrency, and each model's rate limits."""
    shared = sum(p.requests * p.latency_s for p in points) / max(p.concurrency for p in points)
    own = max(p.requests * p.latency_s / p.concurrency for p in points)
    models: dict[str, list[PointPlan]] = defaultdict(list)
    for point in points:
        models[point.model_id].append(point)
    return max(shared, own, *(_paced_seconds(group) for group in models.values()))


def wall_time(points: list[PointPlan]) -> tuple[float, str]:
    """(seconds, the endpoint that takes longest) for the sweep run at once."""
    groups: dict[tuple[str, str | None], list[PointPlan]] = defaultdict(list)
    local: list[PointPlan] = []
    for point in points:
        if point.endpoint == LOCAL:
            local.append(point)
        elif point.requests:
            groups[(point.endpoint, point.key_env)].append(point)
    times = {endpoint: endpoint_seconds(group) for (endpoint, _), group in groups.items()}
    if local:  # one GPU: the launched servers one after another
        times[LOCAL] = sum(endpoint_seconds([p]) for p in local)
    if not times:
        return 0.0, "none"
    busiest = max(times, key=lambda name: times[name])
    return times[busiest], busiest


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else (f"{seconds / 60:.0f} min" if seconds < 7200
                                                     else f"{seconds / 3600:.1f} h")


def describe_plan(points: list[PointPlan]) -> list[str]:
    """Lines for keys, lifecycle and wall time, printed after the points' own estimates."""
    lines = []
    keys: dict[str, int] = defaultdict(int)
    for point in points:
        if point.key_env:
            keys[point.key_env] += 1
    if keys:
        shown = [f"{name} ({'set' if os.environ.get(name, '').strip() else 'NOT SET'}, {count} point"
                 f"{'s' if count > 1 else ''})" for name, count in sorted(keys.items())]
        lines += textwrap.wrap(", ".join(shown), 118, initial_indent="  keys      ", subsequent_indent=" " * 12)
    for point in points:
        if point.status == "retired":
            lines.append(f"  retired   {point.model}" + (f" (since {point.retires})" if point.retires else "")
                         + ": its point would not start; " + (f"use model={point.successor}" if point.successor
                                                               else "choose a current card"))
        elif point.status == "deprecated":
            lines.append(f"  deprecated {point.model}: shuts down {point.retires or 'soon'}"
                         + (f"; successor {point.successor}" if point.successor else ""))
    seconds, busiest = wall_time(points)
    if seconds:
        where = urlsplit(busiest).hostname or busiest
        lines.append(f"  time      ~{_duration(seconds)}, an estimate with all points at once (longest: {where})")
        if any(p.latency_assumed and p.requests for p in points):
            lines.append(f"            (cards without latency_s are assumed to answer in {DEFAULT_LATENCY_S[True]:g} s "
                         f"if they reason, else {DEFAULT_LATENCY_S[False]:g} s; set model.latency_s)")
    return lines
