"""Nemeses: the faults the lab injects, each registered by name so plugins can add their own.

A :class:`Nemesis` has a ``begin`` and an ``end`` (heal) action, each given a
:class:`FaultContext` (the node hit, a seeded random source, the fault's arguments and the
fault-injection machinery the case set up) and returning one line describing what it did.
``needs`` names the machinery a nemesis requires, which the runner sets up before the nodes
first start:

* ``fs``: the unsynced-data-loss shim preloaded into the node (:mod:`lab.chaos.fsshim`);
* ``disk``: the node's data on a small tmpfs the lab mounts (:mod:`lab.chaos.disk`);
* ``clock``: libfaketime preloaded into the node, driven through a timestamp file;
* ``network``: the node in its own network namespace (:mod:`lab.chaos.netfaults`).

When the machinery cannot exist here (no root for a mount, no libfaketime, no netem in the
kernel) ``skip_reason`` says why in one line and the fault is recorded as skipped, never
silently dropped. Plugins return more nemeses from the ``lab_register_nemeses`` hook.

Built in: ``kill`` (SIGKILL, restart at the end), ``pause`` (SIGSTOP/SIGCONT), ``restart``
(graceful stop and start), ``crash`` (SIGKILL, then every byte written since the last fsync is
lost, LazyFS-style), ``torn`` (SIGKILL with a torn last write: a random part of the unsynced
bytes survives), ``fsync-fail`` (fsync returns EIO), ``fsync-noop`` (fsync does nothing),
``fsync-lie`` (fsync does nothing, then a crash),
``bitflip`` (a bit flipped in a data file at rest), ``disk-full``, ``clock-jump``,
``clock-drift``, ``partition``, ``partition-oneway`` and ``netem`` (delay, loss, duplication,
reordering and corruption).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.chaos.cleanup import start_tracked
from lab.chaos.model import Node

NEEDS = ("fs", "disk", "clock", "network")
_ATTRIBUTE = {"fs": "shim", "disk": "disk", "clock": "clock", "network": "network"}


@dataclass
class FaultContext:
    """What a nemesis action gets. ``shim``, ``disk``, ``clock`` and ``network`` are the
    machinery of :data:`NEEDS` (None when the case did not set it up); ``stats`` collects
    figures the case reports (restarts, recovery seconds, bytes lost)."""

    node: Node
    rng: random.Random
    args: dict[str, Any]
    shim: Any = None
    disk: Any = None
    clock: Any = None
    network: Any = None
    stats: dict[str, Any] = field(default_factory=dict)


Action = Callable[[FaultContext], str]


def _nothing(ctx: FaultContext) -> str:
    return ""


@dataclass(frozen=True)
class Nemesis:
    """A registered fault: ``durations`` is the range its windows are drawn from (seconds)."""

    name: str
    description: str
    begin: Action
    end: Action = _nothing
    durations: tuple[float, float] = (0.1, 0.5)
    needs: tuple[str, ...] = ()


def skip_reason(nemesis: Nemesis, ctx: FaultContext) -> str | None:
    """Why ``nemesis`` cannot be applied in ``ctx``, or None."""
    for need in nemesis.needs:
        machinery = getattr(ctx, _ATTRIBUTE[need])
        if machinery is None:
            return f"{nemesis.name} needs the {need} machinery, which this case lacks"
        reason = getattr(machinery, "unavailable", None)
        if reason:
            return str(reason)
    if nemesis.name == "netem":
        from lab.chaos.netfaults import netem_missing

        return netem_missing()
    return None


# ---- process faults -------------------------------------------------------------------

def restart(ctx: FaultContext) -> str:
    """Start the node again if it is down (its files first marked durable as they are, when
    the unsynced-loss shim watches them: the crash, if any, was applied already); one line
    on the outcome. A node that will not start stays down (the checkers see it)."""
    node = ctx.node
    if node.alive():
        return "already running"
    if ctx.shim is not None:
        ctx.shim.mark_durable()
    began = time.monotonic()
    try:
        start_tracked(node)
    except RuntimeError as e:
        ctx.stats["failed_restarts"] = ctx.stats.get("failed_restarts", 0) + 1
        return f"did not restart: {' '.join(str(e).split())[:300]}"
    took = time.monotonic() - began
    ctx.stats["restarts"] = ctx.stats.get("restarts", 0) + 1
    ctx.stats["recovery_s"] = max(ctx.stats.get("recovery_s", 0.0), took)
    return f"restarted in {took:.3f} s"


def _kill(ctx: FaultContext) -> str:
    pids = ctx.node.pids()
    ctx.node.kill()
    return f"SIGKILL {', '.join(map(str, pids)) or '(not running)'}"


def _signal_all(node: Node, sig: signal.Signals) -> list[int]:
    done = []
    for pid in node.pids():
        try:
            os.kill(pid, sig)
            done.append(pid)
        except ProcessLookupError:
            pass
    return done


def _pause(ctx: FaultContext) -> str:
    return f"SIGSTOP {', '.join(map(str, _signal_all(ctx.node, signal.SIGSTOP)))}"


def _resume(ctx: FaultContext) -> str:
    return f"SIGCONT {', '.join(map(str, _signal_all(ctx.node, signal.SIGCONT)))}"


def _graceful_restart(ctx: FaultContext) -> str:
    ctx.node.stop()
    return "stopped; " + restart(ctx)


def _losses(losses: list[Any]) -> str:
    if not losses:
        return "no unsynced bytes"
    parts = [f"{Path(x.path).name} -{x.size_before - x.size_after} B" for x in losses[:4]]
    more = f" (+{len(losses) - 4} files)" if len(losses) > 4 else ""
    return ", ".join(parts) + more


def _crash(ctx: FaultContext) -> str:
    killed = _kill(ctx)
    losses = ctx.shim.crash()
    ctx.stats["bytes_lost"] = ctx.stats.get("bytes_lost", 0) + sum(
        x.size_before - x.size_after for x in losses)
    return f"{killed}; lost since the last fsync: {_losses(losses)}"


def _torn(ctx: FaultContext) -> str:
    killed = _kill(ctx)
    losses = ctx.shim.tear(ctx.rng)
    return f"{killed}; torn last write: {_losses(losses)}"


# ---- disk faults ----------------------------------------------------------------------

def _lie_then_crash(ctx: FaultContext) -> str:
    """The end of an ``fsync-lie`` window: crash while the disk is still lying, then let
    fsync work again and restart."""
    crashed = _crash(ctx)
    ctx.shim.set_mode("normal")
    return f"{crashed}; fsync works again; " + restart(ctx)

def _fsync_mode(mode: str) -> Action:
    def action(ctx: FaultContext) -> str:
        ctx.shim.set_mode(mode)
        if mode == "normal":
            return "fsync works again"
        return "fsync returns EIO" if mode == "fail" else "fsync does nothing"
    return action


def _data_files(node: Node) -> list[Path]:
    return sorted(p for p in node.data_dir.rglob("*") if p.is_file() and p.stat().st_size > 0)


def _bitflip(ctx: FaultContext) -> str:
    """Stop the node, flip ``args['bits']`` (default 1) bits at offsets drawn uniformly over
    all the bytes of its data files (so mostly in the largest, its log), start it again."""
    ctx.node.stop()
    files = _data_files(ctx.node)
    total = sum(p.stat().st_size for p in files)
    if not total:
        return "stopped; no data file to corrupt; " + restart(ctx)
    flips = []
    for _ in range(int(ctx.args.get("bits", 1))):
        offset = ctx.rng.randrange(total)
        for path in files:
            size = path.stat().st_size
            if offset < size:
                break
            offset -= size
        bit = ctx.rng.randrange(8)
        with open(path, "r+b") as f:
            f.seek(offset)
            byte = f.read(1)[0] ^ (1 << bit)
            f.seek(offset)
            f.write(bytes([byte]))
        flips.append(f"{path.name} byte {offset} bit {bit}")
    return f"stopped; flipped {', '.join(flips)}; " + restart(ctx)


def _fill(ctx: FaultContext) -> str:
    return ctx.disk.fill()


def _unfill(ctx: FaultContext) -> str:
    """Free the disk; a node that died of the full disk is restarted (as a supervisor would),
    so the case shows whether it recovers once space returns."""
    freed = ctx.disk.release()
    if ctx.node.alive():
        return freed
    return f"{freed}; {_died(ctx)}; " + restart(ctx)


def _died(ctx: FaultContext) -> str:
    return f"{ctx.node.name} had exited (status {ctx.node.exit_status()})"


# ---- clock faults ---------------------------------------------------------------------

def _clock_jump(ctx: FaultContext) -> str:
    seconds = ctx.args.get("seconds")
    if seconds is None:
        seconds = ctx.rng.choice((-1, 1)) * ctx.rng.randint(60, 3600)
    return ctx.clock.set(offset=float(seconds))


def _clock_drift(ctx: FaultContext) -> str:
    rate = float(ctx.args.get("rate") or ctx.rng.choice((0.5, 2.0, 5.0)))
    return ctx.clock.set(rate=rate)


def _clock_reset(ctx: FaultContext) -> str:
    return ctx.clock.set()


# ---- network faults -------------------------------------------------------------------

def _partition(ctx: FaultContext) -> str:
    ctx.network.partition([["host"], [ctx.node.name]])
    return f"{ctx.node.name} cut off from the clients"


def _oneway(ctx: FaultContext) -> str:
    ctx.network.drop(ctx.node.name, "host")
    return f"packets from {ctx.node.name} to the clients dropped (requests still arrive)"


def _netem(ctx: FaultContext) -> str:
    settings = {k: float(ctx.args[k]) for k in ("delay_ms", "jitter_ms", "loss_pct",
                                                "duplicate_pct", "reorder_pct", "corrupt_pct")
                if k in ctx.args}
    if not settings:
        settings = {"delay_ms": 50.0, "jitter_ms": 20.0, "loss_pct": 5.0,
                    "duplicate_pct": 1.0, "reorder_pct": 5.0, "corrupt_pct": 1.0}
    ctx.network.netem(ctx.node.name, **settings)
    return "netem " + ", ".join(f"{k}={v:g}" for k, v in settings.items())


def _heal(ctx: FaultContext) -> str:
    ctx.network.heal()
    return "healed"


BUILTIN: tuple[Nemesis, ...] = (
    Nemesis("kill", "SIGKILL the node; restart it when the window ends", _kill, restart,
            (0.05, 0.3)),
    Nemesis("pause", "SIGSTOP every process of the node; SIGCONT when the window ends",
            _pause, _resume, (0.2, 1.5)),
    Nemesis("restart", "stop the node gracefully (SIGTERM) and start it again", _graceful_restart,
            _nothing, (0.0, 0.0)),
    Nemesis("crash", "SIGKILL the node and lose every byte written since its last fsync "
            "(LazyFS-style); restart at the end", _crash, restart, (0.05, 0.3), ("fs",)),
    Nemesis("torn", "SIGKILL the node with a torn last write: a random prefix of the bytes "
            "written since the last fsync survives; restart at the end", _torn, restart,
            (0.05, 0.3), ("fs",)),
    Nemesis("fsync-fail", "fsync and fdatasync return EIO for the node's data files",
            _fsync_mode("fail"), _fsync_mode("normal"), (0.2, 1.0), ("fs",)),
    Nemesis("fsync-noop", "fsync and fdatasync return success without syncing anything",
            _fsync_mode("noop"), _fsync_mode("normal"), (0.2, 1.0), ("fs",)),
    Nemesis("fsync-lie", "fsync returns success without syncing, then the node crashes "
            "before it tells the truth again: what an acknowledgement is worth on a lying disk",
            _fsync_mode("noop"), _lie_then_crash, (0.2, 1.0), ("fs",)),
    Nemesis("bitflip", "stop the node, flip a random bit in one of its data files, start it",
            _bitflip, _nothing, (0.0, 0.0)),
    Nemesis("disk-full", "fill the node's (tmpfs) data file system to the last byte; free it "
            "when the window ends", _fill, _unfill, (0.5, 2.0), ("disk",)),
    Nemesis("clock-jump", "jump the node's clock by minutes to an hour, either way "
            "(libfaketime)", _clock_jump, _clock_reset, (0.3, 1.5), ("clock",)),
    Nemesis("clock-drift", "run the node's clock 0.5x, 2x or 5x as fast (libfaketime)",
            _clock_drift, _clock_reset, (0.5, 2.0), ("clock",)),
    Nemesis("partition", "drop all traffic between the node and the clients", _partition,
            _heal, (0.3, 1.5), ("network",)),
    Nemesis("partition-oneway", "drop the node's packets to the clients only", _oneway, _heal,
            (0.3, 1.5), ("network",)),
    Nemesis("netem", "delay, jitter, loss, duplication, reordering and corruption on the "
            "node's link (tc netem)", _netem, _heal, (0.5, 2.0), ("network",)),
)


def registry(extra: list[Any] | None = None) -> dict[str, Nemesis]:
    """Built-in nemeses plus ``extra`` (from plugins); a plugin's entry with a built-in's name
    replaces it. Anything that is not a :class:`Nemesis` raises ``ValueError``."""
    found = {n.name: n for n in BUILTIN}
    for n in extra or []:
        if not isinstance(n, Nemesis):
            raise ValueError(f"lab_register_nemeses must return lab.chaos.nemesis.Nemesis "
                             f"objects, got {type(n).__name__}")
        bad = [need for need in n.needs if need not in NEEDS]
        if bad:
            raise ValueError(f"nemesis {n.name!r} needs unknown machinery {bad} "
                             f"(valid: {', '.join(NEEDS)})")
        found[n.name] = n
    return found


def registered() -> dict[str, Nemesis]:
    """Every nemesis known to this lab: built-ins and those plugins register."""
    from lab.host import get_host

    return registry(get_host().collect("lab_register_nemeses"))
