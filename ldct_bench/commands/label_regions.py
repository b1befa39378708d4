"""`ldct-bench label-regions model=NAME task=NAME [overrides]`: region labels from a model, once per image."""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from pathlib import Path
from typing import cast

from omegaconf import DictConfig, OmegaConf

from ldct_bench.backends import make_backend
from ldct_bench.cards.cost import cost_usd
from ldct_bench.config.compose import compose_jobs
from ldct_bench.config.schema import Backend, CacheMode, ModelCard
from ldct_bench.data.task import Item, Task, load_task
from ldct_bench.errors import UserError
from ldct_bench.metadata.region import LabelRun, estimate, label_items, parse_region, save_labels, unlabelled
from ldct_bench.run.asking import Asker
from ldct_bench.run.cache import ResponseCache


def compose_config(overrides: list[str]) -> DictConfig:
    """The one run config these overrides give (checked like a run's); a sweep is refused."""
    jobs = compose_jobs(overrides)
    if len(jobs) != 1:
        raise UserError(f"label-regions takes one model and one task, not a sweep ({len(jobs)} jobs); "
                        "give single values")
    return jobs[0]


async def _label(cfg: DictConfig, task: Task, items: list[Item]) -> tuple[LabelRun, ModelCard]:
    # Plain-text JSON for the label: a structured-output card would force the score schema.
    card = cast(ModelCard, OmegaConf.merge(cfg.model, {"structured_output": False}))
    backend = make_backend(card, task.store / "region-labelling")
    cache = None if cfg.cache.mode == CacheMode.off else ResponseCache(Path(cfg.cache.dir))
    asker = Asker(backend, cache, cfg.cache.mode, card.reasks, read=lambda reply: parse_region(reply.text))
    try:
        await backend.start(task)
        return await label_items(task, items, asker, card.concurrency), card
    finally:
        await backend.close()
        if cache is not None:
            cache.close()


def run(args: argparse.Namespace) -> None:
    """Print the cost estimate, label the images that have no region yet, store the labels."""
    cfg = compose_config(args.overrides)
    if cfg.model.backend == Backend.baseline:
        raise UserError(f"model {cfg.model.name} reads pixels and cannot name regions; choose a multimodal "
                        "model (`ldct-bench list models`)")
    task = load_task(cfg.task)
    todo = unlabelled(task)
    _, text = estimate(cfg.model, len(todo), cfg.task.image_size or 512)
    print(f"estimate: {text}")
    if not todo:
        print(f"task {cfg.task.name}: every image already has a region")
        return
    if args.dry_run:
        return
    result, card = asyncio.run(_label(cfg, task, todo))
    save_labels(task, result, card.model_id or card.name)
    spent = cost_usd(result.usage, card)
    counts = ", ".join(f"{label} {n}" for label, n in Counter(result.labelled.values()).most_common())
    print(f"labelled {len(result.labelled)} of {len(todo)} images ({counts or 'none'}); "
          f"{result.requests} requests" + (f", ${spent:.4f}" if spent is not None else ""))
    if result.failures:
        first_id, reason = next(iter(sorted(result.failures.items())))
        raise UserError(f"no valid region label for {len(result.failures)} of {len(todo)} images (first: "
                        f"{first_id}: {reason}); rerun the same command to ask for those again")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("label-regions", help="label each image's anatomical region with a model "
                                   "(closed label set, once per image, cached)")
    parser.add_argument("overrides", nargs="*", help="model=NAME task=NAME and any run override (task.path=DIR)")
    parser.add_argument("--dry-run", action="store_true", help="print the cost estimate and stop")
    parser.set_defaults(func=run)
