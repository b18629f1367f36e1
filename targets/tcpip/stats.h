/*
 * stats.h -- the stack's counters, one enum entry per line of the
 * stats_*.def files (one file per module, each owned by its module):
 * TS_STAT_DEF(ID, "proto.counter"). Drops are counted by reason.
 */
#ifndef TS_STATS_H
#define TS_STATS_H

enum ts_stat_id {
#define TS_STAT_DEF(id, name) TS_ST_##id,
#include "stats_link.def"
#include "stats_eth.def"
#include "stats_arp.def"
#include "stats_ip.def"
#include "stats_icmp.def"
#include "stats_udp.def"
#include "stats_tcp.def"
#include "stats_dhcp.def"
#undef TS_STAT_DEF
    TS_ST_COUNT
};

#endif
