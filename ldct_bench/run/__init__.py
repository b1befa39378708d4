"""The run stage: a run dir, its journal and cache, the build-ahead pipeline, records and results."""
