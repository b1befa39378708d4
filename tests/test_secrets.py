"""A planted API key must not appear in any file a run writes."""

import os

from conftest import invoke

PLANTED = "sk-planted-0123456789abcdefXYZ"


def _files_containing(root, needle: bytes):
    hits = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as handle:
                    if needle in handle.read():
                        hits.append(path)
            except OSError:
                pass
    return hits


def test_planted_key_is_nowhere_in_run_dir_cache_logs_or_wandb(stub, tmp_path, monkeypatch, capsys, offline_env,
                                                              data_store):
    monkeypatch.setenv("STUB_API_KEY", PLANTED)
    run_dir = tmp_path / "run"
    result = invoke([*stub.model_args(), "strategy=few_shot", "shots=2", "limit=4", "logger=wandb",
                     f"hydra.run.dir={run_dir}"], capsys)
    assert result.code == 0, result.err
    assert all(r["headers"].get("Authorization") == f"Bearer {PLANTED}" for r in stub.requests)
    assert list((tmp_path / "wandb").rglob("*")), "the W&B offline run was written"
    assert offline_env.exists() and list(offline_env.rglob("*.sqlite"))
    for root in (tmp_path, data_store):
        assert _files_containing(root, PLANTED.encode()) == []
    assert PLANTED not in result.out and PLANTED not in result.err
