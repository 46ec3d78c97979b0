"""LLM cost-optimizing gateway: an OpenAI-compatible proxy that accounts for, and cuts, what every request costs."""

__version__ = "0.1.0"
