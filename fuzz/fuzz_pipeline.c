/* libFuzzer target: the pipeline snapshot (weir_pipeline_restore), the state inside every
 * checkpoint: counters and the window operator's snapshot. Any bytes are refused, leaving
 * the pipeline as it was, or restored into a pipeline that works on; a restored pipeline's
 * snapshot restores to the same counters and the same snapshot.
 *
 * Input: u8 options (bit 0: fix the snapshot's checksum, which the fuzzer cannot compute;
 * bit 1: a pipeline of two partitions), then the snapshot. */
#include <xxhash.h>

#include "fuzz.h"
#include "weir/pipeline.h"

static weir_pipeline *pipeline(const weir_conf *c, unsigned opts)
{
    char err[256];
    weir_pipeline *p =
        weir_pipeline_new(c, (opts & 2) ? 2 : 1, NULL, 0, NULL, NULL, err, sizeof err);
    CHECK(p);
    return p;
}

static void snapshot(const weir_pipeline *p, fz_buf *b)
{
    uint8_t *s;
    size_t len;
    CHECK(weir_pipeline_snapshot(p, &s, &len) == WEIR_OK);
    fz_add(b, s, len);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static weir_conf *conf;
    if (!conf)
        CHECK((conf = weir_conf_new()) != NULL);
    if (size < 1)
        return 0;
    unsigned opts = data[0];
    uint8_t *b = fz_dup(data + 1, size - 1);
    size_t len = size - 1;
    if ((opts & 1) && len >= 8) {
        uint64_t h = XXH64(b, len - 8, 0);
        for (int i = 0; i < 8; i++)
            b[len - 8 + i] = (uint8_t)(h >> (8 * i));
    }
    weir_pipeline *p = pipeline(conf, opts);
    fz_buf before = {0};
    snapshot(p, &before);
    char err[512] = "";
    weir_err rc = weir_pipeline_restore(p, b, len, err, sizeof err);
    if (rc != WEIR_OK) {
        CHECK(rc == WEIR_ERR_CORRUPT || rc == WEIR_ERR_UNSUPPORTED || rc == WEIR_ERR_NOMEM ||
              rc == WEIR_ERR_INVALID_ARG);
        CHECK(err[0] && memchr(err, 0, sizeof err));
        fz_buf after = {0};
        snapshot(p, &after);
        CHECK(after.len == before.len && !memcmp(after.p, before.p, before.len));
        free(after.p);
    } else {
        fz_buf s1 = {0}, s2 = {0};
        snapshot(p, &s1);
        weir_pipeline *q = pipeline(conf, opts);
        CHECK(weir_pipeline_restore(q, s1.p, s1.len, err, sizeof err) == WEIR_OK);
        snapshot(q, &s2);
        CHECK(s1.len == s2.len && !memcmp(s1.p, s2.p, s1.len));
        weir_pipeline_stats a, c;
        weir_pipeline_stats_get(p, &a);
        weir_pipeline_stats_get(q, &c);
        CHECK(a.records == c.records && a.valid == c.valid && a.invalid == c.invalid);
        weir_pipeline_destroy(q);
        free(s1.p);
        free(s2.p);
        /* It works on. */
        const char *r = "{\"product_id\":\"p\",\"user_id\":\"u\",\"timestamp\":1704067200}";
        weir_record rec = {r, strlen(r), 0, 0};
        CHECK(weir_pipeline_push(p, &rec, 1, 1704067200000) == WEIR_OK);
        CHECK(weir_pipeline_tick(p, 1704067300000) == WEIR_OK);
        CHECK(weir_pipeline_finish(p) == WEIR_OK);
    }
    weir_pipeline_destroy(p);
    free(before.p);
    free(b);
    return 0;
}
