"""Benchmark scripts: each block's figures in docs/benchmarks_<block>.md (the LIF core's in docs/benchmarks.md),
gathered by :mod:`spikeforge.scripts.bench.collect`; run as ``python -m spikeforge.scripts.bench.<block>``."""
