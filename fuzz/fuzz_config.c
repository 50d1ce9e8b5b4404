/* libFuzzer target: --config files (weir_conf_load_file): key=value lines, comments, blank
 * lines. Any bytes load or stop at a bad line with a reason; every key loaded reads back
 * as set; the keys written back as a file load to the same configuration; and a NUL inside a
 * line is never passed over in silence (issue 21, item 10). */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "weir/conf.h"

static int fd = -1;

static weir_err load(weir_conf *c, const void *b, size_t len, char *err, size_t size)
{
    if (fd < 0)
        CHECK((fd = memfd_create("weir-fuzz-config", 0)) >= 0);
    CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, b, len, 0) == (ssize_t)len);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return weir_conf_load_file(c, path, err, size);
}

typedef struct dump {
    fz_buf b;
    const weir_conf *c;
} dump;

static void dump_one(void *opaque, const char *name, const char *value)
{
    dump *d = opaque;
    CHECK(weir_conf_is_set(d->c, name));
    CHECK(!strcmp(weir_conf_get(d->c, name), value));
    fz_str(&d->b, name);
    fz_str(&d->b, "=");
    fz_str(&d->b, value);
    fz_str(&d->b, "\n");
}

/* Whether a line that is neither blank nor a comment holds a NUL. */
static int nul_in_line(const uint8_t *b, size_t len)
{
    for (size_t at = 0; at < len;) {
        size_t end = at;
        while (end < len && b[end] != '\n')
            end++;
        size_t s = at;
        while (s < end && (b[s] == ' ' || (b[s] >= '\t' && b[s] <= '\r')))
            s++;
        if (s < end && b[s] != '#' && memchr(b + s, 0, end - s))
            return 1;
        at = end + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weir_conf *c = weir_conf_new();
    CHECK(c);
    char err[1024] = "";
    weir_err rc = load(c, data, size, err, sizeof err);
    if (rc != WEIR_OK) {
        CHECK(rc == WEIR_ERR_INVALID_ARG || rc == WEIR_ERR_NOMEM);
        CHECK(err[0] && memchr(err, 0, sizeof err));
    } else {
        CHECK(!nul_in_line(data, size));
        dump d1 = {{0}, c}, d2 = {{0}, NULL};
        weir_conf_foreach_prefix(c, "", dump_one, &d1);
        weir_conf *again = weir_conf_new();
        d2.c = again;
        CHECK(load(again, d1.b.p ? d1.b.p : (const uint8_t *)"", d1.b.len, err, sizeof err) ==
              WEIR_OK);
        weir_conf_foreach_prefix(again, "", dump_one, &d2);
        CHECK(d1.b.len == d2.b.len && (!d1.b.len || !memcmp(d1.b.p, d2.b.p, d1.b.len)));
        weir_conf *dup = weir_conf_dup(c);
        CHECK(dup);
        weir_conf_destroy(dup);
        weir_conf_destroy(again);
        free(d1.b.p);
        free(d2.b.p);
    }
    weir_conf_destroy(c);
    return 0;
}
