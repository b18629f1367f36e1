/*
 * runq.c - the scheduler's run queues of proc/runq.h: K_NPRIO singly linked FIFOs with head
 * and tail pointers; pop takes the head of the lowest-numbered non-empty level.
 *
 * A node's `queued` flag alone is not trusted for membership: remove() finds the node in
 * this queue's lists before unlinking it, so a node queued elsewhere (or never queued) is
 * refused with -K_EINVAL instead of corrupting either queue.
 */
#include "proc/runq.h"

#include "lib/kerrno.h"

void k_runq_init(struct k_runq *q)
{
    for (int i = 0; i < K_NPRIO; i++) {
        q->head[i] = NULL;
        q->tail[i] = NULL;
    }
    q->count = 0;
}

int k_runq_push(struct k_runq *q, struct k_runq_node *n)
{
    if (n == NULL || n->queued || n->prio >= K_NPRIO)
        return -K_EINVAL;
    unsigned p = n->prio;
    n->next = NULL;
    n->queued = 1;
    if (q->tail[p] != NULL)
        q->tail[p]->next = n;
    else
        q->head[p] = n;
    q->tail[p] = n;
    q->count++;
    return 0;
}

/* The highest-priority non-empty level, or -1. */
static int first_level(const struct k_runq *q)
{
    for (int i = 0; i < K_NPRIO; i++)
        if (q->head[i] != NULL)
            return i;
    return -1;
}

/* Unlink n, whose predecessor in level p is prev (NULL when n is the head). */
static void unlink_node(struct k_runq *q, int p, struct k_runq_node *prev, struct k_runq_node *n)
{
    if (prev != NULL)
        prev->next = n->next;
    else
        q->head[p] = n->next;
    if (q->tail[p] == n)
        q->tail[p] = prev;
    kassert(q->count > 0);
    q->count--;
    n->next = NULL;
    n->queued = 0;
}

struct k_runq_node *k_runq_pop(struct k_runq *q)
{
    int p = first_level(q);
    if (p < 0)
        return NULL;
    struct k_runq_node *n = q->head[p];
    unlink_node(q, p, NULL, n);
    return n;
}

struct k_runq_node *k_runq_peek(const struct k_runq *q)
{
    int p = first_level(q);
    return p < 0 ? NULL : q->head[p];
}

/* Unlink n from level p when it is there. */
static bool unlink_from(struct k_runq *q, int p, struct k_runq_node *n)
{
    struct k_runq_node *prev = NULL;
    for (struct k_runq_node *c = q->head[p]; c != NULL; prev = c, c = c->next) {
        if (c == n) {
            unlink_node(q, p, prev, n);
            return true;
        }
    }
    return false;
}

int k_runq_remove(struct k_runq *q, struct k_runq_node *n)
{
    if (n == NULL || !n->queued)
        return -K_EINVAL;
    /* Its own level first (the common case), then the others in case prio changed. */
    int own = n->prio < K_NPRIO ? n->prio : -1;
    if (own >= 0 && unlink_from(q, own, n))
        return 0;
    for (int p = 0; p < K_NPRIO; p++)
        if (p != own && unlink_from(q, p, n))
            return 0;
    return -K_EINVAL;
}

uint32_t k_runq_count(const struct k_runq *q)
{
    return q->count;
}

/* Nodes in level p when it is a well-formed list, else -1 (Floyd's cycle check). */
static int64_t check_level(const struct k_runq *q, int p)
{
    const struct k_runq_node *slow = q->head[p], *fast = q->head[p], *last = NULL;
    int64_t n = 0;
    if ((q->head[p] == NULL) != (q->tail[p] == NULL))
        return -1;
    for (const struct k_runq_node *c = q->head[p]; c != NULL; c = c->next) {
        if (c->prio != p || c->queued != 1)
            return -1;
        last = c;
        n++;
        if (fast != NULL && fast->next != NULL) {
            fast = fast->next->next;
            slow = slow->next;
            if (fast != NULL && fast == slow)
                return -1;
        }
    }
    return last == q->tail[p] ? n : -1;
}

int k_runq_check(const struct k_runq *q)
{
    int64_t total = 0;
    for (int p = 0; p < K_NPRIO; p++) {
        int64_t n = check_level(q, p);
        if (n < 0)
            return -1;
        total += n;
    }
    return total == (int64_t)q->count ? 0 : -1;
}
