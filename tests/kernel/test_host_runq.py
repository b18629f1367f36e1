"""proc/runq.c through the kernel-host build: priority order, FIFO within a level, removal
anywhere, refusals (double push, bad priority, a node of another queue) and k_runq_check."""

from __future__ import annotations

from typing import Any

from test_host_common import kmod

EINVAL = 22


class Queues:
    def __init__(self, nodes: int = 8) -> None:
        self.ffi, self.lib = kmod().ffi, kmod().lib
        self.q = [self.ffi.new("struct k_runq *") for _ in range(2)]
        for q in self.q:
            self.lib.k_runq_init(q)
        self.pool = self.ffi.new("struct k_runq_node[]", nodes)

    def node(self, i: int, prio: int | None = None) -> Any:
        if prio is not None:
            self.pool[i].prio = prio
        return self.pool + i

    def index(self, p: Any) -> int | None:
        return None if p == self.ffi.NULL else int(p - self.pool)

    def pop(self, k: int = 0) -> int | None:
        return self.index(self.lib.k_runq_pop(self.q[k]))

    def ok(self) -> bool:
        return all(self.lib.k_runq_check(q) == 0 for q in self.q)


def test_pop_takes_the_highest_priority_in_fifo_order() -> None:
    s = Queues()
    for i, prio in enumerate((2, 0, 2, 3, 0, 1)):
        assert s.lib.k_runq_push(s.q[0], s.node(i, prio)) == 0
    assert s.lib.k_runq_count(s.q[0]) == 6 and s.ok()
    assert s.index(s.lib.k_runq_peek(s.q[0])) == 1
    assert [s.pop() for _ in range(7)] == [1, 4, 5, 0, 2, 3, None]
    assert s.lib.k_runq_count(s.q[0]) == 0 and s.ok()
    assert s.lib.k_runq_peek(s.q[0]) == s.ffi.NULL


def test_round_robin_by_re_pushing() -> None:
    s = Queues()
    for i in range(3):
        s.lib.k_runq_push(s.q[0], s.node(i, 1))
    order = []
    for _ in range(6):
        n = s.pop()
        order.append(n)
        assert s.lib.k_runq_push(s.q[0], s.node(n)) == 0
    assert order == [0, 1, 2, 0, 1, 2] and s.ok()


def test_refusals() -> None:
    s = Queues()
    lib = s.lib
    assert lib.k_runq_push(s.q[0], s.node(0, 4)) == -EINVAL     # bad priority
    assert lib.k_runq_push(s.q[0], s.ffi.NULL) == -EINVAL
    assert lib.k_runq_push(s.q[0], s.node(1, 2)) == 0
    assert lib.k_runq_push(s.q[0], s.node(1)) == -EINVAL        # already queued
    assert lib.k_runq_push(s.q[1], s.node(1)) == -EINVAL        # ... in another queue
    assert lib.k_runq_remove(s.q[1], s.node(1)) == -EINVAL      # not in this one
    assert lib.k_runq_remove(s.q[0], s.node(2)) == -EINVAL      # never queued
    assert lib.k_runq_remove(s.q[0], s.ffi.NULL) == -EINVAL
    assert lib.k_runq_count(s.q[0]) == 1 and lib.k_runq_count(s.q[1]) == 0 and s.ok()


def test_remove_from_head_middle_and_tail() -> None:
    s = Queues()
    for i in range(5):
        s.lib.k_runq_push(s.q[0], s.node(i, 3))
    for i in (2, 4, 0):
        assert s.lib.k_runq_remove(s.q[0], s.node(i)) == 0 and s.ok()
        assert s.pool[i].queued == 0
    assert s.lib.k_runq_push(s.q[0], s.node(4)) == 0           # tail was fixed up
    assert [s.pop() for _ in range(4)] == [1, 3, 4, None] and s.ok()


def test_check_sees_corruption() -> None:
    s = Queues()
    for i in range(3):
        s.lib.k_runq_push(s.q[0], s.node(i, 0))
    s.pool[2].next = s.pool + 0                                  # a cycle
    assert s.lib.k_runq_check(s.q[0]) == -1
    s.pool[2].next = s.ffi.NULL
    s.q[0].count = 4
    assert s.lib.k_runq_check(s.q[0]) == -1
    s.q[0].count = 3
    s.pool[1].prio = 2
    assert s.lib.k_runq_check(s.q[0]) == -1
