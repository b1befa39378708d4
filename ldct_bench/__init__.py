"""ldct-bench: a benchmark harness for multimodal LLMs judging low-dose CT image quality."""

__version__ = "0.1.0"
