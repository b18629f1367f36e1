"""The four tcpip fuzz targets, run in process on the ``tcpip-lib`` build through the harness
fixture of ``targets/tcpip/fuzz_fx.c`` (our stack at 10.77.0.2 with a fabricated peer).

- ``frame``: one Ethernet frame into a stack with a listening socket, an established
  connection, a bound UDP socket and a resolved ARP entry; the clock then moves 250 ms.
  The first input byte says whether the harness fixes the frame's checksums first (bit 0).

The three stateful targets take their input as a FuzzedDataProvider program of steps
(``steps``: the reference decoder and the seed encoder), decoded and run in C
(``targets/tcpip/fuzz_prog.c``, which reads bytes exactly as the provider does, so the same
bytes mean the same steps on both sides: a test checks it) to keep thousands of executions
per second:

- ``tcp_session``: a program of peer segments (offsets from the
  connection's sequence state), clock advances and application calls against the listener
  and the established connection.
- ``ip_reassembly``: a program of IPv4 fragments (four datagram ids, any offset, length and
  more-fragments bit) and clock advances (the 30 s reassembly timeout).
- ``dhcp``: a program of DHCP server messages (offer, ack, nak, ... with fuzzed options and
  transaction ids) and clock advances (retransmission, T1, T2, lease expiry) against our
  client from its first DISCOVER.

After every step each target runs ``ts_check`` (every layer's invariants: sequence space,
windows and buffer accounting, timer state, reassembly and memory bounds); the first
violation is the outcome's ``violation`` and fails the ``no_violation`` invariant.  The
stack verifies checksums in every build, so these harnesses compute them (``ts_fix_checksums``,
``ts_fx_segment``) before injecting: the fuzzer gets past them instead of spending its time on
frames the stack rightly drops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lab
from plugins.tcpip.fuzzing.steps import Advance, App, DhcpReply, Fragment, Segment

RECIPE = "tcpip-lib"
FX_TCP, FX_DHCP = 0, 1
SEED = 1
SESSION_KINDS = (Segment, Advance, App)
REASM_KINDS = (Fragment, Advance)
DHCP_KINDS = (DhcpReply, Advance)
SESSION_STEPS, REASM_STEPS, DHCP_STEPS = 64, 48, 12
DHCP_BOUND = 3


@dataclass(frozen=True)
class Outcome:
    """What one input did: the frames the stack sent, and the first invariant violation
    (None when every check passed)."""

    frames_out: int
    violation: str | None


def no_violation(data: bytes, out: Outcome) -> None:
    """Invariant of every target: ``ts_check`` held after every step."""
    if out.violation is not None:
        raise AssertionError(out.violation)


class Fixture:
    """The cffi module of one flavor and a reusable error buffer."""

    def __init__(self, ctx: lab.LoadContext) -> None:
        mod = ctx.build(RECIPE)
        self.ffi, self.lib = mod.ffi, mod.lib
        self.err = self.ffi.new("char[]", 512)

    def new(self, kind: int) -> Any:
        fx = self.lib.ts_fx_new(kind, SEED)
        if fx == self.ffi.NULL:
            raise RuntimeError("ts_fx_new failed: the fixture's own set-up broke")
        return self.ffi.gc(fx, self.lib.ts_fx_free)

    def violation(self, fx: Any, where: str) -> str | None:
        if self.lib.ts_check(self.lib.ts_fx_stack(fx), self.err, 512) == 0:
            return None
        return f"{where}: {self.ffi.string(self.err).decode(errors='replace')}"


# ----------------------------------------------------------------------------- frame

def _load_frame(ctx: lab.LoadContext) -> Callable[[bytes], Outcome]:
    fxr = Fixture(ctx)

    def frame(data: bytes) -> Outcome:
        if len(data) < 2:
            raise lab.Reject("need a flags byte and a frame")
        fx = fxr.new(FX_TCP)
        fxr.lib.ts_fx_frame(fx, data[1:], len(data) - 1, data[0] & 1)
        bad = fxr.violation(fx, "after the frame")
        if bad is None:
            fxr.lib.ts_fx_advance(fx, 250_000)
            bad = fxr.violation(fx, "250 ms after the frame")
        return Outcome(fxr.lib.ts_fx_frames_out(fx), bad)

    return frame


# ------------------------------------------------------------ the stateful programs

PROG_SESSION, PROG_REASM, PROG_DHCP = 0, 1, 2
"""``enum ts_fx_prog``: which program ``ts_fx_program`` decodes and runs."""


def _load_program(prog: int) -> Callable[[lab.LoadContext], Callable[[bytes], Outcome]]:
    def load(ctx: lab.LoadContext) -> Callable[[bytes], Outcome]:
        fxr = Fixture(ctx)
        frames = fxr.ffi.new("uint64_t *")

        def program(data: bytes) -> Outcome:
            """Decode ``data`` as the FuzzedDataProvider program of ``steps`` and run it
            (in C, ``ts_fx_program``), ts_check after every step."""
            rc = fxr.lib.ts_fx_program(prog, data, len(data), fxr.err, 512, frames)
            if rc not in (0, -1):
                raise RuntimeError(f"ts_fx_program: errno {-rc}")
            bad = fxr.ffi.string(fxr.err).decode(errors="replace") if rc else None
            return Outcome(frames[0], bad)

        return program

    return load


# ----------------------------------------------------------------------- declarations

MAGIC = b"\x63\x82\x53\x63"
"""The DHCP magic cookie (RFC 2131 3), a dictionary token."""

HEADER_TOKENS = (
    b"\x08\x00", b"\x08\x06", b"\x45\x00", b"\x40\x00", b"\x20\x00", b"\x00\x01\x08\x00\x06\x04",
    b"\x0a\x4d\x00\x02", b"\x0a\x4d\x00\x01", b"\xff\xff\xff\xff", b"\x02\x00\x00\x00\x00\x02",
    b"\x00\x50", b"\x9c\x40", b"\x00\x07", b"\x02\x04\x05\xb4", b"\x03\x03\x07", b"\x01\x01",
    b"\x04\x02", b"\x08\x0a", b"\x06", b"\x11", b"\x12", b"\x10", b"\x18", b"\x11\x00",
)
DHCP_TOKENS = (
    MAGIC, b"\x35\x01\x02", b"\x35\x01\x05", b"\x35\x01\x06", b"\x36\x04\x0a\x4d\x00\x01",
    b"\x33\x04\x00\x00\x0e\x10", b"\x3a\x04\x00\x00\x07\x08", b"\x3b\x04\x00\x00\x0c\x4e",
    b"\x01\x04\xff\xff\xff\x00", b"\x03\x04\x0a\x4d\x00\x01", b"\x34\x01\x03", b"\xff", b"\x00",
)

FRAME = lab.FuzzTarget(
    name="frame", description="one Ethernet frame into a stack with a listener, an "
    "established connection, a UDP socket and an ARP entry; ts_check after it and 250 ms on",
    load=_load_frame, invariants=(no_violation,), dictionary=HEADER_TOKENS, max_len=2048,
    recipe=RECIPE)
TCP_SESSION = lab.FuzzTarget(
    name="tcp_session", description="stateful: peer segments, clock advances and socket "
    "calls against a listener and an established connection, ts_check after every step",
    load=_load_program(PROG_SESSION), invariants=(no_violation,),
    dictionary=HEADER_TOKENS, max_len=8192, recipe=RECIPE)
IP_REASSEMBLY = lab.FuzzTarget(
    name="ip_reassembly", description="IPv4 fragments of four datagrams in any order, "
    "overlap and size, with clock advances past the reassembly timeout; ts_check after each",
    load=_load_program(PROG_REASM), invariants=(no_violation,),
    dictionary=HEADER_TOKENS, max_len=8192, recipe=RECIPE)
DHCP = lab.FuzzTarget(
    name="dhcp", description="DHCP server messages and clock advances against our client "
    "from its first DISCOVER; ts_check after each",
    load=_load_program(PROG_DHCP), invariants=(no_violation,), dictionary=DHCP_TOKENS,
    max_len=4096, recipe=RECIPE)

FUZZ_TARGETS = (FRAME, TCP_SESSION, IP_REASSEMBLY, DHCP)
