/*
 * kcov.c - the coverage bitmap behind __sanitizer_cov_trace_pc (see kcov.h). This file is
 * never instrumented itself; without K_KCOV the hook is absent and dump prints nothing.
 */
#include "lib/kcov.h"

#include "lib/kprintf.h"

static uint8_t kcov_map[K_KCOV_BITS / 8];
static bool kcov_on;

#ifdef K_KCOV
void __sanitizer_cov_trace_pc(void);

/* Mark the calling block: its return address hashed (Fibonacci hashing) to one bit. */
void __sanitizer_cov_trace_pc(void)
{
    uint32_t pc = (uint32_t)(uintptr_t)__builtin_return_address(0);
    uint32_t bit = (pc * 2654435761u) >> (32 - 12);
    kcov_map[bit >> 3] |= (uint8_t)(1u << (bit & 7));
}
#endif

void k_kcov_reset(void)
{
    memset(kcov_map, 0, sizeof kcov_map);
#ifdef K_KCOV
    kcov_on = true;
#endif
}

void k_kcov_dump(void)
{
    static const char hex[] = "0123456789abcdef";
    if (!kcov_on)
        return;
    char line[2 * sizeof kcov_map + 1];
    for (size_t i = 0; i < sizeof kcov_map; i++) {
        line[2 * i] = hex[kcov_map[i] >> 4];
        line[2 * i + 1] = hex[kcov_map[i] & 15];
    }
    line[2 * sizeof kcov_map] = '\0';
    k_printf("\nLAB KCOV %s\n", line);
}
