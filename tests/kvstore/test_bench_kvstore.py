"""`lab bench kvstore` end to end (quick mode): both servers are started, loaded through
redis-benchmark, compared, stopped; and a server that cannot start is reported with its log."""

from __future__ import annotations

import pytest

from plugins.kvstore import servers


def test_quick_bench_compares_both_servers(run_lab) -> None:  # noqa: ANN001
    res = run_lab("bench", "kvstore", "--quick", "--json", timeout=600)
    assert res.code == 0, res.err
    doc = res.json()
    ok = [r for r in doc["results"] if r["status"] == "ok"]
    for workload in ("get", "set"):
        for impl in ("kvstore", "redis"):
            [ops] = [r for r in ok if r["workload"] == workload and r["impl"] == impl
                     and r["metric"] == "ops"]
            assert ops["median"] > 1000, ops
    per_key = {r["impl"]: r["median"] for r in ok if r["metric"] == "bytes_per_key"}
    assert set(per_key) == {"kvstore", "redis"} and all(v > 16 for v in per_key.values())
    compared = {(c["workload"], c["metric"]) for c in doc["comparisons"]
                if c["impl"] == "kvstore" and c["baseline"] == "redis"}
    assert {("get", "ops"), ("set", "p99"), ("memory", "bytes_per_key")} <= compared
    pinning = doc["fingerprint"]["data"]["extra"]["kvstore"]["pinning"]
    assert pinning["server_cpus"] and pinning["client_cpus"]


def test_a_server_that_cannot_start_is_reported_with_its_log() -> None:
    with pytest.raises(RuntimeError) as err:
        servers.start_redis(extra=("--no-such-option", "1"))
    assert "redis exited with status" in str(err.value)
    assert "no-such-option" in str(err.value)  # the tail of its own log says why
