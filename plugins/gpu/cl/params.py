"""Per-device tunables of the kernels in targets/gpu/cl, and their build options.

``choose(device)`` derives every size from the device's limits (CL_DEVICE_MAX_WORK_GROUP_SIZE,
CL_DEVICE_MAX_WORK_ITEM_SIZES, CL_DEVICE_LOCAL_MEM_SIZE, compute units, device type), so no
kernel depends on a hard-coded size that a small device could not take. ``limit(params,
wg)`` shrinks them to a kernel's CL_KERNEL_WORK_GROUP_SIZE when a built kernel turns out to
take fewer work-items than the device maximum (the driver rebuilds with the result).

GPU devices get grid-stride loops with float4 loads, tiled scans, several sub-histograms
per work-group and 64x64 GEMM tiles of 4x4 outputs per work-item; CPU devices (PoCL) get
one contiguous chunk per work-item with 16-wide vectors (reduce, histogram and scan), a
private sub-histogram per work-item (no atomics) where it fits, and 64x64 GEMM tiles of
8x8 outputs per work-item. Each file is built with only the options it reads, and these are few and
stable, so a device compiles each program once (PoCL and PyOpenCL cache the binaries).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pyopencl as cl

PREFERRED_WG = 256


@dataclass(frozen=True)
class Params:
    """Tunables for one device (see module docstring)."""

    wg: int  # 1-D work-group size of reduce, scan, histogram (a power of two)
    vec: int  # load width of reduce and histogram
    chunked: bool  # contiguous chunk per work-item (CPU) instead of grid-stride (GPU)
    groups_per_cu: int  # work-groups per compute unit for reduce and histogram grids
    compute_units: int
    scan_items: int  # scan entries per work-item (tile = wg * scan_items)
    hist_wg: int  # work-group size of the histogram (a power of two)
    hist_groups_per_cu: int  # histogram work-groups per compute unit
    hist_copies: int  # sub-histograms per work-group on the atomic path (a power of two)
    hist_private: bool  # one sub-histogram per work-item, no atomics, when it fits
    local_mem: int  # bytes of local memory per work-group
    tdim: int  # transpose tile side
    trows: int  # transpose work-items along dimension 1
    tsm: int  # GEMM tile rows (m)
    tsn: int  # GEMM tile columns (n)
    tsk: int  # GEMM tile depth (k)
    wptm: int  # GEMM outputs per work-item along m
    wptn: int  # GEMM outputs per work-item along n

    @property
    def max_groups(self) -> int:
        return self.compute_units * self.groups_per_cu

    @property
    def scan_tile(self) -> int:
        return self.wg * self.scan_items

    @property
    def gemm_local(self) -> tuple[int, int]:
        """Local size (n, m) of the GEMM kernel."""
        return self.tsn // self.wptn, self.tsm // self.wptm

    def defines(self, program: str) -> dict[str, int]:
        """The -D options ``program`` (a file name in targets/gpu/cl) is built with."""
        if program == "reduce.cl":
            return {"WG": self.wg, "VEC": self.vec, "CHUNKED": int(self.chunked)}
        if program == "histogram.cl":
            return {"WG": self.hist_wg, "VEC": self.vec, "CHUNKED": int(self.chunked)}
        if program == "scan.cl":
            return {"WG": self.wg, "ITEMS": self.scan_items}
        if program == "transpose.cl":
            return {"TDIM": self.tdim, "TROWS": self.trows}
        if program == "sgemm.cl":
            return {"TSM": self.tsm, "TSN": self.tsn, "TSK": self.tsk, "WPTM": self.wptm,
                    "WPTN": self.wptn}
        raise ValueError(f"no parameters for program {program!r}")

    def local_size(self, program: str) -> int:
        """Work-items per work-group of ``program``'s kernels."""
        if program == "transpose.cl":
            return self.tdim * self.trows
        if program == "sgemm.cl":
            ln, lm = self.gemm_local
            return ln * lm
        if program == "histogram.cl":
            return self.hist_wg
        return self.wg


def _pow2_floor(n: int) -> int:
    return 1 << (max(int(n), 1).bit_length() - 1)


def _gemm_tiles(side: int, wpt: int, max_wg: int, max_item0: int, max_item1: int,
                local_mem: int) -> tuple[int, int, int, int, int]:
    """(tsm, tsn, tsk, wptm, wptn): wpt x wpt outputs per work-item on a square grid of
    side x side work-items (halved until the limits allow it), so tiles of wpt * side;
    TSK = 16, or 8 or 4 when local memory is small. Each work-item then loads
    wpt * TSK / side elements of each tile, a whole number for powers of two
    side <= wpt * 4."""
    while side > 1 and (side * side > max_wg or side > max_item0 or side > max_item1):
        side //= 2
    ts = side * wpt
    tsk = 16
    while tsk > 4 and 4 * 2 * tsk * (ts + 1) > local_mem:
        tsk //= 2
    return ts, ts, tsk, wpt, wpt


def choose(device: cl.Device) -> Params:
    """Tunables for ``device`` from its limits."""
    max_wg = int(device.max_work_group_size)
    items = [int(s) for s in device.max_work_item_sizes]
    local_mem = int(device.local_mem_size)
    is_cpu = bool(device.type & cl.device_type.CPU)
    wg = _pow2_floor(min(PREFERRED_WG, max_wg, items[0], max(local_mem // 64, 1)))
    scan_items = 8
    while scan_items > 1 and 4 * (wg * scan_items * 33 // 32 + wg + 1) > local_mem:
        scan_items //= 2
    tdim = 32
    while tdim > 1 and (tdim > items[0] or tdim * (tdim + 1) * 4 > local_mem
                        or tdim > max_wg):
        tdim //= 2
    trows = _pow2_floor(min(8, max(max_wg // tdim, 1), items[1], tdim))
    # GPU: 16x16 work-items with 4x4 outputs each; CPU (PoCL vectorises across work-items):
    # 8x8 work-items with 8x8 outputs each measured twice as fast
    tsm, tsn, tsk, wptm, wptn = _gemm_tiles(8 if is_cpu else 16, 8 if is_cpu else 4, max_wg,
                                            items[0], items[1], local_mem)
    return Params(
        wg=wg,
        vec=16 if is_cpu else 4,
        chunked=is_cpu,
        groups_per_cu=4 if is_cpu else 8,
        compute_units=max(int(device.max_compute_units), 1),
        scan_items=scan_items,
        # CPU: every work-item's private sub-histogram is zeroed and merged per work-group,
        # so fewer, smaller work-groups (one per core of 64) measured fastest on PoCL
        hist_wg=min(wg, 64) if is_cpu else wg,
        hist_groups_per_cu=1 if is_cpu else 8,
        hist_copies=1 if is_cpu else 4,
        hist_private=is_cpu,
        local_mem=local_mem,
        tdim=tdim, trows=trows, tsm=tsm, tsn=tsn, tsk=tsk, wptm=wptm, wptn=wptn,
    )


def limit(params: Params, program: str, kernel_wg: int) -> Params:
    """``params`` with ``program``'s work-group no larger than ``kernel_wg`` work-items
    (halving the sizes that set it); unchanged if it already fits."""
    p = params
    while p.local_size(program) > kernel_wg:
        if program == "transpose.cl":
            p = dataclasses.replace(p, trows=max(p.trows // 2, 1)) if p.trows > 1 else \
                dataclasses.replace(p, tdim=p.tdim // 2)
        elif program == "sgemm.cl":
            side = max(min(p.gemm_local) // 2, 1)
            p = dataclasses.replace(p, tsm=side * p.wptm, tsn=side * p.wptn)
        elif program == "histogram.cl":
            p = dataclasses.replace(p, hist_wg=max(p.hist_wg // 2, 1))
        else:
            p = dataclasses.replace(p, wg=max(p.wg // 2, 1))
        if p.local_size(program) == 1:
            break
    return p
