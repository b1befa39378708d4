"""Every bad input gives one clear line (what is wrong, how to fix it), a non-zero exit, no traceback."""

import pytest
from conftest import invoke

from ldct_bench.backends.vllm import free_port
from ldct_bench.data.demo import write_release
from ldct_bench.data.release import prepare


def _assert_one_line(result, *phrases):
    assert result.code != 0, result.out[-500:]
    lines = [line for line in result.err.strip().splitlines() if line.strip()]
    assert lines, "no error printed"
    message = lines[-1]
    assert "Traceback" not in result.err
    assert message.startswith("ldct-bench: error:"), result.err[-1500:]
    for phrase in phrases:
        assert phrase in message, message
    return message


@pytest.fixture(scope="module")
def regionless_task(tmp_path_factory):
    """A prepared release with no region column."""
    root = tmp_path_factory.mktemp("regionless")
    train, test = write_release(root / "raw", n_train=12, n_test=4)
    return prepare(train, test, root / "prepared")


@pytest.mark.parametrize("argv, phrases", [
    (["model=gpt4o"], ["unknown model 'gpt4o'", "gpt-4o"]),
    (["task=demo2"], ["unknown task 'demo2'", "demo"]),
    (["strategy=errorfeedback"], ["unknown strategy", "error_feedback"]),
    (["metadata=noize"], ["unknown metadata", "noise"]),
    (["shots=abc"], ["shots=abc"]),
    (["model.temperature=hot"], ["model.temperature=hot"]),
    (["shotz=3"], ["unknown setting 'shotz'", "shots"]),
    (["limit=-2"], ["limit=-2", "negative"]),
    (["shots=-1"], ["shots=-1"]),
    (["model.supports_images=false"], ["does not accept images"]),
    (["min_coverage=2"], ["min_coverage"]),
])
def test_bad_settings(argv, phrases, tmp_path, capsys):
    _assert_one_line(invoke([*argv, f"hydra.run.dir={tmp_path / 'run'}"], capsys), *phrases)


@pytest.mark.parametrize("argv, phrases", [
    (["strategy=zero_shot", "shots=5"], ["zero_shot", "strategy=few_shot"]),
    (["shots=100"], ["shots=100", "shot pool"]),
])
def test_prompt_settings_that_cannot_be_shown(argv, phrases, stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    _assert_one_line(invoke([*stub.model_args(), *argv, f"hydra.run.dir={tmp_path / 'run'}"], capsys), *phrases)
    assert not stub.requests


def test_missing_dataset_path_says_where_to_get_the_data(tmp_path, capsys):
    message = _assert_one_line(invoke(["task=ldct_iqa", f"hydra.run.dir={tmp_path / 'r'}"], capsys), "task.path")
    assert "7833096" in message and "ldct-bench prepare" in message


def test_nonexistent_dataset_path_is_named(tmp_path, capsys):
    missing = tmp_path / "nonexistent" / "ldct"
    _assert_one_line(invoke(["task=ldct_iqa", f"task.path={missing}", f"hydra.run.dir={tmp_path / 'r'}"], capsys),
                     str(missing))


def test_corrupt_dataset(tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "dataset_dict.json").write_text("{not json")
    _assert_one_line(invoke(["task=ldct_iqa", f"task.path={broken}", f"hydra.run.dir={tmp_path / 'r'}"], capsys),
                     "prepare")


def test_missing_api_key_names_the_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _assert_one_line(invoke(["model=o3", f"hydra.run.dir={tmp_path / 'r'}"], capsys), "OPENAI_API_KEY")


def test_unreachable_endpoint(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    argv = ["model=openai-compatible", f"model.base_url=http://127.0.0.1:{free_port()}/v1",
            "model.model_id=x", "model.api_key_env=STUB_API_KEY", f"hydra.run.dir={tmp_path / 'r'}"]
    _assert_one_line(invoke(argv, capsys), "cannot reach", "model.base_url")


def test_metadata_requested_but_unavailable(tmp_path, capsys, regionless_task, stub, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    _assert_one_line(invoke([*stub.model_args(), "task=ldct_iqa", f"task.path={regionless_task}", "metadata=region",
                             "strategy=zero_shot", f"hydra.run.dir={tmp_path / 'r'}"], capsys),
                     "region", "label-regions")
    assert not stub.requests


def test_unwritable_output_dir(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _assert_one_line(invoke([f"hydra.run.dir={blocker / 'run'}"], capsys), "output dir", "hydra.run.dir")


def test_unwritable_cache_dir(tmp_path, capsys, stub, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _assert_one_line(invoke([*stub.model_args(), f"cache.dir={blocker / 'cache'}", "limit=1",
                             f"hydra.run.dir={tmp_path / 'r'}"], capsys), "cache", "cache.dir")


def test_card_with_a_missing_field(tmp_path, capsys, monkeypatch):
    (tmp_path / "cards" / "models").mkdir(parents=True)
    (tmp_path / "cards" / "models" / "half.yaml").write_text("model_id: x\n")
    monkeypatch.setenv("LDCT_BENCH_CARDS", str(tmp_path / "cards"))
    _assert_one_line(invoke(["model=half", f"hydra.run.dir={tmp_path / 'r'}"], capsys), "half.yaml", "backend")


def test_resume_of_a_folder_that_is_no_run(tmp_path, capsys):
    _assert_one_line(invoke([f"resume={tmp_path}"], capsys), "resume=", "run.json")


def test_a_cache_file_damaged_in_its_middle_is_one_line(tmp_path, capsys, stub, monkeypatch, offline_env):
    """A real cache written by a run, then bytes overwritten in its middle: the next run names the file and the fix."""
    monkeypatch.setenv("STUB_API_KEY", "k")
    assert invoke([*stub.model_args(), "limit=30", f"hydra.run.dir={tmp_path / 'r1'}"], capsys).code == 0
    path = offline_env / "responses.sqlite"
    wal = path.with_name("responses.sqlite-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "every answer is in the main file"
    size = path.stat().st_size
    assert size >= 3 * 4096, "the cache holds more than its first page"
    with open(path, "r+b") as handle:
        handle.seek(size // 2)
        handle.write(b"\xa5" * 4096)
    message = _assert_one_line(invoke([*stub.model_args(), "limit=30", f"hydra.run.dir={tmp_path / 'r2'}"], capsys),
                               f"response cache {path} is damaged", "move it aside", "cache.mode=off")
    assert "malformed" in message
    result = invoke([*stub.model_args(), "limit=30", "cache.mode=off", f"hydra.run.dir={tmp_path / 'r3'}"], capsys)
    assert result.code == 0, result.err[-1500:]


def _saved(folder, columns: dict) -> str:
    """A DatasetDict saved with `save_to_disk`, both splits holding the given columns."""
    import datasets

    datasets.DatasetDict({split: datasets.Dataset.from_dict(columns) for split in ("train", "test")}).save_to_disk(
        str(folder))
    return str(folder)


@pytest.mark.parametrize("columns, found", [
    ({"name": ["a"], "label": [1]}, "columns name (number"),
    ({"id": ["a"], "image": ["a.tif"], "score": ["high"]}, "columns id (string), image (string), score (string)"),
])
def test_a_dataset_with_other_columns_names_expected_and_found(columns, found, tmp_path, capsys):
    path = _saved(tmp_path / "other", columns)
    message = _assert_one_line(invoke(["task=ldct_iqa", f"task.path={path}", "model=noise-baseline",
                                       f"hydra.run.dir={tmp_path / 'r'}"], capsys),
                               "expected id (string), image (Image), score (number)", "ldct-bench prepare")
    assert found.split(" (")[0] in message and "the 'train' split has columns" in message


@pytest.fixture(scope="module")
def empty_train_task(tmp_path_factory, regionless_task):
    """The regionless release with its train split emptied (one zero-row shard)."""
    import datasets

    data = datasets.load_from_disk(str(regionless_task))
    data["train"] = data["train"].select([]).flatten_indices()
    out = tmp_path_factory.mktemp("empty-train") / "data"
    data.save_to_disk(str(out), num_shards={"train": 1, "test": 1})
    return out


@pytest.mark.parametrize("argv, needs", [
    (["strategy=few_shot"], "strategy=few_shot"),
    (["strategy=error_feedback"], "strategy=error_feedback"),
    (["strategy=zero_shot", "model=noise-baseline"], "model noise-baseline"),
])
def test_examples_from_an_empty_train_split_is_one_line(argv, needs, empty_train_task, tmp_path, capsys, stub,
                                                        monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    model = [] if any(a.startswith("model=") for a in argv) else stub.model_args()
    _assert_one_line(invoke([*model, "task=ldct_iqa", f"task.path={empty_train_task}", *argv,
                             f"hydra.run.dir={tmp_path / 'r'}"], capsys),
                     "the train split 'train' is empty", needs, "strategy=zero_shot")
    assert not stub.requests
