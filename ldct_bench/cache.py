"""Response cache: SQLite in WAL mode, shared by all runs and concurrent jobs; only good answers go in."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from .errors import UserError


def cache_key(identity: dict[str, Any], messages: list[dict[str, Any]]) -> str:
    """Model id + endpoint + generation settings + the full messages (image bytes included)."""
    blob = json.dumps({"identity": identity, "messages": messages}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _setup(db: sqlite3.Connection, attempts: int = 50) -> None:
    """WAL mode and the table. Switching to WAL can answer "locked" at once (no busy wait) while another
    process is creating the same file, so the setup is retried briefly."""
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, created REAL,"
                       " text TEXT NOT NULL, usage TEXT)")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + 0.05 * attempt)


class ResponseCache:
    def __init__(self, directory: Path):
        directory = Path(directory).expanduser()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(directory / "responses.sqlite", timeout=60, isolation_level=None)
            _setup(self._db)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cache dir {directory} is not usable ({exc}); set cache.dir to a writable folder "
                            "or cache.mode=off") from None

    def get(self, key: str) -> tuple[str, dict[str, int]] | None:
        row = self._db.execute("SELECT text, usage FROM responses WHERE key = ?", (key,)).fetchone()
        return (row[0], json.loads(row[1] or "{}")) if row else None

    def put(self, key: str, model: str, text: str, usage: dict[str, int]) -> None:
        self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                         (key, model, time.time(), text, json.dumps(usage)))

    def close(self) -> None:
        self._db.close()
