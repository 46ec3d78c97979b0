"""Per-key admission control: allowed models, spend budgets and rate limits, shared across replicas via Redis."""
