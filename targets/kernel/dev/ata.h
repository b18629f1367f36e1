/*
 * ata.h - the primary master ATA disk in PIO mode (ATA/ATAPI-6, T13/1410D: IDENTIFY DEVICE,
 * READ SECTORS with 28-bit LBA), polled, interrupts disabled at the device (nIEN).
 */
#ifndef K_ATA_H
#define K_ATA_H

#include "lib/klib.h"

#define K_ATA_SECTOR 512u

struct k_ata_info {
    bool present;
    uint32_t sectors; /* LBA28 addressable sectors (IDENTIFY words 60-61) */
    char model[41];   /* IDENTIFY words 27-46, trailing blanks removed */
};

/* Probe and IDENTIFY the primary master; 0, or -K_EIO when there is no usable disk. */
int k_ata_init(void);
const struct k_ata_info *k_ata_info(void);
/* Read count sectors from lba into buf. 0, -K_EIO (device error or timeout), -K_EINVAL
 * (range past the disk or LBA28). */
int k_ata_read(uint32_t lba, uint32_t count, void *buf);

#endif
