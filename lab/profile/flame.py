"""Flame graphs of :class:`~lab.profile.stacks.Stacks`: static SVG and speedscope JSON.

Contract:

* :func:`flame_svg` draws a self-contained SVG flame graph in the style of ``flamegraph.pl``:
  an ``all`` frame at the bottom spanning the full width, callees stacked upward, children
  ordered by name, every frame a ``<g>`` holding ``<title>``, ``<rect>`` and a truncated
  ``<text>`` label; frames narrower than ``min_width_px`` are omitted with their callees.
  Widths are proportional to inclusive weight.  Colours are warm and derived from a hash of
  the name (stable across runs), Python frames (``... (x.py)``) in a yellow family, native
  frames (``... (x.c)``, ``... (x.h)``, ``[lib]``) in a red family.  With ``diff_base`` the
  frames are coloured by the change of their share of the total instead: red grew, blue
  shrank, near-white unchanged.  No script is needed to view it.
* :func:`speedscope_json` returns a speedscope file document (a JSON-serialisable dict) with
  one sampled profile whose weights sum to the profile's total.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from lab.profile.stacks import Stacks

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
SPEEDSCOPE_UNITS = ("none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes")

ROOT = "all"
_XPAD = 10.0
_TOP = 56.0           # room for the title and the subtitle
_BOTTOM = 10.0
_CHAR_WIDTH = 0.59    # average glyph width as a fraction of the font size (as flamegraph.pl)
_NATIVE_SUFFIXES = (".c)", ".h)", ".cc)", ".cpp)", ".cxx)", ".hpp)", ".rs)", ".s)", ".S)")


# --- tree ----------------------------------------------------------------------------------


@dataclass
class _Node:
    name: str
    weight: float = 0.0
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(stacks: Stacks) -> _Node:
    """The call tree of ``stacks`` under an ``all`` root; node weights are inclusive."""
    root = _Node(ROOT)
    for stack, weight in stacks.counts.items():
        node = root
        node.weight += weight
        for frame in stack:
            node = node.children.setdefault(frame, _Node(frame))
            node.weight += weight
    return root


@dataclass(frozen=True)
class _Box:
    path: tuple[str, ...]
    weight: float
    x: float          # in weight units from the left edge
    depth: int        # 0 for the root


def _layout(root: _Node, min_weight: float) -> list[_Box]:
    """Frames to draw, parents before children, skipping those lighter than ``min_weight``."""
    boxes: list[_Box] = []
    todo: list[tuple[_Node, tuple[str, ...], float, int]] = [(root, (), 0.0, 0)]
    while todo:
        node, parent_path, x, depth = todo.pop()
        if node.weight < min_weight or node.weight <= 0:
            continue
        path = (*parent_path, node.name)
        boxes.append(_Box(path, node.weight, x, depth))
        child_x = x
        for name in sorted(node.children):
            child = node.children[name]
            todo.append((child, path, child_x, depth + 1))
            child_x += child.weight
    return boxes


def _path_weights(stacks: Stacks) -> dict[tuple[str, ...], float]:
    """Inclusive weight of every root-first path prefix (with the ``all`` root)."""
    out: dict[tuple[str, ...], float] = {}
    for stack, weight in stacks.counts.items():
        path: tuple[str, ...] = (ROOT,)
        out[path] = out.get(path, 0) + weight
        for frame in stack:
            path = (*path, frame)
            out[path] = out.get(path, 0) + weight
    return out


# --- colours -------------------------------------------------------------------------------


def frame_kind(name: str) -> str:
    """``"python"`` for ``... (file.py)`` frames, ``"native"`` for C/C++/Rust source frames
    and ``[library]`` frames, ``"other"`` for anything else."""
    if name.endswith(".py)"):
        return "python"
    if name.startswith("[") or name.endswith(_NATIVE_SUFFIXES):
        return "native"
    return "other"


def _hash_fractions(name: str) -> tuple[float, float, float]:
    digest = hashlib.md5(name.encode("utf-8")).digest()
    return digest[0] / 255, digest[1] / 255, digest[2] / 255


def frame_color(name: str) -> str:
    """A warm ``rgb(...)`` colour for ``name``, stable across runs; Python frames are
    yellow, native frames red, other frames orange."""
    v1, v2, v3 = _hash_fractions(name)
    kind = frame_kind(name)
    if kind == "python":
        r, g, b = 205 + 50 * v1, 190 + 55 * v2, 40 + 50 * v3
    elif kind == "native":
        r, g, b = 200 + 55 * v1, 40 + 70 * v2, 30 + 40 * v3
    else:
        r, g, b = 225 + 30 * v1, 120 + 60 * v2, 20 + 40 * v3
    return f"rgb({round(r)},{round(g)},{round(b)})"


def diff_color(share_delta: float, max_abs_delta: float) -> str:
    """Red for a grown share, blue for a shrunk one, intensity ``|delta| / max_abs_delta``;
    near-white for no change."""
    if max_abs_delta <= 0 or abs(share_delta) < 1e-12:
        return "rgb(245,245,245)"
    fade = round(245 - 205 * min(abs(share_delta) / max_abs_delta, 1.0))
    return f"rgb(255,{fade},{fade})" if share_delta > 0 else f"rgb({fade},{fade},255)"


# --- SVG -----------------------------------------------------------------------------------


def _xml(text: str) -> str:
    """``text`` escaped for XML character data and attribute values."""
    return escape(text, {'"': "&quot;", "'": "&apos;"})


def _num(weight: float) -> str:
    return str(int(weight)) if float(weight).is_integer() else f"{weight:.6g}"


def _label(name: str, width_px: float, font_size: float) -> str:
    """``name`` truncated with ``..`` to fit ``width_px``; empty when under 3 characters fit."""
    fits = int((width_px - 6) / (font_size * _CHAR_WIDTH))
    if fits < 3:
        return ""
    return name if len(name) <= fits else name[: fits - 2] + ".."


@dataclass(frozen=True)
class _Canvas:
    width: float
    height: float
    frame_height: float
    font_size: float
    scale: float      # pixels per weight unit


def _frame_svg(box: _Box, canvas: _Canvas, title: str, fill: str) -> str:
    x = _XPAD + box.x * canvas.scale
    w = box.weight * canvas.scale
    y = canvas.height - _BOTTOM - (box.depth + 1) * canvas.frame_height
    label = _label(box.path[-1], w, canvas.font_size)
    text_y = y + canvas.frame_height / 2 + canvas.font_size * 0.35
    return (
        f'<g class="frame"><title>{_xml(title)}</title>'
        f'<rect x="{x:.3f}" y="{y:.2f}" width="{w:.3f}" height="{canvas.frame_height - 1:.2f}"'
        f' fill="{fill}" rx="2" ry="2"/>'
        f'<text x="{x + 3:.2f}" y="{text_y:.2f}">{_xml(label)}</text></g>'
    )


def _header_svg(canvas: _Canvas, title: str, subtitle: str) -> list[str]:
    mid = canvas.width / 2
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{canvas.width:g}"'
        f' height="{canvas.height:g}" viewBox="0 0 {canvas.width:g} {canvas.height:g}">',
        "<style>text { font-family: Verdana, sans-serif; fill: rgb(0,0,0); }"
        f" .frame text {{ font-size: {canvas.font_size:g}px; }}"
        " .title { font-size: 17px; } .subtitle { font-size: 12px; fill: rgb(90,90,90); }"
        "</style>",
        f'<rect x="0" y="0" width="{canvas.width:g}" height="{canvas.height:g}"'
        ' fill="rgb(250,250,245)"/>',
        f'<text class="title" x="{mid:g}" y="24" text-anchor="middle">{_xml(title)}</text>',
        f'<text class="subtitle" x="{mid:g}" y="44" text-anchor="middle">{_xml(subtitle)}</text>',
    ]


def _subtitle(total: float, unit: str, diff_base: Stacks | None) -> str:
    text = f"Total: {_num(total)} {unit}"
    if diff_base is not None:
        text += (
            f"; coloured against a base of {_num(diff_base.total)} {unit}"
            " (red: share grew, blue: share shrank)"
        )
    return text


def _frame_title(box: _Box, total: float, unit: str, share_delta: float | None) -> str:
    text = f"{box.path[-1]} ({_num(box.weight)} {unit}, {100 * box.weight / total:.2f}%"
    if share_delta is not None:
        text += f", {100 * share_delta:+.1f}%"
    return text + ")"


def _share_deltas(boxes: list[_Box], total: float, base: Stacks) -> list[float]:
    base_weights = _path_weights(base)
    base_total = base.total
    deltas = []
    for box in boxes:
        before = base_weights.get(box.path, 0) / base_total if base_total > 0 else 0.0
        deltas.append(box.weight / total - before)
    return deltas


def flame_svg(
    stacks: Stacks,
    title: str,
    *,
    width: int = 1200,
    frame_height: int = 16,
    min_width_px: float = 0.1,
    diff_base: Stacks | None = None,
    unit: str = "samples",
) -> str:
    """A self-contained SVG flame graph of ``stacks`` (see the module docstring).

    Each drawn frame's title reads ``name (N unit, P%)``, in diff mode followed by the change
    of its inclusive share of the total versus ``diff_base`` in percentage points
    (``+x.x%``/``-x.x%``).  An empty profile gives a valid SVG saying "no samples".
    """
    total = stacks.total
    scale = (width - 2 * _XPAD) / total if total > 0 else 0.0
    boxes = _layout(_tree(stacks), min_width_px / scale) if total > 0 else []
    depth = max((b.depth for b in boxes), default=0) + 1
    canvas = _Canvas(
        width=float(width),
        height=_TOP + depth * frame_height + _BOTTOM + (20 if not boxes else 0),
        frame_height=float(frame_height),
        font_size=min(12.0, frame_height * 0.75),
        scale=scale,
    )
    parts = _header_svg(canvas, title, _subtitle(total, unit, diff_base))
    if not boxes:
        parts.append(
            f'<text x="{width / 2:g}" y="{_TOP + 20:g}" text-anchor="middle">no samples</text>'
        )
    deltas = _share_deltas(boxes, total, diff_base) if diff_base is not None and boxes else []
    max_abs = max((abs(d) for d in deltas), default=0.0)
    for i, box in enumerate(boxes):
        delta = deltas[i] if deltas else None
        fill = frame_color(box.path[-1]) if delta is None else diff_color(delta, max_abs)
        parts.append(_frame_svg(box, canvas, _frame_title(box, total, unit, delta), fill))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# --- speedscope ----------------------------------------------------------------------------


def _json_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def speedscope_json(stacks: Stacks, name: str, unit: str = "none") -> dict[str, Any]:
    """A speedscope file document for ``stacks``: shared frames, one ``"sampled"`` profile
    whose ``samples`` are root-first frame-index lists (stacks in sorted order) with matching
    ``weights``, ``startValue`` 0 and ``endValue`` the total.  ``unit`` must be one of
    :data:`SPEEDSCOPE_UNITS`."""
    if unit not in SPEEDSCOPE_UNITS:
        raise ValueError(f"unit must be one of {SPEEDSCOPE_UNITS}, got {unit!r}")
    index: dict[str, int] = {}
    samples: list[list[int]] = []
    weights: list[float | int] = []
    for stack in sorted(stacks.counts):
        samples.append([index.setdefault(frame, len(index)) for frame in stack])
        weights.append(_json_number(stacks.counts[stack]))
    profile = {
        "type": "sampled",
        "name": name,
        "unit": unit,
        "startValue": 0,
        "endValue": _json_number(stacks.total),
        "samples": samples,
        "weights": weights,
    }
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "shared": {"frames": [{"name": frame} for frame in index]},
        "profiles": [profile],
        "name": name,
        "activeProfileIndex": 0,
        "exporter": "lab",
    }
