"""A parser of callgrind profile files (valgrind's "Callgrind Format Specification").

:func:`parse_callgrind` turns one dump into a :class:`CallgrindDump`: its event names, its
totals, the label of the client request that triggered it, and per function the self cost,
the inclusive cost and the call counts to its callees. :func:`dumps_in` reads every dump a
callgrind run left in a folder; :func:`alloc_calls` counts calls to the C allocator.

Supported: the header (``version:``, ``creator:``, ``pid:``, ``cmd:``, ``part:``,
``desc:``, ``positions:``, ``events:``, ``summary:``, ``totals:``), name compression
(``fn=(12) name`` then ``fn=(12)``; ``ob``/``cob`` share one table, ``fl``/``fi``/``fe``/
``cfi``/``cfl``/``jfi`` another, ``fn``/``cfn``/``jfn`` a third), relative positions
(``+3``, ``-2``, ``*``) and hexadecimal ones (``0x...``), ``calls=`` lines, jump lines
(``jump=``, ``jcnd=``, ``jfi=``, ``jfn=``; read, not kept) and missing trailing costs
(zero). Positions are checked but not kept: costs are aggregated per function. One part
per file (``--combine-dumps=yes`` output is rejected).

Function keys: ``"name (object)"`` where *object* is the basename of the function's ELF
object (``ob=``/``cob=``), e.g. ``"find_match (_lab_compress.so)"``; just ``"name"`` when
the object is unknown. Functions of the same name in one object (static functions in
several files) share a key and their costs are added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ALLOCATORS = frozenset({"malloc", "calloc", "realloc", "reallocarray", "aligned_alloc",
                        "posix_memalign", "memalign", "valloc", "pvalloc"})
"""The allocation functions counted, the same set as the LD_PRELOAD counter's."""

_SPEC_RE = re.compile(r"^([a-z]+)=(.*)$")
_HEADER_RE = re.compile(r"^([A-Za-z][\w-]*):\s*(.*)$")
_COMPRESSED_RE = re.compile(r"^\((\d+)\)(?:\s(.*))?$")
_SUBPOSITION_RE = re.compile(r"^(?:0x[0-9a-fA-F]+|[+-]?\d+|\*)$")
_RECURSION_RE = re.compile(r"'\d+$")
_TABLES = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl",
           "cfl": "fl", "jfi": "fl", "fn": "fn", "cfn": "fn", "jfn": "fn"}


@dataclass
class FunctionCosts:
    """Costs of one function in one dump, each a map from event name to count.

    ``self``: cost of the function's own instructions. ``inclusive``: ``self`` plus the
    inclusive costs of its calls (recursive calls are counted again, so a recursive
    function's inclusive cost can exceed the real one). ``calls_to``: callee key to the
    number of calls."""

    name: str
    object: str | None
    self: dict[str, int] = field(default_factory=dict)
    inclusive: dict[str, int] = field(default_factory=dict)
    calls_to: dict[str, int] = field(default_factory=dict)


@dataclass
class CallgrindDump:
    """One callgrind dump.

    ``label``: the text after ``Client Request: `` of the ``desc: Trigger:`` line when the
    dump was requested by the program, else the whole trigger (``Program termination``).
    ``totals``: from ``totals:`` (else ``summary:``, else the sum of self costs).
    ``functions``: by key (see the module docstring)."""

    events: list[str]
    totals: dict[str, int]
    label: str
    trigger: str
    pid: int | None
    part: int | None
    cmd: str
    functions: dict[str, FunctionCosts]
    path: Path | None = None

    @property
    def client_request(self) -> bool:
        """True when the program asked for this dump (``CALLGRIND_DUMP_STATS_AT``)."""
        return self.trigger.startswith("Client Request")


def function_key(name: str, obj: str | None) -> str:
    """The key of function ``name`` of ELF object ``obj`` (a path or None)."""
    return f"{name} ({Path(obj).name})" if obj else name


def base_name(name: str) -> str:
    """``name`` without callgrind's recursion-depth suffix (``f'2`` -> ``f``)."""
    return _RECURSION_RE.sub("", name)


class _Parser:
    """Line-by-line state machine; see :func:`parse_callgrind`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lineno = 0
        self.header: dict[str, str] = {}
        self.trigger = ""
        self.positions = 1
        self.events: list[str] = []
        self.names: dict[str, dict[str, str]] = {"ob": {}, "fl": {}, "fn": {}}
        self.ob: str | None = None
        self.fn: FunctionCosts | None = None
        self.call: dict[str, str] = {}
        self.selfs: dict[str, list[int]] = {}
        self.called: dict[str, list[int]] = {}
        self.functions: dict[str, FunctionCosts] = {}
        self.pending: tuple[str, str, int] | None = None  # "call"/"jump", callee, count
        self.seen_cost = False

    def fail(self, expected: str, line: str) -> ValueError:
        return ValueError(f"{self.source}:{self.lineno}: expected {expected}, got {line!r}")

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if self.pending is not None:
            self.after_call_or_jump(line)
        elif not line.strip() or line.startswith("#"):
            return
        elif line[0] in "0123456789+-*":
            self.cost_line(line)
        elif match := _SPEC_RE.match(line):
            self.spec_line(match.group(1), match.group(2), line)
        elif match := _HEADER_RE.match(line):
            self.header_line(match.group(1), match.group(2).strip(), line)
        else:
            raise self.fail("a header, specification or cost line", line)

    def header_line(self, key: str, value: str, line: str) -> None:
        if key == "part" and self.seen_cost:
            raise self.fail("one part per file (--combine-dumps=yes is not supported)", line)
        if key == "events":
            if self.seen_cost or not value:
                raise self.fail("'events:' with names before any cost line", line)
            self.events = value.split()
        elif key == "positions":
            self.positions = len(value.split())
            if not self.positions:
                raise self.fail("'positions:' with at least one kind", line)
        elif key == "desc" and value.startswith("Trigger:"):
            self.trigger = value.removeprefix("Trigger:").strip()
        if key != "desc":
            self.header[key] = value

    def resolve(self, kind: str, value: str, line: str) -> str:
        """The name a (possibly compressed) ``kind=`` value stands for."""
        table = self.names[_TABLES[kind]]
        match = _COMPRESSED_RE.match(value)
        if not match:
            return value
        ident, name = match.group(1), match.group(2)
        if name is not None:
            table[ident] = name
            return name
        if ident not in table:
            raise self.fail(f"a name defined earlier for {kind}=({ident})", line)
        return table[ident]

    def spec_line(self, kind: str, value: str, line: str) -> None:
        if kind in ("calls", "jump", "jcnd"):
            self.call_line(kind, value, line)
            return
        if kind not in _TABLES:
            raise self.fail("a known specification (ob, fl, fi, fe, fn, cob, cfi, cfl, "
                            "cfn, jfi, jfn, calls, jump, jcnd)", line)
        name = self.resolve(kind, value, line)
        if kind == "ob":
            self.ob = name
        elif kind == "fn":
            self.fn = self.function(name, self.ob)
            self.call = {}
        elif kind in ("cob", "cfn"):
            self.call[kind] = name

    def function(self, name: str, obj: str | None) -> FunctionCosts:
        key = function_key(name, obj)
        if key not in self.functions:
            self.functions[key] = FunctionCosts(name, Path(obj).name if obj else None)
            self.selfs[key] = []
            self.called[key] = []
        return self.functions[key]

    def call_line(self, kind: str, value: str, line: str) -> None:
        parts = value.split()
        count = parts[0].split("/")[0] if parts else ""
        if not count.isdigit() or not self.valid_positions(parts[1:]):
            raise self.fail(f"'{kind}=COUNT TARGET-POSITION'", line)
        if kind != "calls":
            self.pending = ("jump", "", 0)
            return
        if self.fn is None or "cfn" not in self.call:
            raise self.fail("'fn=' and 'cfn=' before 'calls='", line)
        obj = self.call.get("cob", self.ob)
        self.function(self.call["cfn"], obj)
        self.pending = ("call", function_key(self.call["cfn"], obj), int(count))
        self.call = {}

    def valid_positions(self, tokens: list[str]) -> bool:
        return len(tokens) == self.positions and all(_SUBPOSITION_RE.match(t) for t in tokens)

    def after_call_or_jump(self, line: str) -> None:
        """The line after ``calls=`` (the call's inclusive cost) or ``jump=``/``jcnd=``
        (the jump's source position, no costs)."""
        assert self.pending is not None
        what, callee, count = self.pending
        self.pending = None
        if not line or line[0] not in "0123456789+-*":
            raise self.fail(f"a position line after '{what}'", line)
        costs = self.costs(line)
        if what == "call":
            assert self.fn is not None
            key = function_key(self.fn.name, self.fn.object)
            self.fn.calls_to[callee] = self.fn.calls_to.get(callee, 0) + count
            _add(self.called[key], costs)

    def costs(self, line: str) -> list[int]:
        tokens = line.split()
        if not self.events:
            raise self.fail("'events:' before the first cost line", line)
        if not self.valid_positions(tokens[:self.positions]):
            raise self.fail(f"{self.positions} position(s) then costs", line)
        values = tokens[self.positions:]
        if len(values) > len(self.events) or not all(v.isdigit() for v in values):
            raise self.fail(f"at most {len(self.events)} decimal costs", line)
        self.seen_cost = True
        return [int(v) for v in values]

    def cost_line(self, line: str) -> None:
        if self.fn is None:
            raise self.fail("'fn=' before the first cost line", line)
        costs = self.costs(line)
        _add(self.selfs[function_key(self.fn.name, self.fn.object)], costs)

    def finish(self) -> CallgrindDump:
        if self.pending is not None:
            raise ValueError(f"{self.source}:{self.lineno}: expected a cost line after "
                             f"'{self.pending[0]}', got the end of the file")
        if not self.events:
            raise ValueError(f"{self.source}: expected an 'events:' line, found none")
        total = [0] * len(self.events)
        for key, fn in self.functions.items():
            fn.self = self.as_dict(self.selfs[key])
            _add(total, self.selfs[key])
            inclusive = list(self.selfs[key])
            _add(inclusive, self.called[key])
            fn.inclusive = self.as_dict(inclusive)
        totals = self.header.get("totals") or self.header.get("summary")
        return CallgrindDump(
            events=list(self.events),
            totals=self.as_dict(self.header_costs(totals) if totals else total),
            label=self.trigger.removeprefix("Client Request:").strip(),
            trigger=self.trigger,
            pid=self.header_int("pid"),
            part=self.header_int("part"),
            cmd=self.header.get("cmd", ""),
            functions=self.functions,
        )

    def header_costs(self, text: str) -> list[int]:
        values = text.split()
        if len(values) > len(self.events) or not all(v.isdigit() for v in values):
            raise ValueError(f"{self.source}: expected at most {len(self.events)} decimal "
                             f"costs in 'totals:'/'summary:', got {text!r}")
        return [int(v) for v in values]

    def header_int(self, key: str) -> int | None:
        value = self.header.get(key)
        if value is None:
            return None
        if not value.isdigit():
            raise ValueError(f"{self.source}: expected a number after '{key}:', got {value!r}")
        return int(value)

    def as_dict(self, costs: list[int]) -> dict[str, int]:
        padded = costs + [0] * (len(self.events) - len(costs))
        return dict(zip(self.events, padded, strict=True))


def _add(into: list[int], costs: list[int]) -> None:
    """Add ``costs`` element-wise into ``into``, growing it as needed."""
    if len(into) < len(costs):
        into.extend([0] * (len(costs) - len(into)))
    for i, value in enumerate(costs):
        into[i] += value


def parse_callgrind(path_or_text: str | Path) -> CallgrindDump:
    """Parse one callgrind dump.

    A :class:`~pathlib.Path`, or a ``str`` without a line break, names a file; a ``str``
    with line breaks is the file's text. Raises ``ValueError`` with a one-line message
    (file, line number, what was expected) for a malformed dump, and ``OSError`` when the
    file cannot be read."""
    path: Path | None
    if isinstance(path_or_text, Path) or "\n" not in path_or_text:
        path = Path(path_or_text)
        text = path.read_text(errors="replace")
        source = str(path)
    else:
        path, text, source = None, path_or_text, "<text>"
    parser = _Parser(source)
    for parser.lineno, line in enumerate(text.splitlines(), start=1):
        parser.feed(line)
    dump = parser.finish()
    dump.path = path
    return dump


def dumps_in(out_dir: Path) -> list[CallgrindDump]:
    """Every dump in ``out_dir`` (regular files named ``callgrind.*``), sorted by
    (pid, part number, file name). Raises ``ValueError`` when one is malformed."""
    files = [p for p in Path(out_dir).glob("callgrind.*") if p.is_file()]
    dumps = [parse_callgrind(p) for p in files]
    return sorted(dumps, key=lambda d: (d.pid if d.pid is not None else -1,
                                        d.part if d.part is not None else 0,
                                        d.path.name if d.path else ""))


def alloc_calls(dump: CallgrindDump, objects: set[str] | None = None) -> int:
    """How many calls to malloc, calloc, realloc, aligned_alloc and posix_memalign the
    functions of ``dump`` made, counting only callers whose object basename is in
    ``objects`` (every caller when None)."""
    total = 0
    for fn in dump.functions.values():
        if objects is not None and fn.object not in objects:
            continue
        for callee, count in fn.calls_to.items():
            if base_name(dump.functions[callee].name) in ALLOCATORS:
                total += count
    return total
