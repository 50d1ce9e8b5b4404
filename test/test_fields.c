/* Field extraction: every value type, numbers at their limits, escapes, nested paths,
 * duplicate members, and malformed records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "weir/fields.h"

static weir_fields *fields_with(const char *const *paths, int n)
{
    weir_fields *f;
    char err[256];
    assert_int_equal(weir_fields_new("ts", WEIR_TS_AUTO, 1 << 20, &f, err, sizeof err), WEIR_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(weir_fields_add(f, paths[i], err, sizeof err), i);
    return f;
}

static weir_rec_status dec(weir_fields *f, const char *s, int64_t *ts, weir_value *v)
{
    return weir_fields_decode(f, s, strlen(s), ts, v);
}

static void assert_str(weir_value v, const char *want)
{
    assert_int_equal(v.type, WEIR_VALUE_STRING);
    assert_int_equal(v.u.s.len, strlen(want));
    assert_memory_equal(v.u.s.ptr, want, v.u.s.len);
}

static void test_types(void **state)
{
    (void)state;
    const char *paths[] = {"s", "i", "d", "z", "t", "o", "a", "missing", "neg", "e"};
    weir_fields *f = fields_with(paths, 10);
    assert_int_equal(weir_fields_count(f), 10);
    weir_value v[10];
    int64_t ts;
    assert_int_equal(dec(f,
                         "{\"ts\":1700000000,\"s\":\"abc\",\"i\":42,\"d\":12.5,\"z\":null,"
                         "\"t\":true,\"o\":{\"x\":1},\"a\":[1,2],\"neg\":-7,\"e\":1e3}",
                         &ts, v),
                     WEIR_REC_OK);
    assert_int_equal(ts, 1700000000000LL);
    assert_str(v[0], "abc");
    assert_int_equal(v[1].type, WEIR_VALUE_INT);
    assert_int_equal(v[1].u.i, 42);
    assert_int_equal(v[2].type, WEIR_VALUE_DOUBLE);
    assert_true(v[2].u.d == 12.5);
    assert_int_equal(v[3].type, WEIR_VALUE_NULL);
    assert_int_equal(v[4].type, WEIR_VALUE_OTHER);
    assert_int_equal(v[5].type, WEIR_VALUE_OTHER);
    assert_int_equal(v[6].type, WEIR_VALUE_OTHER);
    assert_int_equal(v[7].type, WEIR_VALUE_MISSING);
    assert_int_equal(v[8].u.i, -7);
    assert_int_equal(v[9].type, WEIR_VALUE_DOUBLE);
    assert_true(v[9].u.d == 1000.0);
    weir_fields_destroy(f);
}

static void test_numbers(void **state)
{
    (void)state;
    struct {
        const char *text;
        weir_value_type type;
        int64_t i;
        double d;
    } cases[] = {
        {"0", WEIR_VALUE_INT, 0, 0},
        {"-0", WEIR_VALUE_INT, 0, 0},
        {"9223372036854775807", WEIR_VALUE_INT, INT64_MAX, 0},
        {"-9223372036854775808", WEIR_VALUE_INT, INT64_MIN, 0},
        {"9223372036854775808", WEIR_VALUE_DOUBLE, 0, 9223372036854775808.0},
        {"-9223372036854775809", WEIR_VALUE_DOUBLE, 0, -9223372036854775809.0},
        {"123456789012345678901234567890", WEIR_VALUE_DOUBLE, 0, 1.2345678901234568e29},
        {"0.1", WEIR_VALUE_DOUBLE, 0, 0.1},
        {"-2.5e-3", WEIR_VALUE_DOUBLE, 0, -0.0025},
        {"1E2", WEIR_VALUE_DOUBLE, 0, 100.0},
        {"1.7976931348623157e308", WEIR_VALUE_DOUBLE, 0, 1.7976931348623157e308},
        {"1e400", WEIR_VALUE_OTHER, 0, 0},
        {"-1e400", WEIR_VALUE_OTHER, 0, 0},
        {"1e-400", WEIR_VALUE_DOUBLE, 0, 0.0},
        {"0.30000000000000004", WEIR_VALUE_DOUBLE, 0, 0.30000000000000004},
        {"3.141592653589793238462643383279", WEIR_VALUE_DOUBLE, 0, 3.141592653589793},
        {"4.35", WEIR_VALUE_DOUBLE, 0, 4.35},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        weir_value v;
        weir_value_from_number(cases[k].text, strlen(cases[k].text), &v);
        assert_int_equal(v.type, cases[k].type);
        if (v.type == WEIR_VALUE_INT)
            assert_int_equal(v.u.i, cases[k].i);
        if (v.type == WEIR_VALUE_DOUBLE)
            assert_true(v.u.d == cases[k].d);
    }
    /* The same through a record. */
    const char *paths[] = {"n"};
    weir_fields *f = fields_with(paths, 1);
    weir_value v[1];
    int64_t ts;
    assert_int_equal(dec(f, "{\"n\":1e400,\"ts\":1}", &ts, v), WEIR_REC_OK);
    assert_int_equal(v[0].type, WEIR_VALUE_OTHER);
    weir_fields_destroy(f);
}

static void test_escapes(void **state)
{
    (void)state;
    const char *paths[] = {"s", "u"};
    weir_fields *f = fields_with(paths, 2);
    weir_value v[2];
    int64_t ts;
    assert_int_equal(dec(f,
                         "{\"s\":\"a\\\"b\\\\c\\/d\\n\\t\",\"u\":\"\\u00e9\\ud83d\\ude00\\u0041\","
                         "\"ts\":\"2024-01-01T00:00:00Z\"}",
                         &ts, v),
                     WEIR_REC_OK);
    assert_str(v[0], "a\"b\\c/d\n\t");
    assert_str(v[1], "\xc3\xa9\xf0\x9f\x98\x80"
                     "A");
    assert_int_equal(ts, 1704067200000LL);
    /* A raw UTF-8 string is taken as it is, pointing into the record. */
    const char *rec = "{\"s\":\"caf\xc3\xa9\",\"ts\":1}";
    assert_int_equal(dec(f, rec, &ts, v), WEIR_REC_OK);
    assert_str(v[0], "caf\xc3\xa9");
    assert_true(v[0].u.s.ptr > rec && v[0].u.s.ptr < rec + strlen(rec));
    /* A lone surrogate or an escaped NUL in a wanted string is bad encoding. */
    assert_int_equal(dec(f, "{\"s\":\"\\ud800\",\"ts\":1}", &ts, v), WEIR_REC_BAD_ENCODING);
    assert_int_equal(dec(f, "{\"s\":\"a\\u0000\",\"ts\":1}", &ts, v), WEIR_REC_BAD_ENCODING);
    weir_fields_reset(f);
    weir_fields_destroy(f);
}

static void test_nested_and_duplicates(void **state)
{
    (void)state;
    const char *paths[] = {"m.a", "m.b.c", "m", "x.y"};
    weir_fields *f = fields_with(paths, 4);
    /* A path added twice keeps its first index. */
    assert_int_equal(weir_fields_add(f, "m.a", NULL, 0), 0);
    assert_int_equal(weir_fields_add(f, "ts", NULL, 0), 4); /* the timestamp as a field too */
    assert_string_equal(weir_fields_path(f, 1), "m.b.c");
    weir_value v[5];
    int64_t ts;
    assert_int_equal(
        dec(f, "{\"m\":{\"a\":\"A\",\"b\":{\"c\":3,\"d\":[{}]}},\"x\":5,\"ts\":9}", &ts, v),
        WEIR_REC_OK);
    assert_str(v[0], "A");
    assert_int_equal(v[1].type, WEIR_VALUE_INT);
    assert_int_equal(v[1].u.i, 3);
    assert_int_equal(v[2].type, WEIR_VALUE_OTHER);   /* an object */
    assert_int_equal(v[3].type, WEIR_VALUE_MISSING); /* x is not an object */
    assert_int_equal(v[4].type, WEIR_VALUE_INT);
    assert_int_equal(ts, 9000);
    /* The last member of a name wins, nested paths included. */
    assert_int_equal(
        dec(f, "{\"m\":{\"a\":\"first\",\"b\":{\"c\":1}},\"m\":{\"a\":\"second\"},\"ts\":1}", &ts,
            v),
        WEIR_REC_OK);
    assert_str(v[0], "second");
    assert_int_equal(v[1].type, WEIR_VALUE_MISSING);
    assert_int_equal(dec(f, "{\"m\":{\"a\":1,\"a\":2},\"ts\":1,\"ts\":2}", &ts, v), WEIR_REC_OK);
    assert_int_equal(v[0].u.i, 2);
    assert_int_equal(ts, 2000);
    /* A nested object with whitespace everywhere. */
    assert_int_equal(dec(f, " { \"m\" : { \"b\" : { \"c\" : \"deep\" } } , \"ts\" : 1 } ", &ts, v),
                     WEIR_REC_OK);
    assert_str(v[1], "deep");
    weir_fields_destroy(f);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *paths[] = {"a", "m.b"};
    weir_fields *f;
    char err[256];
    assert_int_equal(weir_fields_new("ts", WEIR_TS_AUTO, 100, &f, err, sizeof err), WEIR_OK);
    for (int i = 0; i < 2; i++)
        assert_int_equal(weir_fields_add(f, paths[i], err, sizeof err), i);
    weir_value v[2];
    int64_t ts;
    struct {
        const char *rec;
        weir_rec_status want;
    } cases[] = {
        {"", WEIR_REC_NOT_JSON},
        {"{", WEIR_REC_NOT_JSON},
        {"{\"a\":1,}", WEIR_REC_NOT_JSON},
        {"{\"a\":01,\"ts\":1}", WEIR_REC_NOT_JSON},
        {"{\"m\":{\"b\":1,},\"ts\":1}", WEIR_REC_NOT_JSON},
        {"{\"m\":{\"b\":1}\"ts\":1}", WEIR_REC_NOT_JSON},
        {"{\"a\":1,\"ts\":1} x", WEIR_REC_NOT_JSON},
        {"[1,2]", WEIR_REC_NOT_OBJECT},
        {"\"ts\"", WEIR_REC_NOT_OBJECT},
        {"{\"a\":1}", WEIR_REC_BAD_TIMESTAMP},
        {"{\"a\":1,\"ts\":1.5}", WEIR_REC_BAD_TIMESTAMP},
        {"{\"a\":1,\"ts\":\"yesterday\"}", WEIR_REC_BAD_TIMESTAMP},
        {"{\"a\":1,\"ts\":null}", WEIR_REC_BAD_TIMESTAMP},
        {"{\"a\":\"\xff\",\"ts\":1}", WEIR_REC_BAD_ENCODING},
        {"{\"a\":\"0123456789012345678901234567890123456789012345678901234567890123456789012345"
         "6789012345678901234567890\",\"ts\":1}",
         WEIR_REC_TOO_LARGE},
        {"{\"m\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]"
         "]]"
         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         WEIR_REC_TOO_LARGE},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        weir_rec_status s = dec(f, cases[k].rec, &ts, v);
        if (s != cases[k].want)
            fail_msg("record %zu \"%s\": %d, expected %d", k, cases[k].rec, s, cases[k].want);
    }
    weir_fields_destroy(f);
}

static void test_bad_paths(void **state)
{
    (void)state;
    weir_fields *f;
    char err[256];
    assert_int_equal(weir_fields_new("a..b", WEIR_TS_AUTO, 100, &f, err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "a..b"));
    assert_int_equal(weir_fields_new("ts", WEIR_TS_MILLIS, 100, &f, err, sizeof err), WEIR_OK);
    const char *bad[] = {"", ".a", "a.", "a..b", "a.b.c.d.e.f.g.h.i"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        assert_int_equal(weir_fields_add(f, bad[k], err, sizeof err), -1);
    assert_int_equal(weir_fields_add(f, "a.b.c.d.e.f.g.h", err, sizeof err), 0);
    weir_value v[1];
    int64_t ts;
    assert_int_equal(dec(f, "{\"ts\":1700000000}", &ts, v), WEIR_REC_OK);
    assert_int_equal(ts, 1700000000); /* milliseconds, as told */
    weir_fields_destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),     cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_escapes),   cmocka_unit_test(test_nested_and_duplicates),
        cmocka_unit_test(test_malformed), cmocka_unit_test(test_bad_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
