"""Model backends: one per card `backend`, all speaking Request -> Completion."""

from __future__ import annotations

from pathlib import Path

from ..config import Backend, ModelCard
from .base import BackendError, Completion, ModelBackend, Request, Usage


def make_backend(card: ModelCard, run_dir: Path) -> ModelBackend:
    """The backend a card names; constructing it checks keys before any work starts."""
    if card.backend == Backend.baseline:
        from .baseline import NoiseBaseline
        return NoiseBaseline(card)
    if card.backend == Backend.vllm:
        from .vllm import VllmBackend
        return VllmBackend(card, run_dir)
    from .openai_compat import OpenAICompatible
    return OpenAICompatible(card)


__all__ = ["BackendError", "Completion", "ModelBackend", "Request", "Usage", "make_backend"]
