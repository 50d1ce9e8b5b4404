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

char *weir__conf_meaning(const weir_conf *conf)
{
    weir__buf b = {0};
    for (size_t i = 0; i < sizeof MEANING_KEYS / sizeof *MEANING_KEYS; i++) {
        if (b.len)
            weir__buf_chr(&b, ' ');
        weir__buf_str(&b, MEANING_KEYS[i]);
        weir__buf_chr(&b, '=');
        weir__buf_str(&b, weir_conf_get(conf, MEANING_KEYS[i]));
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

void weir__meaning_diff(const weir_conf *conf, const char *m, size_t mlen, char *why, size_t size)
{
    /* Name only the keys that differ: "window.size=60s (now 30s)". */
    char diff[256] = "";
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
            const char *now = weir_conf_get(conf, key);
            if (!now || strlen(now) != tl - kl - 1 || memcmp(now, eq + 1, tl - kl - 1))
                dl += (size_t)snprintf(diff + dl, sizeof diff - dl, "%s%.*s (now %s)",
                                       dl ? ", " : "", (int)tl, a, now ? now : "?");
        }
        a += tl + 1;
    }
    snprintf(why, size,
             "taken with another configuration: %s; use --reset-state to start from empty "
             "state",
             diff);
}
