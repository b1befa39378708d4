"""OpenAI's Batch API (files and batches) inside the local stub server, so batch runs are tested offline, end to end.

A batch line is answered by the function that answers /v1/chat/completions (the server passes it in), so a batch
run and a chat run of the same requests give the same predictions. A batch's progress is a function of the time
since its creation, worked out whenever a client looks: nothing runs in the background, and a client may die and
come back later to a batch that went on without it. Per-batch plans (expire part way, fail validation) and a cycle
of per-line faults make the failure paths reproducible; results are written in a seeded shuffled order, since the
real API promises no order.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import urlsplit

ENDPOINT = "/v1/chat/completions"  # the only endpoint the stub answers
LINE_FAULTS = ("ok", "markdown", "unparseable", "refusal", "cutoff", "400", "500")
PLANS = ("ok", "expire", "invalid")
MAX_PROBLEMS = 10  # validation errors listed on a failed batch
FINISHED = ("completed", "failed", "expired", "cancelled")
TIMESTAMPS = ("in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at", "cancelling_at",
              "cancelled_at")

# (request body, fault, running index) -> (status, response body): the chat endpoint's answer
Answer = Callable[[dict[str, Any], str, int], tuple[int, dict[str, Any]]]
Reply = tuple[int, bytes, str]  # status, payload, content type


class ApiError(Exception):
    """A request the API refuses, answered in OpenAI's error shape."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.param = status, param

    def reply(self) -> Reply:
        error = {"message": str(self), "type": "invalid_request_error", "param": self.param, "code": None}
        return _json({"error": error}, self.status)


@dataclass
class StubFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def resource(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed", "expires_at": None,
                "status_details": None}


@dataclass
class StubBatch:
    """One batch as created (settings copied at creation, so later changes to the stub do not touch it)."""

    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None
    plan: str
    created: float
    seconds: float  # creation to completion
    end: float  # the fraction of lines answered when it stops: 1, or the expiry point of an "expire" plan
    faults: list[str]
    requests: list[dict[str, Any]]  # the input lines; none when validation failed
    problems: list[dict[str, Any]]
    order: list[int]  # the seeded order in which lines are answered and written
    results: dict[int, dict[str, Any]] = field(default_factory=dict)  # input line index -> result line
    status: str = "validating"
    times: dict[str, int] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    polls: int = 0  # retrievals, so a test can check a client's polling pace

    def resource(self) -> dict[str, Any]:
        codes = [line["response"]["status_code"] for line in self.results.values()]
        expired = len(self.requests) - len(self.results) if self.status == "expired" else 0
        usage = [line["response"]["body"]["usage"] for line in self.results.values()
                 if line["response"]["status_code"] == 200]
        input_tokens = sum(item["prompt_tokens"] for item in usage)
        output_tokens = sum(item["completion_tokens"] for item in usage)
        expires = self.created + (self.end * self.seconds if self.plan == "expire" else 86400)
        return {
            "id": self.id, "object": "batch", "endpoint": self.endpoint, "input_file_id": self.input_file_id,
            "completion_window": self.completion_window, "status": self.status, "created_at": int(self.created),
            "expires_at": int(expires), **{name: self.times.get(name) for name in TIMESTAMPS},
            "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
            "errors": {"object": "list", "data": self.problems} if self.problems else None,
            "metadata": self.metadata, "model": self.requests[0]["body"].get("model") if self.requests else None,
            "request_counts": {"total": len(self.requests), "completed": codes.count(200),
                               "failed": len(codes) - codes.count(200) + expired},
            "usage": {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": input_tokens + output_tokens},
        }


@dataclass
class BatchStub:
    """The Batch API's settings and everything it saw; tests change the settings before creating a batch."""

    seconds: float = 1.0  # creation to completion; lines are answered evenly over that time
    plans: list[str] = field(default_factory=list)  # per created batch, in order (PLANS); past the end "ok"
    expire_after: float = 0.5  # an "expire" batch expires once this fraction of its lines is answered
    faults: list[str] = field(default_factory=list)  # cycled over each batch's input lines (LINE_FAULTS)
    seed: int = 0  # the order lines are answered and written in
    max_lines: int = 50_000
    max_bytes: int = 200 * 2**20
    files: dict[str, StubFile] = field(default_factory=dict)  # uploads and the batches' result files
    batches: dict[str, StubBatch] = field(default_factory=dict)
    answered: list[dict[str, Any]] = field(default_factory=list)  # per line answered: batch_id, custom_id, status
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, path: str, content_type: str, raw: bytes, answer: Answer) -> Reply | None:
        """The reply to a Batch API request, or None when the path is not the Batch API's."""
        parts = urlsplit(path).path.strip("/").split("/")
        if parts[:2] not in (["v1", "files"], ["v1", "batches"]):
            return None
        with self.lock:
            try:
                return self._route(method, parts[1:], content_type, raw, answer)
            except ApiError as error:
                return error.reply()

    def _route(self, method: str, parts: list[str], content_type: str, raw: bytes, answer: Answer) -> Reply:
        match method, parts:
            case "POST", ["files"]:
                return _json(self._upload(content_type, raw).resource())
            case "GET", ["files", file_id]:
                return _json(self._file(file_id).resource())
            case "GET", ["files", file_id, "content"]:
                return 200, self._file(file_id).data, "application/octet-stream"
            case "POST", ["batches"]:
                return _json(self._create(raw).resource())
            case "GET", ["batches"]:
                listed = [self._batch(batch_id, answer).resource() for batch_id in reversed(self.batches)]
                return _json({"object": "list", "data": listed, "has_more": False,
                              "first_id": listed[0]["id"] if listed else None,
                              "last_id": listed[-1]["id"] if listed else None})
            case "GET", ["batches", batch_id]:
                batch = self._batch(batch_id, answer)
                batch.polls += 1
                return _json(batch.resource())
            case "POST", ["batches", batch_id, "cancel"]:
                return _json(self._cancel(self._batch(batch_id, answer)).resource())
        raise ApiError(404, f"no route for {method} /v1/{'/'.join(parts)}")

    def _upload(self, content_type: str, raw: bytes) -> StubFile:
        if not content_type.startswith("multipart/form-data"):
            raise ApiError(400, "a file upload must be multipart/form-data")
        form = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        parts = {part.get_param("name", header="content-disposition"): part for part in form.iter_parts()}
        purpose = _form_data(parts["purpose"], "purpose").decode() if "purpose" in parts else ""
        if purpose not in ("batch", "batch_output"):
            raise ApiError(400, f"purpose {purpose!r} is not served here: upload batch input with purpose 'batch'",
                           "purpose")
        if "file" not in parts:
            raise ApiError(400, "the upload has no 'file' part", "file")
        return self._store(parts["file"].get_filename() or "upload.jsonl", purpose, _form_data(parts["file"], "file"))

    def _store(self, filename: str, purpose: str, data: bytes) -> StubFile:
        stored = StubFile(f"file-stub{len(self.files) + 1:04d}", filename, purpose, data, int(time.time()))
        self.files[stored.id] = stored
        return stored

    def _file(self, file_id: str) -> StubFile:
        if file_id not in self.files:
            raise ApiError(404, f"no such file: {file_id}", "file_id")
        return self.files[file_id]

    def _create(self, raw: bytes) -> StubBatch:
        try:
            params = json.loads(raw)
        except ValueError:
            raise ApiError(400, "the request body is not JSON") from None
        source = self._file(params.get("input_file_id", ""))
        if source.purpose != "batch":
            raise ApiError(400, f"file {source.id} has purpose {source.purpose!r}, not 'batch'", "input_file_id")
        if params.get("endpoint") != ENDPOINT:
            raise ApiError(400, f"the stub answers only {ENDPOINT} batches", "endpoint")
        if params.get("completion_window") != "24h":
            raise ApiError(400, "completion_window must be '24h'", "completion_window")
        unknown = sorted((set(self.plans) - set(PLANS)) | (set(self.faults) - set(LINE_FAULTS)))
        if unknown:
            raise ApiError(500, f"stub misconfigured: unknown batch plans or line faults {unknown}")
        ordinal = len(self.batches)
        plan = self.plans[ordinal] if ordinal < len(self.plans) else "ok"
        requests, problems = validate(source.data, ENDPOINT, self.max_lines, self.max_bytes)
        if plan == "invalid":
            problems = [_problem("invalid_batch", "this batch fails validation by the stub's plan"), *problems]
        order = list(range(len(requests)))
        random.Random(f"{self.seed}/{ordinal}").shuffle(order)
        batch = StubBatch(f"batch_stub{ordinal + 1:04d}", source.id, ENDPOINT, "24h", params.get("metadata"), plan,
                          time.time(), self.seconds, self.expire_after if plan == "expire" else 1.0, list(self.faults),
                          [] if problems else requests, problems[:MAX_PROBLEMS], [] if problems else order)
        self.batches[batch.id] = batch
        return batch

    def _batch(self, batch_id: str, answer: Answer) -> StubBatch:
        """The batch, brought up to now."""
        if batch_id not in self.batches:
            raise ApiError(404, f"no such batch: {batch_id}", "batch_id")
        batch = self.batches[batch_id]
        self._advance(batch, time.time(), answer)
        return batch

    def _advance(self, batch: StubBatch, now: float, answer: Answer) -> None:
        """Answer the lines due by `now` and finish the batch once its time (or its expiry) has come."""
        if batch.status in FINISHED:
            return
        if batch.problems:
            self._finish(batch, "failed", batch.created)
            return
        if batch.status == "cancelling":  # what was due when it was cancelled was answered then
            self._finish(batch, "cancelled", now)
            return
        batch.status = "in_progress"
        batch.times["in_progress_at"] = int(batch.created)
        total, elapsed = len(batch.requests), now - batch.created
        over = batch.seconds <= 0 or elapsed >= batch.end * batch.seconds
        due = int(total * batch.end) if over else min(int(total * elapsed / batch.seconds), int(total * batch.end))
        for index in batch.order[len(batch.results):due]:
            request = batch.requests[index]
            fault = batch.faults[index % len(batch.faults)] if batch.faults else "ok"
            status, body = answer(request["body"], fault, len(self.answered))
            batch.results[index] = {"id": _line_id(batch, index), "custom_id": request["custom_id"], "error": None,
                                    "response": {"status_code": status, "request_id": f"req_{batch.id}_{index}",
                                                 "body": body}}
            self.answered.append({"batch_id": batch.id, "custom_id": request["custom_id"], "status_code": status})
        if over:
            self._finish(batch, "expired" if batch.plan == "expire" else "completed",
                         batch.created + batch.end * batch.seconds)

    def _finish(self, batch: StubBatch, status: str, at: float) -> None:
        """Close a batch: what was answered goes to the output file (200) or the error file (others); an expired
        batch's unanswered lines go to the error file as batch_expired. A file with no lines is not made."""
        batch.status = status
        batch.times[f"{status}_at"] = int(at)
        if status == "completed":
            batch.times["finalizing_at"] = int(at)
        lines = [batch.results[index] for index in batch.order if index in batch.results]
        answers = [line for line in lines if line["response"]["status_code"] == 200]
        errors = [line for line in lines if line["response"]["status_code"] != 200]
        if status == "expired":
            errors += [{"id": _line_id(batch, index), "custom_id": batch.requests[index]["custom_id"],
                        "response": None, "error": {"code": "batch_expired", "message": "This request could not be "
                                                    "executed before the completion window expired."}}
                       for index in batch.order if index not in batch.results]
        batch.output_file_id = self._results(batch, "output", answers)
        batch.error_file_id = self._results(batch, "error", errors)

    def _results(self, batch: StubBatch, kind: str, lines: list[dict[str, Any]]) -> str | None:
        if not lines:
            return None
        data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        return self._store(f"{batch.id}_{kind}.jsonl", "batch_output", data).id

    def _cancel(self, batch: StubBatch) -> StubBatch:
        if batch.status in FINISHED:
            raise ApiError(400, f"batch {batch.id} is {batch.status} and cannot be cancelled")
        batch.status = "cancelling"
        batch.times["cancelling_at"] = int(time.time())
        return batch


def validate(data: bytes, endpoint: str, max_lines: int, max_bytes: int
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A batch input file's requests and the problems that fail it, with line numbers counted from 1 (blank lines
    are skipped but counted)."""
    if len(data) > max_bytes:
        return [], [_problem("file_too_large", f"the input file has {len(data)} bytes, over the limit of {max_bytes}")]
    numbered = [(number, line) for number, line in enumerate(data.split(b"\n"), 1) if line.strip()]
    if not numbered:
        return [], [_problem("empty_file", "the input file has no requests")]
    if len(numbered) > max_lines:
        return [], [_problem("too_many_requests", f"the input file has {len(numbered)} requests, over the limit "
                                                  f"of {max_lines}")]
    requests: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in numbered:
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            problems.append(_problem("invalid_json_line", "this line is not a JSON object", number))
            continue
        custom_id = request.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            problems.append(_problem("missing_required_parameter", "custom_id must be a non-empty string", number,
                                     "custom_id"))
        elif custom_id in seen:
            problems.append(_problem("duplicate_custom_id", f"custom_id {custom_id!r} is already used on an earlier "
                                     "line", number, "custom_id"))
        else:
            seen.add(custom_id)
        if request.get("method") != "POST":
            problems.append(_problem("invalid_method", "method must be POST", number, "method"))
        if request.get("url") != endpoint:
            problems.append(_problem("mismatched_endpoint", f"url {request.get('url')!r} is not the batch's endpoint "
                                     f"{endpoint}", number, "url"))
        if not isinstance(request.get("body"), dict):
            problems.append(_problem("missing_required_parameter", "body must be a JSON object", number, "body"))
        requests.append(request)
    return requests, problems


def _problem(code: str, message: str, line: int | None = None, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "line": line, "param": param}


def _form_data(part: Message, name: str) -> bytes:
    """A form part's bytes (a part that is itself multipart holds none)."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        raise ApiError(400, f"the upload's '{name}' part holds no data", name)
    return data


def _line_id(batch: StubBatch, index: int) -> str:
    return f"batch_req_{batch.id.removeprefix('batch_')}_{index}"


def _json(payload: dict[str, Any], status: int = 200) -> Reply:
    return status, json.dumps(payload).encode(), "application/json"
