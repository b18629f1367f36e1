"""The tcpip fuzz targets (plugins/tcpip/fuzzing/) without a fuzzer, plus one short real fuzz
run: the seed encoder round-trips through atheris's provider, the harness fixture starts with
an established connection, every committed seed passes its target and reaches the state it
was taken from (a lease, a reassembled datagram answered, a served request), and an
invariant violation surfaces as a finding."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import lab
from lab.fuzz.harness import InvariantViolation, input_function
from labtest import FLAVOR, ROOT, assert_fuzz_runs_clean
from plugins.tcpip import fuzzing
from plugins.tcpip.fuzzing import steps, targets
from plugins.tcpip.fuzzing.fdp import Encoder

CORPORA = ROOT / "corpora" / "tcpip"
TARGETS = {t.name: t for t in fuzzing.FUZZ_TARGETS}


def _seeds(target: str) -> list[Path]:
    return sorted((CORPORA / target).glob("*.bin"))


def _provider(data: bytes) -> Any:
    import atheris

    return atheris.FuzzedDataProvider(data)


@pytest.fixture(scope="module")
def system() -> lab.System:
    from lab.host import get_host

    return get_host().systems()["tcpip"]


@pytest.fixture(scope="module")
def fxr(system: lab.System) -> targets.Fixture:
    from lab import native

    ctx = lab.LoadContext(system, FLAVOR, build=lambda r: native.load(system, r, FLAVOR))
    return targets.Fixture(ctx)


def test_targets_are_declared_with_seeds(system: lab.System) -> None:
    from lab.model import validate_system

    assert list(TARGETS) == ["frame", "tcp_session", "ip_reassembly", "dhcp"]
    assert "fuzz" in system.offers and validate_system(system) == []
    for t in fuzzing.FUZZ_TARGETS:
        assert t.recipe == "tcpip-lib" and t.invariants == (targets.no_violation,)
        readme = (CORPORA / t.name / "README.md").read_text()
        assert len(_seeds(t.name)) >= 2, t.name
        assert all(f"`{p.name}`" in readme for p in _seeds(t.name))
    assert not any(t.structured for t in fuzzing.FUZZ_TARGETS)   # C reads the programs


def _random_step(rng: random.Random, kind: type) -> Any:
    blob = lambda most: rng.randbytes(rng.choice((0, 1, rng.randint(0, most))))  # noqa: E731
    delta = lambda: rng.choice((0, 1, -1, rng.randint(-70000, 70000),  # noqa: E731
                                rng.randint(-(2**31), 2**31 - 1)))
    if kind is steps.Segment:
        return steps.Segment(rng.randint(0, 7), rng.randint(0, 255), delta(), delta(),
                             rng.randint(0, 65535), blob(40), blob(1460))
    if kind is steps.Advance:
        return steps.Advance(rng.choice((1, 40, 250, 1000, rng.randint(0, 300_000))))
    if kind is steps.App:
        return steps.App(rng.randint(0, 8), rng.randint(0, 7), rng.randint(0, 8192))
    if kind is steps.Fragment:
        return steps.Fragment(rng.randint(0, 3), rng.choice((17, 6, 1)), rng.randint(0, 8191),
                              rng.randint(0, 1), blob(1480))
    return steps.DhcpReply(rng.randint(0, 8), rng.randint(0, 3), rng.randint(0, 2**32 - 1),
                           rng.randint(0, 1), blob(312))


@pytest.mark.parametrize("kinds", [targets.SESSION_KINDS, targets.REASM_KINDS,
                                   targets.DHCP_KINDS], ids=["session", "reasm", "dhcp"])
def test_encoder_round_trips_through_atheris(kinds: tuple) -> None:
    rng = random.Random(7)
    for _ in range(150):
        program = [_random_step(rng, rng.choice(kinds)) for _ in range(rng.randint(1, 12))]
        data = steps.write_program(program, kinds, 64)
        assert steps.read_program(_provider(data), kinds, 64) == program


class Tracing:
    """atheris's provider, noting every value it hands out (byte strings: their length)."""

    def __init__(self, data: bytes) -> None:
        self.fdp, self.trace = _provider(data), []

    def ConsumeIntInRange(self, lo: int, hi: int) -> int:  # noqa: N802
        self.trace.append(self.fdp.ConsumeIntInRange(lo, hi))
        return self.trace[-1]

    def ConsumeBytes(self, n: int) -> bytes:  # noqa: N802
        data = self.fdp.ConsumeBytes(n)
        self.trace.append(len(data))
        return data


PROGRAMS = [(targets.PROG_SESSION, targets.SESSION_KINDS, targets.SESSION_STEPS),
            (targets.PROG_REASM, targets.REASM_KINDS, targets.REASM_STEPS),
            (targets.PROG_DHCP, targets.DHCP_KINDS, targets.DHCP_STEPS)]


@pytest.mark.parametrize(("prog", "kinds", "limit"), PROGRAMS, ids=["session", "reasm", "dhcp"])
def test_c_decoder_reads_inputs_as_the_provider_does(fxr: targets.Fixture, prog: int,
                                                     kinds: tuple, limit: int) -> None:
    """fuzz_prog.c and steps.read_program over atheris see the same values in the same order,
    on random bytes (truncated programs included) and on encoded programs."""
    rng = random.Random(11)
    trace = fxr.ffi.new("int64_t[]", 100_000)
    inputs = [rng.randbytes(rng.randint(0, 3000)) for _ in range(200)]
    inputs += [steps.write_program([_random_step(rng, rng.choice(kinds)) for _ in range(5)],
                                   kinds, limit) for _ in range(50)]
    for data in inputs:
        tracing = Tracing(data)
        steps.read_program(tracing, kinds, limit)
        n = fxr.lib.ts_fx_decode(prog, data, len(data), trace, 100_000)
        assert list(trace[0:n]) == tracing.trace


def test_encoder_rejects_values_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        Encoder().int_in_range(9, 0, 8)


def test_fixture_starts_established(fxr: targets.Fixture) -> None:
    fx = fxr.new(targets.FX_TCP)
    assert fxr.lib.ts_fx_established(fx) == 1
    assert fxr.violation(fx, "fresh") is None
    dhcp = fxr.new(targets.FX_DHCP)
    assert fxr.lib.ts_fx_dhcp_xid(dhcp) != 0          # the first DISCOVER went out


def test_the_peer_can_answer_a_connection_we_open(fxr: targets.Fixture) -> None:
    """conn 7 plays the server of our own active open: SYN-ACK, then data both ways."""
    lib = fxr.lib
    fx = fxr.new(targets.FX_TCP)
    assert lib.ts_fx_app(fx, 6, 1, 0) == -115                  # TS_FX_CONNECT: EINPROGRESS
    t = lib.ts_fx_sock(fx, 1)
    assert lib.ts_tcp_state(t) == 2                            # SYN-SENT
    mss = b"\x02\x04\x05\xb4"
    lib.ts_fx_segment(fx, 7, 0x12, 0, 0, 65535, mss, 4, b"", 0)   # SYN-ACK
    assert lib.ts_tcp_state(t) == 4                            # ESTABLISHED
    lib.ts_fx_segment(fx, 7, 0x18, 0, 0, 65535, b"", 0, b"hello", 5)
    assert lib.ts_fx_app(fx, 1, 1, 100) == 5                   # TS_FX_RECV
    assert lib.ts_fx_app(fx, 0, 1, 10) == 10                   # TS_FX_SEND
    assert fxr.violation(fx, "after the exchange") is None


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_seed_passes_its_target(system: lab.System, target: str) -> None:
    one = input_function(system, TARGETS[target], FLAVOR)
    for seed in _seeds(target):
        one(seed.read_bytes())


def test_dhcp_lease_seed_binds_the_offered_address(fxr: targets.Fixture) -> None:
    data = (CORPORA / "dhcp" / "dhcp-lease.bin").read_bytes()
    program = steps.read_program(_provider(data), targets.DHCP_KINDS, targets.DHCP_STEPS)
    fx = fxr.new(targets.FX_DHCP)
    for step in program:                # as the target sends them (ts_fx_dhcp_reply)
        fxr.lib.ts_fx_dhcp_reply(fx, step.msg_type, step.xid_ok, step.yiaddr, step.broadcast,
                                 step.options, len(step.options))
    s = fxr.lib.ts_fx_stack(fx)
    assert fxr.lib.ts_dhcp_state(s) == targets.DHCP_BOUND
    assert fxr.lib.ts_get_addr(s) == program[-1].yiaddr != 0


def test_reassembly_seed_is_answered(system: lab.System, fxr: targets.Fixture) -> None:
    """A fragmented echo request from the capture is reassembled and answered."""
    seed = next(p for p in _seeds("ip_reassembly") if "reversed" not in p.name)
    load = TARGETS["ip_reassembly"].load
    from lab import native

    run = load(lab.LoadContext(system, FLAVOR, build=lambda r: native.load(system, r, FLAVOR)))
    out = run(seed.read_bytes())
    assert out.violation is None and out.frames_out >= 2, out


def test_session_seed_gets_an_http_request_through(system: lab.System) -> None:
    from lab import native

    run = TARGETS["tcp_session"].load(
        lab.LoadContext(system, FLAVOR, build=lambda r: native.load(system, r, FLAVOR)))
    for seed in _seeds("tcp_session"):
        out = run(seed.read_bytes())
        assert out.violation is None and out.frames_out >= 2, (seed.name, out)


def test_a_violation_is_a_finding(system: lab.System, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(targets.Fixture, "violation",
                        lambda self, fx, where: f"{where}: planted")
    one = input_function(system, TARGETS["frame"], FLAVOR)
    with pytest.raises(InvariantViolation, match="no_violation: after the frame: planted"):
        one(b"\x00" + bytes(60))


def test_lab_fuzz_runs_every_target_cleanly(run_lab, lab_env) -> None:  # noqa: ANN001
    assert_fuzz_runs_clean(run_lab, "tcpip", set(TARGETS))
