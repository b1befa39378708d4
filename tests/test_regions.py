"""Region labels from a model: strict parsing, `ldct-bench label-regions` against the local endpoint, use in runs."""

import json

import pytest
from conftest import Invocation, invoke
from protocol_helpers import build_task, data_url, images, open_task, task_args, text

from ldct_bench import cli
from ldct_bench.cards.cost import image_tokens, text_tokens
from ldct_bench.errors import UserError
from ldct_bench.metadata.region import REGIONS, parse_region, region_prompt, require_regions, stored_labels
from ldct_bench.reading.answer import AnswerError


@pytest.mark.parametrize("reply,label", [
    ('{"region": "liver"}', "liver"), ('```json\n{"region": "Upper Abdomen"}\n```', "upper abdomen"),
    ("kidney", "kidney"), ("**Pelvis**", "pelvis"), ('{"region": "lower_abdomen"}', "lower abdomen"),
    ("Chest.", "chest"),
])
def test_labels_in_the_set_are_read(reply, label):
    assert parse_region(reply) == label


@pytest.mark.parametrize("reply", ["", '{"region": "abdomen"}', "The liver and both kidneys are visible.",
                                   '{"score": 2.0}', "head"])
def test_anything_else_is_a_failure_not_a_guess(reply):
    with pytest.raises(AnswerError):
        parse_region(reply)


def test_prompt_lists_the_closed_set_and_the_answer_shape():
    prompt = region_prompt()
    assert all(f"- {label}:" in prompt for label in REGIONS) and '{"region": "<label>"}' in prompt


@pytest.fixture(scope="module")
def raw_task(tmp_path_factory):
    """A 6 + 4 task without a region column, and the generator's true regions by image id."""
    root = tmp_path_factory.mktemp("unlabelled")
    path = build_task(root, n_train=6, n_test=4, regions=False)
    return path, json.loads((root / "raw" / "regions.json").read_text())


def label_regions(args: list[str], capsys) -> Invocation:
    code = 0
    try:
        cli.main(["label-regions", *args])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return Invocation(code, captured.out, captured.err)


def test_label_regions_end_to_end(stub, raw_task, data_store, tmp_path, capsys, monkeypatch):
    path, truth = raw_task
    monkeypatch.setenv("STUB_API_KEY", "k")
    task = open_task(path, data_store)
    by_url = {data_url(task, item.id): item.id for split in ("train", "test") for item in task.items(split)}
    odd = task.items("test")[0].id
    wrong = {odd}

    def answer(body):
        item_id = by_url[images(body["messages"][0])[0]]
        return json.dumps({"region": "abdomen" if item_id in wrong else truth[item_id]})

    stub.state.answer = answer
    args = stub.model_args() + task_args(path) + ["model.price_input_per_mtok=2", "model.price_output_per_mtok=8"]

    # 1. the estimate first; one label outside the set is a recorded failure (after one re-ask)
    first = label_regions(args, capsys)
    per_image = image_tokens("openai", 512, 512, "high") + text_tokens(region_prompt())
    assert first.out.splitlines()[0].startswith(f"estimate: 10 images x ~{per_image} input + ~20 output tokens")
    assert "about $" in first.out.splitlines()[0]
    error = first.err.strip().splitlines()[-1]  # after the progress bar
    assert first.code == 2 and error.startswith("ldct-bench: error: no valid region label for 1 of 10 images")
    assert odd in error and "rerun the same command" in error
    assert len(stub.requests) == 10 + 1
    assert all(text(r["body"]["messages"][0]).startswith("This is one axial slice") for r in stub.requests)
    stored = stored_labels(task)
    assert stored["labels"] == {k: v for k, v in truth.items() if k != odd}
    assert "unknown region 'abdomen'" in stored["failures"][odd]

    # 2. a run that needs regions says what to do, in one line, and asks nothing
    asked = len(stub.requests)
    failed = invoke(stub.model_args() + task_args(path) + ["metadata=region", "shots=2",
                                                           f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert failed.code == 2 and "lacks them for 1 of 10 images" in failed.err and "label-regions" in failed.err
    assert len(stub.requests) == asked

    # 3. a rerun asks only for the missing one
    wrong.clear()
    second = label_regions(args, capsys)
    assert second.code == 0, second.err
    assert second.out.startswith("estimate: 1 images") and "labelled 1 of 1 images" in second.out
    assert len(stub.requests) == asked + 1
    assert stored_labels(task)["labels"] == truth and stored_labels(task)["failures"] == {}

    # 4. a fresh task object picks the stored labels up (what a run does before building prompts)
    fresh = open_task(path, data_store)
    require_regions(fresh)
    assert {i.id: i.meta["region"] for s in ("train", "test") for i in fresh.items(s)} == truth
    again = label_regions(args + ["--dry-run"], capsys)
    assert "every image already has a region" in again.out and len(stub.requests) == asked + 1


def test_labels_come_from_the_response_cache_the_second_time(stub, raw_task, data_store, tmp_path, capsys,
                                                              monkeypatch):
    path, truth = raw_task
    monkeypatch.setenv("STUB_API_KEY", "k")
    monkeypatch.setenv("LDCT_BENCH_DATA", str(tmp_path / "store-a"))  # labels stored nowhere yet
    task = open_task(path, data_store)
    by_url = {data_url(task, item.id): item.id for split in ("train", "test") for item in task.items(split)}
    stub.state.answer = lambda body: json.dumps({"region": truth[by_url[images(body["messages"][0])[0]]]})
    assert label_regions(stub.model_args() + task_args(path), capsys).code == 0
    assert len(stub.requests) == 10
    monkeypatch.setenv("LDCT_BENCH_DATA", str(tmp_path / "store-b"))  # new store, same response cache
    result = label_regions(stub.model_args() + task_args(path), capsys)
    assert result.code == 0 and "labelled 10 of 10 images" in result.out and "0 requests" in result.out
    assert len(stub.requests) == 10


def test_a_pixel_baseline_cannot_label(raw_task, capsys):
    path, _ = raw_task
    result = label_regions(["model=noise-baseline", *task_args(path)], capsys)
    assert result.code == 2 and "cannot name regions" in result.err


def test_missing_regions_raise_a_user_error_in_process(raw_task, tmp_path):
    path, _ = raw_task
    with pytest.raises(UserError, match="label-regions"):
        require_regions(open_task(path, tmp_path / "empty-store"))
