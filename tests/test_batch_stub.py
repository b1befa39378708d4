"""The stub server's Batch API, driven by the real `openai` client over HTTP: files, batches, progress, expiry,
per-line faults, cancellation, validation, seeded order, and a server process that outlives its client."""

import base64
import io
import json
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import Stub
from openai import BadRequestError, NotFoundError, OpenAI
from openai.types.chat import ChatCompletion
from PIL import Image

from ldct_bench.testing.stub_server import hashed_score

FINISHED = ("completed", "failed", "expired", "cancelled")


def body(i: int) -> dict:
    """A chat request with a small image of its own, so each line gets its own score."""
    png = io.BytesIO()
    Image.new("L", (8, 8), color=i * 37 % 256).save(png, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    return {"model": "stub-model", "temperature": 0, "max_tokens": 300,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Rate this CT slice 0-4."},
                                                      {"type": "image_url", "image_url": {"url": url}}]}]}


def jsonl(n: int, start: int = 0) -> bytes:
    return "".join(json.dumps({"custom_id": f"item-{i}", "method": "POST", "url": "/v1/chat/completions",
                               "body": body(i)}) + "\n" for i in range(start, start + n)).encode()


def client(url: str) -> OpenAI:
    return OpenAI(base_url=url, api_key="sk-test", max_retries=0)


def submit(api: OpenAI, data: bytes, **extra):
    uploaded = api.files.create(file=("requests.jsonl", data), purpose="batch")
    return api.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h",
                              **extra)


def wait(api: OpenAI, batch_id: str, timeout: float = 20.0) -> list:
    """Every state the batch was seen in, polling until it is finished."""
    seen = [api.batches.retrieve(batch_id)]
    deadline = time.monotonic() + timeout
    while seen[-1].status not in FINISHED:
        assert time.monotonic() < deadline, f"batch still {seen[-1].status}"
        time.sleep(0.03)
        seen.append(api.batches.retrieve(batch_id))
    return seen


def lines(api: OpenAI, file_id: str | None) -> list[dict]:
    return [] if file_id is None else [json.loads(line) for line in api.files.content(file_id).text.splitlines()]


def test_a_batch_is_uploaded_answered_progressively_and_collected(stub: Stub):
    stub.state.batch.seconds = 1.0
    api, data = client(stub.url), jsonl(5)
    created = submit(api, data, metadata={"run": "demo"})
    assert created.status == "validating"
    seen = wait(api, created.id)
    done = seen[-1]
    assert done.status == "completed" and done.completed_at is not None and done.in_progress_at is not None
    assert done.request_counts.model_dump() == {"total": 5, "completed": 5, "failed": 0}
    progress = [b.request_counts.completed for b in seen if b.status == "in_progress"]
    assert progress == sorted(progress) and any(0 < count < 5 for count in progress)  # answered over time
    assert done.error_file_id is None
    out = lines(api, done.output_file_id)
    assert sorted(line["custom_id"] for line in out) == [f"item-{i}" for i in range(5)]
    for line in out:
        reply = json.loads(line["response"]["body"]["choices"][0]["message"]["content"])
        assert line["response"]["status_code"] == 200 and line["error"] is None and line["id"].startswith("batch_req_")
        assert reply["score"] == hashed_score(body(int(line["custom_id"].split("-")[1])))
    assert done.usage.input_tokens == sum(line["response"]["body"]["usage"]["prompt_tokens"] for line in out) > 0
    # what the server saw
    assert stub.requests == []  # no chat request
    upload = stub.state.batch.files[created.input_file_id]
    assert (upload.data, upload.purpose) == (data, "batch")
    assert api.files.content(created.input_file_id).content == data
    record = stub.state.batch.batches[created.id]
    assert (record.input_file_id, record.endpoint, record.completion_window, record.metadata) == (
        upload.id, "/v1/chat/completions", "24h", {"run": "demo"})
    assert record.polls == len(seen)
    assert Counter(a["custom_id"] for a in stub.state.batch.answered) == Counter(f"item-{i}" for i in range(5))
    assert api.files.retrieve(done.output_file_id).purpose == "batch_output"
    assert [b.id for b in api.batches.list()] == [created.id]


def test_a_batch_line_gets_exactly_the_chat_answer_for_its_body(stub: Stub):
    stub.state.batch.seconds = 0
    api = client(stub.url)
    done = wait(api, submit(api, jsonl(1, start=3)).id)[-1]
    batched = ChatCompletion.model_validate(lines(api, done.output_file_id)[0]["response"]["body"])
    chat = api.chat.completions.create(**body(3))
    assert len(stub.requests) == 1 and len(stub.state.batch.answered) == 1
    ignore = {"id", "created"}
    assert batched.model_dump(exclude=ignore) == chat.model_dump(exclude=ignore)


def test_an_expired_batch_returns_what_finished_and_lists_the_rest_as_expired(stub: Stub):
    stub.state.batch.seconds, stub.state.batch.plans, stub.state.batch.expire_after = 0.4, ["expire"], 0.5
    api = client(stub.url)
    done = wait(api, submit(api, jsonl(10)).id)[-1]
    assert done.status == "expired" and done.expired_at is not None
    assert done.request_counts.model_dump() == {"total": 10, "completed": 5, "failed": 5}
    finished, expired = lines(api, done.output_file_id), lines(api, done.error_file_id)
    assert len(finished) == 5 and all(line["response"]["status_code"] == 200 for line in finished)
    assert len(expired) == 5 and all(line["response"] is None and line["error"]["code"] == "batch_expired"
                                     for line in expired)
    ids = {line["custom_id"] for line in finished} | {line["custom_id"] for line in expired}
    assert ids == {f"item-{i}" for i in range(10)}
    answered = Counter(a["custom_id"] for a in stub.state.batch.answered)
    assert answered == Counter(line["custom_id"] for line in finished)  # expired lines were never answered
    # resubmitting the expired ones (the second batch has no plan: it completes) answers each item once in total
    retry = "".join(json.dumps({"custom_id": line["custom_id"], "method": "POST", "url": "/v1/chat/completions",
                                "body": body(int(line["custom_id"].split("-")[1]))}) + "\n" for line in expired)
    assert wait(api, submit(api, retry.encode()).id)[-1].status == "completed"
    assert Counter(a["custom_id"] for a in stub.state.batch.answered) == Counter(f"item-{i}" for i in range(10))


def test_line_faults_go_to_the_error_file_with_their_status(stub: Stub):
    stub.state.batch.seconds, stub.state.batch.faults = 0, ["ok", "500", "400", "unparseable"]
    api = client(stub.url)
    done = wait(api, submit(api, jsonl(8)).id)[-1]
    assert done.status == "completed"
    assert done.request_counts.model_dump() == {"total": 8, "completed": 4, "failed": 4}
    errors = {line["custom_id"]: line["response"] for line in lines(api, done.error_file_id)}
    assert {cid: response["status_code"] for cid, response in errors.items()} == {
        "item-1": 500, "item-5": 500, "item-2": 400, "item-6": 400}
    assert all(response["body"]["error"]["message"] for response in errors.values())
    texts = {line["custom_id"]: line["response"]["body"]["choices"][0]["message"]["content"]
             for line in lines(api, done.output_file_id)}
    assert texts["item-3"] == texts["item-7"] == "The image shows the abdomen."
    assert json.loads(texts["item-0"])["score"] == hashed_score(body(0))


def test_a_cancelled_batch_keeps_what_finished(stub: Stub):
    stub.state.batch.seconds = 4.0
    api = client(stub.url)
    created = submit(api, jsonl(10))
    time.sleep(0.5)
    cancelling = api.batches.cancel(created.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    done = wait(api, created.id)[-1]
    assert done.status == "cancelled" and done.cancelled_at is not None
    finished = lines(api, done.output_file_id)
    assert 0 < len(finished) < 10 and done.error_file_id is None
    assert sorted(line["custom_id"] for line in finished) == sorted(a["custom_id"] for a in stub.state.batch.answered)
    time.sleep(0.2)
    assert api.batches.retrieve(created.id).request_counts.completed == len(finished)  # nothing answered later
    with pytest.raises(BadRequestError, match="cancelled and cannot be cancelled"):
        api.batches.cancel(created.id)


def test_validation_failures_list_each_problem_with_its_line(stub: Stub):
    stub.state.batch.seconds = 0
    api = client(stub.url)
    good = json.loads(jsonl(1))
    bad = [good, "{not json", {**good}, {**good, "custom_id": "b", "method": "GET"},
           {**good, "custom_id": "c", "url": "/v1/responses"}, {"custom_id": "d", "method": "POST",
                                                                "url": "/v1/chat/completions"}]
    data = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in bad).encode()
    done = wait(api, submit(api, data).id)[-1]
    assert done.status == "failed" and done.failed_at is not None
    assert [(e.code, e.line, e.param) for e in done.errors.data] == [
        ("invalid_json_line", 2, None), ("duplicate_custom_id", 3, "custom_id"), ("invalid_method", 4, "method"),
        ("mismatched_endpoint", 5, "url"), ("missing_required_parameter", 6, "body")]
    assert done.request_counts.total == 0 and done.output_file_id is None and done.error_file_id is None
    # a file over the line limit, and a valid file whose batch is planned to fail
    stub.state.batch.max_lines = 3
    assert [e.code for e in wait(api, submit(api, jsonl(4)).id)[-1].errors.data] == ["too_many_requests"]
    stub.state.batch.max_lines, stub.state.batch.plans = 50_000, ["ok", "ok", "invalid"]
    assert [e.code for e in wait(api, submit(api, jsonl(2)).id)[-1].errors.data] == ["invalid_batch"]
    assert stub.state.batch.answered == [] and stub.requests == []


def test_requests_the_api_refuses_get_its_errors(stub: Stub):
    api = client(stub.url)
    with pytest.raises(BadRequestError, match="purpose 'fine-tune'"):
        api.files.create(file=("x.jsonl", jsonl(1)), purpose="fine-tune")
    with pytest.raises(NotFoundError):
        api.batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h")
    uploaded = api.files.create(file=("x.jsonl", jsonl(1)), purpose="batch")
    with pytest.raises(BadRequestError, match="only /v1/chat/completions"):
        api.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")
    with pytest.raises(NotFoundError):
        api.batches.retrieve("batch_missing")
    assert stub.state.batch.batches == {}


def test_results_come_in_a_seeded_shuffled_order(stub: Stub):
    def order(url: str) -> list[str]:
        api = client(url)
        done = wait(api, submit(api, jsonl(20)).id)[-1]
        return [line["custom_id"] for line in lines(api, done.output_file_id)]

    stub.state.batch.seconds = 0
    first = order(stub.url)
    assert sorted(first) == sorted(f"item-{i}" for i in range(20)) and first != sorted(first, key=lambda c: int(c[5:]))
    again, reseeded = Stub(), Stub()
    try:
        again.state.batch.seconds = reseeded.state.batch.seconds = 0
        reseeded.state.batch.seed = 1
        assert order(again.url) == first and order(reseeded.url) != first
    finally:
        again.close()
        reseeded.close()


CLIENT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[2])
    from test_batch_stub import client, jsonl, submit
    api = client(sys.argv[1])
    batch = submit(api, jsonl(10))
    print(batch.id, flush=True)
    while True:
        print(api.batches.retrieve(batch.id).status, flush=True)
        time.sleep(0.05)
""")


def test_a_server_process_keeps_its_batches_when_the_client_is_killed():
    server = subprocess.Popen([sys.executable, "-m", "ldct_bench.testing.stub_server", "--port", "0", "--batch-seconds",
                               "2.5", "--batch-plans", "expire", "--batch-expire-after", "0.6"],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip().rsplit(" ", 1)[-1]
        user = subprocess.Popen([sys.executable, "-c", CLIENT, url, str(Path(__file__).parent)],
                                stdout=subprocess.PIPE, text=True)
        batch_id = user.stdout.readline().strip()
        assert user.stdout.readline().strip() == "in_progress"
        user.send_signal(signal.SIGKILL)
        user.wait(timeout=10)
        api = client(url)
        assert api.batches.retrieve(batch_id).status == "in_progress"  # it went on without the client
        done = wait(api, batch_id)[-1]
        assert done.status == "expired" and done.request_counts.model_dump() == {"total": 10, "completed": 6,
                                                                                 "failed": 4}
        ids = [line["custom_id"] for line in lines(api, done.output_file_id) + lines(api, done.error_file_id)]
        assert sorted(ids) == sorted(f"item-{i}" for i in range(10))
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_server_refuses_an_unknown_batch_plan():
    result = subprocess.run([sys.executable, "-m", "ldct_bench.testing.stub_server", "--batch-plans", "expire,late"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "'late' is not one of ok, expire, invalid" in result.stderr
