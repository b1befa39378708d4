"""The model and task registries: YAML cards in folders, registered as Hydra config-group options."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ldct_bench.cards.checks import check_model_card
from ldct_bench.cards.paper_settings import paper_setting
from ldct_bench.config.identity import identity
from ldct_bench.config.schema import ModelCard, RunConfig, StrategyConfig, TaskCard
from ldct_bench.errors import UserError, did_you_mean
from ldct_bench.paths import default_cache_dir, resource_dir, user_card_dirs, write_atomic

CARD_KINDS: dict[str, tuple[str, type]] = {"model": ("models", ModelCard), "task": ("tasks", TaskCard)}
CONF_GROUPS = ("strategy", "metadata", "logger")
LIST_NAMES = {"model": "models", "task": "tasks", "strategy": "strategies", "metadata": "metadata", "logger": "loggers"}


@dataclass(frozen=True)
class CardFile:
    name: str
    path: Path


def card_files(kind: str) -> dict[str, CardFile]:
    """Every card of a kind by name; a user's folders (LDCT_BENCH_CARDS) override shipped ones."""
    folder, _ = CARD_KINDS[kind]
    found: dict[str, CardFile] = {}
    for root in [resource_dir(folder).parent, *user_card_dirs()]:
        for path in sorted((root / folder).glob("*.yaml")):
            found[path.stem] = CardFile(path.stem, path)
    return found


def load_card(kind: str, card: CardFile) -> DictConfig:
    """Read one card and check it against its schema; a bad card names its file and the problem."""
    _, schema = CARD_KINDS[kind]
    try:
        raw = OmegaConf.load(card.path)
        if not isinstance(raw, DictConfig):
            raise UserError(f"{card.path}: a card must be a YAML mapping; see the shipped cards for the shape")
        raw.setdefault("name", card.name)
        node = cast(DictConfig, OmegaConf.merge(OmegaConf.structured(schema), raw))
        missing = sorted(OmegaConf.missing_keys(node))
        if missing:
            raise UserError(f"{card.path}: required field(s) {', '.join(missing)} missing; add them to the card")
        if kind == "model":
            check_model_card(node, str(card.path))
        return node
    except OmegaConfBaseException as exc:
        first = str(exc).strip().splitlines()[0]
        raise UserError(f"{card.path}: {first}; fix the card") from None


def conf_group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (resource_dir("conf") / group).glob("*.yaml"))


def options(kind: str) -> list[str]:
    """Names a user can pass as `kind=NAME`."""
    return sorted(card_files(kind)) if kind in CARD_KINDS else conf_group_options(kind)


def check_choice(kind: str, name: str) -> None:
    """Fail in one line, with the closest names, when `kind=name` is not registered."""
    choices = options(kind)
    if name not in choices:
        hint = did_you_mean(name, choices) or f" choose one of: {', '.join(choices)}."
        raise UserError(f"unknown {kind} '{name}';{hint} (`ldct-bench list {LIST_NAMES[kind]}` shows all)")


_registered: tuple = ()


def register() -> None:
    """Put the schema and every card into Hydra's ConfigStore, again only when the card files changed."""
    global _registered
    files = {kind: card_files(kind) for kind in CARD_KINDS}
    state = tuple((card.path, card.path.stat().st_mtime_ns) for cards in files.values() for card in cards.values())
    if state == _registered:
        return
    if not OmegaConf.has_resolver("ldct_cache_dir"):
        OmegaConf.register_new_resolver("ldct_cache_dir", lambda: str(default_cache_dir()))
        OmegaConf.register_new_resolver("ldct_run_name", lambda _root_: identity(_root_, registered_values).path)
        OmegaConf.register_new_resolver(
            "ldct_paper", lambda table, model, name: paper_setting(table, model, name, card_values("model", model)))
    store = ConfigStore.instance()
    store.store(name="run_schema", node=RunConfig)
    checked = CheckedCards(default_cache_dir().parent / "checked-cards.json")
    for kind, cards in files.items():
        store.repo.pop(kind, None)  # cards can come and go with LDCT_BENCH_CARDS
        for card in cards.values():
            store.store(group=kind, name=card.name, node=checked.get(kind, card))
    checked.save()
    _registered = state


def card_values(kind: str, name: str) -> dict[str, Any]:
    """A registered card's checked values by name ({} for a name that is not a card)."""
    card = card_files(kind).get(name)
    return CheckedCards(default_cache_dir().parent / "checked-cards.json").get(kind, card) if card else {}


def registered_values(kind: str, name: str) -> dict[str, Any]:
    """What a registered model or task card, or a strategy option, says by itself ({} when there is none)."""
    if kind in CARD_KINDS:
        return card_values(kind, name)
    path = resource_dir("conf") / kind / f"{name}.yaml"
    if kind != "strategy" or not path.exists():
        return {}
    node = OmegaConf.merge(OmegaConf.structured(StrategyConfig), OmegaConf.load(path))
    return cast(dict[str, Any], OmegaConf.to_container(node, enum_to_str=True))


def config_defaults() -> dict[str, Any]:
    """The run's defaults as conf/config.yaml gives them: each group's default option and the plain values."""
    raw = yaml.safe_load((resource_dir("conf") / "config.yaml").read_text())
    chosen = {k: v for entry in raw.get("defaults", []) if isinstance(entry, dict) for k, v in entry.items()}
    return {**{k: v for k, v in raw.items() if k not in ("defaults", "hydra")}, **chosen}


class CheckedCards:
    """Cards already checked against their schema, kept as plain values by file, change time, size and schema.

    Checking a card costs ~10 ms (a structured merge); every command registers every card, so a registry
    of 30 cards checked anew each time would add a third of a second to every start."""

    def __init__(self, path: Path):
        self.path = path
        self.changed = False
        try:
            self.entries: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.entries = {}

    @staticmethod
    def stamp(kind: str, card: CardFile) -> list[Any]:
        stat = card.path.stat()
        schema = CARD_KINDS[kind][1]
        # the schema's shape: each field's name, type and default (a factory's product, not its object's address)
        fields = repr([(f.name, str(f.type), f.default_factory() if f.default_factory is not dataclasses.MISSING
                        else f.default) for f in dataclasses.fields(schema)])
        return [stat.st_mtime_ns, stat.st_size, hashlib.sha256(fields.encode()).hexdigest()[:12]]

    def get(self, kind: str, card: CardFile) -> Any:
        key, stamp = str(card.path), self.stamp(kind, card)
        entry = self.entries.get(key)
        if isinstance(entry, dict) and entry.get("stamp") == stamp:
            return entry["card"]
        value = OmegaConf.to_container(load_card(kind, card), enum_to_str=True)
        self.entries[key] = {"stamp": stamp, "card": value}
        self.changed = True
        return value

    def save(self) -> None:
        if not self.changed:
            return
        try:
            write_atomic(self.path, json.dumps(self.entries))
        except OSError:  # an unwritable cache only costs the time of checking again
            pass


def describe(kind: str) -> list[dict[str, Any]]:
    """Rows for `ldct-bench list`: name plus the fields a person scans for."""
    rows = []
    if kind in CARD_KINDS:
        for card in card_files(kind).values():
            node = load_card(kind, card)
            if kind == "model":
                rows.append({"name": card.name, "backend": node.backend.value, "model_id": node.model_id,
                             "provider": node.provider, "description": node.description})
            else:
                rows.append({"name": card.name, "source": node.source, "description": node.description})
    else:
        for name in conf_group_options(kind):
            node = cast(DictConfig, OmegaConf.load(resource_dir("conf") / kind / f"{name}.yaml"))  # shipped: a mapping
            rows.append({"name": name, "description": node.get("description", "")})
    return rows
