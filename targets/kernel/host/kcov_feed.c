/*
 * kcov_feed.c - the guest's coverage as libFuzzer coverage: a bitmap a fuzzed kernel printed
 * ("LAB KCOV", lib/kcov.c) becomes this module's 8-bit counters, which libFuzzer reads after
 * each input like the counters of instrumented code (SanitizerCoverage's inline 8-bit counters
 * and PC table interface: __sanitizer_cov_8bit_counters_init, __sanitizer_cov_pcs_init).
 *
 * The registration hooks are weak: in a process without libFuzzer (tests, replays in the
 * release or debug flavor) they are absent and feeding only fills the array.
 */
#include "host/khost.h"
#include "lib/kcov.h"

_Static_assert(KHOST_KCOV_BYTES * 8 == K_KCOV_BITS, "the guest bitmap and the counters differ");

#define KCOV_COUNTERS (KHOST_KCOV_BYTES * 8u)

static uint8_t kcov_counters[KCOV_COUNTERS];
static uintptr_t kcov_pcs[2 * KCOV_COUNTERS]; /* (pseudo PC, flags) pairs, one per counter */

void __sanitizer_cov_8bit_counters_init(uint8_t *start, uint8_t *stop) __attribute__((weak));
void __sanitizer_cov_pcs_init(const uintptr_t *beg, const uintptr_t *end) __attribute__((weak));

__attribute__((constructor)) static void kcov_register(void)
{
    for (size_t i = 0; i < KCOV_COUNTERS; i++) {
        kcov_pcs[2 * i] = (uintptr_t)&kcov_counters[i]; /* unique, never executed */
        kcov_pcs[2 * i + 1] = 1;                          /* each bit counts as a function */
    }
    if (__sanitizer_cov_8bit_counters_init != NULL && __sanitizer_cov_pcs_init != NULL) {
        __sanitizer_cov_8bit_counters_init(kcov_counters, kcov_counters + KCOV_COUNTERS);
        __sanitizer_cov_pcs_init(kcov_pcs, kcov_pcs + 2 * KCOV_COUNTERS);
    }
}

uint32_t khost_kcov_feed(const uint8_t *bitmap, size_t nbytes)
{
    uint32_t hit = 0;
    if (nbytes > KHOST_KCOV_BYTES)
        nbytes = KHOST_KCOV_BYTES;
    for (size_t i = 0; i < nbytes * 8u; i++) {
        if (bitmap[i >> 3] & (1u << (i & 7))) {
            if (kcov_counters[i] < 255)
                kcov_counters[i]++;
            hit++;
        }
    }
    return hit;
}

uint8_t khost_kcov_counter(uint32_t i)
{
    return i < KCOV_COUNTERS ? kcov_counters[i] : 0;
}
