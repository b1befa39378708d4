"""Response cache: SQLite in WAL mode, shared by all runs and concurrent jobs; only good answers go in."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from ldct_bench.errors import UserError

KEY_VERSION = 2  # 2: images keyed by their SHA-256 and the sample number + seed added (version-1 entries no longer hit)
_IMAGE_DIGESTS: dict[str, str] = {}  # data URL -> its SHA-256, so each image is hashed once per run
_MAX_DIGESTS = 8192


def image_digest(url: str) -> str:
    """SHA-256 of an image's data URL, remembered: a string's own hash is cached, so a repeat lookup is cheap."""
    digest = _IMAGE_DIGESTS.get(url)
    if digest is None:
        if len(_IMAGE_DIGESTS) >= _MAX_DIGESTS:
            _IMAGE_DIGESTS.clear()
        digest = _IMAGE_DIGESTS[url] = hashlib.sha256(url.encode("ascii", "surrogateescape")).hexdigest()
    return digest


def _keyed_part(part: Any) -> Any:
    """A content part with its image replaced by the image's digest (megabytes of base64 are never re-serialised)."""
    if isinstance(part, dict) and part.get("type") == "image_url":
        image = dict(part["image_url"])
        image["url"] = "sha256:" + image_digest(image["url"])
        return {**part, "image_url": image}
    return part


def cache_key(identity: dict[str, Any], messages: list[dict[str, Any]], **sample: Any) -> str:
    """Model id + endpoint + generation settings + the messages (each image by its digest) + the sample
    (number and seed), so repeated samples and new seeds are new answers while an identical rerun is free."""
    keyed = [{**m, "content": [_keyed_part(p) for p in m["content"]]} if isinstance(m.get("content"), list) else m
             for m in messages]
    blob = json.dumps({"v": KEY_VERSION, "identity": identity, "messages": keyed, "sample": sample},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _setup(db: sqlite3.Connection, attempts: int = 50) -> None:
    """WAL mode and the table. Switching to WAL can answer "locked" at once (no busy wait) while another
    process is creating the same file, so the setup is retried briefly."""
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, created REAL,"
                       " text TEXT NOT NULL, usage TEXT, logprobs TEXT)")
            columns = {row[1] for row in db.execute("PRAGMA table_info(responses)")}
            if "logprobs" not in columns:  # a cache made before expected-level scoring
                db.execute("ALTER TABLE responses ADD COLUMN logprobs TEXT")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + 0.05 * attempt)


def _damaged(path: Path, exc: sqlite3.DatabaseError) -> UserError:
    return UserError(f"response cache {path} is damaged ({exc}); move it aside (mv {path} {path}.damaged) and run "
                     "again, or run with cache.mode=off")


class ResponseCache:
    def __init__(self, directory: Path):
        directory = Path(directory).expanduser()
        self.path = directory / "responses.sqlite"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            _setup(self._db)
        except sqlite3.DatabaseError as exc:
            if not isinstance(exc, sqlite3.OperationalError):  # the file is there but is no sound database
                raise _damaged(self.path, exc) from None
            raise UserError(f"cache dir {directory} is not usable ({exc}); set cache.dir to a writable folder "
                            "or cache.mode=off") from None
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cache dir {directory} is not usable ({exc}); set cache.dir to a writable folder "
                            "or cache.mode=off") from None

    def get(self, key: str) -> tuple[str, dict[str, int], list[dict[str, Any]] | None] | None:
        """(text, usage, token log-probabilities or None) of a stored answer."""
        try:
            row = self._db.execute("SELECT text, usage, logprobs FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:  # "database disk image is malformed": a page in the middle is bad
            raise _damaged(self.path, exc) from None
        return (row[0], json.loads(row[1] or "{}"), json.loads(row[2]) if row[2] else None) if row else None

    def put(self, key: str, model: str, text: str, usage: dict[str, int],
            logprobs: list[dict[str, Any]] | None = None) -> None:
        try:
            self._db.execute("INSERT OR REPLACE INTO responses (key, model, created, text, usage, logprobs) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (key, model, time.time(), text, json.dumps(usage),
                                                           json.dumps(logprobs) if logprobs is not None else None))
        except sqlite3.OperationalError:
            raise  # a full disk or a lock: the caller decides
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.path, exc) from None

    def close(self) -> None:
        self._db.close()
