/* Scenarios of reading JSON: scan (the floor), decode (weir's decoder) and its peers
 * cJSON, jansson and jsmn extracting the same three fields. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <jansson.h>
#define JSMN_STRICT
#define JSMN_STATIC
#include <jsmn.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bench.h"
#include "weir/weir.h"

/* Keeps the compiler from dropping work whose result nothing else reads. */
static volatile uint64_t g_sink;

/* ---------------------------------------------------------------- scan */

int bench_scan(bench_ctx *ctx)
{
    weir_gen_params p;
    bench_gen_params(ctx, ctx->events, &p);
    const char *path = bench_json_file(ctx, &p);
    if (!path)
        return -1;
    char file[512];
    snprintf(file, sizeof file, "%s", path);
    bench_arm scan = BENCH_ARM("scan", bench_scan_run, file);
    if (bench_measure(ctx, &scan, 1) != 0)
        return -1;
    bench_report_main(ctx, &scan);
    FILE *f = fopen(file, "r");
    long size = 0;
    if (f && fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (f)
        fclose(f);
    bench_stats s = bench_arm_stats(&scan);
    bench_json_u64(&ctx->out, "input_bytes", (uint64_t)size);
    bench_json_num(&ctx->out, "bytes_per_sec_median", s.median * (double)size / (double)scan.events,
                   0);
    bench_json_num(&ctx->out, "scan_events_per_sec_median", s.median, 0);
    bench_json_num(&ctx->out, "vs_scan", 1.0, 4);
    bench_say("  scan: %.0f MB/s of JSON lines (%.1f bytes per record)",
              s.median * (double)size / (double)scan.events / 1e6, (double)size / scan.events);
    return 0;
}

/* ---------------------------------------------------------------- the three decoders */

/* What every decoder extracts from a record, and the same downstream work the weir decoder
 * does: the timestamp parsed to epoch ms, XXH3-64 of the key, XXH3-128 of the user. */
typedef struct fields {
    int64_t ts;
    uint64_t key_hash, user_fp0;
} fields;

static uint64_t fields_mix(const fields *f)
{
    return f->key_hash ^ (f->user_fp0 * 31) ^ (uint64_t)f->ts;
}

/* Text or integer timestamp as the weir decoder reads it with timestamp.unit=auto. */
static int ts_from_text(const char *s, size_t n, int64_t *ms)
{
    return weir_parse_iso8601(s, n, ms);
}

static int64_t ts_from_int(int64_t v)
{
    return (v < 100000000000LL && v > -100000000000LL) ? v * 1000 : v;
}

/* The downstream work on a peer's record, into f: the hashes of its key and user. Returns f's
 * share of the run's checksum. */
static uint64_t peer_mix(fields *f, const char *ks, size_t kn, const char *us, size_t un)
{
    f->key_hash = XXH3_64bits(ks, kn);
    f->user_fp0 = XXH3_128bits(us, un).low64;
    return fields_mix(f);
}

/* The end of a decoder's run over l: every record decoded, or the run fails (`who` prefixes
 * the reason). The checksum is kept, and used, so that no decoding is optimised away. */
static double run_done(const bench_lines *l, uint64_t ok, uint64_t mix, double secs,
                       uint64_t *checksum, uint64_t *events, const char *who, char *err,
                       size_t errlen)
{
    if (ok != l->n) {
        snprintf(err, errlen, "%sonly %llu of %zu records decoded", who, (unsigned long long)ok,
                 l->n);
        return -1;
    }
    *checksum = mix;
    g_sink += mix;
    *events = ok;
    return secs;
}

typedef struct decode_arm {
    bench_lines *lines;
    weir_decoder *dec;
    uint64_t checksum; /* of the last run, compared between decoders */
} decode_arm;

static double weir_decode_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    decode_arm *a = opaque;
    const bench_lines *l = a->lines;
    uint64_t ok = 0, mix = 0;
    weir_event ev;
    memset(&ev, 0, sizeof ev);
    double t0 = bench_now();
    for (size_t i = 0; i < l->n; i++) {
        if (weir_decoder_decode(a->dec, l->buf + l->off[i], l->len[i], &ev) == WEIR_REC_OK) {
            fields f = {ev.ts, ev.key_hash, ev.user_fp[0]};
            mix += fields_mix(&f);
            ok++;
        }
        /* The pipeline releases the decoder's scratch once per batch. */
        if ((i & 4095) == 4095)
            weir_decoder_reset(a->dec);
    }
    weir_decoder_reset(a->dec);
    return run_done(l, ok, mix, bench_now() - t0, &a->checksum, events, "", err, errlen);
}

/* cJSON and jansson are loaded at run time so that weir-bench links with the library's own
 * flags; a call through a dlsym'd pointer costs what a call through the PLT costs. */
typedef struct cjson_api {
    __typeof__(cJSON_ParseWithLength) *parse;
    __typeof__(cJSON_GetObjectItemCaseSensitive) *get;
    __typeof__(cJSON_Delete) *del;
} cjson_api;

typedef struct jansson_api {
    __typeof__(json_loadb) *loadb;
    __typeof__(json_object_get) *get;
    __typeof__(json_string_value) *str;
    __typeof__(json_string_length) *strlen_;
    __typeof__(json_integer_value) *integer;
    __typeof__(json_delete) *del;
} jansson_api;

static void *load_sym(void *lib, const char *name, int *missing)
{
    void *p = dlsym(lib, name);
    if (!p)
        *missing = 1;
    return p;
}

static int cjson_load(cjson_api *api, char *why, size_t whylen)
{
    void *lib = dlopen("libcjson.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(why, whylen, "libcjson.so.1 not found (Debian package libcjson1): %s", dlerror());
        return -1;
    }
    int missing = 0;
    *(void **)&api->parse = load_sym(lib, "cJSON_ParseWithLength", &missing);
    *(void **)&api->get = load_sym(lib, "cJSON_GetObjectItemCaseSensitive", &missing);
    *(void **)&api->del = load_sym(lib, "cJSON_Delete", &missing);
    if (missing) {
        snprintf(why, whylen, "libcjson.so.1 lacks cJSON_ParseWithLength (cJSON < 1.7.13)");
        return -1;
    }
    return 0;
}

static int jansson_load(jansson_api *api, char *why, size_t whylen)
{
    void *lib = dlopen("libjansson.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(why, whylen, "libjansson.so.4 not found (Debian package libjansson4): %s",
                 dlerror());
        return -1;
    }
    int missing = 0;
    *(void **)&api->loadb = load_sym(lib, "json_loadb", &missing);
    *(void **)&api->get = load_sym(lib, "json_object_get", &missing);
    *(void **)&api->str = load_sym(lib, "json_string_value", &missing);
    *(void **)&api->strlen_ = load_sym(lib, "json_string_length", &missing);
    *(void **)&api->integer = load_sym(lib, "json_integer_value", &missing);
    *(void **)&api->del = load_sym(lib, "json_delete", &missing);
    if (missing) {
        snprintf(why, whylen, "libjansson.so.4 lacks a needed function");
        return -1;
    }
    return 0;
}

typedef struct peer_arm {
    bench_lines *lines;
    cjson_api cj;
    jansson_api jn;
    uint64_t checksum;
} peer_arm;

/* A key or user value as text: a string, or an integer written in decimal (as weir does). */
static int cjson_text(const cJSON *it, char *tmp, const char **s, size_t *n)
{
    if (!it)
        return -1;
    if (it->type & cJSON_String) {
        *s = it->valuestring;
        *n = strlen(it->valuestring);
        return 0;
    }
    if (it->type & cJSON_Number) {
        *n = (size_t)snprintf(tmp, 32, "%lld", (long long)it->valuedouble);
        *s = tmp;
        return 0;
    }
    return -1;
}

static double cjson_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    peer_arm *a = opaque;
    const bench_lines *l = a->lines;
    uint64_t ok = 0, mix = 0;
    char kt[32], ut[32];
    double t0 = bench_now();
    for (size_t i = 0; i < l->n; i++) {
        cJSON *root = a->cj.parse(l->buf + l->off[i], l->len[i]);
        if (!root)
            continue;
        const cJSON *k = a->cj.get(root, "product_id");
        const cJSON *u = a->cj.get(root, "user_id");
        const cJSON *t = a->cj.get(root, "timestamp");
        const char *ks, *us;
        size_t kn, un;
        fields f;
        int good = cjson_text(k, kt, &ks, &kn) == 0 && cjson_text(u, ut, &us, &un) == 0 && t;
        if (good && (t->type & cJSON_String))
            good = ts_from_text(t->valuestring, strlen(t->valuestring), &f.ts) == 0;
        else if (good && (t->type & cJSON_Number))
            f.ts = ts_from_int((int64_t)t->valuedouble);
        else
            good = 0;
        if (good) {
            mix += peer_mix(&f, ks, kn, us, un);
            ok++;
        }
        a->cj.del(root);
    }
    return run_done(l, ok, mix, bench_now() - t0, &a->checksum, events, "cJSON: ", err, errlen);
}

static int jansson_text(const jansson_api *api, const json_t *it, char *tmp, const char **s,
                        size_t *n)
{
    if (!it)
        return -1;
    if (json_typeof(it) == JSON_STRING) {
        *s = api->str(it);
        *n = api->strlen_(it);
        return 0;
    }
    if (json_typeof(it) == JSON_INTEGER) {
        *n = (size_t)snprintf(tmp, 32, "%lld", (long long)api->integer(it));
        *s = tmp;
        return 0;
    }
    return -1;
}

static double jansson_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    peer_arm *a = opaque;
    const bench_lines *l = a->lines;
    uint64_t ok = 0, mix = 0;
    char kt[32], ut[32];
    json_error_t jerr;
    double t0 = bench_now();
    for (size_t i = 0; i < l->n; i++) {
        json_t *root = a->jn.loadb(l->buf + l->off[i], l->len[i], 0, &jerr);
        if (!root)
            continue;
        const json_t *k = a->jn.get(root, "product_id");
        const json_t *u = a->jn.get(root, "user_id");
        const json_t *t = a->jn.get(root, "timestamp");
        const char *ks, *us;
        size_t kn, un;
        fields f;
        int good = jansson_text(&a->jn, k, kt, &ks, &kn) == 0 &&
                   jansson_text(&a->jn, u, ut, &us, &un) == 0 && t;
        if (good && json_typeof(t) == JSON_STRING)
            good = ts_from_text(a->jn.str(t), a->jn.strlen_(t), &f.ts) == 0;
        else if (good && json_typeof(t) == JSON_INTEGER)
            f.ts = ts_from_int((int64_t)a->jn.integer(t));
        else
            good = 0;
        if (good) {
            mix += peer_mix(&f, ks, kn, us, un);
            ok++;
        }
        /* The root's reference count is 1: json_decref would call json_delete. */
        a->jn.del(root);
    }
    return run_done(l, ok, mix, bench_now() - t0, &a->checksum, events, "jansson: ", err, errlen);
}

/* jsmn (header-only, strict mode) tokenizes; the three members are then found among the
 * top-level tokens. jsmn alone accepts some invalid JSON (a missing comma or colon), so
 * this is a lower bound of what a validating decoder built on it costs. */
static int jsmn_text(const char *js, const jsmntok_t *t, const char **s, size_t *n)
{
    if (t->type != JSMN_STRING && t->type != JSMN_PRIMITIVE)
        return -1;
    *s = js + t->start;
    *n = (size_t)(t->end - t->start);
    return 0;
}

static int jsmn_key_is(const char *js, const jsmntok_t *t, const char *name, size_t len)
{
    return t->type == JSMN_STRING && (size_t)(t->end - t->start) == len &&
           memcmp(js + t->start, name, len) == 0;
}

static double jsmn_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    peer_arm *a = opaque;
    const bench_lines *l = a->lines;
    uint64_t ok = 0, mix = 0;
    jsmntok_t toks[64];
    double t0 = bench_now();
    for (size_t i = 0; i < l->n; i++) {
        const char *js = l->buf + l->off[i];
        jsmn_parser parser;
        jsmn_init(&parser);
        int nt = jsmn_parse(&parser, js, l->len[i], toks, 64);
        if (nt < 1 || toks[0].type != JSMN_OBJECT)
            continue;
        const jsmntok_t *k = NULL, *u = NULL, *t = NULL;
        int j = 1;
        for (int m = 0; m < toks[0].size && j + 1 < nt; m++) {
            const jsmntok_t *key = &toks[j], *val = &toks[j + 1];
            if (jsmn_key_is(js, key, "product_id", 10))
                k = val;
            else if (jsmn_key_is(js, key, "user_id", 7))
                u = val;
            else if (jsmn_key_is(js, key, "timestamp", 9))
                t = val;
            /* Skip the value and its children. */
            int end = val->end;
            j += 2;
            while (j < nt && toks[j].start < end)
                j++;
        }
        const char *ks, *us;
        size_t kn, un;
        fields f;
        int good =
            k && u && t && jsmn_text(js, k, &ks, &kn) == 0 && jsmn_text(js, u, &us, &un) == 0;
        if (good && t->type == JSMN_STRING)
            good = ts_from_text(js + t->start, (size_t)(t->end - t->start), &f.ts) == 0;
        else if (good && t->type == JSMN_PRIMITIVE)
            f.ts = ts_from_int(strtoll(js + t->start, NULL, 10));
        else
            good = 0;
        if (good) {
            mix += peer_mix(&f, ks, kn, us, un);
            ok++;
        }
    }
    return run_done(l, ok, mix, bench_now() - t0, &a->checksum, events, "jsmn: ", err, errlen);
}

/* ---------------------------------------------------------------- the scenarios */

/* peer: 0 none, 1 cJSON, 2 jansson, 3 jsmn. */
static int decode_scenario(bench_ctx *ctx, int peer)
{
    peer_arm pa;
    memset(&pa, 0, sizeof pa);
    char why[512];
    if (peer == 1 && cjson_load(&pa.cj, why, sizeof why) != 0)
        return bench_skip(ctx, "%s", why);
    if (peer == 2 && jansson_load(&pa.jn, why, sizeof why) != 0)
        return bench_skip(ctx, "%s", why);

    weir_gen_params p;
    bench_gen_params(ctx, ctx->events, &p);
    const char *path = bench_json_file(ctx, &p);
    if (!path)
        return -1;
    char file[512];
    snprintf(file, sizeof file, "%s", path);
    bench_lines lines;
    if (bench_lines_load(ctx, file, &lines) != 0)
        return -1;
    weir_conf *conf = weir_conf_new();
    decode_arm wa = {&lines, conf ? weir_decoder_new(conf, why, sizeof why) : NULL, 0};
    weir_conf_destroy(conf);
    if (!wa.dec) {
        bench_lines_free(&lines);
        return bench_fail(ctx, "decoder: %s", why);
    }
    pa.lines = &lines;
    bench_arm arms[3];
    int n = 0;
    static const char *const PEER_NAMES[] = {"", "cJSON 1.7", "jansson 2.14",
                                             "jsmn 1.1 (strict, tokens only)"};
    static const char *const ARM_NAMES[] = {"", "decode-cjson", "decode-jansson", "decode-jsmn"};
    static const bench_run_fn PEER_FNS[] = {NULL, cjson_run, jansson_run, jsmn_run};
    const char *peer_name = PEER_NAMES[peer];
    if (peer)
        arms[n++] = BENCH_ARM(ARM_NAMES[peer], PEER_FNS[peer], &pa);
    arms[n++] = BENCH_ARM("decode (weir)", weir_decode_run, &wa);
    arms[n++] = BENCH_ARM("scan", bench_scan_run, file);
    int rc = bench_measure(ctx, arms, n);
    if (rc == 0) {
        const bench_arm *mine = &arms[peer ? 1 : 0];
        bench_report_main(ctx, &arms[0]);
        bench_report_vs_scan(ctx, &arms[0], &arms[n - 1]);
        bench_stats s = bench_arm_stats(&arms[0]);
        bench_json_num(&ctx->out, "ns_per_event", 1e9 / s.median, 1);
        bench_json_num(&ctx->out, "bytes_per_event", (double)lines.size / (double)lines.n, 1);
        if (peer) {
            bench_stats w = bench_arm_stats(mine);
            bench_json_str(&ctx->out, "peer", peer_name);
            bench_json_num(&ctx->out, "weir_events_per_sec_median", w.median, 0);
            bench_json_num(&ctx->out, "weir_over_peer", w.median / s.median, 3);
            /* Same fields, same parsed timestamps, same hashes: the checksums agree. */
            int same = pa.checksum == wa.checksum;
            bench_json_raw(&ctx->out, "same_fields_as_weir", same ? "true" : "false");
            bench_say("  weir/%s = %.2fx (%s); extracted fields %s", peer_name, w.median / s.median,
                      "same process, interleaved runs", same ? "identical" : "DIFFER");
            if (!same)
                rc = bench_fail(ctx, "the peer's fields differ from weir's");
        }
    }
    weir_decoder_destroy(wa.dec);
    bench_lines_free(&lines);
    return rc;
}

int bench_decode(bench_ctx *ctx)
{
    return decode_scenario(ctx, 0);
}

int bench_decode_cjson(bench_ctx *ctx)
{
    return decode_scenario(ctx, 1);
}

int bench_decode_jansson(bench_ctx *ctx)
{
    return decode_scenario(ctx, 2);
}

int bench_decode_jsmn(bench_ctx *ctx)
{
    return decode_scenario(ctx, 3);
}
