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

/* Sorts keys (frequency << 16 | symbol, made in symbol order) ascending:
 * a stable LSD radix sort on the frequency, 8 bits per pass and only as
 * many passes as the largest frequency needs -- one or two for a block --
 * which gives exactly the order of a full comparison sort on the keys. */
static void sort_keys(uint64_t *a, unsigned n)
{
    uint64_t tmp[MAXSYMS], *src = a, *dst = tmp, *t;
    uint64_t maxkey = 0;
    unsigned i, shift;
    assert(n <= MAXSYMS);
    for (i = 0; i < n; i++)
        maxkey = a[i] > maxkey ? a[i] : maxkey;
    for (shift = 16; shift < 64 && (maxkey >> shift) != 0; shift += 8) {
        unsigned count[256] = {0}, sum = 0;
        for (i = 0; i < n; i++)
            count[(src[i] >> shift) & 0xffu]++;
        for (i = 0; i < 256; i++) {
            unsigned c = count[i];
            count[i] = sum;
            sum += c;
        }
        for (i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & 0xffu]++] = src[i];
        t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
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
    sort_keys(keyed, m);
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

/* The low len bits of code, reversed (len <= 16), without a bit loop. */
static unsigned reverse_bits(unsigned code, unsigned len)
{
    unsigned r = code & 0xffffu;
    assert(len <= 16);
    r = ((r & 0x5555u) << 1) | ((r >> 1) & 0x5555u);
    r = ((r & 0x3333u) << 2) | ((r >> 2) & 0x3333u);
    r = ((r & 0x0f0fu) << 4) | ((r >> 4) & 0x0f0fu);
    r = ((r & 0x00ffu) << 8) | ((r >> 8) & 0x00ffu);
    return r >> (16u - len);
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
