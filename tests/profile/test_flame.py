"""lab.profile.flame: the SVG flame graph is well-formed XML with a titled frame per function,
widths proportional to weight, escaped names, distinct hues for Python and native frames and
red/blue diff colouring; the speedscope document is consistent and JSON-serialisable."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from lab.profile import flame
from lab.profile.stacks import Stacks, parse_folded

SVG = "{http://www.w3.org/2000/svg}"

PROFILE = """\
main (bench.py);compress (codec.py);find_match (lz77.c) 60
main (bench.py);compress (codec.py);emit (deflate.c) 20
main (bench.py);checksum (codec.py) 20
"""


def _frames(svg: str) -> dict[str, ET.Element]:
    """Frame groups by the name their title starts with (names are unique in these tests)."""
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        assert title is not None and title.text
        out[title.text.rsplit(" (", 1)[0]] = g
    return out


def _rect(g: ET.Element) -> ET.Element:
    rect = g.find(f"{SVG}rect")
    assert rect is not None
    return rect


def _rgb(fill: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"rgb\((\d+),(\d+),(\d+)\)", fill)
    assert match, fill
    r, g, b = (int(v) for v in match.groups())
    return r, g, b


def test_svg_is_xml_with_a_titled_frame_per_function() -> None:
    svg = flame.flame_svg(parse_folded(PROFILE), "compress bench")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "compress bench" in texts
    assert any(t and t.startswith("Total: 100 samples") for t in texts)
    frames = _frames(svg)
    assert set(frames) == {
        "all", "main (bench.py)", "compress (codec.py)", "checksum (codec.py)",
        "find_match (lz77.c)", "emit (deflate.c)",
    }
    title = frames["find_match (lz77.c)"].find(f"{SVG}title")
    assert title is not None and title.text == "find_match (lz77.c) (60 samples, 60.00%)"
    assert "<script" not in svg


def test_widths_follow_weights_and_children_stack_upward_by_name() -> None:
    frames = _frames(flame.flame_svg(parse_folded(PROFILE), "t", width=1020))
    width = {n: float(_rect(g).get("width", "0")) for n, g in frames.items()}
    assert width["all"] == pytest.approx(1000)
    assert width["find_match (lz77.c)"] / width["emit (deflate.c)"] == pytest.approx(3)
    assert width["compress (codec.py)"] / width["checksum (codec.py)"] == pytest.approx(4)
    y = {n: float(_rect(g).get("y", "0")) for n, g in frames.items()}
    assert y["all"] > y["main (bench.py)"] > y["compress (codec.py)"] > y["emit (deflate.c)"]
    x = {n: float(_rect(g).get("x", "0")) for n, g in frames.items()}
    assert x["checksum (codec.py)"] < x["compress (codec.py)"]       # sorted by name
    assert x["emit (deflate.c)"] < x["find_match (lz77.c)"]


def test_output_is_deterministic_and_narrow_frames_are_omitted() -> None:
    s = parse_folded(PROFILE + "main (bench.py);tiny (codec.py) 0.001\n")
    assert flame.flame_svg(s, "t") == flame.flame_svg(s, "t")
    assert "tiny" not in flame.flame_svg(s, "t", min_width_px=1.0)
    assert "tiny" in flame.flame_svg(s, "t", min_width_px=0.0)


def test_names_are_escaped_and_long_labels_truncated() -> None:
    name = 'operator<<&"quoted" \'x\' (vec.h)'
    long_name = "a_very_long_function_name_that_cannot_fit (long.c)"
    s = Stacks()
    s.add(("main", name), 8)
    s.add(("main", long_name), 2)
    svg = flame.flame_svg(s, "a <b> & c", width=400)
    assert "operator&lt;&lt;&amp;&quot;quoted&quot;" in svg
    frames = _frames(svg)                               # parses despite the markup characters
    assert name in frames
    label = frames[long_name].find(f"{SVG}text")
    assert label is not None and label.text and label.text.endswith("..")
    assert long_name.startswith(label.text[:-2]) and 3 <= len(label.text) < len(long_name)
    main_label = frames["main"].find(f"{SVG}text")
    assert main_label is not None and main_label.text == "main"


def test_python_and_native_frames_get_different_hue_families() -> None:
    assert flame.frame_kind("compress (codec.py)") == "python"
    assert flame.frame_kind("find_match (lz77.c)") == "native"
    assert flame.frame_kind("[libc.so.6]") == "native"
    assert flame.frame_kind("all") == "other"
    for i in range(20):
        pr, pg, pb = _rgb(flame.frame_color(f"f{i} (mod.py)"))
        nr, ng, nb = _rgb(flame.frame_color(f"f{i} (mod.c)"))
        assert pr > pb and nr > nb                      # warm
        assert pg >= 190 > 110 >= ng                    # yellow versus red
    assert flame.frame_color("x (a.py)") == flame.frame_color("x (a.py)")


def test_diff_mode_colours_grown_red_and_shrunk_blue() -> None:
    before = parse_folded("m;grow 10\nm;shrink 80\nm;same 10\n")
    after = parse_folded("m;grow 60\nm;shrink 30\nm;same 10\n")
    svg = flame.flame_svg(after, "diff", diff_base=before)
    frames = _frames(svg)
    fills = {n: _rgb(_rect(frames[n]).get("fill", "")) for n in ("grow", "shrink", "same")}
    grow, shrink, same = fills["grow"], fills["shrink"], fills["same"]
    assert grow[0] - grow[2] > 100 and shrink[2] - shrink[0] > 100
    assert grow[0] - grow[2] > shrink[0] - shrink[2]
    assert same == (245, 245, 245)
    title = frames["grow"].find(f"{SVG}title")
    assert title is not None and title.text == "grow (60 samples, 60.00%, +50.0%)"
    shrink_title = frames["shrink"].find(f"{SVG}title")
    assert shrink_title is not None and "-50.0%" in (shrink_title.text or "")


def test_empty_profile_renders_a_no_samples_svg() -> None:
    root = ET.fromstring(flame.flame_svg(Stacks(), "nothing"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "no samples" in texts and "nothing" in texts
    assert not list(root.iter(f"{SVG}g"))


def test_speedscope_document_is_consistent() -> None:
    s = parse_folded(PROFILE + "main (bench.py) 2.5\n")
    doc = json.loads(json.dumps(flame.speedscope_json(s, "bench", unit="none")))
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert doc["exporter"] == "lab"
    frames = [f["name"] for f in doc["shared"]["frames"]]
    assert len(frames) == len(set(frames)) == 5                   # no synthetic root
    (profile,) = doc["profiles"]
    assert profile["type"] == "sampled" and profile["name"] == "bench"
    assert profile["unit"] == "none" and profile["startValue"] == 0
    assert sum(profile["weights"]) == pytest.approx(s.total) == profile["endValue"]
    assert len(profile["samples"]) == len(profile["weights"])
    rebuilt = Stacks()
    for sample, weight in zip(profile["samples"], profile["weights"], strict=True):
        assert all(0 <= i < len(frames) for i in sample)
        rebuilt.add(tuple(frames[i] for i in sample), weight)
    assert rebuilt == s
    with pytest.raises(ValueError, match="unit"):
        flame.speedscope_json(s, "bench", unit="furlongs")
