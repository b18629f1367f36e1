/*
 * kvarg.c - lookup of "key=value" words in a space-separated argument string (see kvarg.h).
 */
#include "lib/kvarg.h"

/* The end of the word starting at p (the next space or NUL). */
static const char *word_end(const char *p)
{
    while (*p != '\0' && *p != ' ')
        p++;
    return p;
}

bool k_kvarg_get(const char *args, const char *key, char *out, size_t n)
{
    kassert(n > 0);
    size_t klen = strlen(key);
    out[0] = '\0';
    for (const char *p = args; p != NULL && *p != '\0';) {
        while (*p == ' ')
            p++;
        const char *end = word_end(p);
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t v = (size_t)(end - p) - klen - 1;
            if (v >= n)
                v = n - 1;
            memcpy(out, p + klen + 1, v);
            out[v] = '\0';
            return true;
        }
        p = end;
    }
    return false;
}
