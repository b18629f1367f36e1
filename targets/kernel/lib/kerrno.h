/*
 * kerrno.h - error numbers returned (negated) by kernel functions and system calls.
 * The values are Linux's (asm-generic/errno-base.h) so a program's errors read the same on
 * both kernels the lab compares; K_EBADFS is ours (a corrupt LABFS image).
 */
#ifndef K_KERRNO_H
#define K_KERRNO_H

#define K_EPERM 1
#define K_ENOENT 2
#define K_ESRCH 3
#define K_EIO 5
#define K_E2BIG 7
#define K_ENOEXEC 8
#define K_EBADF 9
#define K_ECHILD 10
#define K_EAGAIN 11
#define K_ENOMEM 12
#define K_EFAULT 14
#define K_EEXIST 17
#define K_EINVAL 22
#define K_EMFILE 24
#define K_ENAMETOOLONG 36
#define K_ENOSYS 38
#define K_EBADFS 117 /* EUCLEAN: structure needs cleaning */

#endif
