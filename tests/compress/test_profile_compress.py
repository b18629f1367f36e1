"""`lab profile compress`: the DEFLATE core's C functions in the flame graph and the report."""

from __future__ import annotations

from pathlib import Path


def test_compress_profile_shows_the_match_finder(run_lab) -> None:
    res = run_lab("profile", "compress", "--duration", "2", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert (doc["impl"], doc["workload"], doc["source"]) == ("ours", "compress", "py-spy")
    c_frames = [t for t in doc["top"] if t["name"].split(" (")[-1].rstrip(")").endswith(".c")]
    assert c_frames, doc["top"]
    # the LZ77 match search is where DEFLATE spends its time
    assert any(t["name"] == "find_match (lz77.c)" for t in doc["top"][:5]), doc["top"][:5]
    assert "find_match (lz77.c)" in Path(doc["files"]["svg"]).read_text()
    res = run_lab("bench", "compress", "--quick", "--impl", "zlib", "--json")
    assert res.code == 0, res.err
    html = Path(res.json()["report"]).read_text()
    assert 'id="profiles"' in html and "find_match (lz77.c)" in html
