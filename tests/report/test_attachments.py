"""The report's "Attachments" section: screenshots inline, logs as their tail, copies kept
next to the report."""

from __future__ import annotations

import base64
from pathlib import Path

from lab.report import attachments

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _run_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "run" / "attachments"
    folder.mkdir(parents=True)
    (folder / "kernel-vga.png").write_bytes(PNG)
    (folder / "kernel-boot-serial.log").write_text(
        "".join(f"line {i}\n" for i in range(attachments.TAIL_LINES + 50)))
    (folder / "ignored.bin").write_bytes(b"\0")
    return tmp_path / "run"


def test_images_are_inlined_and_logs_show_their_tail(tmp_path: Path) -> None:
    files = attachments.run_attachments(_run_dir(tmp_path))
    assert [f.name for f in files] == ["kernel-boot-serial.log", "kernel-vga.png"]
    out = tmp_path / "report"
    copies = attachments.copy_attachments(files, out)
    assert all(c.read_bytes() == f.read_bytes() for c, f in zip(copies, files, strict=True))
    html = attachments.section_html(copies, out)
    assert 'id="attachments"' in html
    assert f"data:image/png;base64,{base64.b64encode(PNG).decode()}" in html
    assert "line 249" in html and "line 49\n" not in html and "line 50\n" in html
    assert f"last {attachments.TAIL_LINES} of 250 lines" in html
    md = "\n".join(attachments.section_markdown(copies, out))
    assert "![kernel-vga.png](attachments/kernel-vga.png)" in md
    assert "[whole file](attachments/kernel-boot-serial.log)" in md


def test_no_attachments_no_section(tmp_path: Path) -> None:
    assert attachments.run_attachments(tmp_path) == []
    assert attachments.section_html([], tmp_path) == ""
    assert attachments.section_markdown([], tmp_path) == []
