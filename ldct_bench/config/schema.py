"""Typed schemas of everything Hydra composes; a wrong type or unknown key fails at composition."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, List, Optional

from omegaconf import MISSING


class Backend(StrEnum):
    openai_compatible = "openai_compatible"
    vllm = "vllm"
    baseline = "baseline"


class CacheMode(StrEnum):
    use = "use"
    refresh = "refresh"
    off = "off"


class Scoring(StrEnum):
    """How an answer becomes a score: the score the reply states, or the expected level from token probabilities."""

    text = "text"
    expected = "expected"


class Selection(StrEnum):
    """Which training examples a prompt shows (strategies/selection.py)."""

    sliding_window = "sliding_window"
    random = "random"
    stratified = "stratified"
    same_region = "same_region"
    fixed = "fixed"


class Calibration(StrEnum):
    """error_feedback: one seeded pool of scored examples, or fresh draws per test image (the paper's protocol)."""

    pool = "pool"
    per_item = "per_item"


class Source(StrEnum):
    """Where a task's data comes from."""

    demo = "demo"
    local = "local"
    hub = "hub"


class WandbMode(StrEnum):
    auto = "auto"
    online = "online"
    offline = "offline"
    disabled = "disabled"


@dataclass
class ServeConfig:
    """How the vllm backend launches `vllm serve` when no base_url is given."""

    hf_id: str = ""
    # Placeholders {hf_id}, {port}, {host} are filled in; tests swap in a stand-in server.
    command: List[str] = field(
        default_factory=lambda: ["vllm", "serve", "{hf_id}", "--host", "{host}", "--port", "{port}"]
    )
    args: List[str] = field(default_factory=list)
    max_model_len: Optional[int] = None
    images_per_prompt: Optional[int] = None
    # Largest image side memory profiling reserves for (the task sends 512x512); null = the model's maximum.
    image_px: Optional[int] = None
    tensor_parallel_size: int = 1
    startup_timeout_s: float = 900.0
    health_path: str = "/health"


@dataclass
class ModelCard:
    """One file in models/: what to call, how, and what it costs."""

    name: str = MISSING
    backend: Backend = MISSING
    description: str = ""
    provider: str = ""
    model_id: str = ""
    base_url: Optional[str] = None
    api_key_env: Optional[str] = None
    # `model.via=openrouter` sends the same model through OpenRouter (the paper's route) under this id.
    via: str = "vendor"
    openrouter_id: Optional[str] = None
    supports_images: bool = True
    # false: the endpoint rejects system messages (Gemma on Google's API); fold them into the first user turn
    system_role: bool = True
    structured_output: bool = False
    category_as_score: bool = False  # read a reply that gives only a category as its level (Bad 0 ... Excellent 4)
    temperature: Optional[float] = 0.0
    max_tokens: Optional[int] = 512
    max_completion_tokens: Optional[int] = None
    reasoning_effort: Optional[str] = None
    image_detail: Optional[str] = "high"
    extra_body: Any = field(default_factory=dict)
    concurrency: int = 8
    rate_limit_rpm: Optional[float] = None
    timeout_s: float = 180.0
    max_retries: int = 6
    max_retry_after_s: float = 60.0  # a longer Retry-After means a quota, not a burst: fail the attempt instead
    reasks: int = 1
    price_input_per_mtok: Optional[float] = None
    price_output_per_mtok: Optional[float] = None
    price_cached_input_per_mtok: Optional[float] = None
    image_token_rule: str = "openai"
    serve: ServeConfig = field(default_factory=ServeConfig)
    # Lifecycle and limits, as the vendor's pages say on the `checked` date (ldct_bench/cards/lifecycle.py, fit.py).
    status: str = "active"  # active | deprecated | retired
    retires: Optional[str] = None  # ISO date the vendor shuts the model down
    successor: Optional[str] = None  # the card to use instead
    checked: Optional[str] = None  # ISO date the card's facts were read from `sources`
    sources: List[str] = field(default_factory=list)
    context_window: Optional[int] = None  # prompt + answer tokens the endpoint accepts
    max_images_per_request: Optional[int] = None
    rate_limit_tpm: Optional[float] = None  # input tokens per minute (the card's default tier)
    logprobs: bool = False  # the endpoint returns token log-probabilities for chat requests with images
    # batch=true: the vendor's batch API at this card's base_url ("openai": /v1/files + /v1/batches; null: none),
    # its prices (null: half the standard ones) and its limits per input file (cards/cost.py, batch/).
    batch: Optional[str] = None
    batch_price_input_per_mtok: Optional[float] = None
    batch_price_output_per_mtok: Optional[float] = None
    batch_max_requests: int = 50000
    batch_max_bytes: int = 200 * 2**20
    # Seconds one answer takes, for `ldct-bench estimate`'s wall time only (an estimate; unset: 20 s for reasoning
    # models, 6 s for others). Measure yours from a run: results.json's seconds x concurrency / requests.
    latency_s: Optional[float] = None


@dataclass
class TaskCard:
    """One file in tasks/: where the data comes from and how its images are shown."""

    name: str = MISSING
    description: str = ""
    source: Source = MISSING
    path: Optional[str] = None
    path_env: Optional[str] = None
    hub_id: Optional[str] = None
    train_split: str = "train"
    test_split: str = "test"
    train_ids: Optional[List[str]] = None  # a fixed shot pool (the paper's small-scale setting)
    test_ids: Optional[List[str]] = None
    # Split sizes of the public release, so `ldct-bench estimate` can price a run before the data is here.
    train_size: Optional[int] = None
    test_size: Optional[int] = None
    window_width: float = 350.0
    window_level: float = 40.0
    image_size: Optional[int] = None  # None = native 512x512
    synthetic: bool = False
    licence: str = ""
    citation: str = ""
    download_hint: str = ""


@dataclass
class StrategyConfig:
    """How each test item's chat is built (conf/strategy/)."""

    name: str = MISSING
    description: str = ""
    template: str = MISSING
    default_shots: int = 0
    max_shots: Optional[int] = None
    selection: Selection = Selection.random
    calibration_pool: int = 40  # error_feedback, calibration=pool: training images scored once per run
    # error_feedback: `pool` shows examples from one fixed scored pool; `per_item` draws fresh examples for each
    # test image from the whole train split (the paper's protocol), each drawn image scored once per run.
    calibration: Calibration = Calibration.pool


@dataclass
class MetadataConfig:
    """Which per-image facts go into the prompt text (conf/metadata/)."""

    name: str = MISSING
    description: str = ""
    noise: bool = False
    region: bool = False


@dataclass
class LoggerConfig:
    """Where results go besides the run dir (conf/logger/)."""

    name: str = MISSING
    description: str = ""
    mode: WandbMode = WandbMode.auto
    project: str = "ldct-bench"
    entity: Optional[str] = None
    group: Optional[str] = None
    tags: List[str] = field(default_factory=list)


@dataclass
class CacheConfig:
    dir: str = "${ldct_cache_dir:}"
    mode: CacheMode = CacheMode.use


@dataclass
class RunConfig:
    model: ModelCard = MISSING
    task: TaskCard = MISSING
    strategy: StrategyConfig = MISSING
    metadata: MetadataConfig = MISSING
    logger: LoggerConfig = MISSING
    cache: CacheConfig = field(default_factory=CacheConfig)
    shots: Optional[int] = None  # None = the strategy's default
    seed: int = 0
    limit: Optional[int] = None
    max_cost: Optional[float] = None
    min_coverage: float = 0.0
    repeats: int = 1  # independent answers per item (at the card's temperature); the item's score is their mean
    scoring: Scoring = Scoring.text
    batch: bool = False  # send the requests through the vendor's batch API (half price, answers within 24 h)
    batch_poll_s: float = 30.0  # first wait between looks at a batch in flight (it grows, up to 10 min)
    batch_tries: int = 3  # batches a request may go in (a line that expired or met a server error is sent again)


def effective_shots(shots: Optional[int], strategy: StrategyConfig) -> int:
    """Examples per prompt: the run's `shots`, or the strategy's default when unset."""
    return strategy.default_shots if shots is None else shots
