/*
 * tsc.c - TSC calibration (Intel SDM vol. 3, 17.17 time-stamp counter) against the 8254
 * PIT's channel 2 (Intel 8254 datasheet, mode 0 "interrupt on terminal count"): the gate is
 * port 0x61 bit 0, the channel's OUT is readable at port 0x61 bit 5. We count TSC ticks
 * while the PIT counts CAL_COUNT input clocks (1 ms), three times, and keep the median (a
 * host that preempts the emulator mid-window skews one run), scaling with k_udiv64 only.
 */
#include "arch/tsc.h"

#include "arch/pit.h"
#include "arch/x86.h"
#include "lib/div64.h"

#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PORT_B 0x61
#define CAL_COUNT 1193u /* 1 ms of 1.193182 MHz */
#define CAL_RUNS 3

static uint32_t k_khz;

/* TSC ticks while PIT channel 2 counts CAL_COUNT clocks. */
static uint64_t measure_window(void)
{
    uint8_t b = k_inb(PORT_B);
    k_outb(PORT_B, (uint8_t)(b & ~0x03u)); /* gate low, speaker off */
    k_outb(PIT_CMD, 0xb0);                 /* channel 2, lobyte/hibyte, mode 0 */
    k_outb(PIT_CH2, CAL_COUNT & 0xff);
    k_outb(PIT_CH2, CAL_COUNT >> 8);
    k_outb(PORT_B, (uint8_t)((b & ~0x02u) | 0x01u)); /* gate high: counting starts */
    uint64_t t0 = k_rdtsc();
    uint32_t spins = 0;
    while ((k_inb(PORT_B) & 0x20) == 0 && spins < 100000000u)
        spins++;
    uint64_t t1 = k_rdtsc();
    k_outb(PORT_B, b);
    return t1 - t0;
}

uint32_t k_tsc_calibrate(void)
{
    uint64_t d[CAL_RUNS];
    for (int i = 0; i < CAL_RUNS; i++) {
        uint64_t v = measure_window();
        int j = i;
        for (; j > 0 && d[j - 1] > v; j--)
            d[j] = d[j - 1];
        d[j] = v;
    }
    uint64_t delta = d[CAL_RUNS / 2];
    /* kHz = delta / (CAL_COUNT / PIT_HZ s) / 1000 = delta * PIT_HZ / (CAL_COUNT * 1000) */
    k_khz = (uint32_t)k_udiv64(delta * K_PIT_INPUT_HZ, CAL_COUNT * 1000u, NULL);
    if (k_khz == 0)
        k_khz = 1;
    return k_khz;
}

uint32_t k_tsc_khz(void)
{
    return k_khz;
}

uint64_t k_tsc_to_ns(uint64_t tsc)
{
    /* ns = tsc * 1e6 / khz, split so the product cannot overflow 64 bits. */
    uint32_t rem;
    uint64_t q = k_udiv64(tsc, k_khz, &rem);
    return q * 1000000u + k_udiv64((uint64_t)rem * 1000000u, k_khz, NULL);
}
