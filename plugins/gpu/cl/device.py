"""OpenCL platform and device selection.

``select_device(spec)`` picks one device from the installed OpenCL platforms; ``describe``
gives the facts about it the rest of the driver (and a report) needs.

A spec is ``WORD`` or ``WORD:INDEX``: WORD is a device type (``gpu``, ``cpu``,
``accelerator``, ``any``) or a case-insensitive substring of a platform name or vendor or a
device name (``pocl``, ``nvidia``, ``h100``); INDEX (default 0) picks among the matching
devices in platform order. The spec comes from the argument, else ``$LAB_GPU_DEVICE``; with
neither, the first GPU device is chosen, else the first device of any type.
"""

from __future__ import annotations

import os
from typing import Any

import pyopencl as cl

from plugins.gpu.api import GpuError

ENV_VAR = "LAB_GPU_DEVICE"
INSTALL_HINT = "install an OpenCL driver, e.g. `apt-get install -y pocl-opencl-icd`"
_TYPES = {
    "gpu": cl.device_type.GPU,
    "cpu": cl.device_type.CPU,
    "accelerator": cl.device_type.ACCELERATOR,
}


def all_devices() -> list[tuple[cl.Platform, cl.Device]]:
    """Every (platform, device) pair installed, in platform order; GpuError (with the install
    command) when there is no OpenCL platform or no device at all."""
    try:
        platforms = cl.get_platforms()
    except cl.Error as exc:  # PLATFORM_NOT_FOUND_KHR when no ICD is installed
        raise GpuError(f"no OpenCL platform found ({_one_line(exc)}): {INSTALL_HINT}") from None
    pairs: list[tuple[cl.Platform, cl.Device]] = []
    for platform in platforms:
        try:
            devices = platform.get_devices()
        except cl.Error:  # DEVICE_NOT_FOUND on a platform without devices
            continue
        pairs.extend((platform, device) for device in devices)
    if not pairs:
        raise GpuError(f"OpenCL platforms found but no device: {INSTALL_HINT}")
    return pairs


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _matches(word: str, platform: cl.Platform, device: cl.Device) -> bool:
    if word == "any":
        return True
    if word in _TYPES:
        return bool(device.type & _TYPES[word])
    haystack = f"{platform.name} {platform.vendor} {device.name} {device.vendor}".lower()
    return word in haystack


def _label(platform: cl.Platform, device: cl.Device) -> str:
    return f"{platform.name.strip()} / {device.name.strip()}"


def select_device(spec: str | None = None) -> cl.Device:
    """The device named by ``spec`` (or ``$LAB_GPU_DEVICE``), else the first GPU, else the first
    device. GpuError naming the devices that exist when the spec matches none or is
    malformed; GpuError with the install command when there is no OpenCL at all."""
    pairs = all_devices()
    if spec is None:
        spec = os.environ.get(ENV_VAR) or None
    if spec is None:
        gpus = [d for p, d in pairs if d.type & cl.device_type.GPU]
        return gpus[0] if gpus else pairs[0][1]
    available = "; ".join(f"{i}: {_label(p, d)}" for i, (p, d) in enumerate(pairs))
    word, _, index_text = spec.strip().lower().partition(":")
    if not word or (index_text and not index_text.isdigit()):
        raise GpuError(f"bad device spec {spec!r}: expected WORD or WORD:INDEX, WORD a device "
                       f"type (gpu, cpu, accelerator, any) or part of a platform or device "
                       f"name; devices: {available}")
    matching = [d for p, d in pairs if _matches(word, p, d)]
    index = int(index_text) if index_text else 0
    if index >= len(matching):
        raise GpuError(f"device spec {spec!r} matches {len(matching)} device(s), so no index "
                       f"{index}: valid are types gpu, cpu, accelerator, any or part of a "
                       f"platform or device name; devices: {available}")
    return matching[index]


def base_align_bytes(device: cl.Device) -> int:
    """CL_DEVICE_MEM_BASE_ADDR_ALIGN in bytes (OpenCL reports it in bits)."""
    return max(1, int(device.mem_base_addr_align) // 8)


def device_type(device: cl.Device) -> str:
    """``gpu``, ``cpu``, ``accelerator`` or ``other``."""
    for word, bit in _TYPES.items():
        if device.type & bit:
            return word
    return "other"


def describe(device: cl.Device) -> dict[str, Any]:
    """Facts about ``device``: platform, name, type, versions, memory sizes (bytes), compute
    units, work-group limits and the base address alignment (bytes)."""
    return {
        "platform": device.platform.name.strip(),
        "platform_version": device.platform.version.strip(),
        "device": device.name.strip(),
        "vendor": device.vendor.strip(),
        "type": device_type(device),
        "version": device.version.strip(),
        "driver_version": device.driver_version.strip(),
        "global_mem_bytes": int(device.global_mem_size),
        "max_alloc_bytes": int(device.max_mem_alloc_size),
        "compute_units": int(device.max_compute_units),
        "max_work_group_size": int(device.max_work_group_size),
        "max_work_item_sizes": [int(s) for s in device.max_work_item_sizes],
        "local_mem_bytes": int(device.local_mem_size),
        "base_align_bytes": base_align_bytes(device),
    }
