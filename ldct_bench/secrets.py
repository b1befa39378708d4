"""Keeping keys out of everything a run writes or prints: config dumps, recorded overrides, W&B, errors, logs.

Three kinds of secret are recognised wherever they appear: values of secret-named settings
(`api_key`, `token`, `password`, any header value), secrets inside URLs (`user:PASS@host`, a
`?api-key=` query parameter), and strings shaped like a provider key or an HTTP credential
(`sk-...`, `Bearer ...`, `Basic ...`). Callers that know a secret's exact value (the key read from the
environment, a URL's password) pass it too, so an echo of it in a server's error body is caught.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"

# A setting whose name ends in one of these words holds a secret (`api_key`, `wandb.token`, `db_password`,
# `X-Api-Key`); `*_env` settings hold only the NAME of a variable, and `max_tokens` (plural) is a count.
_SECRET_WORDS = (r"api[_\-]?key|apikey|key|token|access[_\-]?token|secret|client[_\-]?secret|password|passwd|pwd|"
                 r"credentials?|authorization|auth|bearer|cookie|signature|sig")
_SECRET_NAME = re.compile(rf"(?:^|[_\-.])(?:{_SECRET_WORDS})$", re.I)
# Settings whose every value is an HTTP header: all of them are masked, whatever the header's name.
_HEADERS_NAME = re.compile(r"(?:^|[_\-.])headers$", re.I)
# Values that look like provider keys wherever they appear (OpenAI/Anthropic sk-, xAI, Google AIza, HF, GitHub...).
_SECRET_VALUE = re.compile(
    r"\b(?:sk-[A-Za-z0-9_\-]{8,}|xai-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|hf_[A-Za-z0-9]{16,}|"
    r"gh[pousr]_[A-Za-z0-9]{20,}|gsk_[A-Za-z0-9]{16,}|r8_[A-Za-z0-9]{16,})")
# A whole value that is an opaque token (32 hex digits, a long mixed string) rather than a variable name.
_OPAQUE = re.compile(r"(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9\-+/=.]{24,}")
# `scheme://user:password@` in any text.
_USERINFO = re.compile(r"\b([a-z][a-z0-9+.\-]*\\?:(?:\\?/){2})[^/\s@?#'\"<>]+@", re.I)  # also Hydra-escaped `\:`
# An HTTP credential after its scheme word; a plain English word after "Basic" is left alone.
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|Token|Digest)((?:\\?\s)+)(?=\S*[A-Z0-9+/=_\-.])[A-Za-z0-9._~+/=\-]{8,}")
# `name=value`, `name: value`, `"name": "value"` with a secret name (`api-key=`, `Authorization: Basic ...`).
_FIELD = re.compile(rf"(?<![\w.])((?:[A-Za-z][\w\-.]*[_\-.])?(?:{_SECRET_WORDS})['\"]?\s*\\?[:=]\s*\[?['\"]?)"
                    r"(?:(?:Bearer|Basic|Token)(?:\\?\s)+)?[^\s,;&'\"}\]\[]+", re.I)
# `extra_headers={...}` written out in text (a sweep's log line): every header value is masked.
_HEADERS_FIELD = re.compile(r"(?<![\w.])((?:[\w\-.]*[_\-.])?headers\\?[:=]\s*)(?:\{[^}]*\}|[^\s,]+)", re.I)
# `--api-key VALUE` on a command line (the vLLM server's), also as list items (`[--api-key,VALUE]`).
_FLAG_NAME = rf"--(?:[\w\-]*[_\-])?(?:{_SECRET_WORDS})"
_FLAG = re.compile(rf"(?<![\w\-])({_FLAG_NAME}(?:['\"]?\s*,\s*['\"]?|\s+))(?!-)[^\s,\]'\"]+", re.I)


def is_secret_name(name: str) -> bool:
    """True for a setting that holds a secret value (not for `*_env`, which names a variable)."""
    return not name.lower().endswith("_env") and bool(_SECRET_NAME.search(name))


def _is_headers_name(name: str) -> bool:
    return bool(_HEADERS_NAME.search(name))


def looks_like_key(value: str) -> bool:
    """True when a string has the shape of a provider API key or an opaque token (not of a variable name)."""
    return bool(_SECRET_VALUE.search(value) or _OPAQUE.fullmatch(value.strip()))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the given secret strings, URL credentials, secret-named fields and key-shaped strings masked."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _HEADERS_FIELD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _FIELD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _FLAG.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _SECRET_VALUE.sub(MASK, text)


def url_secrets(url: str | None) -> list[str]:
    """The exact secrets a URL carries, and the forms a server may echo them in: the password, `user:password`
    and its Basic-auth base64 (or a lone user name, often a token), and the values of secret-named query
    parameters."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=False)
        user, password = parts.username, parts.password
    except ValueError:
        return []
    found = [value for name, value in query if is_secret_name(name)]
    if password:
        pair = f"{unquote(user or '')}:{unquote(password)}"
        found += [unquote(password), password, pair, base64.b64encode(pair.encode()).decode()]
    elif user:  # `https://TOKEN@host`: a token given as the user name
        found += [unquote(user), user]
    return found


def flag_secrets(command: list[str]) -> list[str]:
    """Values given to secret-named flags in a command (`--api-key VALUE`, `--hf-token=VALUE`)."""
    found = []
    for previous, arg in zip(["", *command], command):
        flag, sep, value = arg.partition("=")
        if sep and re.fullmatch(_FLAG_NAME, flag, re.I):
            found.append(value)
        elif re.fullmatch(_FLAG_NAME, previous, re.I) and not arg.startswith("-"):
            found.append(arg)
    return found


def header_secrets(extra_body: Any) -> list[str]:
    """Every header value set in a card's `extra_body` (`extra_headers`, `headers`, ...), and its scheme-less part."""
    found: list[str] = []
    for name, value in dict(extra_body or {}).items():
        if _is_headers_name(str(name)) and hasattr(value, "items"):
            for header_value in dict(value).values():
                text = str(header_value)
                found += [text, text.split(None, 1)[-1]]
    return found


def mask_secrets(container: Any) -> Any:
    """A copy of a (nested) config with secret values masked; accepts plain containers or OmegaConf nodes.

    Values of secret-named keys and of header settings become ***; URLs lose their credentials;
    key-shaped strings anywhere are redacted.
    """
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(container, (DictConfig, ListConfig)):
        container = OmegaConf.to_container(container, resolve=False, enum_to_str=True)
    return _mask(container)


_OVERRIDE = re.compile(r"^([+~]*[\w.\-@/]+)=(.*)$", re.S)


def mask_override(text: str) -> str:
    """`model.extra_body.api_key=abc` -> `model.extra_body.api_key=***`; other strings only redacted.

    A masked override cannot be replayed by `resume=`: the user gives it again on the command line.
    """
    match = _OVERRIDE.match(text)
    if match and match.group(2):
        name, value = match.group(1).lstrip("+~"), match.group(2)
        last = name.rsplit(".", 1)[-1]
        if is_secret_name(name) or _is_headers_name(last) or (last.endswith("_env") and looks_like_key(value)):
            return f"{match.group(1)}={MASK}"
    return redact(text)


def scrub_yaml_file(path: Path) -> None:
    """Rewrite a YAML file Hydra wrote (`.hydra/*.yaml`, a sweep's `multirun.yaml`) with secrets masked."""
    from omegaconf import OmegaConf

    node = OmegaConf.load(path)
    masked = mask_secrets(node)
    if masked != OmegaConf.to_container(node, resolve=False, enum_to_str=True):
        path.write_text(OmegaConf.to_yaml(OmegaConf.create(masked)))


def scrub_yaml_folder(folder: Path) -> None:
    """Rewrite every YAML file in a folder (Hydra's .hydra/) with secrets masked."""
    for path in sorted(Path(folder).glob("*.yaml")):
        scrub_yaml_file(path)


def scrub_hydra_outputs(hydra_cfg: Any, run_dir: Path) -> None:
    """Mask what Hydra wrote before the job ran: the job's `.hydra/` and, in a sweep, `multirun.yaml`."""
    from hydra.types import RunMode

    if hydra_cfg.output_subdir:
        scrub_yaml_folder(Path(run_dir) / hydra_cfg.output_subdir)
    sweep_file = Path(hydra_cfg.sweep.dir) / "multirun.yaml"
    if hydra_cfg.mode == RunMode.MULTIRUN and sweep_file.is_file():
        scrub_yaml_file(sweep_file)


class _MaskedRecords:
    """A log record factory that redacts the message of every record made by the one it wraps."""

    def __init__(self, make: Any):
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.make(*args, **kwargs)
        try:
            text = record.getMessage()
        except (TypeError, ValueError):  # a malformed record is logging's own error to report
            return record
        shown = redact(text)
        if shown != text:
            record.msg, record.args = shown, ()
        return record


def mask_logging() -> None:
    """Redact every log record of this process: Hydra's launcher logs each job's overrides as given."""
    make = logging.getLogRecordFactory()
    if not isinstance(make, _MaskedRecords):
        logging.setLogRecordFactory(_MaskedRecords(make))


def _mask_value(key: str, value: Any) -> Any:
    if value in (None, ""):
        return value
    if is_secret_name(key) or (key.endswith("_env") and isinstance(value, str) and looks_like_key(value)):
        return MASK
    if _is_headers_name(key) and isinstance(value, dict):
        return {name: MASK if header not in (None, "") else header for name, header in value.items()}
    return _mask(value)


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask_value(str(key), item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):  # a command as a list: the item after `--api-key` is its value
        hidden = set(flag_secrets([str(v) for v in value]))
        return type(value)(MASK if isinstance(v, str) and v in hidden else _mask(v) for v in value)
    if isinstance(value, str):
        return mask_override(value)
    return value
