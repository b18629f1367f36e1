"""docs/plugins.md: its minimal plugin is the tested file, and it works as documented."""

from __future__ import annotations

import re

from labtest import ROOT

DOC = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "docs" / "examples" / "hello" / "__init__.py"


def test_doc_shows_the_example_file_verbatim() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert blocks and blocks[0] == EXAMPLE.read_text()


def test_minimal_plugin_benches_as_documented(run_lab) -> None:
    res = run_lab("bench", "hello", "--quick", "--json",
                  env={"LAB_PLUGIN_PATH": str(EXAMPLE.parent.parent)})
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["system"] == "hello"
    (cmp,) = doc["comparisons"]
    assert cmp["impl"] == "heapq" and cmp["baseline"] == "sorted" and cmp["metric"] == "time"
    assert cmp["params"] == {"n": 1000}
    assert (ROOT / doc["report"]).exists()
