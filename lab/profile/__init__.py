"""Profiles of workloads: sampled stacks (py-spy, perf), flame graphs, callgrind costs and
profile diffs."""
