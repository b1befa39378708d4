"""Sweeps: the callback writes the sweep's own leaderboard; launcher presets compose (nothing is submitted)."""

import csv
import os
import shutil

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from ldct_bench.cards.registry import register
from ldct_bench.paths import resource_dir
from ldct_bench.report.sweep_callback import SWEEP_GROUP_ENV, SweepLeaderboard


def _compose(overrides):
    register()
    with initialize_config_dir(config_dir=str(resource_dir("conf")), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


def _csv_sources(folder):
    with open(folder / "leaderboard.csv", newline="") as handle:
        return sorted(row["source"] for row in csv.DictReader(handle))


def test_a_sweep_writes_its_own_leaderboard_with_a_row_per_point(wandb_sweep):
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.html"):
        assert (wandb_sweep.sweep_dir / name).stat().st_size > 0
    assert _csv_sources(wandb_sweep.sweep_dir) == sorted(map(str, wandb_sweep.run_dirs))
    assert f"sweep leaderboard (2 runs): {wandb_sweep.sweep_dir / 'leaderboard.md'}" in wandb_sweep.result.stdout


def test_callback_covers_only_runs_of_this_sweep_and_names_one_group(wandb_sweep, tmp_path):
    sweep_dir = tmp_path / "outputs"
    earlier = sweep_dir / "demo" / "earlier"
    shutil.copytree(wandb_sweep.run_dirs[0], earlier)
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}}})
    callback = instantiate(_compose([]).hydra.callbacks.sweep_leaderboard)
    assert isinstance(callback, SweepLeaderboard)
    callback.on_multirun_start(config)
    group = os.environ[SWEEP_GROUP_ENV]
    assert group.startswith("sweep-") and group.endswith("-outputs")
    this_sweep = sweep_dir / "demo" / "this"
    shutil.copytree(wandb_sweep.run_dirs[1], this_sweep)
    callback.on_multirun_end(config)
    assert _csv_sources(sweep_dir) == [str(this_sweep)]
    assert SWEEP_GROUP_ENV not in os.environ


def test_local_parallel_preset_composes_to_joblib():
    launcher = _compose(["hydra/launcher=local_parallel"]).hydra.launcher
    assert launcher._target_.endswith("JoblibLauncher") and launcher.n_jobs == 4


def test_slurm_preset_composes_to_submitit_with_one_gpu_per_job():
    cfg = _compose(["hydra/launcher=slurm", "model=gemma-3-vllm", "shots=10",
                    "hydra.launcher.partition=gpu", "hydra.sweep.dir=/scratch/sweep"])
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.gpus_per_node, launcher.tasks_per_node, launcher.nodes) == (1, 1, 1)
    assert launcher.partition == "gpu" and launcher.submitit_folder == "/scratch/sweep/.submitit/%j"
    assert cfg.model.backend == "vllm"
