"""List prices for the models named in the routing and replay sets (USD per million tokens), with their sources.

Prices come from `prices/pricing_data.json` in the data folder (the FastChat pricing table) under the key named
here; the few models that table lacks or leaves null use the provider's published list price, cited. A model with
neither is left out of the evaluation (it cannot be priced), never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from gateway.routing.names import canonical_model

# Data-set model name -> key in pricing_data.json.
PRICING_KEYS = {
    "gpt-4-1106-preview": "gpt-4-1106-preview",
    "gpt4_1106_preview": "gpt-4-1106-preview",
    "gpt-4-0314": "gpt-4-0314",
    # The undated alias pointed at gpt-3.5-turbo-0613 when the Arena answers were generated (2023).
    "gpt-3.5-turbo": "gpt-3.5-turbo-0613",
    "gpt-3.5-turbo-1106": "gpt-3.5-turbo-1106",
    "mixtral-8x7b-instruct": "mixtral-8x7b-instruct-v0.1",
    "mistralai/Mixtral-8x7B-Instruct-v0.1": "mixtral-8x7b-instruct-v0.1",
    "Mixtral-8x7B-Instruct-v0.1_concise": "mixtral-8x7b-instruct-v0.1",
    "mistralai/Mistral-7B-Instruct-v0.1": "mistral-7b-instruct",
    "Llama-2-70b-chat": "llama-2-70b-chat",
    "Starling-LM-7B-alpha": "starling-lm-7b-alpha",
    "openchat_3.5": "openchat-3.5",
    "claude-2": "claude-2.0",
    "claude-2.1": "claude-2.1",
    "claude-instant-1": "claude-instant-1",
    "claude-instant-1.2": "claude-instant-1",
    "llama-13b": "llama-13b",
    "vicuna-33b-v1.3": "vicuna-33b",
    "vicuna-13b-v1.5": "vicuna-13b",
    "vicuna-7b-v1.5": "vicuna-7b",
    "Qwen-14B-Chat": "qwen-14b-chat",
    "gemma-2b-it": "gemma-2b-it",
    "gemma-7b-it": "gemma-7b-it",
    "claude-3-5-sonnet-20240620": "claude-3-5-sonnet-20240620",
    "gpt-4o-2024-05-13": "gpt-4o-2024-05-13",
    "gpt-4o-mini-2024-07-18": "gpt-4o-mini-2024-07-18",
    "Meta-Llama-3.1-70B-Instruct-Turbo": "llama-3.1-70b-instruct",
    "Meta-Llama-3.1-8B-Instruct-Turbo": "llama-3.1-8b-instruct",
}

# Models the table lacks: the provider's published list price (input, output, source).
PUBLISHED = {
    "gpt-3.5-turbo-0301": (1.50, 2.00, "openai.com/api/pricing (older models table)"),
    "gpt35_turbo_instruct": (1.50, 2.00, "openai.com/api/pricing (gpt-3.5-turbo-instruct)"),
}


@dataclass(frozen=True)
class Price:
    input_per_million: float
    output_per_million: float
    source: str

    def cost(self, prompt_tokens: float, answer_tokens: float) -> float:
        return (prompt_tokens * self.input_per_million + answer_tokens * self.output_per_million) / 1e6


def load_prices(models: list[str], data_root: Path) -> dict[str, Price]:
    """Prices of those `models` that can be priced; unpriced models are simply absent."""
    table_path = data_root / "prices" / "pricing_data.json"
    table = orjson.loads(table_path.read_bytes()) if table_path.is_file() else {}
    by_canonical = {canonical_model(key): key for key in table}
    prices: dict[str, Price] = {}
    for model in models:
        if model in PUBLISHED:
            inp, out, source = PUBLISHED[model]
            prices[model] = Price(inp, out, source)
            continue
        key = PRICING_KEYS.get(model) or by_canonical.get(canonical_model(model))
        entry = table.get(key) if key else None
        price = _parse(entry, key) if entry else None
        if price:
            prices[model] = price
    return prices


def _parse(entry: dict, key: str) -> Price | None:
    try:
        inp, out = float(str(entry["input_token_price"]).strip()), float(str(entry["output_token_price"]).strip())
    except (KeyError, ValueError):
        return None  # the table's "null" prices
    return Price(inp, out, f"pricing_data.json[{key}] ({entry.get('source') or 'no source given'})")
