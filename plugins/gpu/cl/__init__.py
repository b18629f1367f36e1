"""The OpenCL driver layer of the gpu system: device selection (``select_device``), a buffer
pool (``BufferPool``) of device arrays (``DeviceArray``), profiling command queues
(``Queues``) and ``Driver``, the ``plugins.gpu.api.Backend`` over the OpenCL C kernels in
targets/gpu/cl."""

from __future__ import annotations

from plugins.gpu.cl.array import DeviceArray
from plugins.gpu.cl.device import describe, select_device
from plugins.gpu.cl.ops import Driver
from plugins.gpu.cl.pool import BufferPool, PoolStats
from plugins.gpu.cl.program import KernelBuildError
from plugins.gpu.cl.queues import ProfileStat, Queues, TimelineEntry

__all__ = ["BufferPool", "DeviceArray", "Driver", "KernelBuildError", "PoolStats",
           "ProfileStat", "Queues", "TimelineEntry", "describe", "select_device"]
