/*
 * stats_json.c -- write every counter of the stack (ts_stats_count,
 * ts_stat_name, ts_stat_value) as one JSON object (RFC 8259)
 * {"proto.counter": value, ...} to a file, for --stats.
 */
#define _GNU_SOURCE
#include "node.h"

#include <errno.h>
#include <string.h>

int node_stats_write(struct ts_stack *s, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "tcpip-node: --stats %s: %s\n", path, strerror(errno));
        return -1;
    }
    fputs("{", f);
    for (int i = 0; i < ts_stats_count(); i++) {
        const char *name = ts_stat_name(i);
        fprintf(f, "%s\n  \"%s\": %llu", i ? "," : "", name != NULL ? name : "?",
                (unsigned long long)ts_stat_value(s, i));
    }
    fputs("\n}\n", f);
    if (fclose(f) != 0) {
        fprintf(stderr, "tcpip-node: --stats %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}
