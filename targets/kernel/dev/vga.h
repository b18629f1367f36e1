/*
 * vga.h - the VGA 80x25 colour text console at 0xB8000 (IBM VGA technical reference: text
 * mode memory, CRT controller cursor registers 0x0E/0x0F).
 */
#ifndef K_VGA_H
#define K_VGA_H

#include "lib/klib.h"

enum k_vga_color {
    K_VGA_BLACK = 0, K_VGA_BLUE = 1, K_VGA_GREEN = 2, K_VGA_CYAN = 3, K_VGA_RED = 4,
    K_VGA_MAGENTA = 5, K_VGA_BROWN = 6, K_VGA_LGRAY = 7, K_VGA_DGRAY = 8, K_VGA_LBLUE = 9,
    K_VGA_LGREEN = 10, K_VGA_LCYAN = 11, K_VGA_LRED = 12, K_VGA_PINK = 13, K_VGA_YELLOW = 14,
    K_VGA_WHITE = 15,
};

#define K_VGA_COLS 80
#define K_VGA_ROWS 25

void k_vga_init(void);
void k_vga_clear(void);
void k_vga_set_color(enum k_vga_color fg, enum k_vga_color bg);
void k_vga_write(const char *s, size_t n);
/* The character at (row, col), for tests. */
char k_vga_char_at(int row, int col);

#endif
