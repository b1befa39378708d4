"""Any OpenAI-compatible chat endpoint through the official async client, with our own retries.

The client's own retries are off: this backend retries 429 / 5xx / timeouts / dropped connections /
malformed bodies with exponential backoff and full jitter, honouring Retry-After, and records the
number of attempts. A rejected key, an unknown model, or an endpoint that never accepted a
connection stops the run at once (one line); any other failure is recorded on its item. No message it produces
can contain the key.

Requests go through the client's documented generic `post` with the body as ready-made JSON bytes
(`prepare`, run in a request-building thread: a 35-image body is megabytes of JSON) and the answer
read as a plain dict: the event loop, which all senders share, does only the HTTP exchange. Skipping
the per-call transform of `chat.completions.create` and the response models keeps the client's CPU
per request low enough for its senders to keep up (benchmarks/throughput.py).

`model.via=openrouter` sends the card's model through OpenRouter (the paper's route): base URL
OPENROUTER_URL, model `openrouter_id` (falling back to `model_id`), key from OPENROUTER_API_KEY.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import openai
from omegaconf import OmegaConf

from ldct_bench.backends.base import BackendError, Completion, Request, Usage
from ldct_bench.backends.limits import EndpointLimits, Endpoints
from ldct_bench.cards.checks import check_model_card
from ldct_bench.cards.cost import prompt_tokens
from ldct_bench.cards.lifecycle import model_not_found, says_model_not_found
from ldct_bench.config.schema import ModelCard
from ldct_bench.data.task import Task
from ldct_bench.errors import UserError
from ldct_bench.reading.answer import ANSWER_SCHEMA
from ldct_bench.secrets import header_secrets, redact, url_secrets

OPENROUTER_URL = "https://openrouter.ai/api/v1"
OPENROUTER_KEY_ENV = "OPENROUTER_API_KEY"
_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}
_FATAL_STATUS = {401: "rejected the API key", 403: "refused access with this API key",
                 404: "does not know this model or path"}
TOP_LOGPROBS = 20  # alternatives per token for expected-level scoring (OpenAI's maximum; vLLM's default cap)
MAX_BACKOFF_S = 60.0
BATCH_URL = b"/v1/chat/completions"  # what each line of a batch asks for (the chat endpoint)
HEADERS_FIELD = "extra_headers"  # in a card's extra_body: HTTP headers, never body fields (nor cache-key parts)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model_id: str
    key_env: str | None


class CutOff(BackendError):
    """The model spent its token budget without answering; its tokens were still billed."""

    def __init__(self, message: str, usage: Usage):
        super().__init__(message)
        self.usage = usage


def resolve_endpoint(card: ModelCard) -> Endpoint:
    """Where to send the card's requests, after the `via=openrouter` switch."""
    if card.via == "openrouter":
        return Endpoint(OPENROUTER_URL, card.openrouter_id or card.model_id, OPENROUTER_KEY_ENV)
    return Endpoint(card.base_url or "", card.model_id, card.api_key_env)


def read_key(card: ModelCard, key_env: str | None) -> str:
    """The API key from the variable the card names; fails before any work when unset."""
    if not key_env:
        return "EMPTY"  # local servers (vLLM, the stub) accept any key
    key = os.environ.get(key_env, "").strip()
    if not key:
        raise UserError(f"model {card.name} needs an API key: environment variable {key_env} is not set; "
                        f"export {key_env}=... (or set model.api_key_env to the variable that holds it)")
    return key


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked us to wait (Retry-After-Ms, Retry-After as seconds or HTTP date)."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            pass
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            continue
    return None


def backoff_s(attempt: int) -> float:
    """Exponential backoff with jitter: about 0.5, 1, 2, 4 ... s (x0.5-1.5), at most a minute."""
    return min(MAX_BACKOFF_S, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())


def generation_settings(card: ModelCard, logprobs: bool = False) -> dict[str, Any]:
    """The request fields besides model and messages: the card's generation settings, the answer
    schema where the endpoint honours it, token log-probabilities when scoring by expected level,
    and provider-specific `extra_body` fields as they are (but `extra_headers`, which are HTTP headers)."""
    settings: dict[str, Any] = {name: getattr(card, name) for name in
                                ("temperature", "max_tokens", "max_completion_tokens", "reasoning_effort")
                                if getattr(card, name) is not None}
    if logprobs:
        settings.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
    if card.structured_output:
        settings["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "ldct_quality", "schema": ANSWER_SCHEMA, "strict": True}}
    return {**settings, **{k: v for k, v in dict(card.extra_body or {}).items() if k != HEADERS_FIELD}}


def request_options(card: ModelCard) -> openai.RequestOptions:
    """Per-request client options: the JSON content type (the body goes ready-made, `Request.body`) and the
    card's `extra_body.extra_headers` as HTTP headers, as the openai SDK's own `extra_headers` sends them."""
    extra = dict(card.extra_body or {}).get(HEADERS_FIELD) or {}
    return {"headers": {"Content-Type": "application/json", **{str(k): str(v) for k, v in dict(extra).items()}}}


def _fold_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put system text at the start of the first user turn, for endpoints without a system role."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system" and isinstance(m["content"], str))
    rest = [m for m in messages if m["role"] != "system"]
    if not system:
        return rest
    for index, message in enumerate(rest):
        if message["role"] == "user":
            content = message["content"]
            parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
            rest[index] = {**message, "content": [{"type": "text", "text": system}, *parts]}
            break
    return rest


def split_query(url: str) -> tuple[str, dict[str, str]]:
    """A base URL without its query string, and the query's parameters (sent with every request instead, so
    that `https://host/v1?api-version=X` reaches `/v1/chat/completions?api-version=X`)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="")), dict(parse_qsl(parts.query, keep_blank_values=True))


def message_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts (some endpoints answer so)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text") or "" for part in content if isinstance(part, dict))
    return ""


def token_logprobs(choice: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The choice's per-token log-probabilities (token, logprob, top_logprobs), None when the endpoint sent none."""
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content:
        return None
    return [{"token": str(t.get("token", "")), "logprob": float(t.get("logprob", 0.0)),
             "top_logprobs": [{"token": str(a.get("token", "")), "logprob": float(a.get("logprob", 0.0))}
                              for a in (t.get("top_logprobs") or []) if isinstance(a, dict)]}
            for t in content if isinstance(t, dict)]


class OpenAICompatible:
    remote = True

    def __init__(self, card: ModelCard, logprobs: bool = False, endpoints: Endpoints | None = None):
        check_model_card(card, f"model {card.name}")
        endpoint = resolve_endpoint(card)
        if not endpoint.base_url:
            raise UserError(f"model {card.name} has no base_url; set model.base_url=URL "
                            "(or model.via=openrouter)")
        if not endpoint.model_id:
            raise UserError(f"model {card.name} has no model_id; set model.model_id=NAME")
        self._bind(card, endpoint.base_url, endpoint.model_id, read_key(card, endpoint.key_env),
                   endpoint.key_env, endpoint.base_url, logprobs, endpoints)

    def _bind(self, card: ModelCard, base_url: str, model_id: str, key: str, key_env: str | None,
              endpoint_id: str, logprobs: bool = False, endpoints: Endpoints | None = None) -> None:
        """Set what every request needs; `endpoint_id` is the endpoint as the response cache names it, and
        `endpoints` the limits shared with other runs in this process (a sweep)."""
        # plain fields: read per request
        card = cast(ModelCard, OmegaConf.to_object(card)) if OmegaConf.is_config(card) else card
        self.card, self.base_url, self.model_id = card, base_url, model_id
        self._settings = generation_settings(card, logprobs)
        self._options = request_options(card)
        self._key, self._key_env, self.endpoint_id = key, key_env, endpoint_id
        self._client: openai.AsyncOpenAI | None = None
        self._endpoints = endpoints or Endpoints()
        self._limits: EndpointLimits | None = self._shared_limits() if base_url else None  # a launched server's: later
        self._reached = False  # until the endpoint answers once, a refused connection means a wrong address

    def _shared_limits(self) -> EndpointLimits:
        """This endpoint's budget, shared with every run of this process that reaches it with the same key."""
        card = self.card
        return self._endpoints.limits(self.base_url, self._key, self.model_id, card.concurrency, card.rate_limit_rpm,
                                      card.rate_limit_tpm, card.name)

    async def start(self, task: Task) -> None:
        if self._limits is None:
            self._limits = self._shared_limits()
        base_url, query = split_query(self.base_url)
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=self._key, default_query=query or None,
                                          timeout=self.card.timeout_s, max_retries=0)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def identity(self) -> dict[str, Any]:
        """Endpoint, model and every generation setting sent (the messages are keyed by the cache itself)."""
        return {"endpoint": self.endpoint_id, "model_id": self.model_id, "image_detail": self.card.image_detail,
                "system_role": self.card.system_role, **self._settings}

    def _wire_messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Messages as this endpoint takes them: the card's image detail on image parts, and the system
        text moved into the first user turn where system messages are refused."""
        detail = self.card.image_detail
        wired = []
        for message in messages:
            content = message["content"]
            if detail and isinstance(content, list):
                content = [{**part, "image_url": {**part["image_url"], "detail": detail}}
                           if part.get("type") == "image_url" else part for part in content]
            wired.append({**message, "content": content})
        if not self.card.system_role:
            wired = _fold_system(wired)
        return wired

    def _arguments(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"model": self.model_id, "messages": self._wire_messages(messages), **self._settings}

    async def _paced(self, limits: EndpointLimits, messages: list[dict[str, Any]]) -> None:
        """Space request starts by the endpoint's requests and input tokens per minute (backends/pacing.py)."""
        await limits.pacer.wait(self._input_tokens(messages) if limits.pacer.counts_tokens else 0)

    def _input_tokens(self, messages: list[dict[str, Any]]) -> int:
        """The request's input tokens by the card's rule; an image that cannot be read counts as none."""
        try:
            return prompt_tokens(messages, self.card)[0]
        except (OSError, ValueError):  # not an image we can size (a URL, a broken payload): the endpoint decides
            return 0

    def _secrets(self) -> list[str]:
        """What an error message must never show: the key, the URL's credentials, the header values."""
        return [self._key, *url_secrets(self.base_url), *header_secrets(self.card.extra_body)]

    def clean(self, exc: BaseException) -> str:
        """First line of an error with every credential (and its echo) masked, then cut short."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return redact(text, self._secrets())[:200]

    def _fatal(self, exc: openai.APIStatusError) -> UserError:
        if says_model_not_found(exc.status_code, self.clean(exc)):
            return UserError(redact(str(model_not_found(self.card, self.base_url, self.model_id, exc.status_code,
                                                        self.clean(exc))), self._secrets()))
        what = _FATAL_STATUS[exc.status_code]
        hint = (f"check the key in {self._key_env}" if exc.status_code in (401, 403) and self._key_env
                else "check model.model_id and model.base_url")
        return UserError(redact(f"model {self.card.name}: {self.base_url} {what} (HTTP {exc.status_code}: "
                                f"{self.clean(exc)}); {hint}", self._secrets()))

    def prepare(self, request: Request) -> Request:
        """The request with its wire body (JSON bytes) made; runs in a request-building thread, off the event loop,
        since a 35-image body is megabytes of JSON."""
        request.body = json.dumps(self._arguments(request.messages), ensure_ascii=False).encode("utf-8")
        return request

    async def complete(self, request: Request) -> Completion:
        client, limits = self._client, self._limits
        if client is None or limits is None:
            raise BackendError("backend used before start()")
        body = request.body if request.body is not None else self.prepare(request).body
        started = time.monotonic()
        attempts = self.card.max_retries + 1
        for attempt in range(1, attempts + 1):
            delay: float | None = None
            try:
                async with limits.gate.slot():
                    await self._paced(limits, request.messages)
                    # The client's timeout bounds each read; a trickling body needs a deadline for the whole call.
                    response = await asyncio.wait_for(client.post("/chat/completions", cast_to=dict, content=body,
                                                                  options=self._options), self.card.timeout_s)
                self._reached = True
                completion = self.read_completion(response, time.monotonic() - started, attempt)
                limits.gate.answered()
                return completion
            except (TimeoutError, openai.APITimeoutError):
                reason = f"timed out after {self.card.timeout_s:g} s"
            except openai.APIConnectionError as exc:
                reason = f"connection failed ({self.clean(exc.__cause__ or exc)})"
                if not self._reached and type(exc.__cause__).__name__ == "ConnectError" and attempt >= min(2, attempts):
                    raise UserError(redact(f"model {self.card.name}: cannot reach {self.base_url} ({reason}); "
                                           "check model.base_url and that the server is up", self._secrets())) from None
            except openai.APIStatusError as exc:
                self._reached = True
                if exc.status_code in _FATAL_STATUS or says_model_not_found(exc.status_code, self.clean(exc)):
                    raise self._fatal(exc) from None
                if exc.status_code not in _TRANSIENT_STATUS:
                    raise BackendError(f"HTTP {exc.status_code}: {self.clean(exc)}") from None
                reason, delay = f"HTTP {exc.status_code}", retry_after_s(exc.response.headers)
                if exc.status_code == 429:
                    limits.gate.throttled(delay)
                if delay is not None and delay > self.card.max_retry_after_s:
                    raise BackendError(f"{reason}: server asks to wait {delay:.0f} s, more than "
                                       f"model.max_retry_after_s={self.card.max_retry_after_s:g} (a quota?); "
                                       "rerun later, finished items are kept") from None
            except (openai.APIResponseValidationError, ValueError, TypeError, AttributeError) as exc:
                reason = f"malformed response ({self.clean(exc)})"
            if attempt == attempts:
                raise BackendError(f"{reason}; gave up after {attempt} attempts")
            await asyncio.sleep(delay if delay is not None else backoff_s(attempt))
        raise AssertionError("unreachable")

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The endpoint's client, for what is not a chat request (the batch API's files and batches)."""
        if self._client is None:
            raise BackendError("backend used before start()")
        return self._client

    def batch_line(self, request: Request, custom_id: str) -> bytes:
        """The request as one line of an OpenAI-style batch input file: the very body a chat request sends."""
        body = request.body if request.body is not None else self.prepare(request).body
        assert body is not None
        return (b'{"custom_id": ' + json.dumps(custom_id).encode() + b', "method": "POST", "url": "' + BATCH_URL
                + b'", "body": ' + body + b"}\n")

    def read_completion(self, data: Any, latency: float = 0.0, attempts: int = 1) -> Completion:
        """Text and usage from a chat response's JSON; a body without choices is malformed (retried)."""
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ValueError("no choices in response")
        choice = choices[0]
        message = found if isinstance(found := choice.get("message"), dict) else {}
        text = message_text(message.get("content")) or message_text(message.get("refusal"))
        usage = found if isinstance(found := data.get("usage"), dict) else {}
        details = found if isinstance(found := usage.get("prompt_tokens_details"), dict) else {}
        used = Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                     int(details.get("cached_tokens") or 0))
        if not text.strip() and choice.get("finish_reason") == "length":
            raise CutOff("no answer within the token limit (finish_reason=length); raise model.max_tokens "
                         "or model.max_completion_tokens", used)
        return Completion(text=text, usage=used, latency_s=latency, attempts=attempts,
                          logprobs=token_logprobs(choice) if self._settings.get("logprobs") else None)
