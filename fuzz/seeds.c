/* weir-fuzz-seeds NAME DIR: writes the seed corpus of fuzz target NAME into DIR, made by the
 * library's own writers where there is one (snapshots, sketches, held logs, checkpoints), so
 * that the fuzzer starts from inputs that pass the checks and explores around them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "fuzz.h"
#include "runtime/held_sink.h"
#include "runtime/meaning.h"
#include "support/gen.h"
#include "weir/hll.h"
#include "weir/pipeline.h"

static const char *dir;
static int count;

static void seed(const char *name, const void *b, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "weir-fuzz-seeds: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    count++;
}

static void seed_text(const char *name, const char *s)
{
    seed(name, s, strlen(s));
}

/* A seed of an options byte followed by `b`. */
static void seed_opt(const char *name, unsigned opts, const void *b, size_t len)
{
    fz_buf s = {0};
    uint8_t o = (uint8_t)opts;
    fz_add(&s, &o, 1);
    fz_add(&s, b, len);
    seed(name, s.p, s.len);
    free(s.p);
}

/* `events` generated JSON lines (mixed encodings, some malformed) in one buffer. */
static char *gen_lines(uint64_t events, uint64_t seed_no, double bad, size_t *len)
{
    weir_gen_params gp;
    weir_gen_defaults(&gp);
    gp.events = events;
    gp.products = 5;
    gp.users = 50;
    gp.rate = 10;
    gp.seed = seed_no;
    gp.bad_fraction = bad;
    gp.mixed_encodings = 1;
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    CHECK(f && weir_gen_write(&gp, f) == 0);
    fclose(f);
    return text;
}

/* A pipeline of `partitions` that has read `events` generated records. */
static weir_pipeline *fed_pipeline(const weir_conf *c, int partitions, uint64_t events)
{
    char err[256];
    weir_pipeline *p = weir_pipeline_new(c, partitions, NULL, 0, NULL, NULL, err, sizeof err);
    CHECK(p);
    size_t len;
    char *text = gen_lines(events, events + 1, 0.1, &len);
    int64_t off = 0;
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        weir_record r = {line, n, (int32_t)(off % partitions), off};
        CHECK(weir_pipeline_push(p, &r, 1, 1704067200000LL) == WEIR_OK);
        line += n + 1;
        off++;
    }
    free(text);
    return p;
}

static void pipeline_snapshot(const weir_pipeline *p, fz_buf *b)
{
    uint8_t *s;
    size_t len;
    CHECK(weir_pipeline_snapshot(p, &s, &len) == WEIR_OK);
    fz_add(b, s, len);
    free(s);
}

/* One seed "gen-K" per generated line (mixed encodings, a fraction `bad` malformed). */
static void seed_lines(uint64_t events, uint64_t seed_no, double bad)
{
    size_t len;
    char *text = gen_lines(events, seed_no, bad, &len);
    int k = 0;
    for (char *line = text; line < text + len; k++) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        char name[32];
        snprintf(name, sizeof name, "gen-%d", k);
        seed(name, line, n);
        line += n + 1;
    }
    free(text);
}

static void seeds_decode(void)
{
    seed_lines(40, 7, 0.3);
    seed_text("nested",
              "{\"metadata\":{\"type\":\"k\"},\"a\":{\"b\":{\"c\":\"u\"}},\"timestamp\":1}");
}

/* Records (generated lines, nested values, escapes, numbers) and the spec texts the target
 * also parses: an aggregate, a predicate, a composite key. */
static void seeds_fields(void)
{
    seed_lines(30, 11, 0.3);
    seed_text("rec", "{\"ts\":1,\"k\":\"a\",\"m\":{\"k\":7},\"a\":{\"b\":\"x\",\"c\":null},"
                     "\"n\":3.5,\"s\":\"\\u00e9\"}");
    seed_text("agg", "sum(total_price) where status != \"cancelled\" and n >= 1e3 as revenue");
    seed_text("pred", "a.b = x and n > -2.5 and s != \"q\\\"r\"");
    seed_text("key", "region,m.shop");
}

static void seeds_hll(void)
{
    static const int ps[] = {4, 7, 10, 12, 14};
    static const long ns[] = {0, 3, 200, 5000};
    uint64_t st = 1;
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
        for (size_t j = 0; j < sizeof ns / sizeof *ns; j++) {
            weir_hll *h;
            CHECK(weir_hll_new(ps[i], &h) == WEIR_OK);
            for (long v = 0; v < ns[j]; v++)
                weir_hll_add(h, weir_gen_next(&st));
            size_t len = weir_hll_serialized_size(h);
            uint8_t *b = malloc(len);
            CHECK(b && weir_hll_serialize(h, b, len) == len);
            char name[32];
            snprintf(name, sizeof name, "p%d-n%ld", ps[i], ns[j]);
            seed(name, b, len);
            free(b);
            weir_hll_destroy(h);
        }
}

static void seeds_snapshot(const weir_conf *c)
{
    for (int k = 0; k < 3; k++) {
        weir_pipeline *p = fed_pipeline(c, 1, 10u << (3 * k));
        uint8_t *s;
        size_t len;
        CHECK(weir_window_op_snapshot(weir_pipeline_operator(p), &s, &len) == WEIR_OK);
        char name[32];
        snprintf(name, sizeof name, "op-%d", k);
        seed(name, s, len);
        free(s);
        weir_pipeline_destroy(p);
    }
}

static void seeds_pipeline(const weir_conf *c)
{
    for (int k = 0; k < 3; k++) {
        int parts = k == 2 ? 2 : 1;
        weir_pipeline *p = fed_pipeline(c, parts, 10u << (3 * k));
        fz_buf b = {0};
        pipeline_snapshot(p, &b);
        char name[32];
        snprintf(name, sizeof name, "pipe-%d", k);
        seed_opt(name, parts == 2 ? 3 : 1, b.p, b.len);
        free(b.p);
        weir_pipeline_destroy(p);
    }
}

static void seeds_ddb_error(void)
{
    seed_text("throttle",
              "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
              "ProvisionedThroughputExceededException\",\"message\":\"Rate exceeded\"}");
    seed_text("notfound",
              "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
              "ResourceNotFoundException\",\"message\":\"Requested resource not found\"}");
    seed_text("auth", "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\","
                      "\"Message\":\"The security token included in the request is invalid.\"}");
    seed_text("code", "{\"code\":\"ValidationException\",\"message\":\"esc \\\"q\\\" \\u00e9 "
                      "\\ud83d\\ude00 \\n\"}");
    seed_text("empty", "");
}

static void seeds_ddb_table(void)
{
    seed_text("two-keys",
              "{\"Table\":{\"AttributeDefinitions\":[{\"AttributeName\":\"product_id\","
              "\"AttributeType\":\"S\"},{\"AttributeName\":\"window_start\",\"AttributeType\":"
              "\"S\"}],\"TableName\":\"weir\",\"KeySchema\":[{\"AttributeName\":\"product_id\","
              "\"KeyType\":\"HASH\"},{\"AttributeName\":\"window_start\",\"KeyType\":\"RANGE\"}],"
              "\"TableStatus\":\"ACTIVE\",\"ItemCount\":0}}");
    seed_text("hash-only", "{\"Table\":{\"TableStatus\":\"CREATING\",\"KeySchema\":[{\"KeyType\":"
                           "\"HASH\",\"AttributeName\":\"k\\u00e9\"}]}}");
}

static void seeds_ddb_unprocessed(void)
{
    seed_text("none", "{\"UnprocessedItems\":{}}");
    seed_text("two",
              "{\"UnprocessedItems\":{\"weir-fuzz\":[{\"PutRequest\":{\"Item\":{"
              "\"product_id\":{\"S\":\"p1\"},\"window_start\":{\"S\":"
              "\"2024-01-01T00:00:00.000Z\"},\"unique_user_count\":{\"N\":\"3\"}}}},"
              "{\"PutRequest\":{\"Item\":{\"window_start\":{\"S\":\"w\\\"2\"},\"product_id\":"
              "{\"S\":\"p\\u00e92\"}}}}]},\"ConsumedCapacity\":[]}");
}

static void seeds_ddb_query(void)
{
    seed_text("page",
              "{\"Count\":2,\"Items\":[{\"product_id\":{\"S\":\"p1\"},\"window_start\":{\"S\":"
              "\"2024-01-01T00:00:00.000Z\"},\"unique_user_count\":{\"N\":\"17\"},\"ok\":{\"BOOL\":"
              "true},\"none\":{\"NULL\":true}},{\"m\":{\"M\":{\"a\":{\"S\":\"x\"}}},\"l\":{\"L\":[{"
              "\"N\":\"1\"}]},\"ss\":{\"SS\":[\"a\",\"b\"]},\"e\":{\"S\":\"\\u00e9\\n\"}}],"
              "\"LastEvaluatedKey\":{\"product_id\":{\"S\":\"p1\"}},\"ScannedCount\":2}");
    seed_text("empty", "{\"Count\":0,\"Items\":[],\"ScannedCount\":0}");
}

static weir_agg_spec AGGS[2];

/* A held log of `n` firings of a keyed (or global) job. */
static weir__held *held_log(int n, int keyed)
{
    weir__held *h = weir__held_new(keyed ? "product_id" : NULL, AGGS, 2);
    CHECK(h);
    for (int i = 0; i < n; i++) {
        uint64_t v[2] = {(uint64_t)i, (uint64_t)i * 3};
        char key[16];
        snprintf(key, sizeof key, "p\"%d", i);
        weir_firing f = {{key, strlen(key)}, 60000LL * i, 60000LL * (i + 1), i % 2, v, 2};
        CHECK(weir_sink_firing(&h->base, &f) == WEIR_OK);
    }
    return h;
}

static void seeds_held(void)
{
    for (int k = 0; k < 3; k++) {
        weir__held *h = held_log(k * 2, k != 1);
        char name[32];
        snprintf(name, sizeof name, "log-%d", k);
        seed(name, h->log, h->len);
        weir_sink_destroy(&h->base);
    }
}

static void seeds_kafka_payload(const weir_conf *c, const char *meaning)
{
    static const int32_t slots[3] = {2, 0, 1};
    for (unsigned opts = 0; opts < 4; opts++) {
        int global = opts & 1, results = (opts & 2) != 0;
        int np = global ? 3 : 1;
        weir_pipeline *p = fed_pipeline(c, np, 80);
        weir__held *h = results ? held_log(3, 1) : NULL;
        fz_buf b = {0};
        fz_add(&b, "WEIRKJOB", 8);
        fz_le32(&b, 1);
        fz_le32(&b, 0);
        fz_le64(&b, 5 + opts);
        fz_le32(&b, (uint32_t)np);
        for (int i = 0; i < np; i++) {
            fz_le32(&b, global ? (uint32_t)slots[i] : 3);
            fz_le64(&b, 100 + (uint64_t)i);
        }
        fz_le32(&b, (uint32_t)strlen(meaning));
        fz_str(&b, meaning);
        fz_le32(&b, results ? 2 : 0);
        for (int i = 0; i < (results ? 2 : 0); i++)
            fz_le64(&b, 40 + (uint64_t)i);
        fz_le64(&b, h ? h->count : 0);
        fz_le64(&b, h ? h->len : 0);
        if (h)
            fz_add(&b, h->log, h->len);
        fz_buf s = {0};
        pipeline_snapshot(p, &s);
        fz_le64(&b, s.len);
        fz_add(&b, s.p, s.len);
        char name[32];
        snprintf(name, sizeof name, "payload-%u", opts);
        seed_opt(name, opts, b.p, b.len);
        free(s.p);
        free(b.p);
        weir_sink_destroy(h ? &h->base : NULL);
        weir_pipeline_destroy(p);
    }
}

/* A checkpoint of `len` bytes as the store writes it (kafka_ckpt.c), as target messages. */
static void kafka_ckpt_messages(fz_buf *in, unsigned slot, uint64_t seq, const uint8_t *payload,
                                size_t len, size_t chunk, int fix)
{
    uint32_t count = (uint32_t)((len + chunk - 1) / chunk);
    if (!count)
        count = 1;
    for (uint32_t i = 0; i < count; i++) {
        size_t off = (size_t)i * chunk, n = len - off < chunk ? len - off : chunk;
        uint8_t head[5] = {1, (uint8_t)slot, (uint8_t)i, (uint8_t)(32 + n),
                           (uint8_t)((32 + n) >> 8)};
        fz_add(in, head, 5);
        fz_add(in, "WEIRCHNK", 8);
        fz_le32(in, 1);
        fz_le32(in, i);
        fz_le32(in, count);
        fz_le32(in, 0);
        fz_le64(in, seq);
        fz_add(in, payload + off, n);
    }
    fz_buf m = {0};
    fz_add(&m, "WEIRMANI", 8);
    fz_le32(&m, 1);
    fz_le32(&m, count);
    fz_le64(&m, seq);
    fz_le64(&m, len);
    fz_le64(&m, fix ? 0 : XXH64(payload, len, 0));
    fz_le64(&m, fix ? 0 : XXH64(m.p, 40, 0));
    uint8_t head[5] = {(uint8_t)(fix ? 4 : 0), (uint8_t)slot, 0, 48, 0};
    fz_add(in, head, 5);
    fz_add(in, m.p, m.len);
    free(m.p);
}

static void seeds_kafka_ckpt(void)
{
    uint8_t payload[300];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    fz_buf in = {0};
    kafka_ckpt_messages(&in, 0, 1, payload, 100, 64, 0);
    seed("one", in.p, in.len);
    kafka_ckpt_messages(&in, 1, 2, payload, 101, 40, 0); /* odd: refused, falls back */
    seed("fallback", in.p, in.len);
    kafka_ckpt_messages(&in, 2, 3, payload, 300, 128, 1);
    seed("three", in.p, in.len);
    uint8_t tomb[5] = {3, 2, 0, 0, 0};
    fz_add(&in, tomb, 5);
    seed("tombstone", in.p, in.len);
    free(in.p);
}

static void envelope(fz_buf *b, uint8_t seq_byte, uint64_t seq, const uint8_t *p, size_t len)
{
    fz_buf f = {0};
    fz_add(&f, "WEIRCKPT", 8);
    fz_le64(&f, 1);
    fz_le64(&f, seq);
    fz_le64(&f, len);
    fz_add(&f, p, len);
    fz_le64(&f, XXH64(f.p, f.len, 0));
    uint8_t head[3] = {seq_byte, (uint8_t)f.len, (uint8_t)(f.len >> 8)};
    fz_add(b, head, 3);
    fz_add(b, f.p, f.len);
    free(f.p);
}

static void seeds_file_envelope(void)
{
    uint8_t p[64];
    for (size_t i = 0; i < sizeof p; i++)
        p[i] = (uint8_t)(i * 13);
    fz_buf b = {0};
    fz_add(&b, "", 1);
    envelope(&b, 1, 1, p, 10);
    seed("one", b.p, b.len);
    envelope(&b, 2, 2, p, 11); /* odd: refused */
    seed("two", b.p, b.len);
    envelope(&b, 3, 3, p, 64);
    seed("three", b.p, b.len);
    fz_buf w = {0};
    fz_add(&w, "", 1);
    envelope(&w, 0xfe, UINT64_MAX - 1, p, 8);
    seed("near-wrap", w.p, w.len);
    free(w.p);
    free(b.p);
}

static void seeds_file_payload(const weir_conf *c, const char *meaning)
{
    const char *in = FZ_FILE_INPUT;
    size_t first = (size_t)(strchr(in, '\n') - in) + 1;
    size_t offs[2] = {first, strlen(in)};
    /* k = 0, 1: an earlier release's unversioned WEIRFJOB; k = 2, 3: version 2, WEIRFCKP. */
    for (int k = 0; k < 4; k++) {
        weir_pipeline *p = fed_pipeline(c, 1, 20u << (3 * (k & 1)));
        fz_buf b = {0};
        if (k < 2) {
            fz_add(&b, "WEIRFJOB", 8);
        } else {
            fz_add(&b, "WEIRFCKP", 8);
            fz_le32(&b, 2);
            fz_le32(&b, 0);
        }
        size_t off = offs[k & 1];
        fz_le64(&b, off);
        fz_le64(&b, XXH64(in, off, 0));
        fz_le64(&b, off);
        fz_le64(&b, (uint64_t)-1);
        fz_le64(&b, 120 * (uint64_t)(k & 1));
        fz_le64(&b, (uint64_t)-1);
        fz_le32(&b, (uint32_t)strlen(meaning));
        fz_str(&b, meaning);
        fz_buf s = {0};
        pipeline_snapshot(p, &s);
        fz_le64(&b, s.len);
        fz_add(&b, s.p, s.len);
        char name[32];
        snprintf(name, sizeof name, "payload-%d", k);
        seed_opt(name, (k & 1) ? 3 : 0, b.p, b.len);
        free(s.p);
        free(b.p);
        weir_pipeline_destroy(p);
    }
}

static void seeds_config(void)
{
    seed_text("keys", "# a comment\n\nwindow.size = 5min\nkey.field=product_id\n"
                      "watermark.out.of.orderness=10s\nkafka.fetch.wait.max.ms=100\n"
                      "output.path = out.jsonl \r\n");
    seed_text("bad", "window.size=abc\n");
    seed_text("bool", "idle.advance=true\ncheckpoint.interval=off\n");
}

static void seeds_duration(void)
{
    static const char *const d[] = {
        "250ms", "10s", "5min", "2m", "3h", "1d", "0", "9223372036854775807ms", "106751991167d"};
    for (size_t i = 0; i < sizeof d / sizeof *d; i++) {
        char name[32];
        snprintf(name, sizeof name, "d%zu", i);
        seed_text(name, d[i]);
    }
}

static void seeds_iso8601(void)
{
    static const char *const t[] = {"2024-01-01T00:00:00.000Z",    "2024-02-29T23:59:60Z",
                                    "1969-12-31 23:59:59,5+01:00", "0000-01-01T00:00:00-0130",
                                    "9999-12-31T23:59:59.999Z",    "2024-06-30t12:00:00+05"};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%zu", i);
        seed_text(name, t[i]);
    }
}

static void seeds_services_http(void)
{
    seed_text("route-1", "GET /products/1\n{\"name\":\"x\",\"price\":1.5,\"quantity\":2}");
    seed_text("route-2", "PATCH /orders/9\n{\"status\":\"PAID\"}");
    seed_text("route-3", "GET /a/1/b/2\n{\"email\":\"a@b\",\"x\":[1,{\"y\":null}]}");
}

/* Window specs, which fuzz_gwindow also reads its bytes as; its snapshot bodies start from
 * these too. */
static void seeds_gwindow(void)
{
    seed_text("spec-1", "tumble:1m");
    seed_text("spec-2", "hop:10s/2s");
    seed_text("spec-3", "session:30s");
    seed_text("spec-4", "tumble:1h@15m");
}

static void seeds_services_csv(void)
{
    seed_text("csv-1", "\xef\xbb\xbfname,price\r\n\"a, \"\"b\"\"\",1\n\n\"two\nlines\",2\n");
    seed_text("csv-2", "name,description,price\nx,\"never ends,5\n");
}

/* Upstream answers, after a first line that is read as an upstream URL. */
static void seeds_services_h1(void)
{
    seed_text("len", "http://127.0.0.1:8081/api\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n"
                     "Location: /p/1\r\n\r\n{\"a\": 1}");
    seed_text("chunked", "http://[::1]:80\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                         "Transfer-Encoding: chunked\r\nRetry-After: 1\r\n\r\n"
                         "3;x=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nT: 1\r\n\r\n");
    seed_text("close", "http://h\nHTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\n{}");
    seed_text("empty", "http://h:1\nHTTP/1.1 204 No Content\r\n\r\n");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: weir-fuzz-seeds NAME DIR\n");
        return 2;
    }
    const char *name = argv[1];
    dir = argv[2];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "weir-fuzz-seeds: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    AGGS[0] = (weir_agg_spec){&weir_agg_distinct_exact, "unique_user_count", NULL};
    AGGS[1] = (weir_agg_spec){&weir_agg_count, "event_count", NULL};
    weir_conf *c = weir_conf_new();
    char *meaning = weir__conf_meaning(c);
    CHECK(c && meaning);
    if (!strcmp(name, "decode"))
        seeds_decode();
    else if (!strcmp(name, "fields"))
        seeds_fields();
    else if (!strcmp(name, "hll"))
        seeds_hll();
    else if (!strcmp(name, "snapshot"))
        seeds_snapshot(c);
    else if (!strcmp(name, "pipeline"))
        seeds_pipeline(c);
    else if (!strcmp(name, "ddb_error"))
        seeds_ddb_error();
    else if (!strcmp(name, "ddb_table"))
        seeds_ddb_table();
    else if (!strcmp(name, "ddb_unprocessed"))
        seeds_ddb_unprocessed();
    else if (!strcmp(name, "ddb_query"))
        seeds_ddb_query();
    else if (!strcmp(name, "held"))
        seeds_held();
    else if (!strcmp(name, "kafka_payload"))
        seeds_kafka_payload(c, meaning);
    else if (!strcmp(name, "kafka_ckpt"))
        seeds_kafka_ckpt();
    else if (!strcmp(name, "file_envelope"))
        seeds_file_envelope();
    else if (!strcmp(name, "file_payload"))
        seeds_file_payload(c, meaning);
    else if (!strcmp(name, "config"))
        seeds_config();
    else if (!strcmp(name, "duration"))
        seeds_duration();
    else if (!strcmp(name, "iso8601"))
        seeds_iso8601();
    else if (!strcmp(name, "services_http"))
        seeds_services_http();
    else if (!strcmp(name, "services_csv"))
        seeds_services_csv();
    else if (!strcmp(name, "services_h1"))
        seeds_services_h1();
    else if (!strcmp(name, "gwindow"))
        seeds_gwindow();
    else {
        fprintf(stderr, "weir-fuzz-seeds: no seeds for %s\n", name);
        free(meaning);
        weir_conf_destroy(c);
        return 2;
    }
    free(meaning);
    weir_conf_destroy(c);
    return 0;
}
