"""lab: a plugin-based benchmarking and fuzzing laboratory for low-level systems.

Plugin authors import the hook marker and the declaration types from here::

    import lab

    @lab.hookimpl
    def lab_register_systems():
        return [lab.System(name="mysys", shape="lib", ...)]
"""

import pluggy

hookimpl = pluggy.HookimplMarker("lab")
hookspec = pluggy.HookspecMarker("lab")

__version__ = "0.1.0"

from lab.chaos.model import ChaosSuite, Placement  # noqa: E402
from lab.chaos.model import Scenario as ChaosScenario  # noqa: E402
from lab.chaos.nemesis import Nemesis  # noqa: E402
from lab.model import (  # noqa: E402  (the markers above must exist before plugins import lab)
    SHAPES,
    CffiLib,
    Executable,
    FuzzTarget,
    Image,
    Impl,
    Limit,
    LoadContext,
    Metric,
    Reject,
    System,
    TimedMetric,
    Workload,
    throughput,
)
from lab.requirements import AptPackage, Command, PythonModule, SharedLibrary  # noqa: E402

__all__ = [
    "SHAPES",
    "AptPackage",
    "CffiLib",
    "ChaosScenario",
    "ChaosSuite",
    "Command",
    "Executable",
    "FuzzTarget",
    "Image",
    "Impl",
    "Limit",
    "LoadContext",
    "Metric",
    "Nemesis",
    "Placement",
    "PythonModule",
    "Reject",
    "SharedLibrary",
    "System",
    "TimedMetric",
    "Workload",
    "hookimpl",
    "hookspec",
    "throughput",
]
