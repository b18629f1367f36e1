"""The "Attachments" section of a bench report: files an implementation left for the reader.

An implementation object may write files into ``$LAB_RUN_DIR/attachments/`` while it is
measured (a VGA screenshot of a booted kernel, a serial console log, a server's log). The
report copies them next to itself and shows images inline and text files as collapsible
logs (their last :data:`TAIL_LINES` lines; the whole file is linked). File names are shown
as they are, so implementations name them ``<impl>-<what>.<ext>``.
"""

from __future__ import annotations

import base64
import shutil
from html import escape
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".gif")
TEXT_SUFFIXES = (".log", ".txt")
TAIL_LINES = 200
SUBDIR = "attachments"


def run_attachments(run_dir: Path) -> list[Path]:
    """The attachment files of the run whose folder is ``run_dir``, sorted by name."""
    folder = run_dir / SUBDIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + TEXT_SUFFIXES)


def copy_attachments(files: list[Path], out_dir: Path) -> list[Path]:
    """Copy ``files`` under ``out_dir/attachments``; the copies, in the same order."""
    dest = out_dir / SUBDIR
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        target = dest / f.name
        shutil.copyfile(f, target)
        out.append(target)
    return out


def _data_uri(path: Path) -> str:
    """The image inlined, so the HTML report stays one self-contained file."""
    kind = {".svg": "svg+xml", ".jpg": "jpeg"}.get(path.suffix.lower(), path.suffix[1:].lower())
    return f"data:image/{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _tail(path: Path) -> tuple[str, int]:
    lines = path.read_text(errors="replace").splitlines()
    return "\n".join(lines[-TAIL_LINES:]), len(lines)


def section_html(files: list[Path], out_dir: Path) -> str:
    """The section's HTML (empty without files); ``files`` are the copies under ``out_dir``."""
    if not files:
        return ""
    parts = ['<h2 id="attachments">Attachments</h2>']
    for f in files:
        rel = escape(str(f.relative_to(out_dir)))
        name = escape(f.name)
        if f.suffix.lower() in IMAGE_SUFFIXES:
            parts.append(f'<figure class="chart attachment"><img src="{_data_uri(f)}" '
                         f'alt="{name}"><figcaption><a href="{rel}">{name}</a></figcaption>'
                         "</figure>")
            continue
        text, n = _tail(f)
        shown = f"last {TAIL_LINES} of {n} lines" if n > TAIL_LINES else f"{n} lines"
        parts.append(f'<details class="attachment"><summary>{name} ({shown}, '
                     f'<a href="{rel}">whole file</a>)</summary><pre>{escape(text)}</pre>'
                     "</details>")
    return "\n".join(parts)


def section_markdown(files: list[Path], out_dir: Path) -> list[str]:
    """The section's Markdown lines (empty without files)."""
    if not files:
        return []
    out = ["## Attachments", ""]
    for f in files:
        rel = f.relative_to(out_dir).as_posix()
        if f.suffix.lower() in IMAGE_SUFFIXES:
            out += [f"![{f.name}]({rel})", ""]
            continue
        text, n = _tail(f)
        fence = "~~~~" if "```" in text else "```"
        out += [f"<details><summary>{f.name} ({n} lines, [whole file]({rel}))</summary>", "",
                f"{fence}text", text, fence, "", "</details>", ""]
    return out
