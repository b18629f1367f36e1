"""The tcpip stack's in-process tests again, on the ASan+UBSan ``debug`` build with assertions
on (any memory error, undefined behaviour or failed assertion fails this test), and every C
file of ``targets/tcpip`` compiled with gcc and clang at ``-Wall -Wextra -Werror``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from labtest import ROOT, assert_passes_under_sanitizers

HERE = Path(__file__).resolve().parent
SRC = ROOT / "targets" / "tcpip"
IN_PROCESS = ("test_eth_arp.py", "test_ip.py", "test_icmp_udp.py", "test_tcp.py",
              "test_tcp_cc.py", "test_dhcp.py", "test_fuzz_tcpip.py")


@pytest.mark.skipif(os.environ.get("LAB_FLAVOR") == "debug", reason="already sanitized")
def test_in_process_suite_passes_under_asan_and_ubsan(lab_env: dict) -> None:
    assert_passes_under_sanitizers((HERE / f for f in IN_PROCESS), lab_env,
                                   pytest_args=("-k", "not lab_fuzz"))


@pytest.mark.parametrize("cc", ["gcc", "clang-14"])
def test_every_c_file_compiles_without_warnings(cc: str) -> None:
    files = sorted(SRC.rglob("*.c"))
    assert len(files) > 30
    proc = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                           "-I", str(SRC), *map(str, files)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
