/* The generic job's specs: predicates on every type and operator with SQL's null semantics,
 * aggregate specs good and hostile, and composite keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "weir/conf.h"
#include "weir/output.h"
#include "weir/spec.h"

static weir_fields *new_fields(void)
{
    weir_fields *f;
    assert_int_equal(weir_fields_new("ts", WEIR_TS_AUTO, 1 << 20, &f, NULL, 0), WEIR_OK);
    return f;
}

/* Does `pred` hold for the record `rec` (a JSON object with "ts")? */
static int holds(const char *pred, const char *rec)
{
    weir_fields *f = new_fields();
    weir_pred *p;
    char err[512];
    if (weir_pred_parse(pred, f, &p, err, sizeof err) != WEIR_OK)
        fail_msg("%s: %s", pred, err);
    weir_value v[64];
    int64_t ts;
    assert_int_equal(weir_fields_decode(f, rec, strlen(rec), &ts, v), WEIR_REC_OK);
    int r = weir_pred_eval(p, v);
    weir_row row = {.values = v, .n_values = weir_fields_count(f)};
    assert_int_equal(weir_pred_where(p, &row), r);
    weir_pred_destroy(p);
    weir_fields_destroy(f);
    return r;
}

static void test_numbers(void **state)
{
    (void)state;
    const char *rec = "{\"ts\":1,\"i\":10,\"d\":2.5,\"big\":9007199254740993,\"neg\":-3}";
    assert_true(holds("i = 10", rec));
    assert_true(holds("i = 10.0", rec));
    assert_true(holds("i = 1e1", rec));
    assert_false(holds("i != 10", rec));
    assert_true(holds("i != 11", rec));
    assert_true(holds("i < 10.5", rec));
    assert_false(holds("i < 10", rec));
    assert_true(holds("i <= 10", rec));
    assert_true(holds("i > 9.99", rec));
    assert_true(holds("i >= 10", rec));
    assert_true(holds("d > 2", rec));
    assert_true(holds("d < 3", rec));
    assert_true(holds("d = 2.5", rec));
    assert_true(holds("d>=2.5", rec));
    assert_true(holds("neg < 0", rec));
    assert_true(holds("neg = -3", rec));
    /* Integers compare exactly, also with doubles that cannot hold them. */
    assert_true(holds("big > 9007199254740992", rec));
    assert_true(holds("big > 9007199254740992.0", rec));
    assert_false(holds("big = 9007199254740992.0", rec));
    assert_true(holds("i < 1e300", rec));
    assert_true(holds("i > -1e300", rec));
    /* A number never equals a string, whatever it spells. */
    assert_false(holds("i = \"10\"", rec));
    assert_false(holds("i != \"10\"", rec));
}

static void test_strings(void **state)
{
    (void)state;
    const char *rec =
        "{\"ts\":1,\"s\":\"cancelled\",\"n\":\"10\",\"e\":\"\",\"u\":\"\\u00e9t\xc3\xa9\"}";
    assert_true(holds("s = cancelled", rec));
    assert_true(holds("s = \"cancelled\"", rec));
    assert_true(holds("s != shipped", rec));
    assert_true(holds("s > cancel", rec));
    assert_true(holds("s < cancelledz", rec));
    assert_true(holds("s >= cancelled", rec));
    assert_true(holds("s <= d", rec));
    assert_false(holds("n = 10", rec)); /* a number literal, a string value */
    assert_true(holds("n = \"10\"", rec));
    assert_true(holds("e = \"\"", rec));
    assert_true(holds("u = \"\\u00e9t\\u00e9\"", rec));
    assert_true(holds("u = \xc3\xa9t\xc3\xa9", rec));
    assert_true(holds("u > z", rec)); /* bytewise: UTF-8 after ASCII */
    assert_true(holds("s = \"cancelled\" and n = \"10\"", rec));
    assert_false(holds("s = cancelled AND n = 10", rec));
}

static void test_null_semantics(void **state)
{
    (void)state;
    const char *rec = "{\"ts\":1,\"z\":null,\"b\":true,\"o\":{},\"a\":[1]}";
    const char *fields[] = {"z", "b", "o", "a", "missing"};
    const char *ops[] = {"=", "!=", "<", "<=", ">", ">="};
    for (size_t f = 0; f < 5; f++)
        for (size_t o = 0; o < 6; o++) {
            char pred[64];
            snprintf(pred, sizeof pred, "%s %s 1", fields[f], ops[o]);
            assert_false(holds(pred, rec));
            snprintf(pred, sizeof pred, "%s %s null", fields[f], ops[o]);
            assert_false(holds(pred, rec));
            snprintf(pred, sizeof pred, "%s %s \"true\"", fields[f], ops[o]);
            assert_false(holds(pred, rec));
        }
    /* Nested paths. */
    assert_true(holds("m.k = v", "{\"ts\":1,\"m\":{\"k\":\"v\"}}"));
    assert_false(holds("m.k != v", "{\"ts\":1,\"m\":{\"j\":\"v\"}}"));
}

static void expect_bad(const char *pred, const char *needle)
{
    weir_fields *f = new_fields();
    weir_pred *p = NULL;
    char err[512] = "";
    assert_int_equal(weir_pred_parse(pred, f, &p, err, sizeof err), WEIR_ERR_INVALID_ARG);
    assert_null(p);
    assert_null(strchr(err, '\n'));
    if (!strstr(err, needle))
        fail_msg("%s: \"%s\" lacks \"%s\"", pred, err, needle);
    assert_non_null(strstr(err, "accepted") ? err : strstr(err, "longer"));
    weir_fields_destroy(f);
}

static void test_bad_predicates(void **state)
{
    (void)state;
    expect_bad("", "expected a field name");
    expect_bad("x", "expected an operator");
    expect_bad("x == 1", "expected an operator");
    expect_bad("x =", "missing literal");
    expect_bad("x = \"abc", "unterminated");
    expect_bad("x = \"a\"b", "followed by a space");
    expect_bad("x = 1 y = 2", "expected \"and\"");
    expect_bad("x = 1 and", "expected a field name");
    expect_bad("x = 1e999", "double range");
    expect_bad("x = \"\\ud800\"", "surrogate");
    expect_bad("a..b = 1", "dotted paths");
    expect_bad("x = \"a\nb\"", "unterminated"); /* a raw line break in a string */
    /* A megabyte of predicate: refused by its length, quickly, the text cut short. */
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = "x = 1 and "[i % 10];
    big[n] = '\0';
    expect_bad(big, "longer than");
    /* The longest accepted: 256 comparisons. */
    weir_fields *f = new_fields();
    weir_pred *p;
    big[256 * 10 - 5] = '\0';
    assert_int_equal(weir_pred_parse(big, f, &p, NULL, 0), WEIR_OK);
    weir_pred_destroy(p);
    big[256 * 10 - 5] = ' ';
    big[257 * 10 - 5] = '\0';
    assert_int_equal(weir_pred_parse(big, f, &p, NULL, 0), WEIR_ERR_INVALID_ARG);
    weir_fields_destroy(f);
    free(big);
}

static void test_aggs(void **state)
{
    (void)state;
    weir_fields *f = new_fields();
    weir_aggs *a = weir_aggs_new(f, 12);
    char err[512];
    const char *good[] = {
        "count()",
        "count(user_id)",
        "sum(total_price) where status != cancelled",
        "max( total_price ) as biggest",
        "avg(metadata.price)",
        "count_distinct(user_id) where event_type = \"VIEW as\" and price > 2 as viewers",
        "approx_count_distinct(metadata.session_id)",
        "  min(total_price)  where  x = as  as  smallest ",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (weir_aggs_add(a, good[i], err, sizeof err) != WEIR_OK)
            fail_msg("%s: %s", good[i], err);
    size_t n;
    const weir_gagg_def *d = weir_aggs_defs(a, &n);
    assert_int_equal(n, 8);
    const char *names[] = {"count",
                           "count_user_id",
                           "sum_total_price",
                           "biggest",
                           "avg_metadata_price",
                           "viewers",
                           "approx_count_distinct_metadata_session_id",
                           "smallest"};
    for (size_t i = 0; i < n; i++)
        assert_string_equal(d[i].name, names[i]);
    assert_ptr_equal(d[0].ops, &weir_gagg_count);
    assert_int_equal(d[0].field, -1);
    assert_null(d[0].where);
    assert_ptr_equal(d[1].ops, &weir_gagg_count);
    assert_string_equal(weir_fields_path(f, (size_t)d[1].field), "user_id");
    assert_ptr_equal(d[2].ops, &weir_gagg_sum);
    assert_non_null(d[2].where);
    assert_ptr_equal(d[3].ops, &weir_gagg_max);
    assert_ptr_equal(d[4].ops, &weir_gagg_avg);
    assert_ptr_equal(d[5].ops, &weir_gagg_count_distinct);
    assert_int_equal(d[5].field, d[1].field); /* one field, read once */
    assert_ptr_equal(d[6].ops, &weir_gagg_approx_count_distinct);
    assert_int_equal(*(const int *)d[6].params, 12);
    assert_ptr_equal(d[7].ops, &weir_gagg_min);
    /* The where of aggregate 8 compares x with the bare word "as". */
    weir_value v[32];
    int64_t ts;
    const char *rec = "{\"ts\":1,\"x\":\"as\"}";
    assert_int_equal(weir_fields_decode(f, rec, strlen(rec), &ts, v), WEIR_REC_OK);
    weir_row row = {.values = v, .n_values = weir_fields_count(f)};
    assert_true(d[7].where(d[7].where_ctx, &row));
    assert_false(d[2].where(d[2].where_ctx, &row)); /* status missing: false */

    struct {
        const char *spec, *needle;
    } bad[] = {
        {"count()", "already used"},
        {"sum(total_price)", "already used"},
        {"median(x)", "unknown function"},
        {"", "expected a function name"},
        {"sum()", "needs a field"},
        {"sum(x", "missing \")\""},
        {"sum x", "expected \"(\""},
        {"sum(x) as", "expected a name"},
        {"sum(x) as a b", "unexpected text"},
        {"sum(x) as 9lives", "expected a name"},
        {"sum(x) where", "expected a field name"},
        {"sum(x) where y = \"open", "unterminated"},
        {"sum(x) wher y = 1", "unexpected text"},
        {"sum(a..b)", "dotted paths"},
        {"count() as window_start", "taken by the output"},
        {"count() as late", "taken by the output"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(weir_aggs_add(a, bad[i].spec, err, sizeof err), WEIR_ERR_INVALID_ARG);
        if (!strstr(err, bad[i].needle))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].spec, err, bad[i].needle);
        assert_null(strchr(err, '\n'));
    }
    weir_aggs_defs(a, &n);
    assert_int_equal(n, 8); /* unchanged by the errors */
    weir_aggs_destroy(a);
    weir_fields_destroy(f);
}

static void test_agg_limit(void **state)
{
    (void)state;
    weir_fields *f = new_fields();
    weir_aggs *a = weir_aggs_new(f, 14);
    char err[512], spec[64];
    for (int i = 0; i < 10000; i++) {
        snprintf(spec, sizeof spec, "sum(f%d)", i);
        weir_err rc = weir_aggs_add(a, spec, err, sizeof err);
        assert_int_equal(rc, i < WEIR_AGGS_MAX ? WEIR_OK : WEIR_ERR_INVALID_ARG);
    }
    assert_non_null(strstr(err, "at most 64"));
    weir_aggs_destroy(a);
    weir_fields_destroy(f);
}

static void test_keys(void **state)
{
    (void)state;
    weir_fields *f = new_fields();
    weir_key *k1, *k2;
    char err[256];
    assert_int_equal(weir_key_parse("product_id", f, &k1, err, sizeof err), WEIR_OK);
    assert_int_equal(weir_key_parse("region,m.shop,n", f, &k2, err, sizeof err), WEIR_OK);
    assert_int_equal(weir_key_count(k2), 3);
    assert_string_equal(weir_key_path(k2, 1), "m.shop");
    weir_value v[8];
    int64_t ts;
    const char *rec = "{\"ts\":1,\"product_id\":\"p\\\"1\",\"region\":\"eu\",\"m\":{\"shop\":-42},"
                      "\"n\":\"\"}";
    assert_int_equal(weir_fields_decode(f, rec, strlen(rec), &ts, v), WEIR_REC_OK);
    char buf[64];
    size_t len = weir_key_encode(k1, v, buf, sizeof buf);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "p\"1", 3);
    len = weir_key_encode(k2, v, buf, sizeof buf);
    assert_int_equal(len, 4 + 2 + 4 + 3 + 4 + 0);
    assert_int_equal(weir_key_encode(k2, v, buf, 5), len); /* too small: the length needed */
    weir_slice parts[3];
    assert_int_equal(weir_key_parts(k2, (weir_slice){buf, len}, parts), 0);
    assert_int_equal(parts[0].len, 2);
    assert_memory_equal(parts[0].ptr, "eu", 2);
    assert_int_equal(parts[1].len, 3);
    assert_memory_equal(parts[1].ptr, "-42", 3);
    assert_int_equal(parts[2].len, 0);
    assert_int_equal(weir_key_parts(k2, (weir_slice){buf, len - 1}, parts), -1);
    /* Missing, null, double, boolean: no key. */
    const char *bad[] = {"{\"ts\":1,\"region\":\"eu\",\"m\":{\"shop\":1}}",
                         "{\"ts\":1,\"region\":null,\"m\":{\"shop\":1},\"n\":\"\"}",
                         "{\"ts\":1,\"region\":1.5,\"m\":{\"shop\":1},\"n\":\"\"}",
                         "{\"ts\":1,\"region\":true,\"m\":{\"shop\":1},\"n\":\"\"}"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(weir_fields_decode(f, bad[i], strlen(bad[i]), &ts, v), WEIR_REC_OK);
        assert_int_equal(weir_key_encode(k2, v, buf, sizeof buf), (size_t)-1);
    }
    weir_key_destroy(k1);
    weir_key_destroy(k2);
    weir_key *k;
    assert_int_equal(weir_key_parse("a,,b", f, &k, err, sizeof err), WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "empty field name"));
    assert_int_equal(weir_key_parse("a,b,a", f, &k, err, sizeof err), WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "named twice"));
    assert_int_equal(weir_key_parse("", f, &k, err, sizeof err), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_key_parse("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", f, &k, err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    weir_fields_destroy(f);
}

static int collect(void *opaque, const char *item)
{
    char *acc = opaque;
    strcat(acc, item);
    strcat(acc, "|");
    return 0;
}

/* Repeatable flags: each setting of a list key adds an item, in order. */
static void test_conf_lists(void **state)
{
    (void)state;
    weir_conf *c = weir_conf_new();
    char acc[256] = "";
    assert_int_equal(weir_conf_get_list(c, "aggregates", collect, acc), 0);
    assert_string_equal(acc, "");
    assert_int_equal(weir_conf_set(c, "aggregates", "count()", NULL, 0), WEIR_OK);
    assert_int_equal(weir_conf_set(c, "aggregates", "sum(x) as s", NULL, 0), WEIR_OK);
    assert_int_equal(weir_conf_set(c, "aggregates", "", NULL, 0), WEIR_OK);
    char err[256];
    assert_int_equal(weir_conf_set(c, "where", "a\x1f", err, sizeof err), WEIR_ERR_INVALID_ARG);
    weir_conf *d = weir_conf_dup(c);
    assert_int_equal(weir_conf_get_list(d, "aggregates", collect, acc), 0);
    assert_string_equal(acc, "count()|sum(x) as s||");
    weir_conf_destroy(c);
    weir_conf_destroy(d);
}

/* Doubles as the shortest text that reads back the same, still reading as doubles. */
static void test_output(void **state)
{
    (void)state;
    struct {
        double d;
        const char *text;
    } cases[] = {
        {0.0, "0.0"},      {1.0, "1.0"},
        {-2.5, "-2.5"},    {0.1, "0.1"},
        {79.96, "79.96"},  {0.30000000000000004, "0.30000000000000004"},
        {1e300, "1e+300"}, {-0.0025, "-0.0025"},
        {1e-7, "1e-07"},   {123456789012345.6, "123456789012345.6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        size_t n = weir_format_double(cases[i].d, buf);
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(n, strlen(cases[i].text));
        assert_true(strtod(buf, NULL) == cases[i].d);
    }
    char buf[32];
    weir_format_double(1.0 / 0.0, buf);
    assert_string_equal(buf, "null");
    /* A firing: key parts as strings by their paths, typed values, null, late. */
    weir_value vals[4] = {{.type = WEIR_VALUE_INT, .u.i = INT64_MIN},
                          {.type = WEIR_VALUE_DOUBLE, .u.d = 12.5},
                          {.type = WEIR_VALUE_NULL},
                          {.type = WEIR_VALUE_INT, .u.i = 7}};
    weir_gagg_def defs[4] = {{.name = "a"}, {.name = "b"}, {.name = "c"}, {.name = "d\"q"}};
    weir_gwindow_firing f = {
        .window_start = 0, .window_end = 60000, .late = 1, .values = vals, .n_values = 4};
    const char *paths[2] = {"region", "m.shop"};
    weir_slice parts[2] = {{"eu", 2}, {"a\"b\n", 4}};
    char out[512];
    size_t n = weir_gfiring_to_json(&f, paths, parts, 2, defs, out, sizeof out);
    const char *want = "{\"region\":\"eu\",\"m.shop\":\"a\\\"b\\n\",\"window_start\":"
                       "\"1970-01-01T00:00:00.000Z\",\"window_end\":\"1970-01-01T00:01:00.000Z\","
                       "\"a\":-9223372036854775808,\"b\":12.5,\"c\":null,\"d\\\"q\":7,"
                       "\"late\":true}";
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    /* Too small a buffer: cut and terminated, the full length returned. */
    assert_int_equal(weir_gfiring_to_json(&f, paths, parts, 2, defs, out, 10), n);
    assert_int_equal(strlen(out), 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_null_semantics), cmocka_unit_test(test_bad_predicates),
        cmocka_unit_test(test_aggs),           cmocka_unit_test(test_agg_limit),
        cmocka_unit_test(test_keys),           cmocka_unit_test(test_conf_lists),
        cmocka_unit_test(test_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
