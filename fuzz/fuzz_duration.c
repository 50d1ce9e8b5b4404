/* libFuzzer target: durations ("250ms", "10s", "5min", "2h", "1d", "0") as --config and the
 * flags take them (weir_parse_duration). Any text is refused or gives the value its digits
 * and unit say, computed here independently; that value written back in milliseconds (and
 * in its largest exact unit) parses to itself. */
#include <ctype.h>
#include <inttypes.h>

#include "fuzz.h"
#include "weir/conf.h"

/* The duration `s` means, or -1: digits then a unit, no sign, no space, within int64. */
static int64_t expected(const char *s)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1},      {"s", 1000},    {"m", 60000},
                 {"min", 60000}, {"h", 3600000}, {"d", 86400000}};
    size_t nd = 0;
    while (isdigit((unsigned char)s[nd]))
        nd++;
    if (!nd)
        return -1;
    __int128 v = 0;
    for (size_t i = 0; i < nd; i++) {
        v = v * 10 + (s[i] - '0');
        if (v > INT64_MAX)
            return -1;
    }
    const char *u = s + nd;
    if (!*u)
        return v == 0 ? 0 : -1;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcmp(u, units[i].unit))
            return v * units[i].ms > INT64_MAX ? -1 : (int64_t)(v * units[i].ms);
    return -1;
}

static void same(const char *text, int64_t want)
{
    int64_t got = -1;
    CHECK(weir_parse_duration(text, &got) == WEIR_OK && got == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    CHECK(s);
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t ms = -1;
    weir_err rc = weir_parse_duration(s, &ms);
    int64_t want = expected(s);
    CHECK((rc == WEIR_OK) == (want >= 0));
    if (rc == WEIR_OK) {
        CHECK(ms == want);
        char t[64];
        snprintf(t, sizeof t, "%" PRId64 "ms", ms);
        same(t, ms);
        static const struct {
            const char *unit;
            int64_t ms;
        } units[] = {{"d", 86400000}, {"h", 3600000}, {"min", 60000}, {"s", 1000}};
        for (size_t i = 0; i < sizeof units / sizeof *units; i++)
            if (ms % units[i].ms == 0) {
                snprintf(t, sizeof t, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
                same(t, ms);
                break;
            }
    } else {
        CHECK(ms == -1); /* nothing written on failure */
    }
    CHECK(weir_parse_duration(NULL, &ms) != WEIR_OK);
    free(s);
    return 0;
}
