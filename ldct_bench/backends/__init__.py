"""Model backends: one per card `backend`, all speaking Request -> Completion."""

from __future__ import annotations

from pathlib import Path

from ldct_bench.backends.base import BackendError, Completion, ModelBackend, Request, Usage
from ldct_bench.backends.limits import Endpoints
from ldct_bench.config.schema import Backend, ModelCard


def make_backend(card: ModelCard, run_dir: Path, logprobs: bool = False,
                 endpoints: Endpoints | None = None) -> ModelBackend:
    """The backend a card names; constructing it checks keys before any work starts. `logprobs` asks
    the endpoint for token log-probabilities (expected-level scoring); `endpoints` holds the limits shared
    with the other runs of this process."""
    if card.backend == Backend.baseline:
        from ldct_bench.backends.baseline import NoiseBaseline
        return NoiseBaseline(card)
    if card.backend == Backend.vllm:
        from ldct_bench.backends.vllm import VllmBackend
        return VllmBackend(card, run_dir, logprobs, endpoints)
    from ldct_bench.backends.openai_compat import OpenAICompatible
    return OpenAICompatible(card, logprobs, endpoints)


__all__ = ["BackendError", "Completion", "ModelBackend", "Request", "Usage", "make_backend"]
