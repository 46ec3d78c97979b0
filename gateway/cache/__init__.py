"""Response caching: embeddings, nearest-neighbour search and the checks that make a cached answer safe to reuse."""
