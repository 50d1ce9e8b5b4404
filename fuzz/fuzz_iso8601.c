/* libFuzzer target: ISO-8601 date-times on their own (weir_parse_iso8601) and as the
 * decoder reads them in records. Any text is refused or gives a time that the decoder's own
 * fast path agrees with; that time written back (weir_format_iso8601) parses to itself, and
 * a text in the written form is written back unchanged. */
#include "fuzz.h"
#include "weir/event.h"
#include "weir/weir.h"

static weir_decoder *decoder(void)
{
    static weir_decoder *d;
    if (!d) {
        weir_conf *c = weir_conf_new();
        CHECK(c && weir_conf_set(c, "timestamp.unit", "ms", NULL, 0) == WEIR_OK);
        d = weir_decoder_new(c, NULL, 0);
        CHECK(d);
        weir_conf_destroy(c);
    }
    return d;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" with digits where the format has them. */
static int written_form(const char *s, size_t n)
{
    static const char form[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (n != sizeof form - 1)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (form[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != form[i])
            return 0;
    return (s[17] - '0') * 10 + (s[18] - '0') < 60; /* a leap second is written as :00 */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)fz_dup(data, size);
    int64_t ms = 0;
    int ok = weir_parse_iso8601(s, size, &ms) == 0;

    /* The decoder reads a timestamp field of the same text the same way. */
    fz_buf rec = {0};
    fz_str(&rec, "{\"product_id\":\"p\",\"user_id\":\"u\",\"timestamp\":");
    fz_json_str(&rec, s, size);
    fz_str(&rec, "}");
    weir_event ev;
    weir_rec_status st = weir_decoder_decode(decoder(), (const char *)rec.p, rec.len, &ev);
    if (size >= 19 && s[4] == '-') {
        CHECK((st == WEIR_REC_OK) == ok);
        if (ok)
            CHECK(ev.ts == ms);
    }
    weir_decoder_reset(decoder());
    free(rec.p);

    if (ok) {
        char buf[64];
        size_t n = weir_format_iso8601(ms, buf);
        CHECK(n < 32 && strlen(buf) == n);
        int64_t again = 0;
        CHECK(weir_parse_iso8601(buf, n, &again) == 0 && again == ms);
        if (written_form(s, size))
            CHECK(n == size && !memcmp(buf, s, size));
    }
    free((void *)s);
    return 0;
}
