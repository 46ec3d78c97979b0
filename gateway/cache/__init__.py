"""Exact and semantic answer caches, in memory and in Redis."""
