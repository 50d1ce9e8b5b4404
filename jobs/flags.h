/* The jobs' long flags: "--flag value", "--flag=value", and switches that take none. */
#ifndef WEIR_JOBS_FLAGS_H
#define WEIR_JOBS_FLAGS_H

#include <stdio.h>
#include <string.h>

/* The name of the flag argument a ("--flag" or "--flag=value") into flag (size bytes, cut to
 * fit); returns its inline value, or NULL when it has none. */
static inline const char *flag_split(const char *a, char *flag, size_t size)
{
    const char *eq = strchr(a, '=');
    snprintf(flag, size, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
    return eq ? eq + 1 : NULL;
}

/* A flag's value: its inline one, "true" for a switch (takes_value 0), else the next
 * argument, moving *i past it; NULL when it needs one and none is left. */
static inline const char *flag_value(const char *inline_value, int takes_value, int argc,
                                     char **argv, int *i)
{
    if (inline_value)
        return inline_value;
    if (!takes_value)
        return "true";
    return *i + 1 < argc ? argv[++*i] : NULL;
}

#endif
