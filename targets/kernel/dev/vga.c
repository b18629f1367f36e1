/*
 * vga.c - VGA text mode console (IBM VGA reference): 80x25 cells of (character, attribute)
 * at 0xB8000; newline, carriage return, backspace and tab; scrolling by one line at the
 * bottom; the hardware cursor through CRTC registers 0x0E/0x0F (ports 0x3D4/0x3D5).
 */
#include "dev/vga.h"

#include "arch/x86.h"

#define VGA_MEM ((volatile uint16_t *)0xB8000)
#define CRTC_ADDR 0x3d4
#define CRTC_DATA 0x3d5

static int k_vga_row, k_vga_col;
static uint8_t k_vga_attr = (K_VGA_BLACK << 4) | K_VGA_LGRAY;

static uint16_t cell(char c)
{
    return (uint16_t)((uint8_t)c | ((uint16_t)k_vga_attr << 8));
}

static void vga_cursor(void)
{
    uint16_t pos = (uint16_t)(k_vga_row * K_VGA_COLS + k_vga_col);
    k_outb(CRTC_ADDR, 0x0f);
    k_outb(CRTC_DATA, (uint8_t)(pos & 0xff));
    k_outb(CRTC_ADDR, 0x0e);
    k_outb(CRTC_DATA, (uint8_t)(pos >> 8));
}

static void vga_scroll(void)
{
    for (int i = 0; i < (K_VGA_ROWS - 1) * K_VGA_COLS; i++)
        VGA_MEM[i] = VGA_MEM[i + K_VGA_COLS];
    for (int i = 0; i < K_VGA_COLS; i++)
        VGA_MEM[(K_VGA_ROWS - 1) * K_VGA_COLS + i] = cell(' ');
    k_vga_row = K_VGA_ROWS - 1;
}

static void vga_putc(char c)
{
    if (c == '\n') {
        k_vga_col = 0;
        k_vga_row++;
    } else if (c == '\r') {
        k_vga_col = 0;
    } else if (c == '\b') {
        if (k_vga_col > 0)
            VGA_MEM[k_vga_row * K_VGA_COLS + --k_vga_col] = cell(' ');
    } else if (c == '\t') {
        k_vga_col = (k_vga_col + 8) & ~7;
    } else {
        VGA_MEM[k_vga_row * K_VGA_COLS + k_vga_col++] = cell(c);
    }
    if (k_vga_col >= K_VGA_COLS) {
        k_vga_col = 0;
        k_vga_row++;
    }
    if (k_vga_row >= K_VGA_ROWS)
        vga_scroll();
}

void k_vga_clear(void)
{
    for (int i = 0; i < K_VGA_ROWS * K_VGA_COLS; i++)
        VGA_MEM[i] = cell(' ');
    k_vga_row = k_vga_col = 0;
    vga_cursor();
}

void k_vga_init(void)
{
    k_vga_clear();
}

void k_vga_set_color(enum k_vga_color fg, enum k_vga_color bg)
{
    k_vga_attr = (uint8_t)((bg << 4) | (fg & 0x0f));
}

void k_vga_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vga_putc(s[i]);
    vga_cursor();
}

char k_vga_char_at(int row, int col)
{
    kassert(row >= 0 && row < K_VGA_ROWS && col >= 0 && col < K_VGA_COLS);
    return (char)(VGA_MEM[row * K_VGA_COLS + col] & 0xff);
}
