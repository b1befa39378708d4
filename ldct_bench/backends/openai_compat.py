"""Any OpenAI-compatible chat endpoint through the official async client, with our own retries."""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

import openai

from ..answer import ANSWER_SCHEMA
from ..config import ModelCard
from ..data.task import Task
from ..errors import UserError
from .base import BackendError, Completion, Request, Usage

OPENROUTER_URL = "https://openrouter.ai/api/v1"
OPENROUTER_KEY_ENV = "OPENROUTER_API_KEY"
_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}


def resolve_endpoint(card: ModelCard) -> tuple[str, str, str | None]:
    """(base_url, model id, key variable) after the `via=openrouter` switch."""
    if card.via == "openrouter":
        return OPENROUTER_URL, card.openrouter_id or card.model_id, OPENROUTER_KEY_ENV
    if card.via != "vendor":
        raise UserError(f"model {card.name}: via must be 'vendor' or 'openrouter', not '{card.via}'")
    return card.base_url or "", card.model_id, card.api_key_env


def read_key(card: ModelCard, key_env: str | None) -> str:
    """The API key from the variable the card names; fails before any work when unset."""
    if not key_env:
        return "EMPTY"  # local servers (vLLM) accept any key
    key = os.environ.get(key_env, "")
    if not key:
        raise UserError(f"model {card.name} needs an API key: environment variable {key_env} is not set; "
                        f"export {key_env}=... (or set model.api_key_env to the variable that holds it)")
    return key


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class OpenAICompatible:
    cacheable = True

    def __init__(self, card: ModelCard):
        self.card = card
        self.base_url, self.model_id, key_env = resolve_endpoint(card)
        if not self.base_url:
            raise UserError(f"model {card.name} has no base_url; set model.base_url=URL")
        if not self.model_id:
            raise UserError(f"model {card.name} has no model_id; set model.model_id=NAME")
        self._key = read_key(card, key_env)
        self._client: openai.AsyncOpenAI | None = None
        self._pace = asyncio.Lock()
        self._next_start = 0.0

    async def start(self, task: Task) -> None:
        self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._key,
                                          timeout=self.card.timeout_s, max_retries=0)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    def identity(self) -> dict[str, Any]:
        card = self.card
        return {"model_id": self.model_id, "base_url": self.base_url, "temperature": card.temperature,
                "max_tokens": card.max_tokens, "max_completion_tokens": card.max_completion_tokens,
                "reasoning_effort": card.reasoning_effort, "image_detail": card.image_detail,
                "structured_output": card.structured_output, "extra_body": dict(card.extra_body or {})}

    def _wire_messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add the card's image detail to image parts (what providers read to pick resolution)."""
        if not self.card.image_detail:
            return messages
        wired = []
        for message in messages:
            content = message["content"]
            if isinstance(content, list):
                content = [{**part, "image_url": {**part["image_url"], "detail": self.card.image_detail}}
                           if part.get("type") == "image_url" else part for part in content]
            wired.append({**message, "content": content})
        return wired

    def _arguments(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        card = self.card
        args: dict[str, Any] = {"model": self.model_id, "messages": self._wire_messages(messages)}
        for name in ("temperature", "max_tokens", "max_completion_tokens", "reasoning_effort"):
            if getattr(card, name) is not None:
                args[name] = getattr(card, name)
        if card.structured_output:
            args["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "ldct_quality", "schema": ANSWER_SCHEMA, "strict": True}}
        if card.extra_body:
            args["extra_body"] = dict(card.extra_body)
        return args

    async def _paced(self) -> None:
        """Space request starts to respect the card's requests-per-minute limit."""
        if not self.card.rate_limit_rpm:
            return
        async with self._pace:
            now = time.monotonic()
            wait = self._next_start - now
            self._next_start = max(now, self._next_start) + 60.0 / self.card.rate_limit_rpm
        if wait > 0:
            await asyncio.sleep(wait)

    async def complete(self, request: Request) -> Completion:
        assert self._client is not None, "start() first"
        args = self._arguments(request.messages)
        started = time.monotonic()
        for attempt in range(1, self.card.max_retries + 2):
            await self._paced()
            try:
                response = await self._client.chat.completions.create(**args)
                return self._completion(response, time.monotonic() - started, attempt)
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                reason, delay = f"{exc.__class__.__name__}", None
            except openai.APIStatusError as exc:
                if exc.status_code not in _TRANSIENT_STATUS:
                    raise BackendError(f"HTTP {exc.status_code}: {_short(exc)}") from None
                reason, delay = f"HTTP {exc.status_code}", _retry_after(exc)
            except (openai.APIResponseValidationError, ValueError) as exc:
                reason, delay = f"malformed response: {_short(exc)}", None
            if attempt > self.card.max_retries:
                raise BackendError(f"{reason} after {attempt} attempts")
            backoff = min(60.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())
            await asyncio.sleep(delay if delay is not None else backoff)
        raise AssertionError("unreachable")

    def _completion(self, response: Any, latency: float, attempts: int) -> Completion:
        if not getattr(response, "choices", None):
            raise ValueError("no choices in response")
        message = response.choices[0].message
        text = message.content or getattr(message, "refusal", None) or ""
        usage = getattr(response, "usage", None)
        details = getattr(usage, "prompt_tokens_details", None)
        return Completion(
            text=text,
            usage=Usage(getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0,
                        getattr(details, "cached_tokens", 0) or 0),
            latency_s=latency, attempts=attempts)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__
