"""Per-image facts computed from pixels (noise) or by a labeller (region), cached as dataset columns."""
