/* Unit tests of the logger (include/weir/log.h): levels, the text and JSON formats and their
 * escaping, invalid UTF-8, secrets masked in messages and fields, and the masking helper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "weir/log.h"

/* A logger writing into a temporary file, and what it wrote. */
struct capture {
    FILE *f;
    weir_logger *lg;
    char text[8192];
};

static void open_capture(struct capture *c, weir_log_format fmt, weir_log_level level)
{
    c->f = tmpfile();
    assert_non_null(c->f);
    assert_int_equal(weir_logger_new("unique-users", fmt, level, fileno(c->f), &c->lg), WEIR_OK);
}

static const char *captured(struct capture *c)
{
    rewind(c->f);
    size_t n = fread(c->text, 1, sizeof c->text - 1, c->f);
    c->text[n] = '\0';
    return c->text;
}

static void close_capture(struct capture *c)
{
    weir_logger_destroy(c->lg);
    fclose(c->f);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("missing:\n%s\nin:\n%s", needle, hay);
}

static void assert_lacks(const char *hay, const char *needle)
{
    if (strstr(hay, needle))
        fail_msg("unexpected:\n%s\nin:\n%s", needle, hay);
}

static void test_json_line(void **state)
{
    (void)state;
    struct capture c;
    open_capture(&c, WEIR_LOG_JSON, WEIR_LOG_INFO);
    weir_log_field f[] = {WEIR_LOG_STR("topic", "raw \"events\"\n\\"),
                          WEIR_LOG_INT("partition", -3),
                          WEIR_LOG_FLOAT("lag", 1.5),
                          WEIR_LOG_FLOAT("bad", 0.0 / 0.0),
                          WEIR_LOG_STR("none", NULL),
                          WEIR_LOG_STR("ctl", "a\x01\tb")};
    weir_logger_log(c.lg, WEIR_LOG_INFO, "job started", f, 6);
    weir_logger_fn(c.lg, WEIR_LOG_DEBUG, "not written", NULL, 0);
    const char *t = captured(&c);
    assert_int_equal(strncmp(t, "{\"ts\":\"", 7), 0);
    /* 2026-01-02T03:04:05.678Z */
    assert_int_equal(t[7 + 4], '-');
    assert_int_equal(t[7 + 10], 'T');
    assert_int_equal(t[7 + 19], '.');
    assert_int_equal(t[7 + 23], 'Z');
    assert_contains(t, "\",\"level\":\"info\",\"binary\":\"unique-users\",\"msg\":\"job started\","
                       "\"topic\":\"raw \\\"events\\\"\\n\\\\\",\"partition\":-3,\"lag\":1.5,"
                       "\"bad\":null,\"none\":\"\",\"ctl\":\"a\\u0001\\tb\"}\n");
    assert_lacks(t, "not written");
    assert_int_equal(strchr(t, '\n') - t + 1, (long)strlen(t));
    close_capture(&c);
}

static void test_json_utf8(void **state)
{
    (void)state;
    struct capture c;
    open_capture(&c, WEIR_LOG_JSON, WEIR_LOG_DEBUG);
    /* Valid: é, €, 😀. Invalid: a lone continuation byte, a cut sequence, an overlong
     * slash, a surrogate, 0xFF. */
    weir_log_field f[] = {WEIR_LOG_STR("ok", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
                          WEIR_LOG_STR("bad", "\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80|\xff")};
    weir_logger_log(c.lg, WEIR_LOG_WARN, "utf8", f, 2);
    const char *t = captured(&c);
    assert_contains(t, "\"level\":\"warn\"");
    assert_contains(t, "\"ok\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    assert_contains(t, "\"bad\":\"\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
                       "\\ufffd\"");
    close_capture(&c);
}

static void test_text_line_and_levels(void **state)
{
    (void)state;
    struct capture c;
    open_capture(&c, WEIR_LOG_TEXT, WEIR_LOG_WARN);
    weir_log_field f[] = {WEIR_LOG_STR("file", "in.jsonl"), WEIR_LOG_STR("why", "a b=\"c\""),
                          WEIR_LOG_STR("empty", ""), WEIR_LOG_INT("n", 42)};
    weir_logger_log(c.lg, WEIR_LOG_INFO, "dropped", NULL, 0);
    assert_false(weir_logger_enabled(c.lg, WEIR_LOG_INFO));
    assert_true(weir_logger_enabled(c.lg, WEIR_LOG_ERROR));
    weir_logger_log(c.lg, WEIR_LOG_ERROR, "cannot open\ninput", f, 4);
    weir_logger_set_level(c.lg, WEIR_LOG_DEBUG);
    weir_logger_log(c.lg, WEIR_LOG_DEBUG, "now shown", NULL, 0);
    const char *t = captured(&c);
    assert_lacks(t, "dropped");
    assert_contains(t, "Z error unique-users: cannot open\\ninput file=in.jsonl "
                       "why=\"a b=\\\"c\\\"\" empty=\"\" n=42\n");
    assert_contains(t, "Z debug unique-users: now shown\n");
    close_capture(&c);
}

static void test_parse(void **state)
{
    (void)state;
    weir_log_level l;
    weir_log_format f;
    assert_int_equal(weir_log_level_parse("debug", &l), WEIR_OK);
    assert_int_equal(l, WEIR_LOG_DEBUG);
    assert_int_equal(weir_log_level_parse("warning", &l), WEIR_OK);
    assert_int_equal(l, WEIR_LOG_WARN);
    assert_int_equal(weir_log_level_parse("error", &l), WEIR_OK);
    assert_int_equal(l, WEIR_LOG_ERROR);
    assert_int_equal(weir_log_level_parse("INFO", &l), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_log_level_parse(NULL, &l), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_log_format_parse("json", &f), WEIR_OK);
    assert_int_equal(f, WEIR_LOG_JSON);
    assert_int_equal(weir_log_format_parse("text", &f), WEIR_OK);
    assert_int_equal(f, WEIR_LOG_TEXT);
    assert_int_equal(weir_log_format_parse("xml", &f), WEIR_ERR_INVALID_ARG);
    assert_string_equal(weir_log_level_str(WEIR_LOG_ERROR), "error");
    weir_logger *lg = NULL;
    assert_int_equal(weir_logger_new(NULL, WEIR_LOG_JSON, WEIR_LOG_INFO, 1, &lg),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_logger_new("x", WEIR_LOG_JSON, WEIR_LOG_INFO, -1, &lg),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_logger_new("x", (weir_log_format)7, WEIR_LOG_INFO, 1, &lg),
                     WEIR_ERR_INVALID_ARG);
    weir_logger_destroy(NULL);
}

static void check_mask(const char *key, const char *in, const char *want)
{
    char out[512];
    size_t n = weir_log_mask_secrets(key, in, out, sizeof out);
    if (strcmp(out, want) != 0)
        fail_msg("mask(%s, \"%s\") = \"%s\", want \"%s\"", key ? key : "NULL", in, out, want);
    assert_int_equal(n, strlen(want));
}

static void test_mask_secrets(void **state)
{
    (void)state;
    /* Keys that name secrets mask the whole value. */
    check_mask("password", "hunter2", "***");
    check_mask("DB_PASSWORD", "hunter2", "***");
    check_mask("aws_secret_access_key", "x", "***");
    check_mask("X-Amz-Security-Token", "abc", "***");
    check_mask("Authorization", "Bearer abc", "***");
    check_mask("password", "", "");
    /* Plain values stay. */
    check_mask("topic", "raw-events", "raw-events");
    check_mask(NULL, "a5f0c3d2e1b4a5f0c3d2e1b4a5f0c3d2e1b4a5f0", /* a hex SHA-1 */
               "a5f0c3d2e1b4a5f0c3d2e1b4a5f0c3d2e1b4a5f0");
    check_mask(NULL, "AKIA is a prefix", "AKIA is a prefix");
    /* Access key ids and secret-shaped words anywhere. */
    check_mask(NULL, "key AKIAIOSFODNN7EXAMPLE used", "key *** used");
    check_mask(NULL, "ASIAIOSFODNN7EXAMPLE", "***");
    check_mask(NULL, "s=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.", "s=***.");
    /* key=value, key: value and JSON pairs after secret-named keys. */
    check_mask(NULL, "user=bob password=hunter2 db=x", "user=bob password=*** db=x");
    check_mask(NULL, "postgres PGPASSWORD='p w' ok", "postgres PGPASSWORD='***' ok");
    check_mask(NULL, "{\"SecretAccessKey\":\"abc\\\"d\",\"Region\":\"eu\"}",
               "{\"SecretAccessKey\":\"***\",\"Region\":\"eu\"}");
    check_mask(NULL, "X-Amz-Security-Token: FQoGZXIvYXdz\r\nHost: h",
               "X-Amz-Security-Token: ***\r\nHost: h");
    check_mask(NULL, "a?token=abc&b=1", "a?token=***&b=1");
    check_mask(NULL,
               "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/"
               "eu-west-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0123abcdef",
               "Authorization: AWS4-HMAC-SHA256 Credential=***/20260101/eu-west-1/dynamodb/"
               "aws4_request, SignedHeaders=host, Signature=***");
    /* URL passwords. */
    check_mask(NULL, "postgres://app:s3cr%40t@db:5432/x", "postgres://app:***@db:5432/x");
    check_mask(NULL, "http://host:8080/path@x", "http://host:8080/path@x");
    check_mask(NULL, "redis://user@host", "redis://user@host");
    /* Cut like snprintf, the needed length returned. */
    char small[8];
    assert_int_equal(weir_log_mask_secrets(NULL, "password=abcdef", small, sizeof small), 12);
    assert_string_equal(small, "passwor");
    assert_int_equal(weir_log_mask_secrets(NULL, "x", NULL, 0), 1);
}

static void test_logger_masks(void **state)
{
    (void)state;
    struct capture c;
    open_capture(&c, WEIR_LOG_JSON, WEIR_LOG_INFO);
    assert_int_equal(weir_logger_add_secret(c.lg, "pl41n-db-pass"), WEIR_OK);
    assert_int_equal(weir_logger_add_secret(c.lg, ""), WEIR_OK);
    weir_log_field f[] = {
        WEIR_LOG_STR("password", "pl41n-db-pass"),
        WEIR_LOG_STR("url", "postgres://app:pl41n-db-pass@db/x"),
        WEIR_LOG_STR("detail", "got AKIAIOSFODNN7EXAMPLE and pl41n-db-pass"),
        WEIR_LOG_STR("aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")};
    weir_logger_log(c.lg, WEIR_LOG_ERROR, "login with pl41n-db-pass failed", f, 4);
    const char *t = captured(&c);
    assert_lacks(t, "pl41n");
    assert_lacks(t, "AKIAIOSFODNN7EXAMPLE");
    assert_lacks(t, "wJalrXUtnFEMI");
    assert_contains(t, "\"msg\":\"login with *** failed\"");
    assert_contains(t, "\"password\":\"***\"");
    assert_contains(t, "\"url\":\"postgres://app:***@db/x\"");
    assert_contains(t, "\"detail\":\"got *** and ***\"");
    close_capture(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_json_utf8),
        cmocka_unit_test(test_text_line_and_levels),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_mask_secrets),
        cmocka_unit_test(test_logger_masks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
