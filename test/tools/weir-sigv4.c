/* weir-sigv4: prints the SigV4 Authorization header weir computes for one request, so the
 * integration test can compare it with botocore's. Credentials come from the AWS_* variables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weir/aws.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: weir-sigv4 --url URL --time YYYYMMDDTHHMMSSZ [--method M] [--region R]\n"
            "                  [--service S] [--header 'Name: value']... [--body TEXT |\n"
            "                  --body-file FILE|-] [--canonical]\n"
            "Prints the Authorization header value (and X-Amz-Date) for the request.\n"
            "Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.\n");
}

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *method = "POST", *region = "us-east-1", *service = "dynamodb";
    const char *time_s = NULL, *body_text = NULL, *body_file = NULL;
    int canonical = 0;
    weir_http_header *hdrs = calloc((size_t)argc, sizeof *hdrs);
    char **names = calloc((size_t)argc, sizeof *names);
    size_t nh = 0;
    if (!hdrs || !names)
        return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--canonical")) {
            canonical = 1;
            continue;
        }
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (!strcmp(a, "--url"))
            url = v;
        else if (!strcmp(a, "--method"))
            method = v;
        else if (!strcmp(a, "--region"))
            region = v;
        else if (!strcmp(a, "--service"))
            service = v;
        else if (!strcmp(a, "--time"))
            time_s = v;
        else if (!strcmp(a, "--body"))
            body_text = v;
        else if (!strcmp(a, "--body-file"))
            body_file = v;
        else if (!strcmp(a, "--header")) {
            const char *colon = strchr(v, ':');
            if (!colon) {
                fprintf(stderr, "weir-sigv4: header without ':': %s\n", v);
                return 2;
            }
            names[nh] = strndup(v, (size_t)(colon - v));
            hdrs[nh].name = names[nh];
            hdrs[nh].value = colon + 1;
            nh++;
        } else {
            usage();
            return 2;
        }
    }
    if (!url || !time_s) {
        usage();
        return 2;
    }
    struct tm tm = {0};
    const char *end = strptime(time_s, "%Y%m%dT%H%M%SZ", &tm);
    if (!end || *end) {
        fprintf(stderr, "weir-sigv4: --time must look like 20240101T120000Z\n");
        return 2;
    }
    int64_t ms = (int64_t)timegm(&tm) * 1000;

    char *body = NULL;
    size_t body_len = 0;
    if (body_file) {
        FILE *f = strcmp(body_file, "-") ? fopen(body_file, "rb") : stdin;
        if (!f) {
            fprintf(stderr, "weir-sigv4: %s: %s\n", body_file, strerror(errno));
            return 2;
        }
        body = read_all(f, &body_len);
        if (f != stdin)
            fclose(f);
        if (!body)
            return 2;
    } else if (body_text) {
        body = strdup(body_text);
        body_len = strlen(body_text);
    }

    char err[512];
    weir_aws_creds *creds = NULL;
    if (weir_aws_creds_from_env(&creds, err, sizeof err) != WEIR_OK) {
        fprintf(stderr, "weir-sigv4: %s\n", err);
        return 2;
    }
    weir_sigv4_request req = {method, url, hdrs, nh, body, body_len, region, service, ms};
    char amz_date[WEIR_SIGV4_DATE_SIZE], auth[WEIR_SIGV4_AUTH_SIZE];
    int rc = 0;
    if (weir_sigv4_sign(creds, &req, amz_date, auth, sizeof auth, err, sizeof err) != WEIR_OK) {
        fprintf(stderr, "weir-sigv4: %s\n", err);
        rc = 1;
    } else if (canonical) {
        char *cr, *sts;
        if (weir_sigv4_canonical(creds, &req, &cr, &sts, err, sizeof err) == WEIR_OK) {
            printf("%s\n----\n%s\n", cr, sts);
            free(cr);
            free(sts);
        } else {
            fprintf(stderr, "weir-sigv4: %s\n", err);
            rc = 1;
        }
    } else {
        printf("%s\n", auth);
    }
    weir_aws_creds_destroy(creds);
    free(body);
    for (size_t i = 0; i < nh; i++)
        free(names[i]);
    free(names);
    free(hdrs);
    return rc;
}
