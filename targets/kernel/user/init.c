/*
 * init.c - /bin/init, the first program of mode=run: prints a prompt and echoes what is
 * typed on the keyboard or the serial line; "exit" (or ctrl-D) ends it, which ends the
 * boot.
 */
#include "ulib.h"

int main(const char *arg)
{
    (void)arg;
    char line[128];
    uint32_t len = 0;
    u_printf("init: pid %d, type something (\"exit\" to stop)\n$ ", u_getpid());
    for (;;) {
        char buf[32];
        int32_t n = u_read(0, buf, sizeof buf);
        if (n < 0)
            return 1;
        for (int32_t i = 0; i < n; i++) {
            char c = buf[i];
            if (c == 4)
                return 0;
            if (c == '\b' || c == 127) {
                if (len > 0) {
                    len--;
                    u_write(1, "\b", 1);
                }
                continue;
            }
            u_write(1, &c, 1);
            if (c != '\n') {
                if (len + 1 < sizeof line)
                    line[len++] = c;
                continue;
            }
            line[len] = '\0';
            if (strcmp(line, "exit") == 0)
                return 0;
            if (len > 0)
                u_printf("you typed: %s\n", line);
            u_printf("$ ");
            len = 0;
        }
    }
}
