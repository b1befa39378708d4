"""The reading stage: a model's reply to a score (stated in text or JSON, or expected from token probabilities)."""
