"""`lab bench kvstore` end to end (quick mode): both servers are started, loaded through
redis-benchmark, compared, stopped; and a server that cannot start is reported with its log."""

from __future__ import annotations

import pytest

from plugins.kvstore import persist, servers


def test_quick_bench_compares_both_servers(run_lab) -> None:  # noqa: ANN001
    res = run_lab("bench", "kvstore", "--quick", "--reps", "1", "--json", timeout=600)
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
    assert doc["fingerprint"]["data"]["extra"]["kvstore"]["data_filesystem"] != "unknown"

    def median(workload: str, impl: str, metric: str) -> float:
        [row] = [r for r in ok if (r["workload"], r["impl"], r["metric"])
                 == (workload, impl, metric)]
        return row["median"]

    for impl in ("kvstore", "redis"):
        # appendfsync always through the lab's own load generator
        assert median("persist", impl, "ops") > 1000
        assert 0 < median("persist", impl, "p50") <= median("persist", impl, "p999")
        # the same log on disk for both (the same MSETs), recovered and rewritten
        assert median("recovery", impl, "log_mb") > 1
        assert 0 < median("recovery", impl, "recovery_s") < 60
        assert median("rewrite", impl, "rewrite_s") > 0
        assert 0 < median("saturation", impl, "server_cpu") <= 105
    assert median("recovery", "kvstore", "log_mb") == pytest.approx(
        median("recovery", "redis", "log_mb"), rel=0.05)


def test_launcher_restarts_its_server_in_the_mode_asked_for() -> None:
    with pytest.raises(ValueError, match="unknown persistence mode 'sometimes' \\(valid: none, "
                       "no, everysec, always\\)"):
        servers.persistence_args("sometimes")
    launcher = servers.Launcher("redis", servers.redis)
    try:
        plain = launcher.server("none")
        assert launcher.server("none") is plain  # same mode: the same process
        logged = launcher.server("always")
        assert logged is not plain and not plain.alive() and logged.alive()
        assert not plain.workdir.exists()  # the old server's data went with it
        assert persist.info(logged, "persistence")["aof_enabled"] == "1"
    finally:
        launcher.close()
    assert not logged.alive()


def test_a_server_that_cannot_start_is_reported_with_its_log() -> None:
    with pytest.raises(RuntimeError) as err:
        servers.start_redis(extra=("--no-such-option", "1"))
    assert "redis exited with status" in str(err.value)
    assert "no-such-option" in str(err.value)  # the tail of its own log says why
