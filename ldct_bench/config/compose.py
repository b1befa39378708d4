"""Checking a command line before Hydra runs it, so every mistake is one clear line."""

from __future__ import annotations

import itertools
import os
import re
import textwrap
from collections.abc import Iterable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ldct_bench.cards.registry import CARD_KINDS, CONF_GROUPS, check_choice, options, register
from ldct_bench.errors import UserError, did_you_mean
from ldct_bench.paths import resource_dir
from ldct_bench.secrets import mask_override, redact

GROUPS = (*CARD_KINDS, *CONF_GROUPS)
# Hydra's own flags that take a value; everything else starting with '-' is a switch.
_FLAGS_WITH_VALUE = {"-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name",
                     "-cd", "--config-dir", "-i", "--info", "--experimental-rerun", "-sc", "--shell-completion"}


_TILDE = re.compile(r"(^|[,\[])~(?=/|,|\]|$)")  # a ~ that starts a value, or one item of a list or sweep


def expand_home(argv: list[str]) -> list[str]:
    """`task.path=~/data` as the README types it: a shell expands ~ only at the start of a word, and Hydra's
    grammar rejects a bare ~ in a value, so the home folder is put in here, in every key=value override."""
    home = os.path.expanduser("~")
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        out.append(f"{key}={_TILDE.sub(lambda m: m.group(1) + home, value)}" if sep and not arg.startswith("-")
                   else arg)
    return out


_SETTING = re.compile(r"^(\w+): *(\S+) *(?:# *(.*))?$")  # a plain top-level value of conf/config.yaml
_HELP = """python -m ldct_bench [-m] [KEY=VALUE ...]

One benchmark run: a model scores the test images of a task (0 bad ... 4 excellent) and the run dir gets
predictions.jsonl, results.json (PLCC, SROCC, KROCC, overall with 95% intervals) and two plots.
With no arguments: the offline demo (synthetic slices, the noise baseline; no key, no network).

  python -m ldct_bench model=o3 strategy=few_shot shots=10 task=ldct_iqa task.path=~/data/ldct-iqa
  python -m ldct_bench -m model=o3,gpt-4o shots=10,34      # a sweep (-m): one run dir per job
  python -m ldct_bench --cfg job model=o3                  # every setting as composed; runs nothing
  ldct-bench estimate model=o3 strategy=error_feedback     # requests, tokens and dollars first
  ldct-bench list models                                   # what each choice is

Choices (GROUP=OPTION):
{choices}

Settings (KEY=VALUE), besides any card field (model.concurrency=4, task.path=DIR):
{settings}

Hydra's own flags: --hydra-help. More in README.md."""


def help_text() -> str:
    """`python -m ldct_bench --help`: what a user can choose and set (Hydra's own help lists its internals)."""
    groups = {**{kind: options(kind) for kind in GROUPS},
              **{f"+{group}": sorted(p.stem for p in (resource_dir("conf") / group).glob("*.yaml"))
                 for group in ("experiment", "table4_row")}}
    choices = "\n".join(textwrap.fill(", ".join(names), 110, initial_indent=f"  {group:<13}",
                                      subsequent_indent=" " * 15, break_on_hyphens=False)
                        for group, names in groups.items())
    found = [_SETTING.match(line) for line in (resource_dir("conf") / "config.yaml").read_text().splitlines()]
    settings = "\n".join(f"  {m.group(1) + '=' + m.group(2):<19} {m.group(3) or ''}".rstrip()
                         for m in found if m and m.group(1) not in ("defaults", "hydra"))
    return _HELP.format(choices=choices, settings=settings)


def user_overrides(argv: list[str]) -> list[str]:
    """The key=value overrides of a command line, without Hydra's flags."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _FLAGS_WITH_VALUE:
            skip = arg not in ("-i", "--info")
            continue
        if not arg.startswith("-") and "=" in arg:
            out.append(arg)
    return out


def _leaf_keys(node: DictConfig, prefix: str = "") -> list[str]:
    keys = []
    for key in node.keys():
        value = node._get_node(key)
        path = f"{prefix}{key!s}"
        keys.append(path)
        if isinstance(value, DictConfig):
            keys.extend(_leaf_keys(value, path + "."))
    return keys


def _explain(exc: Exception, overrides: list[str], known: Iterable[str]) -> str:
    """One line from Hydra/OmegaConf's multi-line errors."""
    text = str(exc)
    cause = exc.__cause__ or exc.__context__
    detail = str(cause).strip().splitlines()[0] if cause else ""
    if "Could not override" in text or "not in struct" in text or "not in struct" in detail:
        full_key = re.search(r"full_key: (\S+)", f"{text}\n{cause or ''}")
        key = full_key.group(1) if full_key else (text.split("'")[1] if "'" in text else "")
        hint = did_you_mean(key, [k for k in known if k != key]) or \
            " list the settings with `python -m ldct_bench --cfg job`."
        return f"unknown setting '{key}';{hint} (add a new key with +{key}=...)"
    if text.startswith("Error merging override"):
        override = text.removeprefix("Error merging override").strip()
        return f"{override}: {detail or text.splitlines()[0]}"
    return (detail or text).splitlines()[0] if (detail or text) else exc.__class__.__name__


def _parse(overrides: list[str]) -> list:
    """Hydra's parse, one override at a time so a grammar error names its override (with secrets masked)."""
    parser, parsed = OverridesParser.create(), []
    for line in overrides:
        try:
            parsed += parser.parse_overrides([line])
        except OverrideParseException as exc:
            shown = mask_override(line)
            detail = f" ({str(exc).splitlines()[0]})" if shown == line else ""
            key = line.partition("=")[0]
            raise UserError(f"cannot read the override {shown}{detail}; quote a value that holds = ? & or spaces, "
                            f"e.g. \"{key}='...'\"") from None
    return parsed


def sweep_choices(overrides: list[str]) -> list[list[str]]:
    """Each override's alternatives as whole overrides: `shots=0,10` -> [`shots=0`, `shots=10`]."""
    choices = []
    for override in _parse(overrides):
        key = override.get_key_element()
        if override.is_sweep_override() and not key.startswith("hydra."):
            choices.append([f"{key}={value}" for value in override.sweep_string_iterator()])
        else:
            choices.append([override.input_line])
    return choices


def check_command_line(argv: list[str]) -> None:
    """Compose every value a sweep names; raise UserError on the first problem."""
    register()
    overrides = user_overrides(argv)
    multirun = any(arg in ("-m", "--multirun") for arg in argv)
    choices = sweep_choices(overrides)
    for alternatives in choices:
        for override in alternatives:
            key, _, value = override.partition("=")
            if key in GROUPS:
                check_choice(key, value)
    first = [values[0] for values in choices]
    combos = [first] + [first[:i] + [value] + first[i + 1:]
                        for i, values in enumerate(choices) for value in values[1:]]
    with initialize_config_dir(config_dir=str(resource_dir("conf")), version_base="1.3"):
        for combo in combos:
            try:
                cfg = compose(config_name="config", overrides=combo, return_hydra_config=True)
                output = cfg.hydra.sweep.dir if multirun else cfg.hydra.run.dir
                del cfg.hydra
                OmegaConf.to_container(cfg, resolve=True)
            except (HydraException, OmegaConfBaseException, ValueError) as exc:
                raise UserError(redact(_explain(exc, combo, _leaf_keys(compose(config_name="config"))))) from None
            check_writable(Path(output))


def check_writable(folder: Path) -> None:
    """Fail before any work when the output folder cannot be created or written."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise UserError(f"output dir {folder} cannot be written ({probe} is not a writable folder); "
                        "set hydra.run.dir (or hydra.sweep.dir with -m) to a writable folder")


def expand(overrides: list[str]) -> list[list[str]]:
    """One override list per job of a sweep (`model=o3,gpt-4o shots=0,10` gives four)."""
    return [list(combo) for combo in itertools.product(*sweep_choices(overrides))]


def with_preset_sweeps(overrides: list[str]) -> list[str]:
    """The overrides plus the sweeps a preset declares (`hydra.sweeper.params`, e.g. +experiment=current_models'
    nine models) for keys the command line leaves alone, as Hydra's sweeper combines them for `-m`."""
    given = {o.partition("=")[0].lstrip("+~") for o in overrides}
    first = [values[0] for values in sweep_choices(overrides)]  # one point is enough to read the preset
    cfg = compose(config_name="config", overrides=first, return_hydra_config=True)
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None) or {}
    return [*overrides, *(f"{key}={value}" for key, value in params.items() if key not in given)]


def compose_jobs(argv: list[str]) -> list[DictConfig]:
    """The composed config of every job the command line would run as a sweep (checked like a run's)."""
    overrides = [o for o in user_overrides(expand_home(argv)) if not o.lstrip("+~").startswith("hydra.")]
    check_command_line(overrides)
    with initialize_config_dir(config_dir=str(resource_dir("conf")), version_base="1.3"):
        return [compose(config_name="config", overrides=combo) for combo in expand(with_preset_sweeps(overrides))]
