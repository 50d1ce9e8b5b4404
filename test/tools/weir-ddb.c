/* weir-ddb: drives the DynamoDB sink and client for the integration tests and the figures:
 * `put` writes firing JSON lines through the sink, `gen` writes synthetic firings, `query`
 * reads a key range back through weir_ddb_query_items(). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JSMN_STATIC
#include <jsmn.h>

#include "weir/dynamodb.h"
#include "weir/event.h"
#include "weir/job.h"
#include "weir/sink.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: weir-ddb put   [options] [--input FILE]   firing JSON lines -> the sink\n"
            "       weir-ddb gen   [options] --count N [--keys K] [--repeat R]\n"
            "       weir-ddb query [options] --key P --from T1 --to T2 [--limit N]\n"
            "options: --dynamodb-endpoint URL --dynamodb-table T --aws-region R --global\n"
            "         --key-field F --dynamodb-create-table -X key=value\n"
            "put/gen print `written=N retries=N firings=N seconds=S items_per_s=R`;\n"
            "a sink that cannot start prints one line and exits 2, a write failure exits 1.\n");
}

static const weir_agg_spec AGGS[] = {
    {NULL, "unique_user_count", NULL},
    {NULL, "event_count", NULL},
};
#define N_AGGS 2

static int tok_is(const char *js, const jsmntok_t *t, const char *s)
{
    size_t n = strlen(s);
    return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n &&
           memcmp(js + t->start, s, n) == 0;
}

/* Unescapes a JSON string in place (it only shrinks); returns the new length or -1. */
static long unescape(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            s[o++] = s[i];
            continue;
        }
        if (++i >= n)
            return -1;
        char c = s[i];
        if (c == 'u') {
            if (i + 4 >= n)
                return -1;
            char hex[5] = {s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0};
            unsigned cp = (unsigned)strtoul(hex, NULL, 16);
            i += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u') {
                char lo[5] = {s[i + 3], s[i + 4], s[i + 5], s[i + 6], 0};
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned)strtoul(lo, NULL, 16) - 0xdc00);
                i += 6;
            }
            if (cp < 0x80) {
                s[o++] = (char)cp;
            } else if (cp < 0x800) {
                s[o++] = (char)(0xc0 | (cp >> 6));
                s[o++] = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                s[o++] = (char)(0xe0 | (cp >> 12));
                s[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                s[o++] = (char)(0x80 | (cp & 0x3f));
            } else {
                s[o++] = (char)(0xf0 | (cp >> 18));
                s[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                s[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                s[o++] = (char)(0x80 | (cp & 0x3f));
            }
            continue;
        }
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *p = strchr(from, c);
        if (!p || !c)
            return -1;
        s[o++] = to[p - from];
    }
    return (long)o;
}

/* Parses one firing line into f (key slice points into the line). Returns 0 or -1. */
static int parse_firing(char *line, size_t len, const char *key_field, weir_firing *f,
                        uint64_t *values)
{
    jsmntok_t t[64];
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, line, len, t, 64);
    if (n < 1 || t[0].type != JSMN_OBJECT)
        return -1;
    memset(f, 0, sizeof *f);
    values[0] = values[1] = 0;
    int have = 0;
    for (int i = 1; i + 1 < n; i += 2) {
        jsmntok_t *k = &t[i], *v = &t[i + 1];
        if (v->type == JSMN_OBJECT || v->type == JSMN_ARRAY)
            return -1; /* flat records only */
        const char *vs = line + v->start;
        size_t vl = (size_t)(v->end - v->start);
        if (key_field && tok_is(line, k, key_field)) {
            long kl = v->type == JSMN_STRING ? unescape(line + v->start, vl) : (long)vl;
            if (kl < 0)
                return -1;
            f->key.ptr = vs;
            f->key.len = (size_t)kl;
            have |= 1;
        } else if (tok_is(line, k, "window_start")) {
            if (weir_parse_iso8601(vs, vl, &f->window_start))
                return -1;
            have |= 2;
        } else if (tok_is(line, k, "window_end")) {
            if (weir_parse_iso8601(vs, vl, &f->window_end))
                return -1;
            have |= 4;
        } else {
            for (int a = 0; a < N_AGGS; a++)
                if (tok_is(line, k, AGGS[a].field))
                    values[a] = strtoull(vs, NULL, 10);
        }
    }
    if ((have & 6) != 6 || (key_field && !(have & 1)))
        return -1;
    f->values = values;
    f->n_values = N_AGGS;
    return 0;
}

static int report(weir_sink *s, uint64_t firings, double t0, weir_err rc)
{
    double secs = weir_mono_sec() - t0;
    printf("written=%" PRIu64 " retries=%" PRIu64 " firings=%" PRIu64
           " seconds=%.3f items_per_s=%.0f\n",
           weir_sink_written(s), weir_sink_retries(s), firings, secs,
           secs > 0 ? (double)weir_sink_written(s) / secs : 0.0);
    if (rc != WEIR_OK) {
        fprintf(stderr, "weir-ddb: %s\n",
                weir_sink_error(s)[0] ? weir_sink_error(s) : weir_err_str(rc));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *cmd = argv[1];
    weir_conf *conf = weir_conf_new();
    char err[512];
    const char *key_field = "product_id", *input = "-", *qkey = NULL, *qfrom = NULL, *qto = NULL;
    uint64_t count = 0, keys = 100, repeat = 1, limit = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char *conf_key = NULL;
        if (!strcmp(a, "--global")) {
            key_field = NULL;
            continue;
        }
        if (!strcmp(a, "--dynamodb-create-table")) {
            weir_conf_set(conf, "dynamodb.create.table", "true", NULL, 0);
            continue;
        }
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (!strcmp(a, "--dynamodb-endpoint"))
            conf_key = "dynamodb.endpoint";
        else if (!strcmp(a, "--dynamodb-table"))
            conf_key = "dynamodb.table";
        else if (!strcmp(a, "--aws-region"))
            conf_key = "aws.region";
        else if (!strcmp(a, "--key-field"))
            key_field = v;
        else if (!strcmp(a, "--input"))
            input = v;
        else if (!strcmp(a, "--count"))
            count = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--keys"))
            keys = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--repeat"))
            repeat = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--key"))
            qkey = v;
        else if (!strcmp(a, "--from"))
            qfrom = v;
        else if (!strcmp(a, "--to"))
            qto = v;
        else if (!strcmp(a, "--limit"))
            limit = strtoull(v, NULL, 10);
        else if (!strcmp(a, "-X")) {
            char *eq = strchr(v, '=');
            if (!eq) {
                usage();
                return 2;
            }
            char *k = strndup(v, (size_t)(eq - v));
            weir_err rc = weir_conf_set(conf, k, eq + 1, err, sizeof err);
            free(k);
            if (rc != WEIR_OK) {
                fprintf(stderr, "weir-ddb: %s\n", err);
                return 2;
            }
        } else {
            usage();
            return 2;
        }
        if (conf_key && weir_conf_set(conf, conf_key, v, err, sizeof err) != WEIR_OK) {
            fprintf(stderr, "weir-ddb: %s\n", err);
            return 2;
        }
    }

    if (!strcmp(cmd, "query")) {
        weir_ddb *c;
        weir_err rc = weir_ddb_new(conf, &c, err, sizeof err);
        if (rc != WEIR_OK || !qkey) {
            fprintf(stderr, "weir-ddb: %s\n", rc != WEIR_OK ? err : "query needs --key");
            weir_conf_destroy(conf);
            return 2;
        }
        weir_ddb_query q = {weir_conf_get(conf, "dynamodb.table"),
                            key_field ? key_field : "window",
                            qkey,
                            qfrom ? "window_start" : NULL,
                            qfrom,
                            qto,
                            (size_t)limit,
                            0};
        weir_ddb_items *items;
        rc = weir_ddb_query_items(c, &q, &items, err, sizeof err);
        if (rc == WEIR_OK) {
            char line[4096];
            for (size_t i = 0; i < weir_ddb_items_count(items); i++) {
                weir_ddb_items_to_json(items, i, line, sizeof line);
                printf("%s\n", line);
            }
            weir_ddb_items_destroy(items);
        } else {
            fprintf(stderr, "weir-ddb: %s\n", err);
        }
        weir_ddb_destroy(c);
        weir_conf_destroy(conf);
        return rc == WEIR_OK ? 0 : 1;
    }
    if (strcmp(cmd, "put") != 0 && strcmp(cmd, "gen") != 0) {
        usage();
        return 2;
    }

    weir_sink *s;
    weir_err rc = weir_dynamodb_sink_create(conf, key_field, AGGS, N_AGGS, &s, err, sizeof err);
    if (rc != WEIR_OK) {
        /* The code's description in brackets lets the tests check the error class. */
        fprintf(stderr, "%s [%s]\n", err, weir_err_str(rc));
        weir_conf_destroy(conf);
        return 2;
    }
    double t0 = weir_mono_sec();
    uint64_t firings = 0;
    if (!strcmp(cmd, "gen")) {
        /* Keys k0..k(K-1), consecutive minutes; each window written `repeat` times with
         * growing counts, so the last value is the largest. */
        char key[32];
        uint64_t values[N_AGGS];
        for (uint64_t i = 0; i < count && rc == WEIR_OK; i++) {
            uint64_t k = i % keys, w = i / keys;
            for (uint64_t r = 0; r < repeat && rc == WEIR_OK; r++) {
                int kl = snprintf(key, sizeof key, "k%" PRIu64, k);
                values[0] = w + r + 1;
                values[1] = 10 * (w + r + 1);
                weir_firing f = {{key, (size_t)kl},
                                 1704067200000LL + (int64_t)w * 60000,
                                 1704067200000LL + (int64_t)(w + 1) * 60000,
                                 r > 0,
                                 values,
                                 N_AGGS};
                rc = weir_sink_firing(s, &f);
                firings++;
            }
        }
    } else {
        FILE *in = strcmp(input, "-") ? fopen(input, "r") : stdin;
        if (!in) {
            fprintf(stderr, "weir-ddb: %s: %s\n", input, strerror(errno));
            weir_sink_destroy(s);
            weir_conf_destroy(conf);
            return 2;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        uint64_t lineno = 0;
        while (rc == WEIR_OK && (n = getline(&line, &cap, in)) >= 0) {
            lineno++;
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
            if (n == 0)
                continue;
            weir_firing f;
            uint64_t values[N_AGGS];
            if (parse_firing(line, (size_t)n, key_field, &f, values) != 0) {
                fprintf(stderr, "weir-ddb: line %" PRIu64 ": not a firing record\n", lineno);
                rc = WEIR_ERR_PARSE;
                break;
            }
            rc = weir_sink_firing(s, &f);
            firings++;
        }
        free(line);
        if (in != stdin)
            fclose(in);
    }
    if (rc == WEIR_OK)
        rc = weir_sink_flush(s, 120000);
    int status = report(s, firings, t0, rc);
    weir_sink_destroy(s);
    weir_conf_destroy(conf);
    return status;
}
