"""What W&B would do here, decided without importing wandb (seconds of imports): the mode a run is sent in,
and the environment variable that names one group for every job of a sweep."""

from __future__ import annotations

import netrc
import os
from typing import Literal
from urllib.parse import urlsplit

from ldct_bench.errors import UserError

SWEEP_GROUP_ENV = "LDCT_BENCH_SWEEP_GROUP"  # read by the W&B logger: one group for all jobs of a sweep
Mode = Literal["online", "offline", "disabled"]  # what a run is sent in, `auto` decided
_MODES: dict[str, Mode] = {"online": "online", "offline": "offline", "disabled": "disabled"}
_ENV_MODES: dict[str, Mode] = {**_MODES, "run": "online", "dryrun": "offline"}


def has_wandb_key() -> bool:
    """True when wandb would find credentials: WANDB_API_KEY, an identity token, or a netrc entry (`wandb login`)."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").netloc
    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(configured: str) -> Mode:
    """online | offline | disabled; `auto` follows WANDB_MODE if set, else online only with a key."""
    mode: Mode
    if configured == "auto":
        env = os.environ.get("WANDB_MODE", "").strip().lower()
        mode = _ENV_MODES.get(env) or ("online" if has_wandb_key() else "offline")
    elif configured in _MODES:
        mode = _MODES[configured]
    else:
        raise UserError(f"logger.mode={configured} is not a W&B mode; use auto, online, offline or disabled")
    if mode == "online" and not has_wandb_key():
        raise UserError("W&B online mode needs a key: run `wandb login` or set WANDB_API_KEY, "
                        "or use logger.mode=offline (sync later with `wandb sync`)")
    return mode
