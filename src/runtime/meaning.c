/* What a checkpoint's state means: the configuration keys whose values give it its meaning,
 * written into every checkpoint and compared on restore, for the file and Kafka modes. */
#include "runtime/meaning.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keys that change what a checkpoint's state means; a restore under other values is
 * refused. */
static const char *const MEANING_KEYS[] = {
    "key.field",
    "global",
    "user.field",
    "timestamp.field",
    "timestamp.unit",
    "window.size",
    "watermark.out.of.orderness",
    "window.allowed.lateness",
    "emit.mode",
    "distinct.mode",
    "hll.precision",
    "input.max.record.bytes",
    "watermark.max.future.skew",
};

/* A value as a meaning holds it: spaces (which separate the items) become U+001E. */
static void escape(char *o, const char *v)
{
    for (; *v; v++)
        *o++ = *v == ' ' ? '\x1e' : *v;
    *o = '\0';
}

char *weir__conf_meaning_of(const weir_conf *conf, const char *const *keys, size_t n)
{
    weir__buf b = {0};
    for (size_t i = 0; i < n; i++) {
        const char *v = weir_conf_get(conf, keys[i]);
        if (b.len)
            weir__buf_chr(&b, ' ');
        weir__buf_str(&b, keys[i]);
        weir__buf_chr(&b, '=');
        for (; *v; v++) /* as escape() writes it */
            weir__buf_chr(&b, *v == ' ' ? '\x1e' : *v);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *weir__conf_meaning(const weir_conf *conf)
{
    return weir__conf_meaning_of(conf, MEANING_KEYS, sizeof MEANING_KEYS / sizeof *MEANING_KEYS);
}

/* A value as configured, for a message: spaces back, list items apart with "; ". */
static void show(const char *v, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < cap; i++) {
        char c = v[i];
        if (c == '\x1f') {
            out[o++] = ';';
            c = ' ';
        }
        out[o++] = c == '\x1e' ? ' ' : (unsigned char)c < 0x20 ? '?' : c;
    }
    out[o] = '\0';
}

void weir__meaning_diff(const weir_conf *conf, const char *m, size_t mlen, char *why, size_t size)
{
    /* Name only the keys that differ: "window.size=60s (now 30s)". */
    char diff[256] = "", other[128] = "";
    size_t dl = 0;
    const char *a = m, *ae = m + mlen;
    while (a < ae && dl + 1 < sizeof diff) {
        const char *sp = memchr(a, ' ', (size_t)(ae - a));
        size_t tl = sp ? (size_t)(sp - a) : (size_t)(ae - a);
        const char *eq = memchr(a, '=', tl);
        if (eq) {
            size_t kl = (size_t)(eq - a);
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)kl, a);
            const char *raw = weir_conf_get(conf, key);
            if (!raw) {
                /* Not a configuration key (a window job's step=NAME/VERSION): the caller's
                 * own meaning differs, named below when no key does. */
                if (!other[0])
                    show(a, tl, other, sizeof other);
                a += tl + 1;
                continue;
            }
            char *now = malloc(strlen(raw) + 1);
            if (now)
                escape(now, raw);
            if (!now || strlen(now) != tl - kl - 1 || memcmp(now, eq + 1, tl - kl - 1)) {
                char was[128], is[96];
                show(a, tl, was, sizeof was);
                show(raw ? raw : "?", raw ? strlen(raw) : 1, is, sizeof is);
                dl += (size_t)snprintf(diff + dl, sizeof diff - dl, "%s%s (now %s)", dl ? ", " : "",
                                       was, is);
            }
            free(now);
        }
        a += tl + 1;
    }
    /* No configuration key differs: the window job's step does (weir_window_step), or the
     * running version has keys the checkpoint's did not write. */
    if (!dl && other[0])
        snprintf(diff, sizeof diff, "%s (now another step, or none)", other);
    else if (!dl)
        snprintf(diff, sizeof diff, "no step (now a step, or keys this checkpoint has none of)");
    snprintf(why, size,
             "taken with another configuration: %s; use --reset-state to start from empty "
             "state",
             diff);
}
