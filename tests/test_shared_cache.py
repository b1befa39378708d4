"""Two runs sharing one response cache at the same time: both complete, the cache stays intact."""

import json
import os
import sqlite3
import subprocess
import sys

from conftest import read_jsonl


def test_two_concurrent_runs_share_one_cache(stub, tmp_path, offline_env):
    stub.state.latency_s = 0.05
    env = {**os.environ, "STUB_API_KEY": "k"}
    procs = [subprocess.Popen([sys.executable, "-m", "ldct_bench", *stub.model_args(), "strategy=few_shot",
                               f"shots={shots}", "limit=10", f"hydra.run.dir={tmp_path / f'run{shots}'}"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for shots in (0, 1)]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
    for shots in (0, 1):
        assert json.loads((tmp_path / f"run{shots}" / "results.json").read_text())["n_scored"] == 10
        assert len(read_jsonl(tmp_path / f"run{shots}" / "predictions.jsonl")) == 10
    database = sqlite3.connect(next(offline_env.rglob("*.sqlite")))
    assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert database.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 20
