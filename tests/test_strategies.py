"""Prompts as the model sees them: instructions, example turns, metadata text, prefix stability, and real runs."""

import json
import re

import pytest
from conftest import run_cli
from protocol_helpers import SMALL, assert_metrics_match, data_url, images, open_task, strategy, task_args, text

from ldct_bench.errors import UserError
from ldct_bench.metadata.noise import noise_column
from ldct_bench.strategies import ErrorFeedback
from ldct_bench.strategies.prompt import QUERY_LEAD

NOISE_TEXT = re.compile(r"Estimated noise level: (\d\.\d{3})\.")


def chat(built, task, index=0):
    item = task.items("test")[index]
    return built.request(item, index, {}).messages


# --- instructions ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["zero_shot", "few_shot", "error_feedback"])
def test_instructions_are_complete_and_ask_for_the_full_answer(task, name):
    system = strategy(task, name, shots=None if name != "zero_shot" else 0).system["content"]
    assert "{" not in system.replace('{"score"', "")  # every placeholder filled
    for line in ("0 Bad", "1 Poor", "2 Fair", "3 Good", "4 Excellent"):
        assert line in system
    assert "one decimal" in system and '"explanation"' in system and "streak" in system
    assert "width 350 HU, level 40 HU" in system
    assert "\n\n\n" not in system
    if name != "zero_shot":  # examples carry score and category only: the text must say so, and still ask for all
        flat = " ".join(system.split())
        assert "without an explanation" in flat and "explanation included" in flat


def test_metadata_notes_appear_only_when_enabled(task):
    plain = strategy(task, metadata="none").system["content"]
    both = strategy(task, metadata="region_noise").system["content"]
    assert "noise level" not in plain and "region" not in plain.lower()
    assert "Higher means noisier" in both and "anatomical region" in both


def test_window_in_the_text_follows_the_task_card(task_dir, data_store):
    wide = open_task(task_dir, data_store, window_width=400, window_level=50)
    assert "width 400 HU, level 50 HU" in strategy(wide).system["content"]


# --- chat structure ----------------------------------------------------------------------------

def test_zero_shot_is_instructions_and_the_image(task):
    messages = chat(strategy(task, "zero_shot", shots=0), task)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert images(messages[1]) == [data_url(task, task.items("test")[0].id)]
    assert text(messages[1]) == QUERY_LEAD


def test_zero_shot_refuses_examples(task):
    with pytest.raises(UserError, match="at most 0"):
        strategy(task, "zero_shot", shots=3)


def test_few_shot_turns_carry_each_example_and_its_true_answer(task):
    s = strategy(task, shots=4, selection="random")
    request = s.request(task.items("test")[2], 2, {})
    messages = request.messages
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 4 + ["user"]
    train = {item.id: item for item in task.items("train")}
    for number, example_id in enumerate(request.example_ids):
        user, answer = messages[1 + 2 * number], messages[2 + 2 * number]
        assert images(user) == [data_url(task, example_id)]
        assert text(user) == f"Example {number + 1}."
        assert json.loads(answer["content"]) == {"score": round(train[example_id].target, 1),
                                                 "category": ["Bad", "Poor", "Fair", "Good", "Excellent"][
                                                     min(int(train[example_id].target), 4)]}
    assert images(messages[-1]) == [data_url(task, task.items("test")[2].id)]


def test_metadata_goes_into_every_example_and_the_query(task):
    s = strategy(task, shots=3, metadata="region_noise")
    request = s.request(task.items("test")[0], 0, {})
    shown = [m for m in request.messages if m["role"] == "user"]
    for message, item_id in zip(shown, [*request.example_ids, task.items("test")[0].id]):
        item = next(i for split in ("train", "test") for i in task.items(split) if i.id == item_id)
        assert f"Region: {item.meta['region']}." in text(message)
        assert f"Estimated noise level: {item.meta['noise']:.3f}." in text(message)


def test_fixed_selection_keeps_the_prefix_byte_identical(task):
    fixed = strategy(task, shots=5, selection="fixed", metadata="noise")
    chats = [chat(fixed, task, i) for i in range(len(task.items("test")))]
    prefixes = {json.dumps(messages[:-1]) for messages in chats}
    assert len(prefixes) == 1
    assert len({json.dumps(messages[-1]) for messages in chats}) == len(chats)  # only the query differs
    varying = strategy(task, shots=5, selection="random")
    assert len({json.dumps(chat(varying, task, i)[:-1]) for i in range(5)}) == 5


def test_error_feedback_calibration_is_the_zero_shot_chat_with_the_same_metadata(task):
    feedback = strategy(task, "error_feedback", metadata="noise")
    zero = strategy(task, "zero_shot", shots=0, metadata="noise")
    item = feedback.calibration_items()[0]
    assert feedback.calibration_request(item).messages == zero.request(item, 0, {}).messages


def test_error_feedback_shows_truth_prediction_and_error(task):
    s = strategy(task, "error_feedback")
    assert isinstance(s, ErrorFeedback) and s.shots == 5
    calibration = {item.id: 2.0 for item in s.calibration_items()}
    request = s.request(task.items("test")[0], 0, calibration)
    train = {item.id: item for item in task.items("train")}
    assert len(request.example_ids) == 5 and set(request.example_ids) <= set(calibration)
    query = task.items("test")[0]
    assert all(train[i].meta["region"] == query.meta["region"] for i in request.example_ids)  # same region
    for number, example_id in enumerate(request.example_ids):
        shown = text(request.messages[1 + 2 * number])
        target = train[example_id].target
        assert (f"True score: {target:.1f}. Your earlier score: 2.0. Absolute error: {abs(target - 2.0):.2f}."
                in shown)


# --- against the local endpoint ------------------------------------------------------------------

def test_few_shot_runs_send_exact_examples_with_their_scores_and_noise(stub, task_dir, task, tmp_path):
    """One multirun, shots=10 and shots=34 with noise metadata: 20 requests each, 11 and 35 images."""
    sweep = tmp_path / "sweep"
    result = run_cli(["-m", *stub.model_args(), *task_args(task_dir, SMALL), "strategy=few_shot", "shots=10,34",
                      "metadata=noise", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env={"STUB_API_KEY": "k"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(stub.requests) == 40
    test_urls = {data_url(task, item.id): item.id for item in task.items("test")}
    sent = {}  # (shots, query id) -> messages
    for request in stub.requests:
        messages = request["body"]["messages"]
        sent[sum(len(images(m)) for m in messages) - 1, test_urls[images(messages[-1])[0]]] = messages
    assert sorted({shots for shots, _ in sent}) == [10, 34] and len(sent) == 40
    train = {item.id: item for item in task.items("train")}
    levels = noise_column(task)
    for shots in (10, 34):
        [run_dir] = [p.parent for p in sweep.rglob("results.json") if f"-k{shots}-" in str(p)]
        records = assert_metrics_match(run_dir)
        assert len(records) == 20 and all(r["score"] is not None for r in records)
        for record in records:
            messages = sent[shots, record["id"]]
            assert len(record["example_ids"]) == shots and record["id"] not in record["example_ids"]
            answers = [json.loads(m["content"])["score"] for m in messages if m["role"] == "assistant"]
            assert answers == [round(train[i].target, 1) for i in record["example_ids"]]
            shown = [m for m in messages if m["role"] == "user"]
            for message, item_id in zip(shown, [*record["example_ids"], record["id"]], strict=True):
                assert NOISE_TEXT.search(text(message)).group(1) == f"{levels[item_id]:.3f}"
