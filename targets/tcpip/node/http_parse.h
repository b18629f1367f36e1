/*
 * http_parse.h -- HTTP/1.1 message syntax (RFC 9112) shared by the
 * daemon's server and client: finding the end of a message head, parsing a
 * request line or status line and the header fields that decide framing
 * and persistence (Content-Length, Transfer-Encoding, Connection, Host),
 * and an incremental chunked-body decoder (RFC 9112 section 7.1).
 */
#ifndef NODE_HTTP_PARSE_H
#define NODE_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NODE_HTTP_LINE_MAX (8 * 1024)      /* request or status line */
#define NODE_HTTP_FIELDS_MAX (16 * 1024)   /* all header lines */
#define NODE_HTTP_FIELD_LINES 100
#define NODE_HTTP_HEAD_MAX (NODE_HTTP_LINE_MAX + NODE_HTTP_FIELDS_MAX + 4)

/* What the header fields say. */
struct node_http_fields {
    long long content_length;    /* -1: absent */
    int chunked;                 /* Transfer-Encoding ends in chunked */
    int te_present;              /* any Transfer-Encoding */
    int conn_close, conn_keep_alive;
    int hosts;                   /* Host fields seen */
};

struct node_http_request {
    const char *method, *target; /* NUL-terminated, inside the parsed buffer */
    int minor;                   /* HTTP/1.minor */
    struct node_http_fields f;
};

struct node_http_response {
    int status, minor;
    char reason[64];
    struct node_http_fields f;
};

/* Where the head (start line and fields, through the empty line) ends in
 * buf[0..len): the offset just past it, 0 when incomplete, -1 when the
 * limits above are exceeded. *skip: bytes of leading empty lines to ignore
 * (RFC 9112 2.2); the head proper is buf[*skip..end). */
ssize_t node_http_head_end(const char *buf, size_t len, size_t *skip);

/* Parse a request head of head_len bytes in place (it is modified).
 * 0, or the status to answer: 400 malformed, 505 version. */
int node_http_parse_request(char *head, size_t head_len, struct node_http_request *r);

/* Parse a response head in place: 0, or -1 when malformed. */
int node_http_parse_response(char *head, size_t head_len, struct node_http_response *r);

/* Incremental chunked decoder. */
struct node_http_chunked {
    int state;
    uint64_t left;               /* data bytes left in the current chunk */
    unsigned digits;
    size_t line;                 /* bytes of the current extension/trailer line */
    int done;
};

/* Consume input; a run of body data is returned in *data and *n (possibly
 * empty). Returns bytes consumed (> 0 unless len is 0 or done), -1 when
 * malformed. */
ssize_t node_http_chunked_feed(struct node_http_chunked *c, const uint8_t *in,
                               size_t len, const uint8_t **data, size_t *n);

/* Case-insensitive ASCII comparison of a and b[0..n). */
int node_http_ieq(const char *a, const char *b, size_t n);

#endif
