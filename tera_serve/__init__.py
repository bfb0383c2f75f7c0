"""tera-serve: a self-hosted, OpenAI-compatible inference server on vLLM's async engine."""

__version__ = "0.1.0"
