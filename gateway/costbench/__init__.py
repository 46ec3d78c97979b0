"""The cost measurement behind `gateway demo` and bench/cost.py: replay a workload twice (as asked, straight to the
simulator; through the gateway), then report cost, saving by mechanism, quality kept and latency."""
