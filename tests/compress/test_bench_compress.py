"""`lab bench compress --quick --json`: the documented document, every implementation either
measured or skipped with its install command, and a report on disk."""

from __future__ import annotations

from pathlib import Path

IMPLS = {"ours", "zlib", "libdeflate", "zstd", "lz4", "brotli", "bz2", "lzma"}


def test_quick_bench_json(run_lab) -> None:
    res = run_lab("bench", "compress", "--quick", "--json", timeout=600)
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["system"] == "compress" and doc["status"] == "ok"
    corpus = doc["fingerprint"]["data"]["extra"]["compress"]["corpus_sha256"]
    assert set(corpus) == {"text", "source", "binary", "random", "repetitive"}
    rows = doc["results"]
    assert {r["impl"] for r in rows} == IMPLS
    for r in rows:
        assert r["status"] in ("ok", "skipped"), r
        if r["status"] == "skipped":
            assert "install with" in r["note"]
    ours = {(r["workload"], r["metric"]): r for r in rows if r["impl"] == "ours"}
    assert set(ours) == {("compress", "throughput"), ("compress", "ratio"),
                         ("decompress", "throughput")}
    assert all(r["status"] == "ok" and r["params"] == {"corpus": "text", "level": 6,
                                                       "size": 65536} for r in ours.values())
    assert ours[("compress", "ratio")]["unit"] == "x" and ours[("compress", "ratio")]["n"] == 1
    cmp = {(c["impl"], c["workload"], c["metric"]) for c in doc["comparisons"]}
    assert ("ours", "compress", "throughput") in cmp and ("ours", "decompress", "throughput") in cmp
    assert all(c["baseline"] == "zlib" for c in doc["comparisons"])
    report = Path(doc["report"])
    assert report.name == "index.html" and report.exists()
