"""Benchmarks that `actionkit-bench` runs; each module is also runnable with `python -m`."""
