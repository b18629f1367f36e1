"""A minimal lab plugin: two ways to sort a reversed list, compared by time per call."""

import heapq

import lab


def reversed_list(params):
    return list(range(params["n"], 0, -1))


def time_one_sort(sort, data, params):
    return lambda: sort(data)


@lab.hookimpl
def lab_register_systems():
    return [lab.System(
        name="hello",
        shape="lib",
        description="sorting a reversed list",
        impls=(
            lab.Impl("sorted", "the built-in sorted()", load=lambda ctx: sorted),
            lab.Impl("heapq", "heapq.nsmallest(n, data)",
                     load=lambda ctx: lambda data: heapq.nsmallest(len(data), data)),
        ),
        workloads=(lab.Workload(
            name="sort",
            description="sort n integers given in reverse order",
            params={"n": (1_000, 100_000)},
            quick={"n": (1_000,)},
            prepare=reversed_list,
            timed=time_one_sort,
            metrics=(lab.TimedMetric(lab.Metric("time", "s", "lower"), lambda s, p: s),),
        ),),
        baseline="sorted",
    )]
