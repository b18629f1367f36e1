/*
 * console.h - the console: output to COM1 and VGA together, input from the keyboard and COM1
 * (file descriptors 0, 1 and 2 of every process).
 */
#ifndef K_CONSOLE_H
#define K_CONSOLE_H

#include "lib/klib.h"

void k_cons_write(const char *s, size_t n);
/* Up to n waiting input characters (keyboard first, then serial), never blocking. */
size_t k_cons_read(char *buf, size_t n);
/* Called by the input drivers' interrupt handlers: wakes readers blocked in the console. */
void k_cons_input_ready(void);
/* The wait channel readers sleep on. */
const void *k_cons_chan(void);

#endif
