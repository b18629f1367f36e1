/*
 * huffman.c -- construction of length-limited canonical Huffman codes for the
 * encoder (RFC 1951 section 3.2.2).
 *
 * cz_huff_lengths: symbols with non-zero frequency are sorted by frequency
 * and given optimal code lengths with the in-place algorithm of Moffat and
 * Katajainen ("In-place calculation of minimum-redundancy codes", 1995).  If
 * the longest code exceeds the limit (15 for literal/length and distance
 * codes, 7 for the code-length code), lengths are clamped and the Kraft sum
 * is repaired by lengthening the deepest shorter codes, then lengths are
 * re-assigned so that rarer symbols never get shorter codes.  At least two
 * symbols always get a code, so every produced code is complete (a single
 * used symbol gets a 1-bit code plus a dummy partner), as zlib does.
 *
 * cz_huff_codes: assigns canonical codes (section 3.2.2's algorithm) and
 * stores them bit-reversed, ready for the LSB-first bit writer.
 *
 * Call chain: deflate.c cz_emit_block -> build_code -> here.
 */
#include <stdlib.h>

#include "cz_internal.h"

#define MAXSYMS 320u

/* In-place minimum-redundancy code lengths.  a[0..n) holds frequencies in
 * ascending order on entry and code lengths (longest first) on exit. */
static void min_redundancy(uint32_t *a, unsigned n)
{
    unsigned root, leaf, next, avbl, used, dpth;
    assert(n >= 2);
    a[0] += a[1];
    root = 0;
    leaf = 2;
    for (next = 1; next < n - 1; next++) {
        if (leaf >= n || a[root] < a[leaf]) {
            a[next] = a[root];
            a[root++] = next;
        } else {
            a[next] = a[leaf++];
        }
        if (leaf >= n || (root < next && a[root] < a[leaf])) {
            a[next] += a[root];
            a[root++] = next;
        } else {
            a[next] += a[leaf++];
        }
    }
    a[n - 2] = 0;
    for (next = n - 2; next-- > 0;)
        a[next] = a[a[next]] + 1;
    avbl = 1;
    used = dpth = 0;
    root = n - 1; /* one past the internal node being examined */
    next = n;     /* one past the next leaf slot to fill */
    while (avbl > 0) {
        while (root > 0 && a[root - 1] == dpth) {
            used++;
            root--;
        }
        while (avbl > used) {
            a[--next] = dpth;
            avbl--;
        }
        avbl = 2 * used;
        dpth++;
        used = 0;
    }
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* Clamp a length histogram to maxlen and restore the Kraft equality. */
static void limit_lengths(unsigned *num, unsigned maxlen, unsigned deepest)
{
    uint32_t total = 0;
    unsigned i;
    for (i = maxlen + 1; i <= deepest; i++) {
        num[maxlen] += num[i];
        num[i] = 0;
    }
    for (i = 1; i <= maxlen; i++)
        total += (uint32_t)num[i] << (maxlen - i);
    while (total > (1u << maxlen)) {
        num[maxlen]--;
        for (i = maxlen - 1; i > 0; i--) {
            if (num[i] != 0) {
                num[i]--;
                num[i + 1] += 2;
                break;
            }
        }
        total--;
    }
    assert(total == (1u << maxlen));
}

void cz_huff_lengths(const uint32_t *freq, unsigned n, unsigned maxlen,
                     uint8_t *lens)
{
    uint64_t keyed[MAXSYMS];
    uint32_t a[MAXSYMS];
    unsigned num[MAXSYMS + 1];
    unsigned i, m = 0, deepest = 0, len, k;

    assert(n <= MAXSYMS && n >= 2 && maxlen <= 15);
    memset(lens, 0, n);
    for (i = 0; i < n; i++)
        if (freq[i] != 0)
            keyed[m++] = ((uint64_t)freq[i] << 16) | i;
    /* force at least two codes so the code is complete */
    for (i = 0; m < 2; i++)
        if (freq[i] == 0)
            keyed[m++] = i; /* frequency 0 sorts first */
    qsort(keyed, m, sizeof keyed[0], cmp_u64);
    for (i = 0; i < m; i++)
        a[i] = (uint32_t)(keyed[i] >> 16);
    min_redundancy(a, m);
    memset(num, 0, sizeof num);
    for (i = 0; i < m; i++) {
        num[a[i]]++;
        if (a[i] > deepest)
            deepest = a[i];
    }
    if (deepest > maxlen) {
        limit_lengths(num, maxlen, deepest);
        deepest = maxlen;
    }
    /* rarest symbols (start of keyed[]) receive the longest codes */
    k = 0;
    for (len = deepest; len >= 1; len--)
        for (i = 0; i < num[len]; i++)
            lens[keyed[k++] & 0xffffu] = (uint8_t)len;
    assert(k == m);
}

static unsigned reverse_bits(unsigned code, unsigned len)
{
    unsigned r = 0;
    while (len--) {
        r = (r << 1) | (code & 1u);
        code >>= 1;
    }
    return r;
}

void cz_huff_codes(const uint8_t *lens, unsigned n, uint16_t *codes)
{
    unsigned count[16] = {0}, next[16];
    unsigned i, code = 0;
    for (i = 0; i < n; i++)
        count[lens[i]]++;
    count[0] = 0;
    for (i = 1; i < 16; i++) {
        code = (code + count[i - 1]) << 1;
        next[i] = code;
    }
    for (i = 0; i < n; i++) {
        unsigned l = lens[i];
        codes[i] = l ? (uint16_t)reverse_bits(next[l]++, l) : 0;
    }
}
