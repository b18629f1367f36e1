"""The benchmark engine: plans interleaved measurements, runs them through pytest-benchmark in
a child process, stores raw samples as they arrive, and summarizes them with bootstrap
statistics. Entry point: :func:`lab.bench.engine.run_bench`.
"""
