"""Benchmarks (run as ``python -m bench.NAME``); figures in RESULTS.md."""
