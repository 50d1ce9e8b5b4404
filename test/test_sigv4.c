/* SigV4: published AWS test-suite vectors, canonical forms, credentials and region lookup,
 * and that no message carries the secret. (Equality with botocore: test/it/sigv4_botocore.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectors/aws_int.h"
#include "weir/aws.h"

#define AKID   "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
/* 2015-08-30T12:36:00Z, the time of AWS's SigV4 test suite. */
#define SUITE_MS 1440938160000LL

static char auth[WEIR_SIGV4_AUTH_SIZE], amz_date[WEIR_SIGV4_DATE_SIZE], err[512];

static weir_err sign(const weir_aws_creds *c, const char *method, const char *url,
                     const weir_http_header *h, size_t nh, const char *body)
{
    weir_sigv4_request r = {method,      url,       h,       nh, body, body ? strlen(body) : 0,
                            "us-east-1", "service", SUITE_MS};
    return weir_sigv4_sign(c, &r, amz_date, auth, sizeof auth, err, sizeof err);
}

static void test_suite_vectors(void **state)
{
    (void)state;
    weir_aws_creds *c = weir_aws_creds_new(AKID, SECRET, NULL);
    assert_non_null(c);
    /* get-vanilla */
    assert_int_equal(sign(c, "GET", "https://example.amazonaws.com/", NULL, 0, NULL), WEIR_OK);
    assert_string_equal(amz_date, "20150830T123600Z");
    assert_string_equal(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                              "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                              "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    /* post-x-www-form-urlencoded */
    weir_http_header h[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
    assert_int_equal(sign(c, "POST", "https://example.amazonaws.com/", h, 1, "Param1=value1"),
                     WEIR_OK);
    assert_string_equal(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                              "aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="
                              "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
    /* The same request with another secret must not give the same signature. */
    char first[WEIR_SIGV4_AUTH_SIZE];
    strcpy(first, auth);
    weir_aws_creds *other = weir_aws_creds_new(AKID, SECRET "x", NULL);
    assert_int_equal(sign(other, "POST", "https://example.amazonaws.com/", h, 1, "Param1=value1"),
                     WEIR_OK);
    assert_string_not_equal(auth, first);
    weir_aws_creds_destroy(other);
    weir_aws_creds_destroy(c);
}

static void test_canonical_forms(void **state)
{
    (void)state;
    weir_aws_creds *c = weir_aws_creds_new(AKID, SECRET, "TOKEN123");
    weir_http_header h[] = {{"X-B", "  two   words "},
                            {"x-a", "1"},
                            {"X-B", "again"},
                            {"User-Agent", "ignored"},
                            {"X-Amz-Date", "ignored"}};
    weir_sigv4_request r = {"get",       "http://Host.Example:8080/a/./b/../c//d?z=1&a=%2f&a=0",
                            h,           5,
                            "",          0,
                            "eu-west-1", "dynamodb",
                            SUITE_MS};
    char *cr, *sts;
    assert_int_equal(weir_sigv4_canonical(c, &r, &cr, &sts, err, sizeof err), WEIR_OK);
    assert_string_equal(cr, "GET\n/a/c/d\na=%2F&a=0&z=1\n"
                            "host:host.example:8080\nx-a:1\nx-amz-date:20150830T123600Z\n"
                            "x-amz-security-token:TOKEN123\nx-b:two words,again\n\n"
                            "host;x-a;x-amz-date;x-amz-security-token;x-b\n"
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_non_null(strstr(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/eu-west-1/dynamodb/"
                                "aws4_request\n"));
    free(cr);
    free(sts);
    weir_aws_creds_destroy(c);
}

static void test_errors(void **state)
{
    (void)state;
    weir_aws_creds *c = weir_aws_creds_new(AKID, SECRET, NULL);
    assert_int_equal(sign(c, "GET", "ftp://example.com/", NULL, 0, NULL), WEIR_ERR_INVALID_ARG);
    assert_null(strstr(err, SECRET));
    assert_int_equal(sign(c, "GET", "http:///nohost", NULL, 0, NULL), WEIR_ERR_INVALID_ARG);
    weir_sigv4_request r = {
        "GET",   "https://example.amazonaws.com/", NULL, 0, NULL, 0, "us-east-1", "service",
        SUITE_MS};
    char small[40];
    assert_int_equal(weir_sigv4_sign(c, &r, amz_date, small, sizeof small, err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    assert_null(strstr(err, SECRET));
    assert_null(weir_aws_creds_new("", SECRET, NULL));
    assert_null(weir_aws_creds_new(AKID, NULL, NULL));
    weir_aws_creds_destroy(c);
    weir_aws_creds_destroy(NULL);
}

static void test_env(void **state)
{
    (void)state;
    weir_aws_creds *c;
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    assert_int_equal(weir_aws_creds_from_env(&c, err, sizeof err), WEIR_ERR_AUTH);
    assert_null(c);
    assert_string_equal(err, "no AWS credentials: AWS_ACCESS_KEY_ID not set");
    setenv("AWS_ACCESS_KEY_ID", AKID, 1);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    assert_int_equal(weir_aws_creds_from_env(&c, err, sizeof err), WEIR_OK);
    assert_string_equal(weir_aws_creds_access_key_id(c), AKID);
    assert_string_equal(weir_aws_creds_session_token(c), "tok");
    weir_aws_creds_destroy(c);
    unsetenv("AWS_SESSION_TOKEN");

    char region[64];
    weir_conf *conf = weir_conf_new();
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    assert_int_equal(weir_aws_region(conf, region, sizeof region, err, sizeof err),
                     WEIR_ERR_NOT_FOUND);
    setenv("AWS_REGION", "eu-central-1", 1);
    assert_int_equal(weir_aws_region(conf, region, sizeof region, err, sizeof err), WEIR_OK);
    assert_string_equal(region, "eu-central-1");
    assert_int_equal(weir_conf_set(conf, "aws.region", "us-west-2", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_aws_region(conf, region, sizeof region, err, sizeof err), WEIR_OK);
    assert_string_equal(region, "us-west-2");
    assert_int_equal(weir_conf_set(conf, "aws.region", "bad/region", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_aws_region(conf, region, sizeof region, err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    unsetenv("AWS_REGION");
    weir_conf_destroy(conf);
}

/* Masks `in` with `c` and checks the result: never longer, and equal to `want`. */
static void check_mask(const weir_aws_creds *c, const char *in, const char *want)
{
    char s[4096];
    snprintf(s, sizeof s, "%s", in);
    weir__aws_creds_mask(c, s);
    assert_true(strlen(s) <= strlen(in));
    assert_string_equal(s, want);
}

static void test_mask(void **state)
{
    (void)state;
    /* A token longer than any message buffer, as STS gives them. */
    char token[1201];
    for (int i = 0; i < 1200; i++)
        token[i] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i * 7 + i / 64) %
                                                                               64];
    token[1200] = '\0';
    weir_aws_creds *c = weir_aws_creds_new(AKID, SECRET, token);
    assert_non_null(c);
    char in[4096];

    /* Every credential, each time it occurs. */
    snprintf(in, sizeof in, "id %s secret %s token %s again %s.", AKID, SECRET, token, AKID);
    check_mask(c, in, "id *** secret *** token *** again ***.");
    /* An echoed Authorization header: key id and Signature. */
    snprintf(
        in, sizeof in,
        "Authorization: AWS4-HMAC-SHA256 Credential=%s/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c"
        "400e06b5924a6f2b5d7; X-Amz-Security-Token: %s",
        AKID, token);
    check_mask(
        c, in,
        "Authorization: AWS4-HMAC-SHA256 Credential=***/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=***; X-Amz-Security-Token: ***");
    /* Pieces left by a cut, at the end (a prefix) or at the start (a suffix) of the text. */
    snprintf(in, sizeof in, "token %.300s", token);
    check_mask(c, in, "token ***");
    snprintf(in, sizeof in, "%s: rejected", token + 1000);
    check_mask(c, in, "***: rejected");
    snprintf(in, sizeof in, "key %.16s|%.20s", SECRET + 10, token + 500);
    check_mask(c, in, "key ***|***");
    /* Fewer than 16 characters of a long credential are ordinary text. */
    snprintf(in, sizeof in, "%.15s", token + 3);
    check_mask(c, in, in);
    check_mask(c, "nothing to hide, Signature= none", "nothing to hide, Signature= none");
    check_mask(NULL, in, in);
    weir_aws_creds_destroy(c);

    /* Short credentials are masked whole, and the text never grows. */
    c = weir_aws_creds_new("ab", "x", NULL);
    check_mask(c, "ab-x-abc", "**-*-**c");
    weir_aws_creds_destroy(c);
    c = weir_aws_creds_new("weirtest", "weir-secret", NULL);
    check_mask(c, "id weirtest, key weir-secret.", "id ***, key ***.");
    weir_aws_creds_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_vectors), cmocka_unit_test(test_canonical_forms),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_env),
        cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
