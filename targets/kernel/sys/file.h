/*
 * file.h - the per-process file descriptor table: 0, 1 and 2 are the console, open() adds
 * read-only LABFS files (fds 3..K_NFILE-1) and, in mode=fuzz, /dev/fuzzprog
 * (sys/fuzzprog.h).
 */
#ifndef K_FILE_H
#define K_FILE_H

#include "lib/klib.h"

/* Open the LABFS file at path (a kernel string), or /dev/fuzzprog when the current process
 * may read it, in the current process; the fd or -K_ENOENT, -K_EMFILE, -K_ENAMETOOLONG,
 * -K_EIO. */
int k_file_open(const char *path);
int k_file_close(int fd);
/* Read into user memory already checked writable (may block on the console); bytes read or
 * -K_EBADF. */
int32_t k_file_read(int fd, void *ubuf, uint32_t len);
/* Write from user memory already checked readable; bytes written or -K_EBADF. */
int32_t k_file_write(int fd, const void *ubuf, uint32_t len);

#endif
