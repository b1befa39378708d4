"""Keeping keys out of everything a run writes: config dumps, W&B config, error messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

MASK = "***"

# A setting whose name ends in one of these words holds a secret (`api_key`, `wandb.token`, `db_password`);
# `*_env` settings hold only the NAME of a variable, and `max_tokens` (plural) is a count.
_SECRET_NAME = re.compile(
    r"(?:^|[_\-.])(?:api[_\-]?key|apikey|key|token|access[_\-]?token|secret|client[_\-]?secret|password|passwd|"
    r"pwd|credentials?|authorization|auth|bearer)$", re.I)
# Values that look like provider keys wherever they appear (OpenAI/Anthropic sk-, xAI, Google AIza, HF, GitHub...).
_SECRET_VALUE = re.compile(
    r"\b(?:sk-[A-Za-z0-9_\-]{8,}|xai-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|hf_[A-Za-z0-9]{16,}|"
    r"gh[pousr]_[A-Za-z0-9]{20,}|gsk_[A-Za-z0-9]{16,}|r8_[A-Za-z0-9]{16,})")


def is_secret_name(name: str) -> bool:
    """True for a setting that holds a secret value (not for `*_env`, which names a variable)."""
    return not name.lower().endswith("_env") and bool(_SECRET_NAME.search(name))


def looks_like_key(value: str) -> bool:
    """True when a string has the shape of a provider API key."""
    return bool(_SECRET_VALUE.search(value))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the given secret strings and anything shaped like a key replaced by ***."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return _SECRET_VALUE.sub(MASK, text)


def mask_secrets(container: Any) -> Any:
    """A copy of a (nested) config with secret values masked; accepts plain containers or OmegaConf nodes.

    Values of secret-named keys become ***; key-shaped strings anywhere are redacted.
    """
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(container, (DictConfig, ListConfig)):
        container = OmegaConf.to_container(container, resolve=False, enum_to_str=True)
    return _mask(container)


_OVERRIDE = re.compile(r"^([+~]*[\w.\-@/]+)=(.*)$", re.S)


def mask_override(text: str) -> str:
    """`model.extra_body.api_key=abc` -> `model.extra_body.api_key=***`; other strings only redacted."""
    match = _OVERRIDE.match(text)
    if match and is_secret_name(match.group(1).lstrip("+~")) and match.group(2):
        return f"{match.group(1)}={MASK}"
    return redact(text)


def scrub_yaml_folder(folder: Path) -> None:
    """Rewrite every YAML file in a folder (Hydra's .hydra/) with secrets masked."""
    from omegaconf import OmegaConf

    for path in sorted(Path(folder).glob("*.yaml")):
        node = OmegaConf.load(path)
        masked = mask_secrets(node)
        if masked != OmegaConf.to_container(node, resolve=False, enum_to_str=True):
            path.write_text(OmegaConf.to_yaml(OmegaConf.create(masked)))


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: (MASK if is_secret_name(str(key)) and value[key] not in (None, "") else _mask(value[key]))
                for key in value}
    if isinstance(value, (list, tuple)):
        return type(value)(_mask(v) for v in value)
    if isinstance(value, str):
        return mask_override(value)
    return value
