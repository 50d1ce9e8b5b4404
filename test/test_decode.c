/* Decoding: the three timestamp encodings, nested fields, escapes, and every kind of bad record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "weir/weir.h"

static weir_decoder *dec_with(const char *k1, const char *v1, const char *k2, const char *v2)
{
    weir_conf *c = weir_conf_new();
    if (k1)
        assert_int_equal(weir_conf_set(c, k1, v1, NULL, 0), WEIR_OK);
    if (k2)
        assert_int_equal(weir_conf_set(c, k2, v2, NULL, 0), WEIR_OK);
    char err[256];
    weir_decoder *d = weir_decoder_new(c, err, sizeof err);
    assert_non_null(d);
    weir_conf_destroy(c);
    return d;
}

static weir_rec_status dec(weir_decoder *d, const char *s, weir_event *e)
{
    return weir_decoder_decode(d, s, strlen(s), e);
}

static void assert_slice(weir_slice s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

static void test_schema_and_encodings(void **state)
{
    (void)state;
    weir_decoder *d = dec_with(NULL, NULL, NULL, NULL);
    weir_event e;
    const char *rec =
        "{\"user_id\":\"u123\",\"product_id\":\"42\",\"event_type\":\"VIEW_PRODUCT\","
        "\"timestamp\":\"2024-01-01T12:00:00Z\",\"metadata\":{\"session_id\":\"abc\"}}";
    assert_int_equal(dec(d, rec, &e), WEIR_REC_OK);
    assert_slice(e.key, "42");
    assert_slice(e.user, "u123");
    assert_int_equal(e.ts, 1704110400000LL);
    assert_ptr_equal(e.raw.ptr, rec); /* zero-copy: slices point into the record */
    assert_true(e.key.ptr > rec && e.key.ptr < rec + strlen(rec));
    /* Seconds, milliseconds, fractions and offsets give the same instant. */
    const char *same[] = {
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1704110400}",
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1704110400000}",
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"2024-01-01T13:30:00+01:30\"}",
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"2024-01-01T10:00:00.000-0200\"}",
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"1704110400\"}",
        "  {\"timestamp\" : 1704110400 , \"product_id\" : \"p\" , \"user_id\" : \"u\"}  ",
        /* escapes are only a spelling: "\u0031" is "1", "\u005a" is "Z" */
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"\\u0031704110400\"}",
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"2024-01-01T12:00:00\\u005a\"}",
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"2024\\u002d01-01T12:00:00Z\"}",
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        assert_int_equal(dec(d, same[i], &e), WEIR_REC_OK);
        assert_int_equal(e.ts, 1704110400000LL);
    }
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":"
                         "\"2024-01-01T12:00:00.5Z\"}",
                         &e),
                     WEIR_REC_OK);
    assert_int_equal(e.ts, 1704110400500LL);
    /* The largest times taken, either side of the epoch (past them: bad_timestamp). */
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":"
                         "2305843009213693951}",
                         &e),
                     WEIR_REC_OK);
    assert_int_equal(e.ts, INT64_MAX / 4);
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":"
                         "\"-2305843009213693951\"}",
                         &e),
                     WEIR_REC_OK);
    assert_int_equal(e.ts, -(INT64_MAX / 4));
    /* Negative and pre-epoch times work. */
    assert_int_equal(dec(d, "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":-5}", &e),
                     WEIR_REC_OK);
    assert_int_equal(e.ts, -5000);
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":"
                         "\"1969-12-31T23:59:59.999Z\"}",
                         &e),
                     WEIR_REC_OK);
    assert_int_equal(e.ts, -1);
    /* Integer keys and users are their decimal text, and hash like the string. */
    assert_int_equal(dec(d, "{\"user_id\":7,\"product_id\":42,\"timestamp\":0}", &e), WEIR_REC_OK);
    uint64_t h = e.key_hash;
    uint64_t fp = e.user_fp[0];
    assert_slice(e.key, "42");
    assert_int_equal(dec(d, "{\"user_id\":\"7\",\"product_id\":\"42\",\"timestamp\":0}", &e),
                     WEIR_REC_OK);
    assert_int_equal(e.key_hash, h);
    assert_int_equal(e.user_fp[0], fp);
    weir_decoder_destroy(d);
}

static void test_units_and_fields(void **state)
{
    (void)state;
    weir_decoder *d = dec_with("timestamp.unit", "ms", NULL, NULL);
    weir_event e;
    assert_int_equal(
        dec(d, "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1704110400}", &e),
        WEIR_REC_OK);
    assert_int_equal(e.ts, 1704110400LL);
    weir_decoder_destroy(d);
    d = dec_with("timestamp.unit", "s", NULL, NULL);
    assert_int_equal(
        dec(d, "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":100000000000}", &e),
        WEIR_REC_OK);
    assert_int_equal(e.ts, 100000000000000LL);
    weir_decoder_destroy(d);
    /* Configurable and nested fields. */
    d = dec_with("key.field", "event_type", "user.field", "metadata.session_id");
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"event_type\":\"PURCHASE\",\"timestamp\":1,"
                         "\"metadata\":{\"x\":[1,{\"session_id\":\"no\"}],\"session_id\":\"s9\"}}",
                         &e),
                     WEIR_REC_OK);
    assert_slice(e.key, "PURCHASE");
    assert_slice(e.user, "s9");
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"event_type\":\"PURCHASE\",\"timestamp\":1,"
                         "\"metadata\":\"flat\"}",
                         &e),
                     WEIR_REC_NO_USER);
    weir_decoder_destroy(d);
    /* Global: no key needed. */
    d = dec_with("global", "true", NULL, NULL);
    assert_int_equal(dec(d, "{\"user_id\":\"u\",\"timestamp\":1}", &e), WEIR_REC_OK);
    assert_int_equal(e.key.len, 0);
    weir_decoder_destroy(d);
}

static void test_escapes(void **state)
{
    (void)state;
    weir_decoder *d = dec_with(NULL, NULL, NULL, NULL);
    weir_event e;
    assert_int_equal(dec(d,
                         "{\"user_id\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\",\"product_id\":"
                         "\"p\\/q\",\"timestamp\":1}",
                         &e),
                     WEIR_REC_OK);
    assert_slice(e.user, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80");
    assert_slice(e.key, "p/q");
    /* Escaped and plain spellings of one value are one value. */
    uint64_t fp = e.user_fp[0];
    assert_int_equal(dec(d,
                         "{\"user_id\":\"a\\\"b\\\\c\xc3\xa9\xf0\x9f\x98\x80\",\"product_id\":"
                         "\"p\",\"timestamp\":1}",
                         &e),
                     WEIR_REC_OK);
    assert_int_equal(e.user_fp[0], fp);
    assert_int_equal(dec(d, "{\"user_id\":\"\\ud83d\",\"product_id\":\"p\",\"timestamp\":1}", &e),
                     WEIR_REC_NO_USER);
    assert_int_equal(dec(d, "{\"user_id\":\"\\u0000\",\"product_id\":\"p\",\"timestamp\":1}", &e),
                     WEIR_REC_NO_USER);
    weir_decoder_reset(d);
    weir_decoder_destroy(d);
}

static void test_bad_records(void **state)
{
    (void)state;
    weir_decoder *d = dec_with(NULL, NULL, NULL, NULL);
    weir_event e;
    struct {
        const char *rec;
        size_t len; /* 0: strlen */
        weir_rec_status want;
    } cases[] = {
        {"", 0, WEIR_REC_NOT_JSON},
        {"   ", 0, WEIR_REC_NOT_JSON},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timest", 0, WEIR_REC_NOT_JSON},
        {"{\"user_id\":\"u\" \"product_id\":\"p\",\"timestamp\":1}", 0, WEIR_REC_NOT_JSON},
        {"{\"user_id\":\"u\",,\"product_id\":\"p\",\"timestamp\":1}", 0, WEIR_REC_NOT_JSON},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1,}", 0, WEIR_REC_NOT_JSON},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":tru}", 0, WEIR_REC_NOT_JSON},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":01}", 0, WEIR_REC_NOT_JSON},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1} x", 0, WEIR_REC_NOT_JSON},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1}{}", 0, WEIR_REC_NOT_JSON},
        {"{user_id:\"u\",\"product_id\":\"p\",\"timestamp\":1}", 0, WEIR_REC_NOT_JSON},
        {"[1,2,3]", 0, WEIR_REC_NOT_OBJECT},
        {"\"text\"", 0, WEIR_REC_NOT_OBJECT},
        {"42", 0, WEIR_REC_NOT_OBJECT},
        {"null", 0, WEIR_REC_NOT_OBJECT},
        {"{\"user_id\":\"u\",\"timestamp\":1}", 0, WEIR_REC_NO_KEY},
        {"{\"user_id\":\"u\",\"product_id\":null,\"timestamp\":1}", 0, WEIR_REC_NO_KEY},
        {"{\"user_id\":\"u\",\"product_id\":1.5,\"timestamp\":1}", 0, WEIR_REC_NO_KEY},
        {"{\"user_id\":\"u\",\"product_id\":{\"a\":1},\"timestamp\":1}", 0, WEIR_REC_NO_KEY},
        {"{\"user_id\":\"u\",\"product_id\":[\"p\"],\"timestamp\":1}", 0, WEIR_REC_NO_KEY},
        {"{\"user_id\":true,\"product_id\":\"p\",\"timestamp\":1}", 0, WEIR_REC_NO_USER},
        {"{\"product_id\":\"p\",\"timestamp\":1}", 0, WEIR_REC_NO_USER},
        {"{\"user_id\":\"u\",\"product_id\":\"p\"}", 0, WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"yesterday\"}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"2024-02-30T00:00:00Z\"}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"2024-01-01T25:00:00Z\"}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"2024-01-01T12:00:00Q\"}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":true}", 0, WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":99999999999999999999999}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"17041\\u00004\"}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"\\u0031\\ud800\"}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        /* Integers only (SEMANTICS.md): no fractions or exponents, as numbers or as text. */
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1704110400.5}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1704110400.0}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"1704110400.5\"}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1.7041104e9}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"1704110400 \"}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"-\"}", 0, WEIR_REC_BAD_TIMESTAMP},
        /* A quarter of the 64-bit range either side of the epoch, and no further. */
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":2305843009213693952}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":-2305843009213693952}", 0,
         WEIR_REC_BAD_TIMESTAMP},
        {"{\"user_id\":\"u\xff\",\"product_id\":\"p\",\"timestamp\":1}", 0, WEIR_REC_BAD_ENCODING},
        {"{\"user_id\":\"u\xc0\xaf\",\"product_id\":\"p\",\"timestamp\":1}", 0,
         WEIR_REC_BAD_ENCODING},
        {"{\"user_id\":\"u\xed\xa0\x80\",\"product_id\":\"p\",\"timestamp\":1}", 0,
         WEIR_REC_BAD_ENCODING},
        {"{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1}\0junk", 52,
         WEIR_REC_BAD_ENCODING},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].rec);
        weir_rec_status got = weir_decoder_decode(d, cases[i].rec, len, &e);
        if (got != cases[i].want)
            fail_msg("case %zu (%s): got %s, want %s", i, cases[i].rec, weir_rec_status_name(got),
                     weir_rec_status_name(cases[i].want));
    }
    /* Deep nesting is refused without recursion; a long record is refused by size. */
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = 0;
    weir_rec_status s = dec(d, deep, &e);
    assert_true(s == WEIR_REC_TOO_LARGE || s == WEIR_REC_NOT_JSON);
    free(deep);
    size_t big = 10u << 20;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    memcpy(huge, "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1}", 47);
    huge[big] = 0;
    assert_int_equal(weir_decoder_decode(d, huge, big, &e), WEIR_REC_TOO_LARGE);
    free(huge);
    /* A good record still decodes after all that. */
    assert_int_equal(dec(d, "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1}", &e),
                     WEIR_REC_OK);
    weir_decoder_destroy(d);
}

/* The decoder keeps the last minutes and days of ISO-8601 timestamps: out-of-order
 * events, midnight, a bad time after a good one of the same day, and every offset
 * spelling must give what weir_parse_iso8601 gives for the same text. */
static void test_timestamp_cache(void **state)
{
    (void)state;
    weir_decoder *d = dec_with(NULL, NULL, NULL, NULL);
    weir_event e;
    static const char *const ts[] = {
        "2023-12-31T23:59:55.543Z", "2023-12-31T23:59:59.999Z", "2024-01-01T00:00:00.001Z",
        "2023-12-31T23:59:58.000Z", "2024-01-01T00:00:01.250Z", "2024-01-01T00:01:00.000Z",
        "2023-12-31T23:58:10.000Z", "2024-01-01T00:00:02.000+01:00", "2024-01-01T00:00:02.5-0130",
        "2024-01-01T00:00:02Z", "2024-01-01 00:00:60.000Z", "2024-01-01t00:00:03,7z",
        "2024-01-01T00:00:03.123456Z", "2024-01-01T00:00:03+05", "2024-02-29T12:00:00.000Z",
        "2024-02-29T12:00:07.000Z",
        /* Refused, between accepted ones of the same minute or day. */
        "2024-02-29T12:00:61.000Z", "2024-02-29T12:60:00.000Z", "2024-02-29T24:00:00.000Z",
        "2024-02-29T12:00:0x.000Z", "2024-02-29T12:00:00.00xZ", "2024-02-29T12:00:00.000",
        "2024-02-29T12:00:00.000Q", "2023-02-29T12:00:00.000Z", "2024-02-29X12:00:00.000Z",
        "2024-02-29T12:00:00.000Z", "2024-02-29T12:00:00.Z", "2024-02-29T12:00:00.000+24:00",
        "2024-02-29T12:00Z", "2024-02-29T12:00:00.000Z"};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        char rec[160];
        snprintf(rec, sizeof rec, "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":\"%s\"}",
                 ts[i]);
        int64_t want;
        int ok = weir_parse_iso8601(ts[i], strlen(ts[i]), &want) == 0;
        weir_rec_status got = dec(d, rec, &e);
        if (got != (ok ? WEIR_REC_OK : WEIR_REC_BAD_TIMESTAMP))
            fail_msg("%s: got %s", ts[i], weir_rec_status_name(got));
        if (ok && e.ts != want)
            fail_msg("%s: got %lld, want %lld", ts[i], (long long)e.ts, (long long)want);
    }
    /* Some of them are known instants. */
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":"
                         "\"2024-01-01T00:00:02.000+01:00\"}",
                         &e),
                     WEIR_REC_OK);
    assert_int_equal(e.ts, 1704067200000LL - 3600000 + 2000);
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":"
                         "\"2023-12-31T23:59:55.543Z\"}",
                         &e),
                     WEIR_REC_OK);
    assert_int_equal(e.ts, 1704067200000LL - 4457);
    weir_decoder_destroy(d);
}

/* UTF-8 is checked inside strings while they are scanned: every place a string can be
 * (keys, values, nested, arrays, skipped members) and every kind of bad sequence. */
static void test_encoding_everywhere(void **state)
{
    (void)state;
    weir_decoder *d = dec_with(NULL, NULL, NULL, NULL);
    weir_event e;
    static const char *const bad_seq[] = {"\xff",
                                          "\xc0\xaf",
                                          "\xc3",
                                          "\xe0\x80\xaf",
                                          "\xed\xa0\x80",
                                          "\xf4\x90\x80\x80",
                                          "\xf0\x8f\xbf\xbf",
                                          "\x80",
                                          "\xe2\x82"};
    static const char *const good_seq[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                           "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"};
    static const char *const where[] = {
        "{\"user_id\":\"u%s\",\"product_id\":\"p\",\"timestamp\":1}",
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1,\"k%s\":0}",
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1,\"m\":{\"a\":\"%s\"}}",
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1,\"a\":[1,\"xxxxxxxxxxxxxxxxxx%s\"]"
        "}",
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1,\"s\":\"0123456789abcdef%s0123\"}",
        "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1,\"s\":\"\\n%s\"}",
    };
    char rec[256];
    for (size_t w = 0; w < sizeof where / sizeof *where; w++) {
        for (size_t i = 0; i < sizeof bad_seq / sizeof *bad_seq; i++) {
            snprintf(rec, sizeof rec, where[w], bad_seq[i]);
            if (dec(d, rec, &e) != WEIR_REC_BAD_ENCODING)
                fail_msg("bad sequence %zu in place %zu accepted: %s", i, w, rec);
        }
        for (size_t i = 0; i < sizeof good_seq / sizeof *good_seq; i++) {
            snprintf(rec, sizeof rec, where[w], good_seq[i]);
            if (dec(d, rec, &e) != WEIR_REC_OK)
                fail_msg("good sequence %zu in place %zu refused: %s", i, w, rec);
        }
    }
    /* Outside strings, any byte above 0x7F is an encoding error if invalid UTF-8 and a
     * syntax error otherwise, as before the scan checked UTF-8 itself. */
    assert_int_equal(dec(d, "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1\xff}", &e),
                     WEIR_REC_BAD_ENCODING);
    assert_int_equal(dec(d, "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":1\xc3\xa9}", &e),
                     WEIR_REC_NOT_JSON);
    assert_int_equal(dec(d, "[\"\xff\"]", &e), WEIR_REC_BAD_ENCODING);
    assert_int_equal(dec(d, "[\"\xc3\xa9\"]", &e), WEIR_REC_NOT_OBJECT);
    /* A NUL byte or a control character inside a string. */
    const char nul[] = "{\"user_id\":\"u\0\",\"product_id\":\"p\",\"timestamp\":1}";
    assert_int_equal(weir_decoder_decode(d, nul, sizeof nul - 1, &e), WEIR_REC_BAD_ENCODING);
    assert_int_equal(dec(d, "{\"user_id\":\"u\x01\",\"product_id\":\"p\",\"timestamp\":1}", &e),
                     WEIR_REC_NOT_JSON);
    /* Whitespace everywhere it may be, and duplicate keys (the last wins). */
    assert_int_equal(dec(d,
                         " \t{ \"user_id\" :\n\"a\" ,\r\"product_id\"\t: \"p\" , \"user_id\":\"b\","
                         "\"timestamp\" : 1 , \"x\" : [ 1 , { } , [ ] ] } \n",
                         &e),
                     WEIR_REC_OK);
    assert_slice(e.user, "b");
    /* Keys sharing a wanted key's length or a prefix are not taken for it. */
    assert_int_equal(dec(d,
                         "{\"user_id\":\"a\",\"user_ix\":\"c\",\"product_ix\":\"q\",\"product_id\":"
                         "\"p\",\"timestamp\":1,\"product_idd\":\"z\",\"user_i\":\"y\"}",
                         &e),
                     WEIR_REC_OK);
    assert_slice(e.user, "a");
    assert_slice(e.key, "p");
    weir_decoder_destroy(d);
    /* Wanted keys of one length, and keys longer than 63 bytes. */
    const char *longk = "a_field_name_that_is_much_longer_than_sixty_three_bytes_to_be_sure";
    d = dec_with("key.field", "aaaa", "user.field", longk);
    snprintf(rec, sizeof rec,
             "{\"aaab\":\"n\",\"aaaa\":\"k\",\"%s\":\"u\",\"%.*sX\":\"v\",\"timestamp\":1}", longk,
             (int)strlen(longk) - 1, longk);
    assert_int_equal(dec(d, rec, &e), WEIR_REC_OK);
    assert_slice(e.key, "k");
    assert_slice(e.user, "u");
    weir_decoder_destroy(d);
    d = dec_with("key.field", "abcd", "user.field", "abce");
    assert_int_equal(dec(d, "{\"abce\":\"u\",\"abcd\":\"k\",\"timestamp\":1}", &e), WEIR_REC_OK);
    assert_slice(e.key, "k");
    assert_slice(e.user, "u");
    weir_decoder_destroy(d);
}

static void test_iso_format_round_trip(void **state)
{
    (void)state;
    char buf[32];
    int64_t samples[] = {0,
                         -1,
                         1704110400000LL,
                         951782400000LL /* 2000-02-29 */,
                         -62135596800000LL,
                         253402300799999LL};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        size_t n = weir_format_iso8601(samples[i], buf);
        int64_t back;
        assert_int_equal(weir_parse_iso8601(buf, n, &back), 0);
        assert_int_equal(back, samples[i]);
    }
    weir_format_iso8601(1704110400000LL, buf);
    assert_string_equal(buf, "2024-01-01T12:00:00.000Z");
    weir_format_iso8601(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    /* The ends of the range: a window of 2^63 - 1 ms starts or ends there. */
    weir_format_iso8601(INT64_MAX, buf);
    assert_string_equal(buf, "+292278994-08-17T07:12:55.807Z");
    weir_format_iso8601(-INT64_MAX, buf);
    assert_string_equal(buf, "-292275055-05-16T16:47:04.193Z");
    weir_format_iso8601(INT64_MIN, buf);
    assert_string_equal(buf, "-292275055-05-16T16:47:04.192Z");
}

/* Outside 0000-9999 the year takes ISO 8601's expanded form (a sign and at least four
 * digits), and every time of the int64 range reads back to itself. */
static void test_iso_expanded_years(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *text;
    } known[] = {
        {-62167219200000LL, "0000-01-01T00:00:00.000Z"},
        {-62167219200001LL, "-0001-12-31T23:59:59.999Z"},
        {-62198755200000LL, "-0001-01-01T00:00:00.000Z"},
        {-62288352000000LL, "-0004-02-29T00:00:00.000Z"},
        {-377736739200000LL, "-10000-01-01T00:00:00.000Z"},
        {253402300799999LL, "9999-12-31T23:59:59.999Z"},
        {253402300800000LL, "+10000-01-01T00:00:00.000Z"},
        {INT64_MAX, "+292278994-08-17T07:12:55.807Z"},
        {INT64_MIN, "-292275055-05-16T16:47:04.192Z"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        size_t n = weir_format_iso8601(known[i].ms, buf);
        assert_int_equal(n, strlen(known[i].text));
        assert_string_equal(buf, known[i].text);
        int64_t back;
        assert_int_equal(weir_parse_iso8601(buf, n, &back), 0);
        assert_int_equal(back, known[i].ms);
    }
    /* Round trips over the whole range, its ends and the years around 0 and 10000. */
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t ms = (int64_t)x;
        if (i % 4 == 1)
            ms = INT64_MAX - (int64_t)(x % 200000000);
        else if (i % 4 == 2)
            ms = INT64_MIN + (int64_t)(x % 200000000);
        else if (i % 4 == 3)
            ms = (i % 8 == 3 ? -62167219200000LL : 253402300800000LL) +
                 (int64_t)(x % 100000000000ULL) - 50000000000LL;
        size_t n = weir_format_iso8601(ms, buf);
        int64_t back;
        if (weir_parse_iso8601(buf, n, &back) != 0 || back != ms)
            fail_msg("%lld: %s reads back as %lld", (long long)ms, buf, (long long)back);
    }
    /* Other spellings it reads; what it refuses. */
    int64_t v;
    assert_int_equal(weir_parse_iso8601("+2024-01-01T12:00:00Z", 21, &v), 0);
    assert_int_equal(v, 1704110400000LL);
    assert_int_equal(weir_parse_iso8601("-0001-12-31T23:00:00-01:00", 26, &v), 0);
    assert_int_equal(v, -62167219200000LL);
    assert_int_equal(weir_parse_iso8601("-292275055-05-16T16:47:04.192-00:01", 35, &v), 0);
    assert_int_equal(v, INT64_MIN + 60000);
    assert_int_equal(weir_parse_iso8601("+292278994-08-17T07:13:55.807+00:01", 35, &v), 0);
    assert_int_equal(v, INT64_MAX);
    static const char *const bad[] = {
        "+292278994-08-17T07:12:55.808Z", /* past INT64_MAX */
        "-292275055-05-16T16:47:04.191Z", /* before INT64_MIN */
        "-292275055-05-16T16:47:04.192+00:01",
        "+1000000000-01-01T00:00:00Z", /* ten digits */
        "+999-01-01T00:00:00Z",        /* three digits */
        "-0001-02-29T00:00:00Z",       /* -1 is no leap year */
        "+10000-13-01T00:00:00Z",
        "+10000-01-01T00:00Z",
        "+10000-01-01",
        "+10000",
        "-",
        "--0001-01-01T00:00:00Z",
        "+-0001-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (weir_parse_iso8601(bad[i], strlen(bad[i]), &v) == 0)
            fail_msg("%s: accepted as %lld", bad[i], (long long)v);
}

/* The decoder takes expanded years as event times, within the bound of every event time
 * (under 2^61 ms from the epoch), and integers with a sign stay integers. */
static void test_decode_expanded_years(void **state)
{
    (void)state;
    weir_decoder *d = dec_with(NULL, NULL, NULL, NULL);
    weir_event e;
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":"
                         "\"-0001-12-31T23:59:59.999Z\"}",
                         &e),
                     WEIR_REC_OK);
    assert_int_equal(e.ts, -62167219200001LL);
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":"
                         "\"+10000-01-01T00:00:00.000Z\"}",
                         &e),
                     WEIR_REC_OK);
    assert_int_equal(e.ts, 253402300800000LL);
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":"
                         "\"+80000000-01-01T00:00:00.000Z\"}",
                         &e),
                     WEIR_REC_BAD_TIMESTAMP);
    assert_int_equal(dec(d,
                         "{\"user_id\":\"u\",\"product_id\":\"p\",\"timestamp\":"
                         "\"-1000000000000000000\"}",
                         &e),
                     WEIR_REC_OK);
    assert_int_equal(e.ts, -1000000000000000000LL);
    weir_decoder_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_and_encodings),
        cmocka_unit_test(test_units_and_fields),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_timestamp_cache),
        cmocka_unit_test(test_encoding_everywhere),
        cmocka_unit_test(test_iso_format_round_trip),
        cmocka_unit_test(test_iso_expanded_years),
        cmocka_unit_test(test_decode_expanded_years),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
