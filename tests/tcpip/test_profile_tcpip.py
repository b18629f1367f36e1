"""`lab profile tcpip`: the stack's C functions in process (memlink, py-spy)."""

from __future__ import annotations


def test_memlink_profile_shows_the_stack(run_lab) -> None:
    res = run_lab("profile", "tcpip", "--workload", "memlink", "--duration", "1", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["source"] == "py-spy" and doc["workload"] == "memlink"
    files = {t["name"].rsplit("(", 1)[-1].rstrip(")") for t in doc["top"]}
    assert "checksum.c" in files, doc["top"]  # the Internet checksum over every segment
