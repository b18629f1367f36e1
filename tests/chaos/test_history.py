"""The Jepsen-style history model (lab/chaos/history.py): invariants, pairing, grouping, the
JSON-lines format with its error messages, and the thread-safe live Recorder."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path

import pytest

from lab.chaos.history import (
    History,
    Op,
    Recorder,
    compress,
    operation_dict,
    parse_jsonl,
    read_jsonl,
)


def small_history() -> History:
    h = History()
    w = h.invoke(0, "write", "a", 1, time=1.0)
    r = h.invoke(1, "read", "b", None, time=1.5)
    h.complete(w, "ok", time=2.0)
    h.complete(r, "ok", [1, {"x": None}], time=2.5)
    c = h.invoke(0, "cas", "a", [1, 2], time=3.0)
    h.complete(c, "info", time=4.0)
    h.invoke(2, "write", "b", "text", time=5.0)
    return h


def test_invoke_complete_assign_indices_and_keep_fields() -> None:
    h = small_history()
    assert [op.index for op in h] == list(range(7))
    assert [op.type for op in h] == ["invoke", "invoke", "ok", "ok", "invoke", "info", "invoke"]
    done = h[3]
    assert (done.process, done.f, done.key, done.value, done.time) == (
        1, "read", "b", [1, {"x": None}], 2.5)
    assert h.pending() == [h[6]]


def test_default_time_is_monotonic_and_nondecreasing() -> None:
    h = History()
    first = h.invoke(0, "read", "k")
    second = h.complete(first, "ok", None)
    assert 0 < first.time <= second.time


def test_pairs_match_completions_and_mark_unfinished_ones() -> None:
    h = small_history()
    pairs = h.pairs()
    assert [(inv.index, None if done is None else done.index) for inv, done in pairs] == [
        (0, 2), (1, 3), (4, 5), (6, None)]


def test_by_key_groups_events_in_order_with_history_indices() -> None:
    groups = small_history().by_key()
    assert {key: [op.index for op in ops] for key, ops in groups.items()} == {
        "a": [0, 2, 4, 5], "b": [1, 3, 6]}


def test_second_invoke_while_pending_is_rejected_with_one_line() -> None:
    h = History()
    h.invoke(3, "write", "k", 1)
    with pytest.raises(ValueError) as err:
        h.invoke(3, "read", "k")
    message = str(err.value)
    assert "process 3" in message and "pending" in message and "\n" not in message
    assert len(h) == 1  # nothing appended


@pytest.mark.parametrize(
    "op, words",
    [
        (Op(5, "ok", "read", "k"), ["process 5", "without a pending invocation"]),
        (Op(0, "ok", "read", "k"), ["pending invocation", "write"]),
        (Op(0, "ok", "write", "other"), ["'other'", "'k'"]),
        (Op(0, "done", "write", "k"), ["invoke, ok, fail, info"]),
    ],
)
def test_inconsistent_events_are_rejected(op: Op, words: list[str]) -> None:
    h = History()
    h.invoke(0, "write", "k", 1)
    with pytest.raises(ValueError) as err:
        h.append(op)
    assert all(word in str(err.value) for word in words), str(err.value)
    assert len(h) == 1


def test_complete_needs_the_pending_invocation_and_a_completion_type() -> None:
    h = History()
    first = h.invoke(0, "write", "k", 1)
    h.complete(first, "ok")
    with pytest.raises(ValueError, match="not a pending invocation"):
        h.complete(first, "ok")
    second = h.invoke(0, "read", "k")
    with pytest.raises(ValueError, match="completion type"):
        h.complete(second, "invoke")
    assert len(h) == 3


def test_operation_dict_describes_an_operation() -> None:
    h = small_history()
    inv, done = h.pairs()[0]
    assert operation_dict(inv, done) == {
        "process": 0, "f": "write", "key": "a", "value": 1, "type": "ok", "result": None,
        "invoke_index": 0, "complete_index": 2}
    assert operation_dict(h[6], None)["type"] == "pending"


def test_jsonl_round_trip(tmp_path: Path) -> None:
    h = small_history()
    path = tmp_path / "history.jsonl"
    h.write_jsonl(path)
    lines = path.read_text().splitlines()
    assert len(lines) == len(h)
    assert json.loads(lines[3])["value"] == [1, {"x": None}]
    again = read_jsonl(path)
    assert again.ops == h.ops
    assert again.pairs() == h.pairs()


def test_compressed_history_reads_back_the_same(tmp_path: Path) -> None:
    h = small_history()
    path = tmp_path / "history.jsonl"
    h.write_jsonl(path)
    plain = path.read_bytes()
    gz = compress(path)
    assert gz == str(path) + ".gz" and not path.exists()
    assert gzip.decompress(Path(gz).read_bytes()) == plain
    assert read_jsonl(gz).ops == h.ops


def test_jsonl_append_mode_adds_lines(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    for process in (0, 1):
        h = History()
        h.complete(h.invoke(process, "write", "k", process, time=1.0), "ok", time=2.0)
        h.write_jsonl(path, append=True)
    both = read_jsonl(path)
    assert [(op.index, op.process, op.type) for op in both] == [
        (0, 0, "invoke"), (1, 0, "ok"), (2, 1, "invoke"), (3, 1, "ok")]
    small_history().write_jsonl(path)  # without append: replaces the file
    assert len(read_jsonl(path)) == 7


@pytest.mark.parametrize(
    "bad_line, words",
    [
        ("{not json", ["not valid JSON"]),
        ("[1, 2]", ["expected a JSON object"]),
        ('{"process": 1, "type": "invoke", "f": "read", "key": "k"}', ["missing", "time"]),
        ('{"process": "1", "type": "invoke", "f": "read", "key": "k", "time": 0}',
         ["process", "integer"]),
        ('{"process": 1, "type": "begin", "f": "read", "key": "k", "time": 0}', ["type"]),
        ('{"process": 1, "type": "invoke", "f": "read", "key": 7, "time": 0}', ["key"]),
        ('{"process": 1, "type": "ok", "f": "read", "key": "k", "time": 0}',
         ["without a pending invocation"]),
    ],
)
def test_malformed_jsonl_names_the_line_and_the_format(tmp_path: Path, bad_line: str,
                                                       words: list[str]) -> None:
    path = tmp_path / "bad.jsonl"
    good = '{"process": 0, "type": "invoke", "f": "write", "key": "k", "value": 1, "time": 0}'
    path.write_text(good + "\n\n" + bad_line + "\n")
    with pytest.raises(ValueError) as err:
        read_jsonl(path)
    message = str(err.value)
    assert message.startswith(f"{path}:3: "), message
    assert "each line must be a JSON object with process (integer)" in message
    assert all(word in message for word in words), message
    assert "\n" not in message


def test_truncated_last_line_is_an_error_unless_allowed() -> None:
    lines = ['{"process": 0, "type": "invoke", "f": "read", "key": "k", "time": 0}\n',
             '{"process": 0, "type": "ok", "f": "re']
    with pytest.raises(ValueError, match="<history>:2: not valid JSON"):
        parse_jsonl(lines)
    assert len(parse_jsonl(lines, allow_truncated_tail=True)) == 1
    with pytest.raises(ValueError, match=":1: "):  # only the very last line may be cut
        parse_jsonl(['{"process": 0, "ty\n'] + lines, allow_truncated_tail=True)


def worker(recorder: Recorder, process: int, rounds: int) -> None:
    for n in range(rounds):
        key = f"k{n % 3}"
        op = recorder.invoke(process, "write", key, [process, n])
        recorder.complete(op, "ok" if n % 5 else "info")


def test_recorder_keeps_every_event_from_concurrent_threads(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    threads_count, rounds = 8, 150
    with Recorder(path) as recorder:
        threads = [threading.Thread(target=worker, args=(recorder, p, rounds))
                   for p in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        live = recorder.history
    on_disk = read_jsonl(path)
    assert len(on_disk) == len(live) == 2 * threads_count * rounds
    assert on_disk.ops == live.ops
    assert [op.index for op in on_disk] == list(range(len(on_disk)))
    times = [op.time for op in on_disk]
    assert times == sorted(times)
    pairs = on_disk.pairs()
    assert all(done is not None for _, done in pairs)
    for process in range(threads_count):
        mine = [inv.value for inv, _ in pairs if inv.process == process]
        assert mine == [[process, n] for n in range(rounds)]


def test_recorder_file_holds_events_before_close(tmp_path: Path) -> None:
    """Each line is flushed as it is recorded, so the file survives a crash of the recorder."""
    path = tmp_path / "live.jsonl"
    recorder = Recorder(path)
    op = recorder.invoke(1, "read", "k")
    recorder.complete(op, "ok", 4)
    recorder.invoke(2, "write", "k", 5)
    seen = read_jsonl(path)  # not closed yet
    assert [(e.type, e.value) for e in seen] == [("invoke", None), ("ok", 4), ("invoke", 5)]
    assert seen.pending()[0].process == 2
    recorder.close()
    recorder.close()
    with pytest.raises(ValueError, match="closed"):
        recorder.invoke(3, "read", "k")


def test_recorder_rejects_invalid_events_without_writing_them(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    with Recorder(path) as recorder:
        op = recorder.invoke(1, "write", "k", 1)
        with pytest.raises(ValueError, match="pending"):
            recorder.invoke(1, "write", "k", 2)
        with pytest.raises(TypeError):
            recorder.invoke(2, "write", "k", object())  # not JSON
        recorder.complete(op, "fail")
    assert [e.type for e in read_jsonl(path)] == ["invoke", "fail"]
    assert len(path.read_text().splitlines()) == 2
