"""A new user's first hour (issue 22): a setting the task or model ignores is named, a finished run dir holds no
leftovers, and a disk too full for Hydra's own config dump is one line saying so and where."""

from __future__ import annotations

import builtins
import errno

import hydra.core.utils
from conftest import invoke, one_error


def test_a_setting_the_task_ignores_is_named_once(tmp_path, capsys):
    result = invoke(["task.path=/nope", f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 0, result.err
    notes = [line for line in result.err.splitlines() if "change nothing here" in line]
    assert len(notes) == 1 and "task.path" in notes[0] and "noise-baseline" in notes[0]


def test_a_finished_run_dir_keeps_no_lock_and_no_empty_log(tmp_path, capsys):
    result = invoke(["limit=4", f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 0, result.err
    names = {path.name for path in (tmp_path / "run").iterdir()}
    assert {"predictions.jsonl", "results.json", "run.json", ".hydra"} <= names
    assert not names & {".lock", "__main__.log"}


def test_a_disk_too_full_for_hydras_config_dump_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    real_open = builtins.open

    def full(file, mode="r", *args, **kwargs):
        if ".hydra" in str(file) and "w" in mode:
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(hydra.core.utils, "open", full, raising=False)  # Hydra's _save_config writes with open()
    run_dir = tmp_path / "outputs" / "run"
    result = invoke(["limit=2", f"hydra.run.dir={run_dir}"], capsys)
    assert result.code == 2 and one_error(result.err), result.err
    line = next(line for line in result.err.splitlines() if line.startswith("ldct-bench: error"))
    assert f"cannot write {run_dir / '.hydra'}" in line and "No space left on device" in line
    assert "HYDRA_FULL_ERROR" not in result.err and "Traceback" not in result.err
    assert not run_dir.exists()
