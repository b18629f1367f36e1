/*
 * runq.h - the scheduler's run queues: one FIFO per priority level; the scheduler always takes
 * from the highest non-empty level (0 is highest) and round-robins within a level.
 *
 * Host-buildable. Nodes are embedded in the process structure; a node is in at most one
 * queue, and every operation checks that instead of corrupting the lists.
 */
#ifndef K_RUNQ_H
#define K_RUNQ_H

#include "lib/klib.h"

#define K_NPRIO 4

struct k_runq_node {
    struct k_runq_node *next;
    uint8_t prio;   /* 0..K_NPRIO-1, set by the owner before pushing */
    uint8_t queued; /* 1 while in a queue */
};

struct k_runq {
    struct k_runq_node *head[K_NPRIO];
    struct k_runq_node *tail[K_NPRIO];
    uint32_t count;
};

void k_runq_init(struct k_runq *q);
/* Append n at the tail of its priority level. 0, or -K_EINVAL (already queued, bad prio). */
int k_runq_push(struct k_runq *q, struct k_runq_node *n);
/* Remove and return the head of the highest non-empty level, or NULL when all are empty. */
struct k_runq_node *k_runq_pop(struct k_runq *q);
/* The node k_runq_pop would return, without removing it. */
struct k_runq_node *k_runq_peek(const struct k_runq *q);
/* Remove n wherever it is. 0, or -K_EINVAL when it is not in q. */
int k_runq_remove(struct k_runq *q, struct k_runq_node *n);
uint32_t k_runq_count(const struct k_runq *q);
/* 0 when every list is well formed (no cycle, tails right, prio and queued flags right,
 * count equal to the nodes found), else -1. */
int k_runq_check(const struct k_runq *q);

#endif
