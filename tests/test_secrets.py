"""No secret on disk or in output: keys, URL passwords, secret query parameters, header values, their echoes.

Each case runs the real entry point against the local stub server, then every file under the test's
folder (run dir, W&B offline run, response cache) and the captured stdout/stderr are searched.
"""

import base64
import os
import sys

import pytest
from conftest import invoke

from ldct_bench.backends.vllm import LOG_NAME
from ldct_bench.secrets import flag_secrets, header_secrets, mask_override, mask_secrets, redact, url_secrets

PLANTED = "sk-planted-0123456789abcdefXYZ"
PASSWORD = "pw-Hunter2-quietly"
QUERY_KEY = "qk7Yz0SecretQuery"
HEADER = "hdr9SecretHeaderValue"
TENANT = "plaintenantname"  # a header value that looks like nothing: masked as a header value
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


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


def assert_nowhere(secrets, roots, *texts):
    """None of the secrets in any file below the roots or in the given outputs."""
    for secret in secrets:
        for root in roots:
            assert _files_containing(root, secret.encode()) == [], secret
        for text in texts:
            assert secret not in text, f"{secret!r} printed: {text[-800:]}"


def _one_line(result):
    assert result.code != 0 and "Traceback" not in result.err
    lines = [line for line in result.err.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("ldct-bench: error:"), result.err[-1500:]
    return lines[-1]


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


def _secret_url(stub) -> str:
    return stub.url.replace("http://", f"http://alice:{PASSWORD}@") + f"?api-key={QUERY_KEY}"


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_url_password_query_key_and_header_overrides_are_masked_everywhere(sweep, stub, tmp_path, monkeypatch, capsys):
    """A password and an api-key in model.base_url and header values given as an override reach the server, and
    appear in no file of the run (or sweep: multirun.yaml, the launcher's log lines), its W&B run, the cache, or
    the output."""
    monkeypatch.setenv("STUB_API_KEY", "local-key")
    where = [f"hydra.sweep.dir={tmp_path / 'sweep'}", "shots=0,1"] if sweep else [f"hydra.run.dir={tmp_path / 'run'}"]
    result = invoke([*(["-m"] if sweep else []), "model=openai-compatible", f"model.base_url='{_secret_url(stub)}'",
                     "model.model_id=stub-model",
                     "model.api_key_env=STUB_API_KEY", "limit=2", "logger=wandb", *where,
                     f"+model.extra_body.extra_headers={{Authorization: Bearer {HEADER}, X-Tenant: {TENANT}}}"], capsys)
    assert result.code == 0, result.err[-2000:]
    run_dir = next(path.parent for path in tmp_path.rglob("run.json"))
    assert stub.requests, "the server was asked"
    assert stub.requests[0]["headers"]["Authorization"] == f"Basic {BASIC}", "the URL's credentials were sent"
    assert stub.requests[0]["headers"]["X-Tenant"] == TENANT, "extra_headers travel as HTTP headers"
    assert "extra_headers" not in stub.requests[0]["body"], "and never as body fields"
    assert list((tmp_path / "wandb").rglob("*.wandb")), "the W&B offline run was written"
    if sweep:
        assert (tmp_path / "sweep" / "multirun.yaml").is_file() and "#1 : " in result.out + result.err
    assert_nowhere([PASSWORD, BASIC, QUERY_KEY, HEADER, TENANT], [tmp_path], result.out, result.err)
    recorded = (run_dir / "run.json").read_text()
    assert "alice:***@" not in recorded and "http://***@127.0.0.1" in recorded and "api-key=***" in recorded
    assert "+model.extra_body.extra_headers=***" in recorded


def test_a_401_echoing_the_basic_auth_header_prints_no_credential(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUB_API_KEY", PLANTED)
    stub.state.faults = ["401"]  # the stub echoes the Authorization it refused, as providers do
    result = invoke(["model=openai-compatible", f"model.base_url='{_secret_url(stub)}'", "model.model_id=stub-model",
                     "model.api_key_env=STUB_API_KEY", "limit=2", f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    line = _one_line(result)
    assert "HTTP 401" in line and "Incorrect API key provided: Basic ***" in line
    assert_nowhere([PASSWORD, BASIC, QUERY_KEY, PLANTED], [tmp_path], result.out, result.err)


def test_an_unquoted_query_key_is_one_line_without_the_key(tmp_path, capsys):
    result = invoke(["model=openai-compatible", f"model.base_url=http://127.0.0.1:9/v1?api-key={QUERY_KEY}",
                     f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    line = _one_line(result)
    assert "cannot read the override model.base_url=http://127.0.0.1:9/v1?api-key=***" in line
    assert "\"model.base_url='...'\"" in line
    assert_nowhere([QUERY_KEY], [tmp_path], result.out, result.err)


@pytest.mark.parametrize("value", ["sk-proj-abcdefgh12345678", "3f2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c",
                                   "0a1b2c3d4e5f60718293a4b5c6d7e8f9"])
def test_a_key_given_as_api_key_env_is_refused_and_never_shown(value, tmp_path, capsys):
    result = invoke(["model=openai-compatible", "model.base_url=http://127.0.0.1:9/v1", "model.model_id=m",
                     f"model.api_key_env={value}", f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert "api_key_env holds what looks like a key" in _one_line(result)
    assert_nowhere([value], [tmp_path], result.out, result.err)


def test_vllm_server_arguments_and_their_echo_in_its_log_are_masked(tmp_path, capsys):
    """A stand-in for `vllm serve` that prints its arguments, as vLLM does at start-up."""
    server_key = "srv-Key-5f1e2d3c4b"
    echo = ("import runpy, sys; print('non-default args:', {'api_key': [sys.argv[sys.argv.index('--api-key') + 1]]},"
            " flush=True); runpy.run_module('ldct_bench.testing.stub_server', run_name='__main__')")
    command = ",".join(f'"{part}"' for part in [sys.executable, "-c", echo.replace('"', "'"), "--host", "{host}",
                                                "--port", "{port}"])
    run_dir = tmp_path / "run"
    result = invoke(["model=qwen2.5-vl-7b-vllm", f"model.serve.command=[{command}]",
                     f"model.serve.args=[--api-key,{server_key}]", "strategy=zero_shot", "limit=2",
                     f"hydra.run.dir={run_dir}"], capsys)
    assert result.code == 0, result.err[-2000:]
    log = (run_dir / LOG_NAME).read_text()
    assert "non-default args: {'api_key': ['***']}" in log and "--api-key ***" in log
    assert_nowhere([server_key], [tmp_path], result.out, result.err)


def test_masking_rules():
    assert mask_override("model.base_url=http://u:p4ss@h:1/v1?key=K1&x=1&token=T1") == \
        "model.base_url=http://***@h:1/v1?key=***&x=1&token=***"
    assert mask_override("+model.extra_body.extra_headers={X-Custom: anything}") == \
        "+model.extra_body.extra_headers=***"
    assert mask_override("model.max_tokens=512") == "model.max_tokens=512"
    assert mask_override("model.api_key_env=OPENAI_API_KEY") == "model.api_key_env=OPENAI_API_KEY"
    assert redact("Basic settings, key points") == "Basic settings, key points"
    assert redact('{"password": "hunter2", "Authorization": "Basic dXNlcjpwYXNz"}') == \
        '{"password": "***", "Authorization": "***"}'
    assert redact("vllm serve m --hf-token=hfx123 --api-key k3y --port 1") == \
        "vllm serve m --hf-token=*** --api-key *** --port 1"
    assert mask_secrets({"serve": {"args": ["--api-key", "k3y", "--port", "1"]}, "extra_headers": {"X-A": "v"}}) == \
        {"serve": {"args": ["--api-key", "***", "--port", "1"]}, "extra_headers": {"X-A": "***"}}
    assert set(url_secrets("http://u:p%40ss@h/v1?api-key=Q")) >= {"Q", "p@ss", "u:p@ss",
                                                                   base64.b64encode(b"u:p@ss").decode()}
    assert header_secrets({"extra_headers": {"Authorization": "Bearer abc123"}}) == ["Bearer abc123", "abc123"]
    assert flag_secrets(["vllm", "--api-key", "S1", "--hf-token=S2", "--port", "5"]) == ["S1", "S2"]
