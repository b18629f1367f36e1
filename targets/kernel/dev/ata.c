/*
 * ata.c - ATA PIO driver for the primary channel's master device (ATA/ATAPI-6, T13/1410D):
 * command block registers at 0x1F0-0x1F7, control block at 0x3F6. Polling protocol of
 * section 9.5 (PIO data-in): wait BSY clear, then DRQ, read 256 words per sector. nIEN is
 * set so the device never raises IRQ 14. Timeouts are spin counts, never an endless loop.
 */
#include "dev/ata.h"

#include "arch/x86.h"
#include "lib/kerrno.h"

#define ATA_DATA 0x1f0
#define ATA_ERROR 0x1f1
#define ATA_COUNT 0x1f2
#define ATA_LBA0 0x1f3
#define ATA_LBA1 0x1f4
#define ATA_LBA2 0x1f5
#define ATA_DEVICE 0x1f6
#define ATA_STATUS 0x1f7
#define ATA_COMMAND 0x1f7
#define ATA_CTRL 0x3f6

#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DF 0x20
#define ST_BSY 0x80

#define CMD_READ_SECTORS 0x20
#define CMD_IDENTIFY 0xec
#define SPIN_LIMIT 10000000u

static struct k_ata_info k_ata;

/* The 400 ns the device needs before its status is valid: four alternate status reads. */
static void ata_delay(void)
{
    for (int i = 0; i < 4; i++)
        (void)k_inb(ATA_CTRL);
}

static int ata_wait_ready(void)
{
    for (uint32_t i = 0; i < SPIN_LIMIT; i++) {
        uint8_t st = k_inb(ATA_STATUS);
        if (st == 0xff)
            return -K_EIO; /* floating bus: no device */
        if (!(st & ST_BSY))
            return 0;
    }
    return -K_EIO;
}

static int ata_wait_drq(void)
{
    for (uint32_t i = 0; i < SPIN_LIMIT; i++) {
        uint8_t st = k_inb(ATA_STATUS);
        if (st & ST_BSY)
            continue;
        if (st & (ST_ERR | ST_DF))
            return -K_EIO;
        if (st & ST_DRQ)
            return 0;
    }
    return -K_EIO;
}

static void ata_model(const uint16_t *id)
{
    for (int i = 0; i < 20; i++) {
        k_ata.model[2 * i] = (char)(id[27 + i] >> 8);
        k_ata.model[2 * i + 1] = (char)(id[27 + i] & 0xff);
    }
    k_ata.model[40] = '\0';
    for (int i = 39; i >= 0 && (k_ata.model[i] == ' ' || k_ata.model[i] == '\0'); i--)
        k_ata.model[i] = '\0';
}

int k_ata_init(void)
{
    uint16_t id[256];
    memset(&k_ata, 0, sizeof k_ata);
    k_outb(ATA_CTRL, 0x02); /* nIEN */
    k_outb(ATA_DEVICE, 0xa0);
    ata_delay();
    if (k_inb(ATA_STATUS) == 0xff || ata_wait_ready() != 0)
        return -K_EIO;
    k_outb(ATA_COUNT, 0);
    k_outb(ATA_LBA0, 0);
    k_outb(ATA_LBA1, 0);
    k_outb(ATA_LBA2, 0);
    k_outb(ATA_COMMAND, CMD_IDENTIFY);
    ata_delay();
    if (k_inb(ATA_STATUS) == 0)
        return -K_EIO; /* no device */
    if (ata_wait_ready() != 0 || k_inb(ATA_LBA1) != 0 || k_inb(ATA_LBA2) != 0)
        return -K_EIO; /* ATAPI or SATA signature: not a PATA disk */
    if (ata_wait_drq() != 0)
        return -K_EIO;
    k_insw(ATA_DATA, id, 256);
    k_ata.sectors = (uint32_t)id[60] | ((uint32_t)id[61] << 16);
    ata_model(id);
    k_ata.present = k_ata.sectors > 0;
    return k_ata.present ? 0 : -K_EIO;
}

const struct k_ata_info *k_ata_info(void)
{
    return &k_ata;
}

/* One READ SECTORS command for n (1..256) sectors. */
static int ata_read_run(uint32_t lba, uint32_t n, uint8_t *buf)
{
    if (ata_wait_ready() != 0)
        return -K_EIO;
    k_outb(ATA_DEVICE, (uint8_t)(0xe0 | ((lba >> 24) & 0x0f)));
    k_outb(ATA_COUNT, (uint8_t)(n & 0xff)); /* 0 means 256 */
    k_outb(ATA_LBA0, (uint8_t)lba);
    k_outb(ATA_LBA1, (uint8_t)(lba >> 8));
    k_outb(ATA_LBA2, (uint8_t)(lba >> 16));
    k_outb(ATA_COMMAND, CMD_READ_SECTORS);
    for (uint32_t i = 0; i < n; i++) {
        ata_delay();
        if (ata_wait_drq() != 0)
            return -K_EIO;
        k_insw(ATA_DATA, buf + i * K_ATA_SECTOR, K_ATA_SECTOR / 2);
    }
    return 0;
}

int k_ata_read(uint32_t lba, uint32_t count, void *buf)
{
    if (!k_ata.present)
        return -K_EIO;
    if (count == 0)
        return 0;
    if ((uint64_t)lba + count > k_ata.sectors || (uint64_t)lba + count > (1u << 28))
        return -K_EINVAL;
    uint8_t *dst = buf;
    while (count > 0) {
        uint32_t n = count > 256 ? 256 : count;
        int rc = ata_read_run(lba, n, dst);
        if (rc != 0)
            return rc;
        lba += n;
        count -= n;
        dst += n * K_ATA_SECTOR;
    }
    return 0;
}
