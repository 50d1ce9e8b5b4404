/* Configuration: durations, validation messages, files, pass-through keys, flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "weir/weir.h"

static void test_durations(void **state)
{
    (void)state;
    int64_t ms;
    struct {
        const char *s;
        int64_t ms;
    } ok[] = {{"0", 0},        {"500ms", 500},   {"10s", 10000}, {"1m", 60000},
              {"2h", 7200000}, {"1d", 86400000}, {"90s", 90000}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        assert_int_equal(weir_parse_duration(ok[i].s, &ms), WEIR_OK);
        assert_int_equal(ms, ok[i].ms);
    }
    const char *bad[] = {"", "10", "-1s", "1.5s", "s", "10 s", "10sec", "99999999999999999999d"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(weir_parse_duration(bad[i], &ms), WEIR_ERR_INVALID_ARG);
}

static void test_set_get_and_errors(void **state)
{
    (void)state;
    weir_conf *c = weir_conf_new();
    char err[512];
    assert_string_equal(weir_conf_get(c, "window.size"), "60s");
    assert_int_equal(weir_conf_get_duration_ms(c, "window.size"), 60000);
    assert_false(weir_conf_is_set(c, "window.size"));
    assert_int_equal(weir_conf_set(c, "window.size", "30s", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_get_duration_ms(c, "window.size"), 30000);
    assert_true(weir_conf_is_set(c, "window.size"));
    /* Each bad value names the key and what is accepted, on one line. */
    assert_int_equal(weir_conf_set(c, "window.size", "soon", err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "window.size"));
    assert_non_null(strstr(err, "500ms"));
    assert_null(strchr(err, '\n'));
    assert_int_equal(weir_conf_get_duration_ms(c, "window.size"), 30000); /* unchanged */
    assert_int_equal(weir_conf_set(c, "emit.mode", "sometimes", err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "updates|final"));
    assert_int_equal(weir_conf_set(c, "hll.precision", "19", err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "4 to 18"));
    assert_int_equal(weir_conf_set(c, "global", "maybe", err, sizeof err), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_conf_set(c, "no.such.key", "1", err, sizeof err), WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "no.such.key"));
    assert_int_equal(weir_conf_set(c, "window.size", "0s", err, sizeof err), WEIR_ERR_INVALID_ARG);
    /* Durations that may be off. */
    assert_int_equal(weir_conf_get_duration_ms(c, "watermark.idle.timeout"), 0);
    assert_int_equal(weir_conf_set(c, "watermark.idle.timeout", "5s", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_get_duration_ms(c, "watermark.idle.timeout"), 5000);
    assert_int_equal(weir_conf_set(c, "window.size", "off", err, sizeof err), WEIR_ERR_INVALID_ARG);
    /* Pass-through keys for librdkafka. */
    assert_int_equal(weir_conf_set(c, "kafka.compression.type", "zstd", err, sizeof err), WEIR_OK);
    assert_string_equal(weir_conf_get(c, "kafka.compression.type"), "zstd");
    assert_int_equal(weir_conf_set(c, "kafka.", "x", err, sizeof err), WEIR_ERR_INVALID_ARG);
    weir_conf *d = weir_conf_dup(c);
    weir_conf_destroy(c);
    assert_string_equal(weir_conf_get(d, "kafka.compression.type"), "zstd");
    assert_int_equal(weir_conf_get_duration_ms(d, "window.size"), 30000);
    weir_conf_destroy(d);
}

static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/weir-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# a comment\n\n  window.size = 10s \nemit.mode=final\n");
    fclose(f);
    weir_conf *c = weir_conf_new();
    char err[512];
    assert_int_equal(weir_conf_load_file(c, path, err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_get_duration_ms(c, "window.size"), 10000);
    assert_string_equal(weir_conf_get(c, "emit.mode"), "final");
    f = fopen(path, "w");
    fprintf(f, "window.size=10s\nwindow.size=never\n");
    fclose(f);
    assert_int_equal(weir_conf_load_file(c, path, err, sizeof err), WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, ":2: window.size"));
    /* A NUL byte would cut the line short: "window.size=10s" and the rest lost. */
    f = fopen(path, "w");
    static const char nul[] = "emit.mode=final\nwindow.size=10s\0 trailing\n";
    fwrite(nul, 1, sizeof nul - 1, f);
    fclose(f);
    assert_int_equal(weir_conf_load_file(c, path, err, sizeof err), WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, ":2: NUL byte at column 16"));
    unlink(path);
    assert_int_equal(weir_conf_load_file(c, path, err, sizeof err), WEIR_ERR_IO);
    weir_conf_destroy(c);
}

static void test_flags_map_to_keys(void **state)
{
    (void)state;
    int takes;
    assert_string_equal(weir_conf_key_for_flag("--window", &takes), "window.size");
    assert_true(takes);
    assert_string_equal(weir_conf_key_for_flag("--global", &takes), "global");
    assert_false(takes);
    assert_null(weir_conf_key_for_flag("--nonsense", &takes));
}

/* The whole of a stream, or NULL. */
static char *slurp(FILE *f, size_t *len)
{
    char *text = NULL;
    FILE *m = open_memstream(&text, len);
    char chunk[4096];
    size_t n;
    while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    if (m)
        fclose(m);
    return text;
}

static void test_doc_is_current(void **state)
{
    (void)state;
    /* docs/CONFIGURATION.md is generated, the whole of it: the job's key table, then every
     * service's flags and environment variables from the binaries themselves
     * (scripts/config-doc.sh over the release binaries that `make test` builds first). It must
     * not drift from either. */
    const char *root = getenv("WEIR_ROOT");
    root = root ? root : ".";
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/CONFIGURATION.md", root);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    size_t doc_len = 0;
    char *doc = slurp(f, &doc_len);
    fclose(f);
    assert_non_null(doc);

    char *keys = NULL;
    size_t keys_len = 0;
    FILE *m = open_memstream(&keys, &keys_len);
    weir_conf_write_doc(m);
    fclose(m);
    if (keys_len > doc_len || memcmp(doc, keys, keys_len) != 0)
        fail_msg("docs/CONFIGURATION.md: the key table is out of date: run make docs");

    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd '%s' && scripts/config-doc.sh build/bin", root);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t gen_len = 0;
    char *gen = slurp(p, &gen_len);
    int rc = pclose(p);
    if (rc != 0 || !gen)
        fail_msg("scripts/config-doc.sh build/bin failed (status %d)", rc);
    if (gen_len != doc_len || memcmp(doc, gen, gen_len) != 0)
        fail_msg("docs/CONFIGURATION.md is out of date (a flag or a variable of the job or of a "
                 "service changed): run make docs");
    free(gen);
    free(keys);
    free(doc);
}

/* The seeds' environment variables fill the keys no flag or file set; set keys win, empty
 * variables are ignored, and the reference and the help name the variables. */
static void test_env(void **state)
{
    (void)state;
    char err[512];
    setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", 1);
    setenv("KAFKA_INPUT_TOPIC", "raw-env", 1);
    setenv("KAFKA_OUTPUT_TOPIC", "", 1);
    setenv("DYNAMODB_TABLE", "table-env", 1);
    setenv("AWS_REGION", "eu-west-1", 1);
    weir_conf *c = weir_conf_new();
    assert_int_equal(weir_conf_set(c, "input.topic", "raw-flag", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_load_env(c, err, sizeof err), WEIR_OK);
    assert_string_equal(weir_conf_get(c, "brokers"), "127.0.0.1:9092");
    assert_string_equal(weir_conf_get(c, "input.topic"), "raw-flag");
    assert_string_equal(weir_conf_get(c, "output.topic"), "ecom-analytics-results");
    assert_false(weir_conf_is_set(c, "output.topic"));
    assert_string_equal(weir_conf_get(c, "dynamodb.table"), "table-env");
    assert_string_equal(weir_conf_get(c, "aws.region"), "eu-west-1");
    weir_conf_destroy(c);
    unsetenv("KAFKA_BOOTSTRAP_SERVERS");
    unsetenv("KAFKA_INPUT_TOPIC");
    unsetenv("KAFKA_OUTPUT_TOPIC");
    unsetenv("DYNAMODB_TABLE");
    unsetenv("AWS_REGION");
    assert_string_equal(weir_conf_key_env("brokers"), "KAFKA_BOOTSTRAP_SERVERS");
    assert_null(weir_conf_key_env("window.size"));
    assert_int_equal(weir_conf_load_env(NULL, err, sizeof err), WEIR_ERR_INVALID_ARG);

    char *doc = NULL, *help = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&doc, &n);
    weir_conf_write_doc(f);
    fclose(f);
    assert_non_null(strstr(doc, "Environment: `KAFKA_BOOTSTRAP_SERVERS`"));
    f = open_memstream(&help, &n);
    weir_conf_write_flags(f);
    fclose(f);
    assert_non_null(strstr(help, "env DYNAMODB_TABLE]"));
    free(doc);
    free(help);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),      cmocka_unit_test(test_set_get_and_errors),
        cmocka_unit_test(test_file),           cmocka_unit_test(test_flags_map_to_keys),
        cmocka_unit_test(test_doc_is_current), cmocka_unit_test(test_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
