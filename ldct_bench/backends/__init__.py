"""Model backends: one per card `backend`, all speaking Request -> Completion."""

from __future__ import annotations

from pathlib import Path

from ..config import Backend, ModelCard
from .base import BackendError, Completion, ModelBackend, Request, Usage


def make_backend(card: ModelCard, run_dir: Path, logprobs: bool = False) -> ModelBackend:
    """The backend a card names; constructing it checks keys before any work starts. `logprobs` asks
    the endpoint for token log-probabilities (expected-level scoring)."""
    if card.backend == Backend.baseline:
        from .baseline import NoiseBaseline
        return NoiseBaseline(card)
    if card.backend == Backend.vllm:
        from .vllm import VllmBackend
        return VllmBackend(card, run_dir, logprobs)
    from .openai_compat import OpenAICompatible
    return OpenAICompatible(card, logprobs)


__all__ = ["BackendError", "Completion", "ModelBackend", "Request", "Usage", "make_backend"]
