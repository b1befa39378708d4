"""The vendor's batch API through the official openai client: upload an input file, create a batch, look at
it, read its result files. Failures that concern the whole run are one line naming the endpoint; a network
blip while waiting is waited out (a batch may take a day)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Final

import openai

from ldct_bench.backends.openai_compat import OpenAICompatible
from ldct_bench.errors import UserError

WINDOW: Final = "24h"  # the only completion window the vendors offer
TERMINAL = ("completed", "failed", "expired", "cancelled")
LOOK_TRIES = 8  # network blips tolerated in a row while looking at a batch


class BatchVendor:
    """One endpoint's batch API, as the run's backend reaches it (same base URL, key and query)."""

    def __init__(self, backend: OpenAICompatible):
        self.backend = backend

    def _refused(self, exc: openai.APIStatusError, doing: str) -> UserError:
        where = self.backend.base_url
        hint = ("it may not offer OpenAI-style batches: drop batch=true" if exc.status_code in (404, 405)
                else "check the key and the card's batch field")
        return UserError(f"model {self.backend.card.name}: {where} refused to {doing} (HTTP {exc.status_code}: "
                         f"{self.backend.clean(exc)}); {hint}")

    async def submit(self, path: Path, metadata: dict[str, str]) -> tuple[str, Any]:
        """Upload an input file and create its batch: (input file id, the batch)."""
        client = self.backend.client
        try:
            with open(path, "rb") as handle:
                uploaded = await client.files.create(file=(path.name, handle), purpose="batch")
            batch = await client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                                completion_window=WINDOW, metadata=metadata)
        except openai.APIStatusError as exc:
            raise self._refused(exc, "take a batch") from None
        except openai.APIConnectionError as exc:
            raise UserError(f"model {self.backend.card.name}: cannot reach {self.backend.base_url} to send a batch "
                            f"({self.backend.clean(exc)}); nothing was sent, run the same command again") from None
        return uploaded.id, batch

    async def look(self, batch_id: str) -> Any:
        """The batch as the vendor reports it now; network trouble is waited out a few times."""
        for attempt in range(1, LOOK_TRIES + 1):
            try:
                return await self.backend.client.batches.retrieve(batch_id)
            except openai.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code != 429:
                    raise self._refused(exc, f"show batch {batch_id}") from None
            except openai.APIConnectionError:
                pass
            await asyncio.sleep(min(60.0, 2.0 ** attempt))
        raise UserError(f"model {self.backend.card.name}: {self.backend.base_url} did not answer about batch "
                        f"{batch_id}; it keeps running there: run the same command again later to collect it")

    async def lines(self, file_id: str | None) -> list[dict[str, Any]]:
        """The JSON lines of a result file (none for a file the batch did not make)."""
        if not file_id:
            return []
        try:
            content = await self.backend.client.files.content(file_id)
        except openai.APIStatusError as exc:
            raise self._refused(exc, f"hand over file {file_id}") from None
        return [json.loads(line) for line in content.text.splitlines() if line.strip()]
