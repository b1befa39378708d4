"""`ldct-bench estimate <overrides>`: requests, tokens and dollars of a run before any money is spent.

The command line is the one a run takes (sweeps expand to one estimate per job). Requests = test
items (after `limit`) plus, for error_feedback, the calibration pool. Prompt size comes from the
strategy's own chats for the first few items: text at ~4 characters per token plus a few tokens per
message, images by the card's `image_token_rule` (cost.IMAGE_TOKEN_RULES). Answer length is a guess
(~120 tokens; ~1500 for reasoning models, whose hidden reasoning is billed as output), so the
dollars come with a ceiling where every answer uses the card's whole token limit. Not counted:
re-asks of unreadable answers, retries, prompt-cache discounts, and answers already in the response
cache (which are free).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, cast

from omegaconf import OmegaConf

from ldct_bench.cards.checks import check_model_card
from ldct_bench.cards.cost import answer_tokens, prices, prompt_tokens
from ldct_bench.cards.fit import check_fit
from ldct_bench.config.compose import compose_jobs
from ldct_bench.config.schema import TaskCard
from ldct_bench.errors import UserError


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _names_its_data(card: Any) -> bool:
    """Whether the task card points at data (a wrong place still fails, in the loader's own words)."""
    return card.source == "demo" or bool(card.path or card.hub_id or (card.path_env and os.environ.get(card.path_env)))


def open_task(cfg: Any) -> tuple[Any, bool]:
    """The task, or, when no data is here and the card knows its split sizes, the demo's images as a stand-in
    (rendered by the card's own settings, so prompts have the real shape); True when the stand-in is used."""
    from ldct_bench.data.task import load_task

    card = cfg.task
    if _names_its_data(card) or card.test_size is None or card.train_size is None:
        return load_task(card), False
    stand_in = cast(TaskCard, OmegaConf.merge(card, {"source": "demo", "train_ids": None, "test_ids": None}))
    return load_task(stand_in), True


def _counts(cfg: Any, strategy: Any, items: list[Any], calibration: list[Any], stand_in: bool) -> tuple[int, int]:
    """Test and calibration requests: counted on the data, or from the card's split sizes."""
    if not stand_in:
        return len(items), len(calibration)
    card, config = cfg.task, cfg.strategy
    tests = card.test_size if cfg.limit is None else min(cfg.limit, card.test_size)
    if not calibration:
        return tests, 0
    if getattr(strategy, "per_item", False):  # distinct images among `shots` fresh draws per test item
        train, shots = card.train_size, strategy.shots
        return tests, min(train, round(train * (1 - (1 - shots / train) ** tests)))
    return tests, min(config.calibration_pool, card.train_size)


def estimate_job(cfg: Any, sample: int = 3, tokens_per_answer: int | None = None) -> dict[str, Any]:
    """What one composed run would send and cost."""
    from ldct_bench.run.preflight import ensure_metadata
    from ldct_bench.strategies import make_strategy

    card = cfg.model
    check_model_card(card, f"model {card.name}")
    job = {"model": card.name, "task": cfg.task.name, "strategy": cfg.strategy.name, "metadata": cfg.metadata.name}
    task, stand_in = open_task(cfg)
    job["split_sizes_from"] = "task card" if stand_in else "data"
    ensure_metadata(task, cfg)
    strategy = make_strategy(cfg.strategy, cfg.shots, cfg.metadata, task, cfg.seed)
    items = task.items("test")[: cfg.limit] if cfg.limit is not None else task.items("test")
    calibration = strategy.calibration_items()
    n_items, n_calibration = _counts(cfg, strategy, items, calibration, stand_in)
    if card.backend == "baseline":  # reads pixels itself: no requests, no tokens
        return {**job, "shots": strategy.shots, "requests": 0, "scoring_requests": 0, "calibration_requests": 0,
                "images_per_request": 0, "prompt_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
                "cost_usd_ceiling": 0.0, "image_rule": "none"}
    pretend = {item.id: item.target for item in calibration}  # any score: only the size matters
    check_fit(card, strategy, items, calibration)
    sampled = [prompt_tokens(strategy.request(item, i, pretend).messages, card)
               for i, item in enumerate(items[:sample])]
    sampled_cal = [prompt_tokens(strategy.calibration_request(item).messages, card) for item in calibration[:sample]]
    per_request = _mean([s[0] for s in sampled])
    per_calibration = _mean([s[0] for s in sampled_cal])
    prompt = per_request * n_items + per_calibration * n_calibration
    requests = n_items + n_calibration
    expected, ceiling = answer_tokens(card)
    expected = tokens_per_answer if tokens_per_answer is not None else expected
    sizes = sorted({size for s in sampled for size in s[2]})
    result = {
        **job, "shots": strategy.shots, "requests": requests, "scoring_requests": n_items,
        "calibration_requests": n_calibration,
        "images_per_request": round(_mean([len(s[2]) for s in sampled]), 2),
        "image_sizes": [f"{w}x{h}" for w, h in sizes], "image_rule": card.image_token_rule,
        "image_tokens_per_request": round(_mean([s[1] for s in sampled])),
        "prompt_tokens_per_request": round(per_request), "prompt_tokens_per_calibration": round(per_calibration),
        "prompt_tokens": round(prompt),
        "output_tokens": expected * requests, "output_tokens_ceiling": ceiling * requests,
        "cost_usd": None, "cost_usd_ceiling": None,
    }
    standard = prices(card)
    if standard is not None:
        result["cost_usd"] = round((prompt * standard[0] + expected * requests * standard[1]) / 1e6, 4)
        result["cost_usd_ceiling"] = round((prompt * standard[0] + ceiling * requests * standard[1]) / 1e6, 4)
    batchable = card.batch == "openai" and card.via != "openrouter"
    in_batches = prices(card, batch=True) if cfg.batch and batchable else None
    if cfg.batch and not batchable:
        result["batch_note"] = "its vendor takes no OpenAI-style batches here: a run refuses batch=true"
    if in_batches is not None:
        result["cost_usd_batch"] = round((prompt * in_batches[0] + expected * requests * in_batches[1]) / 1e6, 4)
    return result


def describe(estimate: dict[str, Any], max_cost: float | None) -> str:
    """The lines printed for one job."""
    e = estimate
    lines = [f"{e['model']} | {e['task']} | {e['strategy']} k={e['shots']} | metadata={e['metadata']}"]
    if e.get("split_sizes_from") == "task card":
        lines.append(f"  data      not here: {e['scoring_requests']} test items counted from the task card's split "
                     "sizes; prompts measured on demo images rendered the same way")
    if e["requests"] == 0:
        return "\n".join(lines + ["  no requests: this model reads pixels offline ($0)"])
    lines.append(f"  requests  {e['requests']} ({e['scoring_requests']} test items"
                 f" + {e['calibration_requests']} calibration)")
    lines.append(f"  images    {e['images_per_request']:g} per request ({', '.join(e['image_sizes'])}), "
                 f"{e['image_tokens_per_request']:,} image tokens per request by the '{e['image_rule']}' rule")
    each = f"{e['prompt_tokens_per_request']:,} per test request" + (
        f", {e['prompt_tokens_per_calibration']:,} per calibration request" if e["calibration_requests"] else "")
    lines.append(f"  tokens    ~{e['prompt_tokens']:,} prompt ({each}), "
                 f"~{e['output_tokens']:,} output (at most {e['output_tokens_ceiling']:,})")
    if e["cost_usd"] is None:
        lines.append("  dollars   n/a: the card has no prices (set model.price_input_per_mtok and "
                     "model.price_output_per_mtok)")
    else:
        lines.append(f"  dollars   ~${e['cost_usd']:.2f} (at most ${e['cost_usd_ceiling']:.2f} if every answer "
                     "used the whole token limit)" + (f"; batch: ~${e['cost_usd_batch']:.2f}" if "cost_usd_batch" in e
                                                       else ""))
        if max_cost is not None and e["cost_usd"] > max_cost:
            share = max_cost / e["cost_usd"]
            lines.append(f"  max_cost  ${max_cost:g} stops the run after about {share:.0%} of its requests "
                         "(resumable)")
    if e.get("batch_note"):
        lines.append(f"  batch     {e['batch_note']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    """Estimate every point of the command line (a -m sweep, a preset's models); print a block per point (or
    JSON), then what the whole needs: keys, retiring cards, dollars and an estimated wall time."""
    from ldct_bench.sweep.plan import describe_plan, point_plan

    if args.sample < 1:
        raise UserError(f"--sample {args.sample}: build at least 1 request to measure prompts")
    jobs = compose_jobs(args.overrides)
    estimates = [estimate_job(cfg, args.sample, args.output_tokens) for cfg in jobs]
    plans = [point_plan(cfg.model, estimate) for cfg, estimate in zip(jobs, estimates)]
    for estimate, plan in zip(estimates, plans):
        estimate.update(key_env=plan.key_env, status=plan.status, endpoint=plan.endpoint, latency_s=plan.latency_s)
    if args.json:
        print(json.dumps(estimates, indent=2))
        return
    for cfg, estimate in zip(jobs, estimates):
        print(describe(estimate, cfg.max_cost))
    priced = [e["cost_usd"] for e in estimates if e["cost_usd"] is not None]
    ceiling = [e["cost_usd_ceiling"] for e in estimates if e["cost_usd_ceiling"] is not None]
    print(f"{'total' if len(estimates) > 1 else 'run'}: {sum(e['requests'] for e in estimates)} requests, "
          f"~${sum(priced):.2f} (at most ${sum(ceiling):.2f}) over {len(priced)} priced point(s) of {len(estimates)}")
    for line in describe_plan(plans):
        print(line)
    if any(cfg.batch for cfg in jobs):
        print("  batch     the vendor answers within 24 hours (its window); the time above is for chat requests")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("estimate", help="predict requests, tokens and dollars of a run (nothing is sent)",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="the overrides a run or a sweep takes, e.g. model=o3,gpt-4o "
                        "strategy=few_shot, or +experiment=current_models (-m is optional)")
    parser.add_argument("--output-tokens", type=int, default=None,
                        help="expected completion tokens per answer (default: 120, or 1500 for reasoning models)")
    parser.add_argument("--sample", type=int, default=3, help="test items whose chats are built to measure prompts")
    parser.add_argument("--json", action="store_true", help="print the estimates as JSON")
    parser.add_argument("-m", "--multirun", action="store_true",
                        help="accepted as a run takes it; an estimate always prices every point of a sweep")
    parser.set_defaults(func=run)
