"""A first session as the README leads it: ~ in paths, an early sign of life, no library chatter, help for users."""

import os
import pty
import select
import subprocess
import sys
import time

import pytest
from conftest import REPO, invoke

from ldct_bench.cli import main as cli_main
from ldct_bench.config.compose import expand_home


def test_a_tilde_path_as_typed_fails_in_one_line_naming_the_expanded_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    result = invoke(["task=ldct_iqa", "task.path=~/data/ldct-iqa-missing", f"hydra.run.dir={tmp_path / 'run'}"],
                    capsys)
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1, result.err
    assert f"task.path={tmp_path}/data/ldct-iqa-missing does not exist" in result.err


def test_tilde_is_expanded_wherever_a_value_starts_with_it(monkeypatch):
    home = os.path.expanduser("~")
    assert expand_home(["hydra.run.dir=~/runs", "task.path=~", "cache.dir=~/c,~/d", "x=[~/a,b]"]) == [
        f"hydra.run.dir={home}/runs", f"task.path={home}", f"cache.dir={home}/c,{home}/d", f"x=[{home}/a,b]"]
    untouched = ["~task.path", "model.base_url=http://host/~user/v1", "task.path=a~/b", "-m", "--cfg", "job"]
    assert expand_home(untouched) == untouched


def _run_on_a_terminal(args, env, timeout=240.0):
    """`python -m ldct_bench ARGS` on a pseudo-terminal, as a user sees it: (exit code, all output)."""
    leader, follower = pty.openpty()
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "ldct_bench", *args], stdin=subprocess.DEVNULL,
                               stdout=follower, stderr=follower, cwd=REPO, env=env)
    os.close(follower)
    chunks = []
    while time.monotonic() - started < timeout:
        ready, _, _ = select.select([leader], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    process.wait(timeout=10)
    os.close(leader)
    return process.returncode, b"".join(chunks).decode(errors="replace")


@pytest.fixture
def demo_built(data_store):
    """The session's demo data, built in this process (so the run below measures start-up, not the build)."""
    from hydra import compose, initialize_config_dir

    from ldct_bench.cards.registry import register
    from ldct_bench.data.task import load_task
    from ldct_bench.paths import resource_dir

    register()
    with initialize_config_dir(config_dir=str(resource_dir("conf")), version_base="1.3"):
        load_task(compose(config_name="config").task, data_store)


@pytest.mark.timeout(300)
def test_a_first_run_speaks_at_once_and_shows_no_library_log_lines(tmp_path, demo_built):
    """Fresh matplotlib folder (its font cache is built, which logs INFO), on a terminal: one early line, no logs."""
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl")}
    code, output = _run_on_a_terminal(["limit=3", f"hydra.run.dir={tmp_path / 'run'}"], env)
    assert code == 0, output[-2000:]
    assert output.startswith("ldct-bench: starting")  # before the imports: how soon, benchmarks/startup_bench.py
    assert not [line for line in output.splitlines() if "][INFO]" in line or "][DEBUG]" in line], output


def test_help_texts_speak_to_users(capsys):
    result = invoke(["--help"], capsys)  # its time: benchmarks/startup_bench.py
    assert result.code == 0
    assert result.out.startswith("python -m ldct_bench [-m] [KEY=VALUE ...]") and "Hydra" not in result.out[:500]
    assert "  task         demo, ldct_iqa, ldct_iqa_small" in result.out
    assert "  limit=null          score only the first N test items" in result.out
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    text = capsys.readouterr().out
    assert "commands/" not in text and "score predictions made elsewhere" in text
