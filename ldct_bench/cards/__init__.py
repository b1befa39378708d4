"""What a model card means beyond its schema: field checks, its vendor's lifecycle (retired, deprecated),
whether the run's prompts fit its limits, and the paper's sampling settings per model."""
