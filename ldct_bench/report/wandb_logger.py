"""logger=wandb: one W&B run per benchmark run, holding what a reader needs to judge it.

Mode `auto` goes online only when a W&B key is available and otherwise writes an offline run
(online without a key or network would fail or hang for minutes). The run holds summary metrics and
diagnostics, a per-item table with windowed thumbnails, the paper's two figures as images and as W&B charts,
errors by true-score band as a chart, and results.json + predictions.jsonl as an artifact.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import wandb
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from ldct_bench.data.render import window_u8
from ldct_bench.data.scale import CATEGORIES, category_of
from ldct_bench.data.task import load_task
from ldct_bench.errors import UserError
from ldct_bench.report.plots import score_histogram, scored_pairs, title_of
from ldct_bench.report.wandb_env import SWEEP_GROUP_ENV, Mode, resolve_mode
from ldct_bench.run.records import Prediction
from ldct_bench.run.results import RESULTS, Results
from ldct_bench.run.rundir import PREDICTIONS
from ldct_bench.secrets import mask_override, mask_secrets
from ldct_bench.stats.diagnostics import BANDS, flat

THUMBNAIL = 128
ITEM_COLUMNS = ["id", "image", "target", "prediction", "abs_error", "category", "target_category", "explanation",
                "example_ids", "prompt_tokens", "completion_tokens", "error"]
DATA_DIR_ENV = "WANDB_DATA_DIR"  # where wandb stages artifact files before upload
STAGING = "staging"  # that folder, inside the offline-run folder, when the user has not chosen one
WEAVE_ENV = "WANDB_DISABLE_WEAVE"


def sweep_group(cfg: DictConfig) -> str | None:
    """The configured group, else one shared by every job of the current Hydra multirun, else none."""
    if cfg.logger.group:
        return str(cfg.logger.group)
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return os.environ.get(SWEEP_GROUP_ENV) or f"sweep-{Path(HydraConfig.get().sweep.dir).resolve().name}"


def summary_metrics(results: Results) -> dict[str, Any]:
    """Flat W&B summary: the three correlations and overall with CIs, coverage, failures, tokens, cost, and the
    diagnostics (`diagnostics/bias`, `diagnostics/by_band/0-1/mae`, ...)."""
    summary: dict[str, Any] = dict(results.metrics)
    for name, (low, high) in results.ci.items():
        summary[f"{name}_ci_low"], summary[f"{name}_ci_high"] = low, high
    for key in ("n", "n_scored", "coverage", "n_failed", "cost_usd", "cost_usd_this_run", "requests_this_run",
                "cached_answers", "seconds"):
        summary[key] = getattr(results, key)
    summary.update({f"failures/{kind}": count for kind, count in results.failures.items()})
    summary.update({f"tokens/{kind}": count for kind, count in results.tokens.items()})
    summary.update(flat(results.diagnostics or {}))
    return summary


IDENTITY_FIELDS = ("task", "model", "strategy", "selection", "shots", "metadata", "seed", "repeats", "scoring",
                   "identity")


def run_config(cfg: DictConfig, run_dir: Path, results: Results) -> dict[str, Any]:
    """The resolved config with secrets masked, plus the run's identity as the leaderboard keys it."""
    config = mask_secrets(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    config["benchmark"] = {key: getattr(results, key) for key in IDENTITY_FIELDS}
    config["benchmark"]["run_dir"] = str(run_dir)
    return config


def thumbnails(cfg: DictConfig, ids: list[str]) -> dict[str, Image.Image]:
    """Small 8-bit windowed renders (a float array would be cast to uint8 unscaled and show black)."""
    task = load_task(cfg.task)
    known = {item.id for split in ("train", "test") for item in task.items(split)}
    card = task.card
    return {item_id: Image.fromarray(window_u8(task.pixels(item_id), card.window_width, card.window_level))
            .resize((THUMBNAIL, THUMBNAIL), Image.Resampling.LANCZOS) for item_id in ids if item_id in known}


def items_table(records: list[Prediction], images: dict[str, Image.Image]) -> Any:
    """One row per test item: thumbnail, target, prediction, error, the model's words, shots and tokens."""
    table = wandb.Table(columns=list(ITEM_COLUMNS))  # a copy: wandb's add_column appends to it
    for r in records:
        image = images.get(r.id)
        table.add_data(
            r.id, wandb.Image(image, caption=f"{r.id} target {r.target}") if image else None,
            r.target, r.score, None if r.score is None else round(abs(r.score - r.target), 4),
            r.category, CATEGORIES[category_of(r.target)], r.explanation or "", ", ".join(r.example_ids),
            r.usage.get("prompt_tokens"), r.usage.get("completion_tokens"), r.error or "")
    return table


def band_chart(diagnostics: dict[str, Any] | None) -> dict[str, Any]:
    """mae and bias in each true-score band that has items, as one line chart over the bands' centres (0.5 is
    band 0-1); nothing when no item was scored."""
    by_band = (diagnostics or {}).get("by_band") or {}
    bands = [((low + high) / 2, by_band[name]) for name, low, high in BANDS if (by_band.get(name) or {}).get("n")]
    if not bands:
        return {}
    return {"charts/by_band": wandb.plot.line_series(
        xs=[centre for centre, _ in bands], ys=[[entry[key] for _, entry in bands] for key in ("mae", "bias")],
        keys=["mae", "bias"], title="errors by true-score band", xname="true score (band centre)")}


def charts(records: list[Prediction], results: Results, figures: dict[str, Path]) -> dict:
    """Both figures twice: the PNGs as images, and native W&B charts (scatter; the two distributions); and the
    errors by true-score band."""
    targets, scores = scored_pairs(records)
    pairs = wandb.Table(columns=["radiologist", "model"], data=[[float(t), float(s)] for t, s in zip(targets, scores)])
    (target_counts, centres), (score_counts, _) = score_histogram(targets), score_histogram(scores)
    return {
        "figures/scatter": wandb.Image(str(figures["scatter"])),
        "figures/distribution": wandb.Image(str(figures["distribution"])),
        "charts/scatter": wandb.plot.scatter(pairs, "radiologist", "model",
                                             title=title_of(results).replace("\n", " | ")),
        "charts/distribution": wandb.plot.line_series(
            xs=[float(c) for c in centres], ys=[target_counts.tolist(), score_counts.tolist()],
            keys=["radiologists", "model"], title="score distributions", xname="score"),
        **band_chart(results.diagnostics),
    }


def results_artifact(run_dir: Path, results: Results) -> Any:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{results.task}-{results.name}")
    artifact = wandb.Artifact(name, type="ldct-bench-run", metadata={"overall": results.overall})
    for file_name in (RESULTS, PREDICTIONS):
        if (Path(run_dir) / file_name).exists():
            artifact.add_file(str(Path(run_dir) / file_name), name=file_name)
    return artifact


def masked_argv(argv: list[str]) -> list[str]:
    """Command-line overrides with secret values hidden (`+model.extra_body.api_key=...` -> `...=***`), as the
    run dir records them."""
    return [mask_override(arg) for arg in argv]


@contextmanager
def _argv_masked() -> Iterator[None]:
    """W&B records sys.argv in the run's metadata, with no setting to turn just that off."""
    original = sys.argv
    sys.argv = masked_argv(original)
    try:
        yield
    finally:
        sys.argv = original


def init_run(mode: Mode, project: str, entity: str | None, **fields: Any) -> Any:
    """wandb.init with our quiet settings; the W&B folder is WANDB_DIR when set, else `fields['dir']`.

    The folder is always passed explicitly: wandb reads WANDB_DIR only once per process.
    """
    fields["dir"] = os.environ.get("WANDB_DIR") or fields["dir"]
    settings = wandb.Settings(silent=True, console="off", x_disable_stats=True, disable_git=True, save_code=False)
    with _argv_masked(), env_default(WEAVE_ENV, "true"):  # else an imported openai client gets a Weave sales pitch
        return wandb.init(project=project, entity=entity, mode=mode, settings=settings, reinit="finish_previous",
                          **fields)


def announcement(run: Any, mode: str) -> str:
    """The one line a user reads about W&B: the run's URL, or where the offline run is and how to upload it."""
    if mode == "online":
        return f"W&B run: {run.url}"
    where = Path(run.dir).parent
    return f"W&B offline run written to {where}; upload it with: wandb sync {where}"


@contextmanager
def env_default(name: str, value: str) -> Iterator[None]:
    """`name=value` in the environment for the block, unless the user set `name` (then theirs stands)."""
    if os.environ.get(name):
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


def staging_inside(run: Any) -> AbstractContextManager[None]:
    """Stage the run's artifact files (table images included) inside its own W&B folder, unless WANDB_DATA_DIR is set.

    Offline, W&B keeps an image in a Table only as a staged artifact file (the run's own table JSON holds the
    string "Image", wandb issue 4611), and stages under the user's data dir by default: a run folder copied
    elsewhere, or a cleaned data dir, would sync without its thumbnails. wandb reads WANDB_DATA_DIR afresh
    whenever it stages a file, so setting it around the logging is enough.
    """
    return env_default(DATA_DIR_ENV, str(Path(run.dir).parent / STAGING))


def send(mode: Mode, project: str, entity: str | None, fill: Callable[[Any], None], saved: str, **fields: Any) -> None:
    """Init a run, let `fill` log into it, finish, then print the one line; a W&B error becomes one UserError line."""
    try:
        run = init_run(mode, project, entity, **fields)
        with staging_inside(run):
            fill(run)
            line = announcement(run, mode)
            run.finish()
    except wandb.errors.Error as exc:
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise UserError(f"W&B logging failed ({exc.__class__.__name__}: {detail}); {saved}; "
                        "check `wandb login` or use logger.mode=offline") from None
    print(line)


def log_wandb_run(cfg: DictConfig, run_dir: Path, results: Results, records: list[Prediction],
                  figures: dict[str, Path], group: str | None = None) -> None:
    """Send one finished run to W&B; W&B's own chatter is silenced in favour of one line. `group` names the
    sweep the run belongs to (else the configured group, or the current Hydra multirun's)."""
    mode = resolve_mode(getattr(cfg.logger.mode, "value", cfg.logger.mode))
    if mode == "disabled":
        return
    images = thumbnails(cfg, [r.id for r in records])

    def fill(run: Any) -> None:
        run.summary.update(summary_metrics(results))
        run.log({"items": items_table(records, images), **charts(records, results, figures)})
        run.log_artifact(results_artifact(run_dir, results))

    send(mode, cfg.logger.project, cfg.logger.entity, fill, f"results are saved in {run_dir}", dir=str(run_dir),
         name=results.name, group=group or sweep_group(cfg), tags=list(cfg.logger.tags), job_type="eval",
         config=run_config(cfg, run_dir, results))


def log_leaderboard(columns: list[str], data: list[list[Any]], project: str, out_dir: Path) -> None:
    """The leaderboard as a W&B Table in its own run (job_type leaderboard), same mode rules as a run."""
    mode = resolve_mode("auto")
    if mode != "disabled":
        send(mode, project, None, lambda run: run.log({"leaderboard": wandb.Table(columns=list(columns), data=data)}),
             f"the leaderboard files in {out_dir} are written", dir=str(out_dir), name="leaderboard",
             job_type="leaderboard")
