/*
 * elf.c - validation of user program images (proc/elf.h), following the System V ABI's ELF
 * object file format (TIS ELF v1.2, "Book I: ELF" and the i386 processor supplement).
 *
 * The rules, in the order they are applied (plugins/kernel/fuzzing.py's oracle has the same):
 *  1. header: len >= 52; e_ident = 7f 'E' 'L' 'F', ELFCLASS32, ELFDATA2LSB, EV_CURRENT (other
 *     e_ident bytes are ignored); e_type ET_EXEC; e_machine EM_386; e_version 1; e_ehsize 52;
 *     e_phentsize 32; 1 <= e_phnum < 0xffff (PN_XNUM); the program header table inside the file.
 *  2. a PT_INTERP or PT_DYNAMIC header anywhere: not a static program.
 *  3. more than K_ELF_MAX_SEGS loadable segments -> -K_E2BIG. A PT_LOAD with p_memsz ==
 *     p_filesz == 0 is not loadable and is skipped; other types are ignored.
 *  4. each loadable segment, in table order: p_filesz <= p_memsz; p_offset + p_filesz <= len;
 *     p_vaddr == p_offset (mod 4096); its pages [p_vaddr & ~0xfff, roundup(p_vaddr + p_memsz))
 *     inside [user_lo, user_hi) and disjoint from every earlier segment's pages.
 *  5. the entry point inside [p_vaddr, p_vaddr + p_memsz) of a segment with PF_X.
 * Anything else is -K_ENOEXEC. The parser reads the image only through bounds-checked
 * little-endian loads, so any byte string is safe input.
 */
#include "proc/elf.h"

#include "lib/kerrno.h"

#define EHDR_SIZE 52u
#define PHDR_SIZE 32u
#define PAGE 4096u
#define ET_EXEC 2u
#define EM_386 3u
#define PT_LOAD 1u
#define PT_DYNAMIC 2u
#define PT_INTERP 3u
#define PF_X 1u
#define PF_W 2u
#define PN_XNUM 0xffffu

struct phdr {
    uint32_t type, offset, vaddr, filesz, memsz, flags;
};

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool header_ok(const uint8_t *im, size_t len)
{
    static const uint8_t ident[7] = {0x7f, 'E', 'L', 'F', 1, 1, 1};
    if (len < EHDR_SIZE || memcmp(im, ident, sizeof ident) != 0)
        return false;
    if (le16(im + 16) != ET_EXEC || le16(im + 18) != EM_386 || le32(im + 20) != 1 ||
        le16(im + 40) != EHDR_SIZE || le16(im + 42) != PHDR_SIZE)
        return false;
    uint32_t phnum = le16(im + 44);
    if (phnum == 0 || phnum == PN_XNUM)
        return false;
    uint64_t table_end = (uint64_t)le32(im + 28) + (uint64_t)phnum * PHDR_SIZE;
    return table_end <= len;
}

static struct phdr phdr_at(const uint8_t *im, uint32_t i)
{
    const uint8_t *p = im + le32(im + 28) + (size_t)i * PHDR_SIZE;
    struct phdr ph = {
        .type = le32(p), .offset = le32(p + 4), .vaddr = le32(p + 8),
        .filesz = le32(p + 16), .memsz = le32(p + 20), .flags = le32(p + 24),
    };
    return ph;
}

static bool loadable(const struct phdr *ph)
{
    return ph->type == PT_LOAD && (ph->memsz != 0 || ph->filesz != 0);
}

/* Page range of seg s: [vaddr, end) with end computed in 64 bits. */
static uint64_t seg_end(const struct k_elf_seg *s)
{
    return K_ALIGN_UP((uint64_t)s->vaddr + s->memsz, (uint64_t)PAGE);
}

/* Validate one loadable segment against the file, the user range and the earlier ones. */
static bool segment_ok(const struct phdr *ph, size_t len, uint32_t user_lo, uint32_t user_hi,
                       const struct k_elf_info *info, struct k_elf_seg *out)
{
    if (ph->filesz > ph->memsz || (uint64_t)ph->offset + ph->filesz > len ||
        (ph->vaddr & (PAGE - 1)) != (ph->offset & (PAGE - 1)))
        return false;
    out->skew = ph->vaddr & (PAGE - 1);
    out->vaddr = ph->vaddr - out->skew;
    out->memsz = ph->memsz + out->skew;
    out->offset = ph->offset;
    out->filesz = ph->filesz;
    out->writable = (ph->flags & PF_W) != 0;
    out->executable = (ph->flags & PF_X) != 0;
    if ((uint64_t)ph->memsz + out->skew > 0xffffffffu)
        return false; /* the page range would pass 4 GiB */
    uint64_t end = seg_end(out);
    if (out->vaddr < user_lo || end > user_hi)
        return false;
    for (uint32_t i = 0; i < info->nsegs; i++) {
        const struct k_elf_seg *o = &info->segs[i];
        if (out->vaddr < seg_end(o) && o->vaddr < end)
            return false;
    }
    return true;
}

static bool entry_ok(const struct k_elf_info *info, uint32_t entry)
{
    for (uint32_t i = 0; i < info->nsegs; i++) {
        const struct k_elf_seg *s = &info->segs[i];
        uint32_t lo = s->vaddr + s->skew;
        if (s->executable && entry >= lo && (uint64_t)entry < (uint64_t)s->vaddr + s->memsz)
            return true;
    }
    return false;
}

int k_elf_parse(const uint8_t *image, size_t len, uint32_t user_lo, uint32_t user_hi,
                struct k_elf_info *out)
{
    if (image == NULL || out == NULL || !header_ok(image, len))
        return -K_ENOEXEC;
    uint32_t phnum = le16(image + 44);
    uint32_t nload = 0;
    for (uint32_t i = 0; i < phnum; i++) {
        struct phdr ph = phdr_at(image, i);
        if (ph.type == PT_INTERP || ph.type == PT_DYNAMIC)
            return -K_ENOEXEC;
        nload += loadable(&ph);
    }
    if (nload > K_ELF_MAX_SEGS)
        return -K_E2BIG;
    memset(out, 0, sizeof *out);
    out->entry = le32(image + 24);
    for (uint32_t i = 0; i < phnum; i++) {
        struct phdr ph = phdr_at(image, i);
        if (!loadable(&ph))
            continue;
        kassert(out->nsegs < K_ELF_MAX_SEGS);
        if (!segment_ok(&ph, len, user_lo, user_hi, out, &out->segs[out->nsegs]))
            return -K_ENOEXEC;
        out->nsegs++;
    }
    return entry_ok(out, out->entry) ? 0 : -K_ENOEXEC;
}
