"""Parsers for libFuzzer's progress output (plain libFuzzer binaries and atheris alike).

Each function takes ONE line (trailing newline allowed) and returns None for any line it does
not recognise; none of them raises. Recognised lines:

* status lines ``#1234\\tNEW    cov: 120 ft: 200 corp: 25/1024b lim: 4096 exec/s: 617 rss: 40Mb
  L: 12/300 MS: 2 ...`` -> :class:`Status`. ``event`` is the word as printed (``INITED``, ``NEW``,
  ``REDUCE``, ``pulse``, ``DONE``, ``RELOAD``, ...); fields libFuzzer left out are None; only
  the part before ``L:``/``MS:`` is read, so dictionary entries cannot fake a field. Corpus sizes
  ``25/1024b``, ``25/10Kb``, ``3/2Mb`` are converted to bytes (Kb = 1024, Mb = 1024 * 1024;
  libFuzzer rounds down, so Kb/Mb values are lower bounds).
* ``INFO: Loaded 2 modules   (15 inline 8-bit counters): 14 [0x.., 0x..), 1 [0x.., 0x..),`` ->
  :class:`Loaded` (module count, total counters, per-module counters); ``parse_loaded_counters``
  gives just the total. ``Loaded N PC tables`` lines are not counter lines. Atheris may register
  Python counters with a further ``Loaded`` line: collect every line's value, one per line.
* ``stat::number_of_executed_units: 1234`` (``-print_final_stats=1``) ->
  ``("number_of_executed_units", 1234)``: the name without the ``stat::`` prefix.
* ``INFO: seed corpus: files: 12 min: 1b max: 300b total: 1000b rss: 30Mb`` -> :class:`SeedCorpus`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {"b": 1, "Kb": 1024, "Mb": 1024 * 1024}
_SIZE = r"(\d+)(b|Kb|Mb)"

_STATUS = re.compile(r"^#(?P<execs>\d+)\s+(?P<event>[A-Za-z_]+)\s+(?P<fields>.*)$")
_COV = re.compile(r"(?:^|\s)cov: (\d+)\b")
_FT = re.compile(r"(?:^|\s)ft: (\d+)\b")
_CORP = re.compile(r"(?:^|\s)corp: (\d+)/" + _SIZE + r"(?!\w)")
_EXECS = re.compile(r"(?:^|\s)exec/s: (\d+)\b")
_RSS = re.compile(r"(?:^|\s)rss: (\d+)Mb\b")
_TAIL = re.compile(r"\s(?:L|MS): ")

_LOADED = re.compile(
    r"^INFO: Loaded (?P<modules>\d+) modules?\s+\((?P<counters>\d+) "
    r"(?:inline 8-bit counters|guards)\):?(?P<ranges>.*)$"
)
_RANGE = re.compile(r"(\d+) \[0x[0-9a-fA-F]+,\s*0x[0-9a-fA-F]+\)")
_STAT = re.compile(r"^stat::(?P<name>\w+):\s*(?P<value>\d+)\s*$")
_SEED = re.compile(
    r"^INFO: seed corpus: files: (?P<files>\d+) min: " + _SIZE + " max: " + _SIZE
    + " total: " + _SIZE + r"(?: rss: (?P<rss>\d+)Mb)?"
)


@dataclass(frozen=True)
class Status:
    """One libFuzzer status line; None where the line does not carry the field."""

    execs: int
    event: str
    cov: int | None
    ft: int | None
    corpus_units: int | None
    corpus_bytes: int | None
    exec_per_s: int | None
    rss_mb: int | None


@dataclass(frozen=True)
class Loaded:
    """An ``INFO: Loaded N modules (M inline 8-bit counters)`` line."""

    modules: int
    counters: int
    per_module: tuple[int, ...]


@dataclass(frozen=True)
class SeedCorpus:
    """The ``INFO: seed corpus:`` line printed before INITED; sizes in bytes."""

    files: int
    min_bytes: int
    max_bytes: int
    total_bytes: int
    rss_mb: int | None


def size_bytes(number: str, unit: str) -> int:
    """libFuzzer's ``<number><b|Kb|Mb>`` as bytes."""
    return int(number) * _UNITS[unit]


def _int(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    return int(match[1]) if match else None


def parse_status(line: str) -> Status | None:
    """A ``#<execs>\\t<EVENT> cov: ... ft: ... corp: U/Sb ... exec/s: ... rss: NMb`` line."""
    match = _STATUS.match(line.rstrip("\r\n"))
    if match is None:
        return None
    fields = _TAIL.split(" " + match["fields"], maxsplit=1)[0]
    corp = _CORP.search(fields)
    status = Status(
        execs=int(match["execs"]),
        event=match["event"],
        cov=_int(_COV, fields),
        ft=_int(_FT, fields),
        corpus_units=int(corp[1]) if corp else None,
        corpus_bytes=size_bytes(corp[2], corp[3]) if corp else None,
        exec_per_s=_int(_EXECS, fields),
        rss_mb=_int(_RSS, fields),
    )
    known = (status.cov, status.ft, status.corpus_units, status.exec_per_s, status.rss_mb)
    return status if any(value is not None for value in known) else None


def parse_loaded(line: str) -> Loaded | None:
    """An ``INFO: Loaded N modules (M inline 8-bit counters): m1 [..), m2 [..),`` line."""
    match = _LOADED.match(line.rstrip("\r\n"))
    if match is None:
        return None
    per_module = tuple(int(count) for count in _RANGE.findall(match["ranges"]))
    return Loaded(int(match["modules"]), int(match["counters"]), per_module)


def parse_loaded_counters(line: str) -> int | None:
    """The total number of coverage counters announced by one ``INFO: Loaded`` line."""
    loaded = parse_loaded(line)
    return loaded.counters if loaded else None


def parse_final_stat(line: str) -> tuple[str, int] | None:
    """A ``stat::<name>: <int>`` line printed by ``-print_final_stats=1``."""
    match = _STAT.match(line.strip())
    return (match["name"], int(match["value"])) if match else None


def parse_seed_corpus(line: str) -> SeedCorpus | None:
    """The ``INFO: seed corpus: files: N min: Xb max: Yb total: Zb rss: RMb`` line."""
    match = _SEED.match(line.rstrip("\r\n"))
    if match is None:
        return None
    groups = match.groups()
    return SeedCorpus(
        files=int(match["files"]),
        min_bytes=size_bytes(groups[1], groups[2]),
        max_bytes=size_bytes(groups[3], groups[4]),
        total_bytes=size_bytes(groups[5], groups[6]),
        rss_mb=int(match["rss"]) if match["rss"] else None,
    )
