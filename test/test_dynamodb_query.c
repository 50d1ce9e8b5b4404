/* DynamoDB answer parsers on untrusted bytes: Query pages (items, attribute types,
 * LastEvaluatedKey, limit) and BatchWriteItem's UnprocessedItems, on valid answers, on
 * malformed ones, on every truncation and on single-byte corruptions, without reading out of
 * bounds and without leaking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sanitizer/lsan_interface.h>

#include "connectors/dynamodb_int.h"

/* The tests run under ASan: a leak in the code under test fails the test that made it,
 * not only the process at exit. */
static void assert_no_leak(void)
{
    assert_int_equal(__lsan_do_recoverable_leak_check(), 0);
}

/* A page parsed from an exact-size copy of `s` (no NUL after it), so that a read past the
 * answer's end is caught too. */
static weir_err parse_page(const char *s, size_t len, size_t limit, weir_ddb_items **out,
                           char **last)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    weir_ddb_items *it = weir__ddb_items_new();
    assert_non_null(it);
    char *lek = NULL;
    weir_err rc = weir__ddb_items_from_page(it, copy, len, limit, &lek);
    free(copy);
    if (out)
        *out = it;
    else
        weir_ddb_items_destroy(it);
    if (last)
        *last = lek;
    else
        free(lek);
    return rc;
}

static const char PAGE[] =
    "{\"Count\":2,\"Items\":[{\"product_id\":{\"S\":\"4\\\"2\"},\"window_start\":{\"S\":"
    "\"2024-01-01T00:00:00.000Z\"},\"unique_user_count\":{\"N\":\"17\"},\"ok\":{\"BOOL\":true},"
    "\"none\":{\"NULL\":true},\"m\":{\"M\":{\"x\":{\"S\":\"y\"}}}},"
    "{\"product_id\":{\"S\":\"43\"},\"l\":{\"L\":[{\"N\":\"1\"}]}}],"
    "\"LastEvaluatedKey\":{\"product_id\":{\"S\":\"43\"}}}";

static void test_query_page(void **state)
{
    (void)state;
    weir_ddb_items *it;
    char *last;
    assert_int_equal(parse_page(PAGE, strlen(PAGE), 0, &it, &last), WEIR_OK);
    assert_int_equal(weir_ddb_items_count(it), 2);
    assert_int_equal(weir_ddb_items_attr_count(it, 0), 6);
    assert_int_equal(weir_ddb_items_attr_count(it, 1), 2);
    const weir_ddb_attr *a = weir_ddb_items_find(it, 0, "product_id");
    assert_non_null(a);
    assert_string_equal(a->type, "S");
    assert_string_equal(a->value, "4\"2");
    assert_string_equal(weir_ddb_items_find(it, 0, "ok")->value, "true");
    assert_string_equal(weir_ddb_items_find(it, 0, "m")->value, "{\"x\":{\"S\":\"y\"}}");
    assert_string_equal(weir_ddb_items_find(it, 1, "l")->value, "[{\"N\":\"1\"}]");
    char json[512];
    weir_ddb_items_to_json(it, 0, json, sizeof json);
    assert_string_equal(json, "{\"product_id\":\"4\\\"2\",\"window_start\":"
                              "\"2024-01-01T00:00:00.000Z\",\"unique_user_count\":17,"
                              "\"ok\":true,\"none\":true,\"m\":{\"x\":{\"S\":\"y\"}}}");
    assert_string_equal(last, "{\"product_id\":{\"S\":\"43\"}}");
    free(last);
    weir_ddb_items_destroy(it);

    /* A limit stops inside the page. */
    assert_int_equal(parse_page(PAGE, strlen(PAGE), 1, &it, NULL), WEIR_OK);
    assert_int_equal(weir_ddb_items_count(it), 1);
    weir_ddb_items_destroy(it);
    assert_no_leak();
}

/* Answers the trial found, and their neighbours: each is refused, nothing leaks. */
static void test_query_page_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"Items\":[{\"a\":{\"S\"}}]}", /* a type without a value (was read past the end) */
        "{\"Items\":[{\"a\":{\"S\"}},{}]}",
        "{\"Items\":[{\"a\":{\"S\"}}],\"Count\":1}",
        "{\"Items\":[{\"a\":{\"S\":\"x\"},\"b\":{\"N\"}}]}",
        "{\"Items\":[{\"a\":{\"S\":\"x\",\"N\":\"1\"}}]}",
        "{\"Items\":[{\"a\":{}}]}",
        "{\"Items\":[{\"a\":\"x\"}]}",
        "{\"Items\":[{\"a\"}]}",
        "{\"Items\":[{\"a\":{\"S\":\"\\x\"}}]}",
        "{\"Items\":[1]}",
        "{\"Items\":[{\"a\":{\"S\":\"x\"}}",
        "\"ok\"", /* valid JSON, not an object (leaked the token array) */
        "[]",
        "42",
        "null",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        weir_err rc = parse_page(bad[i], strlen(bad[i]), 0, NULL, NULL);
        if (rc != WEIR_ERR_PARSE)
            fail_msg("%s: %s, want WEIR_ERR_PARSE", bad[i], weir_err_str(rc));
    }
    assert_no_leak();
}

/* Every truncation and many single-byte corruptions of a valid page: parsed or refused,
 * never read out of bounds (ASan), and what is parsed is whole. */
static void test_query_page_mutations(void **state)
{
    (void)state;
    static const char subst[] = "{}[]\":,\\S";
    size_t n = strlen(PAGE);
    char *m = malloc(n);
    assert_non_null(m);
    size_t parsed = 0;
    for (size_t len = 0; len <= n; len++) {
        weir_err rc = parse_page(PAGE, len, 0, NULL, NULL);
        assert_true(rc == WEIR_OK || rc == WEIR_ERR_PARSE);
    }
    for (size_t pos = 0; pos < n; pos++) {
        for (const char *c = subst; *c; c++) {
            memcpy(m, PAGE, n);
            m[pos] = *c;
            weir_ddb_items *it;
            weir_err rc = parse_page(m, n, 0, &it, NULL);
            assert_true(rc == WEIR_OK || rc == WEIR_ERR_PARSE);
            for (size_t i = 0; i < weir_ddb_items_count(it); i++) {
                for (size_t j = 0; j < weir_ddb_items_attr_count(it, i); j++) {
                    const weir_ddb_attr *a = weir_ddb_items_attr(it, i, j);
                    assert_non_null(a->name);
                    assert_non_null(a->type);
                    assert_non_null(a->value);
                }
            }
            parsed += rc == WEIR_OK;
            weir_ddb_items_destroy(it);
        }
    }
    /* Some corruptions keep the page valid (a letter in a string): the loop did parse. */
    assert_true(parsed > 0);
    free(m);
    assert_no_leak();
}

static void ignore_key(void *opaque, const char *pk, size_t pk_len, const char *sk, size_t sk_len)
{
    (void)pk, (void)pk_len, (void)sk, (void)sk_len;
    ++*(int *)opaque;
}

/* BatchWriteItem answers that are valid JSON but not an object: refused, nothing leaks. */
static void test_unprocessed_not_object(void **state)
{
    (void)state;
    static const char *const bad[] = {"\"ok\"", "[]", "42", "null", "[{\"UnprocessedItems\":{}}]"};
    int calls = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(
            weir_ddb_batch_unprocessed(bad[i], strlen(bad[i]), "t", "p", "s", ignore_key, &calls),
            WEIR_ERR_PARSE);
    assert_int_equal(calls, 0);
    assert_no_leak();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_page),
        cmocka_unit_test(test_query_page_malformed),
        cmocka_unit_test(test_query_page_mutations),
        cmocka_unit_test(test_unprocessed_not_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
