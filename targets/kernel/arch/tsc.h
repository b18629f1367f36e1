/*
 * tsc.h - the time stamp counter's frequency, measured against the 8254 PIT at boot.
 */
#ifndef K_TSC_H
#define K_TSC_H

#include "lib/klib.h"

/* Measure the TSC frequency over a PIT channel 2 one-shot; returns it in kHz. */
uint32_t k_tsc_calibrate(void);
uint32_t k_tsc_khz(void);
/* TSC ticks to nanoseconds with the calibrated frequency. */
uint64_t k_tsc_to_ns(uint64_t tsc);

#endif
