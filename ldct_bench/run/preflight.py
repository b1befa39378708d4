"""Everything a run checks before its first request, so a mistake costs nothing: settings that compose but
make no sense together, the model's status, the metadata the prompt will show, and settings that do not apply.

Problems raise UserError (one line); things worth knowing come back as notes, which a single run prints and a
sweep prints once for all its points.
"""

from __future__ import annotations

from omegaconf import DictConfig

from ldct_bench.cards.cost import has_prices
from ldct_bench.cards.lifecycle import check_status
from ldct_bench.cards.registry import config_defaults, options, registered_values
from ldct_bench.config.identity import not_applying
from ldct_bench.config.schema import Scoring, Selection
from ldct_bench.data.task import Task
from ldct_bench.errors import UserError
from ldct_bench.metadata.noise import noise_column
from ldct_bench.metadata.region import require_regions, unlabelled


def check_settings(cfg: DictConfig) -> list[str]:
    """Raise UserError for settings that cannot run; return notes on those that run but may surprise."""
    notes = [note for note in [check_status(cfg.model)] if note]  # a retired model stops first (lifecycle.py)
    if cfg.shots is not None and cfg.shots < 0:
        raise UserError(f"shots={cfg.shots} is negative; give 0 or more examples per prompt")
    if cfg.limit is not None and cfg.limit < 0:
        raise UserError(f"limit={cfg.limit} is negative; give a positive number of test items or null")
    if not cfg.model.supports_images:
        raise UserError(f"model {cfg.model.name} does not accept images (supports_images: false); "
                        "choose a vision model (`ldct-bench list models`)")
    if not 0.0 <= cfg.min_coverage <= 1.0:
        raise UserError(f"min_coverage={cfg.min_coverage} must be between 0 and 1")
    if cfg.max_cost is not None and cfg.max_cost < 0:
        raise UserError(f"max_cost={cfg.max_cost:g} is negative; give dollars (0 or more) or null for no limit")
    if cfg.max_cost is not None and not has_prices(cfg.model):
        raise UserError(f"max_cost needs prices, and model {cfg.model.name} has none; set "
                        "model.price_input_per_mtok and model.price_output_per_mtok (dollars per million tokens)")
    if cfg.repeats < 1:
        raise UserError(f"repeats={cfg.repeats} must be 1 or more (independent answers per test item)")
    if cfg.scoring == Scoring.expected and cfg.model.backend != "baseline" and not cfg.model.get("logprobs", False):
        raise UserError(f"scoring=expected needs token log-probabilities, and model {cfg.model.name} does not return "
                        "them (logprobs: false on its card); use scoring=text, or a card whose endpoint returns "
                        "them (vLLM cards; set model.logprobs=true for your own endpoint if it does)")
    if cfg.repeats > 1 and cfg.model.temperature == 0 and cfg.model.backend != "baseline":
        notes.append(f"repeats={cfg.repeats} at temperature 0: the samples may agree; set model.temperature for "
                     "independent samples")
    if cfg.batch:
        notes += check_batch(cfg)
    ignored = not_applying(cfg, registered_values, config_defaults())
    if ignored:
        what = f"model {cfg.model.name} reads pixels and shows no prompt" if cfg.model.backend == "baseline" \
            else f"they do not apply to model {cfg.model.name} and task {cfg.task.name}"
        notes.append(f"{', '.join(ignored)} change nothing here ({what})")
    return notes


def ensure_metadata(task: Task, cfg: DictConfig) -> list[str]:
    """Compute or check the per-image columns the prompt will show; notes on what had to give way."""
    if cfg.metadata.noise:
        noise_column(task)
    if cfg.metadata.region:
        require_regions(task)  # the data's own column, else labels stored by `ldct-bench label-regions`
    elif cfg.strategy.selection == Selection.same_region and unlabelled(task):
        return ["no region labels, so same_region selection picks examples from all regions (label them with "
                "`ldct-bench label-regions`)"]
    return []


def check_batch(cfg: DictConfig) -> list[str]:
    """batch=true needs a card whose endpoint takes OpenAI-style batches; stop before any request otherwise."""
    card = cfg.model
    if card.backend == "baseline":
        return [f"batch=true changes nothing here: model {card.name} reads pixels and sends nothing"]
    if card.batch != "openai" or card.via == "openrouter":
        able = ", ".join(sorted(name for name in options("model") if registered_values("model", name).get("batch")))
        why = "OpenRouter's batches refuse images sent as data" if card.via == "openrouter" else \
            f"its endpoint takes no OpenAI-style batches (card field batch: {card.batch})"
        raise UserError(f"batch=true: model {card.name} cannot, as {why}; cards that can: {able} (or set "
                        "model.batch=openai for your own endpoint that serves /v1/files and /v1/batches)")
    if cfg.max_cost is not None:
        raise UserError("max_cost stops a run as it spends, and a batch is paid when it ends: price it first with "
                        "`ldct-bench estimate ... batch=true`, then drop max_cost")
    notes = []
    if card.reasks:
        notes.append("with batch=true an unreadable answer is a failure, not asked again (a re-ask is another batch)")
    return notes
