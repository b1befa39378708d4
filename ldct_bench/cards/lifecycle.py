"""Whether a card's model still exists: stop before any request on a retired model, warn on a deprecated one.

Vendors retire models on announced dates (each card records `status`, `retires`, `successor` and the pages
it was checked against). A retired card, or a deprecated one whose `retires` date has passed, stops the run
in one line naming the successor card; `model.via=openrouter` still runs it where the card keeps an
`openrouter_id` (OpenRouter may serve it through a partner with its own schedule). An endpoint that answers
"model not found" gets the same advice, since a retirement is the usual reason.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ldct_bench.errors import UserError

STATUSES = ("active", "deprecated", "retired")
# Card fields that describe the card rather than what is asked: kept out of a run's identity (config/identity.py).
LIFECYCLE_FIELDS = ("status", "retires", "successor", "checked", "sources", "context_window",
                    "max_images_per_request", "rate_limit_tpm", "logprobs")
_NOT_FOUND = re.compile(r"model.{0,80}(not (be )?found|does not exist|not exist|not available|retired|"
                        r"decommissioned)|(no such|unknown|invalid) model", re.IGNORECASE)


def parse_date(value: str | None) -> dt.date | None:
    """An ISO date (YYYY-MM-DD), or None when unset; a malformed one raises ValueError."""
    return dt.date.fromisoformat(str(value)) if value else None


def effective_status(card: Any, today: dt.date | None = None) -> str:
    """The card's status on `today`: a deprecated model past its `retires` date counts as retired."""
    retires = parse_date(card.retires)
    if card.status == "deprecated" and retires is not None and retires <= (today or dt.date.today()):
        return "retired"
    return card.status


def _instead(card: Any) -> str:
    """What to run instead: the successor card and, where the card keeps one, the OpenRouter route."""
    options = [f"model={card.successor}"] if card.successor else []
    if card.openrouter_id and card.via != "openrouter":
        options.append(f"model.via=openrouter (as {card.openrouter_id}, if OpenRouter still serves it)")
    return " or ".join(options) if options else "another card (`ldct-bench list models`)"


def check_status(card: Any, today: dt.date | None = None) -> str | None:
    """Stop on a retired model (unless routed through OpenRouter); a warning for a deprecated one (None: all well)."""
    status = effective_status(card, today)
    when = f" on {card.retires}" if card.retires else ""
    if status == "retired" and card.via != "openrouter":
        raise UserError(f"model {card.name} ({card.model_id}) was retired by its vendor{when}; "
                        f"use {_instead(card)}")
    if status == "retired":
        return (f"model {card.name} was retired by its vendor{when}; sending it through OpenRouter, which may no "
                "longer serve it")
    if status == "deprecated":
        return f"model {card.name} is deprecated and shuts down{when or ' soon'}; move to {_instead(card)}"
    return None


def says_model_not_found(status: int, message: str) -> bool:
    """True for an answer meaning the model does not exist: 404, or 400 whose message says so."""
    return status == 404 or (status == 400 and bool(_NOT_FOUND.search(message)))


def model_not_found(card: Any, base_url: str, model_id: str, status: int, detail: str) -> UserError:
    """One line for an endpoint that does not know the model it was sent (`model_id`)."""
    return UserError(f"model {card.name}: {base_url} does not know model {model_id!r} (HTTP {status}: "
                     f"{detail}); it may be retired: use {_instead(card)}, or check model.model_id and "
                     "model.base_url")
