"""What makes a run's answers what they are, and the names that say so: run dir, leaderboard row, W&B run.

Two runs share a name exactly when nothing that can change an answer differs: the card (every field that
reaches the request), the task and where its data is, the strategy, selection, shots, metadata, seed, repeats
and scoring. The name stays readable (`few_shot-random-k10-none-s0`) and gains a short digest of whatever
else differs from the registered card, task or strategy (`few_shot-random-k10-none-s0-3f9a1c`). Settings that
cannot change an answer (concurrency, timeouts, prices, loggers) never split runs. A model that reads pixels
shows no prompt, so the prompt's settings are not part of its identity.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ldct_bench.cards.lifecycle import LIFECYCLE_FIELDS
from ldct_bench.config.schema import effective_shots
from ldct_bench.secrets import mask_secrets

BASELINE, EXTERNAL = "baseline", "external"
NO_PROMPT = (BASELINE, EXTERNAL)  # `strategy` of runs that asked no model anything (pixels; a file of scores)

# Card fields that cannot change an answer: how hard and how fast to ask, what it costs, what the card says
# about the model's life and limits, how to serve it.
MODEL_NOT_ANSWERS = ("description", "provider", "api_key_env", "concurrency", "timeout_s", "max_retries",
                     "max_retry_after_s", "rate_limit_rpm", "price_input_per_mtok", "price_output_per_mtok",
                     "price_cached_input_per_mtok", "serve", "latency_s", "batch", "batch_price_input_per_mtok",
                     "batch_price_output_per_mtok", "batch_max_requests", "batch_max_bytes", *LIFECYCLE_FIELDS)
TASK_NOT_ANSWERS = ("description", "licence", "citation", "download_hint", "train_size", "test_size", "path_env")
# Where the data is: its content, not its place, makes the answers (the config digest holds the data's fingerprint).
TASK_LOCATION = ("path", "hub_id")
STRATEGY_NOT_ANSWERS = ("description",)
BASELINE_READS = ("name", "backend", "model_id")  # all of a pixel-reading model's card that can change its answers

Defaults = Callable[[str, str], dict[str, Any]]  # (kind, name) -> the registered values ({} when unknown)


@dataclass(frozen=True)
class Identity:
    """A run's names and the settings behind them."""

    task: str
    model: str
    setting: str  # `few_shot-random-k10-none-s0`, or `baseline` for a model that reads pixels
    digest: str | None = None  # of the settings that differ from the registered card, task or strategy
    changed: dict[str, Any] = field(default_factory=dict)  # those settings, `model.temperature: 0.7`

    @property
    def path(self) -> str:
        """The run dir below the output folder: `demo/o3/few_shot-random-k10-none-s0`."""
        return f"{self.task}/{self.model}/{self.name_tail}"

    @property
    def name_tail(self) -> str:
        return self.setting + (f"-{self.digest}" if self.digest else "")

    @property
    def name(self) -> str:
        """One word for W&B and the leaderboard: `o3-few_shot-random-k10-none-s0`."""
        return f"{self.model}-{self.name_tail}"

    def as_json(self) -> dict[str, Any]:
        return {"task": self.task, "model": self.model, "setting": self.setting, "digest": self.digest,
                "changed": self.changed, "name": self.name}


def plain(node: Any) -> Any:
    """A config node as plain values (interpolations resolved, enums as strings)."""
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True) if OmegaConf.is_config(node) else node


def shows_prompt(cfg: DictConfig) -> bool:
    """False for a model that reads pixels: strategy, shots, metadata, seed, repeats and scoring do not apply."""
    return str(cfg.model.backend) not in NO_PROMPT


def _without(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key not in names}


def _model_part(model: dict[str, Any]) -> dict[str, Any]:
    if str(model.get("backend")) in NO_PROMPT:
        return {key: value for key, value in model.items() if key in BASELINE_READS}
    return _without(model, MODEL_NOT_ANSWERS)


def _task_part(task: dict[str, Any]) -> dict[str, Any]:
    return _without(task, TASK_NOT_ANSWERS + TASK_LOCATION)


def answer_settings(cfg: DictConfig) -> dict[str, Any]:
    """Every setting that can change an answer, as plain values (the data's content aside)."""
    parts: dict[str, Any] = {"model": _model_part(plain(cfg.model)), "task": _task_part(plain(cfg.task))}
    if shows_prompt(cfg):
        parts.update(strategy=_without(plain(cfg.strategy), STRATEGY_NOT_ANSWERS),
                     shots=effective_shots(cfg.shots, cfg.strategy), metadata=cfg.metadata.name, seed=cfg.seed,
                     repeats=cfg.repeats, scoring=str(cfg.scoring))
    return parts


def config_digest(cfg: DictConfig, data_fingerprint: str) -> str:
    """Fingerprint of what determines the answers, the data's content included: a run dir holds one."""
    parts = {**answer_settings(cfg), "data": data_fingerprint}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def setting_slug(cfg: DictConfig) -> str:
    """`few_shot-random-k10-none-s0` (no selection when no examples are shown); settings away from their defaults
    add a part (`-per_item`, `-r3`, `-expected`); `baseline` for a model that shows no prompt."""
    if not shows_prompt(cfg):
        return BASELINE
    strategy = cfg.strategy
    k = effective_shots(cfg.shots, strategy)
    chosen = f"-{strategy.selection}" if k else ""
    extra = (f"-{strategy.calibration}" if strategy.calibration != "pool" else "") + \
        (f"-r{cfg.repeats}" if cfg.repeats != 1 else "") + (f"-{cfg.scoring}" if cfg.scoring != "text" else "")
    return f"{strategy.name}{chosen}-k{k}-{cfg.metadata.name}-s{cfg.seed}{extra}"


def _changed(kind: str, values: dict[str, Any], registered: dict[str, Any], shown: tuple[str, ...] = ()) -> dict:
    """`kind.field: value` for each value that differs from the registered one (the slug's own parts aside)."""
    return {f"{kind}.{key}": value for key, value in values.items()
            if key not in shown and (key not in registered or registered[key] != value)}


def identity(cfg: DictConfig, defaults: Defaults) -> Identity:
    """The identity of a composed run config; `defaults(kind, name)` gives a registered card's or strategy's values."""
    settings = answer_settings(cfg)
    changed = {**_changed("model", settings["model"], defaults("model", cfg.model.name)),
               **_changed("task", settings["task"], defaults("task", cfg.task.name))}
    if shows_prompt(cfg):
        changed.update(_changed("strategy", settings["strategy"], defaults("strategy", cfg.strategy.name),
                                shown=("name", "selection", "calibration", "default_shots")))
    shown = mask_secrets(changed)  # a URL's password or a header value never reaches a name or a table
    digest = hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()[:6] \
        if changed else None
    return Identity(cfg.task.name, cfg.model.name, setting_slug(cfg), digest, shown)


def not_applying(cfg: DictConfig, defaults: Defaults, run_defaults: dict[str, Any]) -> list[str]:
    """Settings given away from their defaults that this model or task ignores (`task.path`, `shots=5` for a model
    that reads pixels), so the user hears once that they change nothing. `run_defaults` holds conf/config.yaml's
    top-level values and default options."""
    given = {"model": _without(plain(cfg.model), MODEL_NOT_ANSWERS),
             "task": _without(plain(cfg.task), TASK_NOT_ANSWERS)}
    used = answer_settings(cfg)
    if cfg.task.source != "demo":  # the demo is built in: it is never read from anywhere
        used["task"].update({key: given["task"].get(key) for key in TASK_LOCATION})
    ignored = [name for kind in ("model", "task")
               for name in _changed(kind, given[kind], defaults(kind, str(given[kind]["name"])))
               if name.split(".", 1)[1] not in used[kind]]
    if not shows_prompt(cfg):
        prompt = {"strategy": cfg.strategy.name, "shots": cfg.shots, "metadata": cfg.metadata.name, "seed": cfg.seed,
                  "repeats": cfg.repeats, "scoring": str(cfg.scoring)}
        ignored += [f"{name}={value}" for name, value in prompt.items() if run_defaults.get(name) != value]
    return ignored
