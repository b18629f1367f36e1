"""Fuzz targets of the kvstore system: the RESP2 request parser, the persistence loaders and
the command semantics, all in process through the ``kvlib`` cffi library (``kvlib.h``).

Three targets, each on the library built by the ``kvlib`` recipe in the flavor being fuzzed
(``ctx.build(RECIPE)``; ``kv_lib_init`` once with a fixed hash seed, ``kv_lib_reset`` before
every input):

``resp``
    The input is raw bytes as a client would send them.  ``kv_lib_parse`` counts the complete
    requests in it (multibulk ``*N`` arrays of ``$LEN`` bulks, and inline lines split like
    Redis's ``sdssplitargs``) twice, with Redis's default ``proto-max-bulk-len`` (512 MiB) and
    with a 16-byte limit (so that the bulk-length check is reachable), and ``kv_lib_exec``
    runs them.  The oracle is ``resp_ref.parse_requests``, an independent RESP2 request
    parser written from Redis 7.0's ``networking.c`` rules and limits (``string2ll`` lengths,
    multibulk counts up to ``INT_MAX``, 64 KiB line limit, line ends found with ``strchr`` so
    that a NUL byte before one hides it, a CR's LF left unchecked, ``*0``/``*-1``/blank lines
    skipped, the two bytes after a bulk skipped unchecked): both sides must give the same
    request count, or both report the same protocol error text.  Invariant: the replies of
    ``kv_lib_exec`` are a well-formed RESP2 stream of exactly one reply per request, plus the
    protocol error reply last when there is one.
``aof_load`` (input byte 0 picks the kind: bit 0 clear = log of commands, set = snapshot
    image; bit 1 set on a snapshot = rewrite its last 8 bytes with the CRC-64 of the rest, so
    mutations get past the checksum)
    ``kv_lib_load`` on the rest.  The oracle is an independent reader of each format as
    ``snap.h`` and ``aof_load.h`` document it: ``formats.read_snapshot`` (magic, version 1,
    varint-framed entries, end marker, CRC-64/XZ, nothing after it, unique keys, expired keys
    skipped) and ``formats.replay_log`` (strict RESP2 arrays replayed through the command
    model in loading mode, where keys do not expire and an expiry in the past is stored, as in
    Redis: unknown, non-write or failing commands reject the log at the offset where the
    command starts).  Compared: acceptance; on acceptance the resulting keyspace (read back
    with ``kv_lib_snapshot`` and ``formats.read_snapshot``; keys, values and expiries, the
    latter within ``EXPIRY_SLACK_MS`` as relative TTLs depend on the clock); on rejection of a
    log, the offset.  Invariants: a rejected input's offset lies within it; an accepted one's
    snapshot loads again (``kv_lib_load`` kind 1) to the same keyspace (idempotence).
``commands`` (structured)
    A FuzzedDataProvider builds a script of up to ``MAX_COMMANDS`` commands over a few keys
    (SET with NX/XX/GET/KEEPTTL/EX/PX, GET, DEL, EXISTS, INCR/DECR/INCRBY/DECRBY near the
    64-bit limits, APPEND, STRLEN, MSET/MGET, GETSET, GETDEL, SETNX, DBSIZE, KEYS, TTL, PERSIST,
    EXPIRE/PEXPIRE with NX/XX/LT and TTLs long enough that the clock cannot matter, FLUSHALL,
    PING, ECHO, unknown commands, wrong arities, mixed-case names), encoded as multibulk or
    quoted inline requests and sent through ``kv_lib_exec`` in provider-chosen pipelined
    batches.  The oracle is ``model.Model``, a pure-Python model of those commands giving the
    exact RESP2 reply bytes Redis 7.0 gives (error texts included, option words compared as C
    strings); the output compared is the tuple of replies (KEYS arrays sorted: hash order is
    no contract).

The oracles hold the C code to Redis 7.0 exactly: there is no tolerated deviation (the tests
check the references against redis-server 7.0 itself).

Modules, one job each: ``wire`` (RESP2 reply and request encoding, ``string2ll``),
``resp_ref`` (the reference request parser), ``model`` (the command model), ``formats`` (the
snapshot and log readers and writers, CRC-64), ``scripts`` (the ``commands`` target's script
generator), ``kvlib`` (the cffi library wrapper) and ``targets`` (the ``lab.FuzzTarget``
declarations with their load, oracle and invariant functions).  This package exports
``FUZZ_TARGETS`` and ``RECIPE`` (the name of the ``kvlib`` cffi recipe).
"""

from __future__ import annotations

from plugins.kvstore.fuzzing.kvlib import RECIPE
from plugins.kvstore.fuzzing.targets import FUZZ_TARGETS

__all__ = ["FUZZ_TARGETS", "RECIPE"]
