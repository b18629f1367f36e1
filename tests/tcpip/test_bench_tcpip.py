"""`lab bench tcpip` end to end (quick mode): every workload runs for both implementations in
namespaces it makes and removes, the kernel-side tool measures both, the in-process
workload runs ours only, and no namespace of the lab is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import netns

pytestmark = pytest.mark.skipif(netns.missing(tun=True) is not None,
                                reason=str(netns.missing(tun=True)))


def _lab_namespaces() -> set[str]:
    folder = Path("/var/run/netns")
    return {p.name for p in folder.iterdir() if p.name.startswith(netns.PREFIX)} \
        if folder.is_dir() else set()


def test_quick_bench_compares_our_stack_with_the_kernel(run_lab) -> None:  # noqa: ANN001
    before = _lab_namespaces()
    res = run_lab("bench", "tcpip", "--quick", "--json", "--param", "impairment=delay10",
                  timeout=900)
    assert res.code == 0, res.err
    doc = res.json()
    ok = [r for r in doc["results"] if r["status"] == "ok"]

    def median(workload: str, impl: str, metric: str) -> float:
        [row] = [r for r in ok if (r["workload"], r["impl"], r["metric"])
                 == (workload, impl, metric)]
        return row["median"]

    for impl in ("tcpip", "linux"):
        assert median("bulk", impl, "throughput") > 20            # MB/s over TAP or veth
        assert median("impaired", impl, "throughput") > 1          # through the 10 ms bridge
        assert 0 < median("rr", impl, "p50") <= median("rr", impl, "p99")
        assert median("rr", impl, "rate") > 100
    assert median("memlink", "tcpip", "throughput") > 50
    assert median("memlink", "tcpip", "frames") > 1000
    skipped = [r for r in doc["results"] if r["workload"] == "memlink" and r["impl"] == "linux"]
    assert skipped and all(r["status"] == "skipped" for r in skipped)
    compared = {(c["workload"], c["metric"]) for c in doc["comparisons"]
                if c["impl"] == "tcpip" and c["baseline"] == "linux"}
    assert {("bulk", "throughput"), ("impaired", "throughput"), ("rr", "p99")} <= compared
    assert _lab_namespaces() <= before                             # all removed again


def test_bench_without_privileges_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns, "_has_net_admin", lambda: False)
    monkeypatch.setattr(netns.shutil, "which", lambda c: None if c == "ip" else "/bin/" + c)
    why = netns.missing()
    assert why is not None and "root or CAP_NET_ADMIN" in why and "`ip`" in why
    with pytest.raises(netns.NetnsError, match="root or CAP_NET_ADMIN"), netns.Netns("x"):
        pass
