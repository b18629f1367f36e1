/*
 * true.c - /bin/true: exits with status 0 at once (the spawn benchmark's child, and the
 * program mode=exec runs for a plain boot).
 */
#include "ulib.h"

int main(const char *arg)
{
    (void)arg;
    return 0;
}
