/* The services' HTTP helpers without a socket: route matching (literal and {param} segments,
 * 404 against 405 with Allow), JSON body parsing and field readers, listen addresses, query
 * integers; and the SQLite store's statements, transactions and constraint errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../services/lib/http.h"
#include "../services/lib/store.h"

static void h_list(const svc_req *req, svc_resp *resp)
{
    (void)req, (void)resp;
}
static void h_one(const svc_req *req, svc_resp *resp)
{
    (void)req, (void)resp;
}
static void h_two(const svc_req *req, svc_resp *resp)
{
    (void)req, (void)resp;
}

static const svc_route routes[] = {
    {"GET", "/products", h_list},     {"POST", "/products", h_list},
    {"GET", "/products/{id}", h_one}, {"DELETE", "/products/{id}", h_one},
    {"GET", "/a/{x}/b/{y}", h_two},
};
#define NR (sizeof routes / sizeof routes[0])

static svc_match match(const char *method, const char *path, const svc_route **r,
                       const char **params, size_t *np, char *allow)
{
    static char buf[64];
    return svc_route_match(routes, NR, method, path, r, params, np, buf, sizeof buf, allow, 96);
}

static void test_route_literal_and_params(void **state)
{
    (void)state;
    const svc_route *r = NULL;
    const char *p[SVC_MAX_PARAMS];
    size_t np = 9;
    char allow[96];
    assert_int_equal(match("GET", "/products", &r, p, &np, allow), SVC_MATCH_OK);
    assert_ptr_equal(r, &routes[0]);
    assert_int_equal(np, 0);
    assert_int_equal(match("POST", "/products", &r, p, &np, allow), SVC_MATCH_OK);
    assert_ptr_equal(r, &routes[1]);
    assert_int_equal(match("GET", "/products/42", &r, p, &np, allow), SVC_MATCH_OK);
    assert_ptr_equal(r, &routes[2]);
    assert_int_equal(np, 1);
    assert_string_equal(p[0], "42");
    assert_int_equal(match("GET", "/a/one/b/two", &r, p, &np, allow), SVC_MATCH_OK);
    assert_int_equal(np, 2);
    assert_string_equal(p[0], "one");
    assert_string_equal(p[1], "two");
}

static void test_route_misses(void **state)
{
    (void)state;
    const svc_route *r = NULL;
    const char *p[SVC_MAX_PARAMS];
    size_t np;
    char allow[96];
    const char *not_found[] = {
        "/",        "",           "/product", "/products/", "/products/1/x", "/productsx",
        "products", "//products", "/a/1/b/",  "/a//b/2",    "/a/1/c/2"};
    for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++)
        assert_int_equal(match("GET", not_found[i], &r, p, &np, allow), SVC_MATCH_NO_PATH);
    assert_int_equal(match("PATCH", "/products/7", &r, p, &np, allow), SVC_MATCH_NO_METHOD);
    assert_string_equal(allow, "GET, DELETE");
    assert_int_equal(match("DELETE", "/products", &r, p, &np, allow), SVC_MATCH_NO_METHOD);
    assert_string_equal(allow, "GET, POST");
    /* A parameter longer than the buffer is refused, not cut. */
    char longp[200] = "/products/";
    memset(longp + 10, '9', 150);
    assert_int_equal(match("GET", longp, &r, p, &np, allow), SVC_MATCH_BAD_PATH);
}

static void test_json_object(void **state)
{
    (void)state;
    svc_resp r = {0};
    const char *bad[] = {"{",
                         "{\"a\":",
                         "[1]",
                         "null",
                         "\"x\"",
                         "{\"a\":1} x",
                         "{\"a\":1,\"a\":2}",
                         "{\"a\":\"\\u0000\"}",
                         "\xff\xfe",
                         "{'a':1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(svc_json_object(bad[i], strlen(bad[i]), &r));
        assert_int_equal(r.status, 400);
        assert_string_equal(json_string_value(json_object_get(r.json, "error")), "bad_request");
        assert_non_null(json_string_value(json_object_get(r.json, "detail")));
        json_decref(r.json);
        r = (svc_resp){0};
    }
    assert_null(svc_json_object("", 0, &r));
    assert_int_equal(r.status, 400);
    json_decref(r.json);
    r = (svc_resp){0};
    json_t *o = svc_json_object("{\"a\":1}", 7, &r);
    assert_non_null(o);
    assert_int_equal(r.status, 0);
    json_decref(o);
}

static void test_json_fields(void **state)
{
    (void)state;
    svc_resp r = {0};
    const char *doc = "{\"s\":\"h\\u00e9\",\"i\":5,\"d\":2.5,\"n\":null,\"b\":true,\"big\":1e400}";
    json_t *o = svc_json_object(doc, strlen(doc), &r);
    /* 1e400 is not a finite double: jansson refuses the document. */
    assert_null(o);
    json_decref(r.json);
    r = (svc_resp){0};
    doc = "{\"s\":\"h\\u00e9\",\"i\":5,\"d\":2.5,\"n\":null,\"b\":true}";
    o = svc_json_object(doc, strlen(doc), &r);
    assert_non_null(o);
    const char *s = NULL;
    int64_t i = -1;
    double d = -1;
    assert_true(svc_json_str(o, "s", true, 10, &s, &r));
    assert_string_equal(s, "h\xc3\xa9");
    assert_true(svc_json_int(o, "i", true, 0, 10, &i, &r));
    assert_int_equal(i, 5);
    assert_true(svc_json_num(o, "d", true, 0, 10, &d, &r));
    assert_true(d == 2.5);
    assert_true(svc_json_num(o, "i", true, 0, 10, &d, &r)); /* an integer is a number */
    assert_true(d == 5);
    /* Absent or null optional fields leave the value alone. */
    s = "kept";
    assert_true(svc_json_str(o, "n", false, 10, &s, &r));
    assert_true(svc_json_str(o, "zz", false, 10, &s, &r));
    assert_string_equal(s, "kept");
    assert_int_equal(r.status, 0);

    /* Each failure names its field and why. */
    const char *needles[] = {
        "'zz' is missing",        "'i' must be a string",         "'s' is longer than 2 bytes",
        "'d' must be an integer", "'b' must be an integer",       "'i' must be between 6 and 10",
        "'s' must be a number",   "'d' must be between 3 and 10", "'n' is missing"};
    for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++) {
        svc_resp e = {0};
        bool ok;
        switch (k) {
        case 0: ok = svc_json_str(o, "zz", true, 10, &s, &e); break;
        case 1: ok = svc_json_str(o, "i", true, 10, &s, &e); break;
        case 2: ok = svc_json_str(o, "s", true, 2, &s, &e); break;
        case 3: ok = svc_json_int(o, "d", true, 0, 10, &i, &e); break;
        case 4: ok = svc_json_int(o, "b", true, 0, 10, &i, &e); break;
        case 5: ok = svc_json_int(o, "i", true, 6, 10, &i, &e); break;
        case 6: ok = svc_json_num(o, "s", true, 0, 10, &d, &e); break;
        case 7: ok = svc_json_num(o, "d", true, 3, 10, &d, &e); break;
        default: ok = svc_json_int(o, "n", true, 0, 10, &i, &e); break;
        }
        assert_false(ok);
        assert_int_equal(e.status, 400);
        const char *detail = json_string_value(json_object_get(e.json, "detail"));
        assert_non_null(strstr(detail, needles[k]));
        json_decref(e.json);
    }
    json_decref(o);
}

static void test_errors(void **state)
{
    (void)state;
    int statuses[] = {400, 404, 405, 409, 413, 415, 502, 503, 504};
    const char *names[] = {"bad_request", "not_found",           "method_not_allowed",
                           "conflict",    "payload_too_large",   "unsupported_media_type",
                           "bad_gateway", "service_unavailable", "gateway_timeout"};
    for (size_t k = 0; k < 9; k++) {
        svc_resp r = {0};
        svc_resp_error(&r, statuses[k], "x=%d", 7);
        assert_int_equal(r.status, statuses[k]);
        assert_string_equal(json_string_value(json_object_get(r.json, "error")), names[k]);
        assert_string_equal(json_string_value(json_object_get(r.json, "detail")), "x=7");
        json_decref(r.json);
    }
    /* Echoed bytes that are not UTF-8 cannot break the error document. */
    svc_resp r = {0};
    svc_resp_error(&r, 404, "no route for %s", "/\xff\xfe");
    assert_int_equal(r.status, 404);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "not_found");
    assert_string_equal(json_string_value(json_object_get(r.json, "detail")), "no route for /??");
    json_decref(r.json);
    /* A long detail is cut on a character boundary. */
    char big[2000];
    for (size_t k = 0; k + 2 < sizeof big; k += 2)
        memcpy(big + k, "\xc3\xa9", 2);
    big[sizeof big - 2] = '\0';
    for (size_t cut = 0; cut < 4; cut++) { /* 2-, 3- and 4-byte characters at every cut */
        static const char *chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x9a\x80"};
        for (size_t c = 0; c < 3; c++) {
            size_t cl = strlen(chars[c]), k = 0;
            memset(big, 'a', cut);
            for (k = cut; k + cl < sizeof big; k += cl)
                memcpy(big + k, chars[c], cl);
            big[k] = '\0';
            r = (svc_resp){0};
            svc_resp_error(&r, 400, "%s", big);
            assert_non_null(json_string_value(json_object_get(r.json, "detail")));
            json_decref(r.json);
        }
    }
    /* No JSON (a failed allocation) is a 500. */
    r = (svc_resp){0};
    svc_resp_json(&r, 200, NULL);
    assert_int_equal(r.status, 500);
}

/* On these documents svc_json_valid() and json_loadb() without flags agree: the
 * gateway passes on an upstream's bytes when the one says yes where it used the other. */
static void test_json_valid(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        "[]",
        " {\"a\":1} \r\n",
        "{\"id\":7,\"name\":\"x\",\"price\":9.99,\"t\":[true,false,null]}",
        "[1,-2,0.5,1e3,-0E+2,2.5e-3,\"\\u00e9\\n\\\"\\\\\\/\\b\\f\\r\\t\"]",
        "{\"\u00e9\u4e2d\U0001F600\":\"ok\"}",
        "[[[[{\"a\":[{}]}]]]]",
        "",
        "  ",
        "1",
        "\"s\"",
        "null",
        "{",
        "}",
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{a:1}",
        "[01]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[-]",
        "[+1]",
        "[tru]",
        "[nul]",
        "[\"\\x\"]",
        "[\"\\u12\"]",
        "[\"a\tb\"]",
        "[\"abc]",
        "{}{}",
        "{} x",
        "[1 2]",
        "[\"\xC3\"]",
        "[\"\xC0\xAF\"]",
        "[\"\xED\xA0\x80\"]",
        "[\"\xF4\x90\x80\x80\"]",
        "[\"\xFF\"]",
        "{\"a\":1 \"b\":2}",
        "[1]]",
        "[[1]",
        "{\"a\":[}]"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_error_t e;
        json_t *j = json_loadb(docs[i], strlen(docs[i]), 0, &e);
        if (svc_json_valid(docs[i], strlen(docs[i])) != (j != NULL))
            fail_msg("svc_json_valid and jansson disagree on %s", docs[i]);
        json_decref(j);
    }
    /* Depth: as deep as the bound, and one deeper. */
    size_t n = SVC_JSON_MAX_DEPTH + 1;
    char *deep = malloc(2 * n + 1);
    assert_non_null(deep);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    assert_false(svc_json_valid(deep, 2 * n));
    assert_true(svc_json_valid(deep + 1, 2 * n - 2));
    free(deep);
    /* Raw responses: svc_resp_json() and svc_resp_free() release them. */
    svc_resp r = {0};
    svc_resp_raw(&r, 200, strdup("{}"), 2);
    assert_int_equal(r.status, 200);
    svc_resp_error(&r, 404, "gone");
    assert_null(r.raw);
    svc_resp_raw(&r, 200, strdup("[]"), 2);
    assert_non_null(r.raw);
    svc_resp_free(&r);
    assert_null(r.raw);
    assert_null(r.json);
}

static void test_parse(void **state)
{
    (void)state;
    char host[64];
    uint16_t port;
    int64_t v;
    assert_true(svc_parse_listen("127.0.0.1:0", host, sizeof host, &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 0);
    assert_true(svc_parse_listen("[::1]:8080", host, sizeof host, &port));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 8080);
    const char *bad[] = {"", ":80", "host", "host:", "host:65536", "host:-1", "h:8x", "[::1]80"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        assert_false(svc_parse_listen(bad[k], host, sizeof host, &port));
    assert_true(svc_parse_int("42", 1, 100, &v));
    assert_int_equal(v, 42);
    const char *badi[] = {"", " 1", "1 ", "+1", "0x10", "101", "0", "99999999999999999999"};
    for (size_t k = 0; k < sizeof badi / sizeof badi[0]; k++)
        assert_false(svc_parse_int(badi[k], 1, 100, &v));
}

static const char *const SQL_INS =
    "INSERT INTO customers (name, email, created_at) VALUES (?, ?, ?) RETURNING id, name";
static const char *const SQL_COUNT = "SELECT count(*) FROM customers";

static void test_sqlite_store(void **state)
{
    (void)state;
    char path[] = "/tmp/weir-store-XXXXXX", err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    svc_store *st = svc_store_open(path, 2, err, sizeof err);
    assert_non_null(st);
    assert_string_equal(svc_store_kind(st), "sqlite");
    assert_true(svc_store_ping(st, err, sizeof err));
    svc_conn *c = svc_conn_acquire(st, err, sizeof err);
    assert_non_null(c);
    const char *evil = "x'); DROP TABLE customers; --";
    svc_val p[] = {SVC_S(evil), SVC_S("a@b"), SVC_S("now")};
    assert_int_equal(svc_conn_exec(c, SQL_INS, p, 3), SVC_STORE_OK);
    assert_true(svc_conn_next(c));
    assert_int_equal(svc_conn_int(c, 0), 1);
    assert_string_equal(svc_conn_text(c, 1), evil);
    assert_false(svc_conn_next(c));
    assert_int_equal(svc_conn_exec(c, SQL_INS, p, 3), SVC_STORE_UNIQUE);
    /* A rolled-back transaction leaves nothing. */
    assert_int_equal(svc_conn_begin(c), SVC_STORE_OK);
    p[1] = SVC_S("c@d");
    assert_int_equal(svc_conn_exec(c, SQL_INS, p, 3), SVC_STORE_OK);
    svc_conn_rollback(c);
    assert_int_equal(svc_conn_exec(c, SQL_COUNT, NULL, 0), SVC_STORE_OK);
    assert_true(svc_conn_next(c));
    assert_int_equal(svc_conn_int(c, 0), 1);
    /* NULL where the schema forbids it is a constraint error (409), not a crash. */
    p[0] = SVC_S(NULL);
    p[1] = SVC_S("e@f");
    assert_int_equal(svc_conn_exec(c, SQL_INS, p, 3), SVC_STORE_FOREIGN);
    /* An open transaction is rolled back on release. */
    assert_int_equal(svc_conn_begin(c), SVC_STORE_OK);
    p[0] = SVC_S("n");
    assert_int_equal(svc_conn_exec(c, SQL_INS, p, 3), SVC_STORE_OK);
    svc_conn_release(c);
    c = svc_conn_acquire(st, err, sizeof err);
    assert_int_equal(svc_conn_exec(c, SQL_COUNT, NULL, 0), SVC_STORE_OK);
    assert_true(svc_conn_next(c));
    assert_int_equal(svc_conn_int(c, 0), 1);
    svc_conn_release(c);
    svc_store_close(st);
    /* Reopening keeps the data: the schema is only created when missing. */
    st = svc_store_open(path, 1, err, sizeof err);
    assert_non_null(st);
    svc_store_close(st);
    char side[64];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    assert_null(svc_store_open("/nonexistent-dir/x.db", 1, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_literal_and_params),
        cmocka_unit_test(test_route_misses),
        cmocka_unit_test(test_json_object),
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_json_valid),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_sqlite_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
