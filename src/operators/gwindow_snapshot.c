/* Snapshot and restore of the generic window operator: a binary body, zstd-compressed,
 * checksummed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "operators/gwindow_int.h"
#include "operators/watermark_int.h"
#include "runtime/errbuf.h"
#include "state/bytes.h"

/*
 * Byte layout (docs/SNAPSHOT.md, "Generic window operator"), integers little-endian:
 *   0  8  magic "WEIRGWIN"
 *   8  4  format version (1)
 *  12  4  0 (reserved)
 *  16  8  length of the body before compression
 *  24  8  length of the compressed body that follows the header
 *  32  8  XXH64 (seed 0) of the compressed body
 *  40  .  zstd frame of the body
 * The body:
 *   config:    u8 kind, u8 emit, i64 size, slide, offset, gap, allowed lateness,
 *              u32 aggregates, each u32 name length, the ops' name, i32 field
 *   watermark: i64 combined, i64 fired-up-to, u32 partitions, i64 max event time each
 *   counters:  u64 accepted, late_dropped, late_accepted, late_firings, future_skewed,
 *              emissions
 *   keys:      u32 count, each: u64 hash, u32 key length, key bytes, u32 blocks, each:
 *              i64 a (slice index or session start), i64 b (session end), u64 records,
 *              u8 fired, then per aggregate u32 length and the aggregate's serialize()
 * Blocks are written in order (strictly increasing a; sessions disjoint and not touching).
 * The pending fires and cleanups are not stored: a restore recomputes them from the blocks
 * and the watermark. Everything is validated before the operator is touched.
 */

#define MAGIC    "WEIRGWIN"
#define VERSION  1
#define HEADER   40
#define MAX_BODY ((uint64_t)1 << 36)

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} wbuf;

static uint8_t *wb_room(wbuf *w, size_t n)
{
    if (w->oom)
        return NULL;
    if (w->cap - w->n < n) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap - w->n < n)
            cap *= 2;
        uint8_t *p = realloc(w->p, cap);
        if (!p) {
            w->oom = 1;
            return NULL;
        }
        w->p = p;
        w->cap = cap;
    }
    uint8_t *r = w->p + w->n;
    w->n += n;
    return r;
}

static void wb_u8(wbuf *w, uint8_t v)
{
    uint8_t *p = wb_room(w, 1);
    if (p)
        *p = v;
}

static void wb_u32(wbuf *w, uint32_t v)
{
    uint8_t *p = wb_room(w, 4);
    if (p)
        weir__put_le32(p, v);
}

static void wb_u64(wbuf *w, uint64_t v)
{
    uint8_t *p = wb_room(w, 8);
    if (p)
        weir__put_le64(p, v);
}

static void wb_bytes(wbuf *w, const void *b, size_t n)
{
    uint8_t *p = wb_room(w, n);
    if (p && n)
        memcpy(p, b, n);
}

weir_err weir_gwindow_snapshot(const weir_gwindow *op, uint8_t **out, size_t *out_len)
{
    for (size_t a = 0; a < op->p.n_aggs; a++)
        if (!op->defs[a].ops->serialize)
            return WEIR_ERR_UNSUPPORTED;
    wbuf w = {0};
    const weir_window_spec *s = &op->p.spec;
    wb_u8(&w, (uint8_t)s->kind);
    wb_u8(&w, (uint8_t)op->p.emit);
    wb_u64(&w, (uint64_t)s->size_ms);
    wb_u64(&w, (uint64_t)s->slide_ms);
    wb_u64(&w, (uint64_t)s->offset_ms);
    wb_u64(&w, (uint64_t)s->gap_ms);
    wb_u64(&w, (uint64_t)op->L);
    wb_u32(&w, (uint32_t)op->p.n_aggs);
    for (size_t a = 0; a < op->p.n_aggs; a++) {
        const char *name = op->defs[a].ops->name;
        wb_u32(&w, (uint32_t)strlen(name));
        wb_bytes(&w, name, strlen(name));
        wb_u32(&w, (uint32_t)op->defs[a].field);
    }
    int parts = weir_watermark_partitions(op->wm);
    wb_u64(&w, (uint64_t)weir__wm_current(op->wm));
    wb_u64(&w, (uint64_t)op->wmv);
    wb_u32(&w, (uint32_t)parts);
    for (int i = 0; i < parts; i++)
        wb_u64(&w, (uint64_t)weir_watermark_partition_max(op->wm, i));
    const weir_gwindow_counters *c = &op->st;
    wb_u64(&w, c->accepted);
    wb_u64(&w, c->late_dropped);
    wb_u64(&w, c->late_accepted);
    wb_u64(&w, c->late_firings);
    wb_u64(&w, c->future_skewed);
    wb_u64(&w, c->emissions);
    wb_u32(&w, op->tcount);
    for (uint32_t i = 0; i < op->used_slots; i++) {
        const weir__gkey *k = op->keys[i];
        if (!k)
            continue;
        wb_u64(&w, k->hash);
        wb_u32(&w, k->klen);
        wb_bytes(&w, k->kbytes, k->klen);
        wb_u32(&w, k->n);
        for (uint32_t j = 0; j < k->n; j++) {
            const weir__gblock *b = k->bl[k->head + j].b;
            wb_u64(&w, (uint64_t)b->a);
            wb_u64(&w, (uint64_t)b->b);
            wb_u64(&w, b->records);
            wb_u8(&w, (uint8_t)b->fired);
            for (size_t a = 0; a < op->p.n_aggs; a++) {
                const weir_gagg_def *d = &op->defs[a];
                const uint8_t *st = (const uint8_t *)b + op->offs[a];
                size_t n = d->ops->serialized_size(st, d->params);
                wb_u32(&w, (uint32_t)n);
                uint8_t *p = wb_room(&w, n);
                if (p && d->ops->serialize(st, p, d->params) != n)
                    w.oom = 1; /* a lying aggregate: refuse rather than write garbage */
            }
        }
    }
    if (w.oom) {
        free(w.p);
        return WEIR_ERR_NOMEM;
    }
    size_t bound = ZSTD_compressBound(w.n);
    uint8_t *buf = malloc(HEADER + bound);
    if (!buf) {
        free(w.p);
        return WEIR_ERR_NOMEM;
    }
    size_t z = ZSTD_compress(buf + HEADER, bound, w.p, w.n, 1);
    free(w.p);
    if (ZSTD_isError(z)) {
        free(buf);
        return WEIR_ERR_NOMEM;
    }
    memcpy(buf, MAGIC, 8);
    weir__put_le32(buf + 8, VERSION);
    weir__put_le32(buf + 12, 0);
    weir__put_le64(buf + 16, w.n);
    weir__put_le64(buf + 24, z);
    weir__put_le64(buf + 32, XXH64(buf + HEADER, z, 0));
    *out = buf;
    *out_len = HEADER + z;
    return WEIR_OK;
}

/* ---------------------------------------------------------------- restore */

typedef struct rbuf {
    const uint8_t *p;
    size_t n, pos;
    int bad;
} rbuf;

static const uint8_t *rb_take(rbuf *r, size_t n)
{
    if (r->bad || r->n - r->pos < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint8_t rb_u8(rbuf *r)
{
    const uint8_t *p = rb_take(r, 1);
    return p ? *p : 0;
}

static uint32_t rb_u32(rbuf *r)
{
    const uint8_t *p = rb_take(r, 4);
    return p ? weir__get_le32(p) : 0;
}

static int64_t rb_i64(rbuf *r)
{
    const uint8_t *p = rb_take(r, 8);
    return p ? (int64_t)weir__get_le64(p) : 0;
}

/* Reads the config and checks it against op's. */
static weir_err read_config(const weir_gwindow *op, rbuf *r, char *errstr, size_t n)
{
    const weir_window_spec *s = &op->p.spec;
    int kind = rb_u8(r), emit = rb_u8(r);
    int64_t size = rb_i64(r), slide = rb_i64(r), offset = rb_i64(r), gap = rb_i64(r);
    int64_t L = rb_i64(r);
    uint32_t n_aggs = rb_u32(r);
    if (r->bad)
        return WEIR_ERR_CORRUPT;
    if (kind != (int)s->kind || size != s->size_ms || slide != s->slide_ms ||
        offset != s->offset_ms || gap != s->gap_ms) {
        weir__errf(errstr, n, "snapshot taken with another window spec");
        return WEIR_ERR_INVALID_ARG;
    }
    if (L != op->L || emit != (int)op->p.emit) {
        weir__errf(errstr, n, "snapshot taken with another allowed lateness or emission mode");
        return WEIR_ERR_INVALID_ARG;
    }
    if (n_aggs != op->p.n_aggs) {
        weir__errf(errstr, n, "snapshot has %u aggregates, the operator %zu", n_aggs, op->p.n_aggs);
        return WEIR_ERR_INVALID_ARG;
    }
    for (uint32_t a = 0; a < n_aggs; a++) {
        uint32_t len = rb_u32(r);
        const uint8_t *name = rb_take(r, len);
        int32_t field = (int32_t)rb_u32(r);
        if (r->bad)
            return WEIR_ERR_CORRUPT;
        const char *mine = op->defs[a].ops->name;
        if (strlen(mine) != len || memcmp(mine, name, len) != 0 || field != op->defs[a].field) {
            weir__errf(errstr, n, "snapshot aggregate %u is %.*s of field %d, not %s of field %d",
                       a + 1, (int)(len > 64 ? 64 : len), (const char *)name, (int)field, mine,
                       op->defs[a].field);
            return WEIR_ERR_INVALID_ARG;
        }
    }
    return WEIR_OK;
}

/* Reads every key and block into `t`, a fresh operator like op. */
static weir_err read_state(weir_gwindow *t, rbuf *r, char *errstr, size_t n)
{
    int64_t combined = rb_i64(r), wmv = rb_i64(r);
    uint32_t parts = rb_u32(r);
    if (r->bad || parts < 1 || parts > (1u << 20) || parts > (r->n - r->pos) / 8)
        return WEIR_ERR_CORRUPT;
    int64_t *maxima = malloc(parts * sizeof *maxima);
    if (!maxima)
        return WEIR_ERR_NOMEM;
    for (uint32_t i = 0; i < parts; i++)
        maxima[i] = rb_i64(r);
    weir_err rc = weir_watermark_set_partitions(t->wm, (int)parts);
    if (rc == WEIR_OK) {
        weir_watermark_restore(t->wm, maxima, (int)parts, combined);
        t->p.partitions = (int)parts;
    }
    free(maxima);
    if (rc != WEIR_OK)
        return rc;
    if (wmv > combined)
        return WEIR_ERR_CORRUPT;
    t->wmv = wmv;
    weir_gwindow_counters *c = &t->st;
    c->accepted = (uint64_t)rb_i64(r);
    c->late_dropped = (uint64_t)rb_i64(r);
    c->late_accepted = (uint64_t)rb_i64(r);
    c->late_firings = (uint64_t)rb_i64(r);
    c->future_skewed = (uint64_t)rb_i64(r);
    c->emissions = (uint64_t)rb_i64(r);
    uint32_t nkeys = rb_u32(r);
    if (r->bad)
        return WEIR_ERR_CORRUPT;
    int session = t->p.spec.kind == WEIR_WINDOW_SESSION;
    for (uint32_t i = 0; i < nkeys; i++) {
        uint64_t hash = (uint64_t)rb_i64(r);
        uint32_t klen = rb_u32(r);
        const uint8_t *kb = rb_take(r, klen);
        uint32_t nb = rb_u32(r);
        if (r->bad || nb == 0)
            return WEIR_ERR_CORRUPT;
        /* A duplicate key would be found here. */
        weir__gkey *k = NULL;
        for (uint32_t q = (uint32_t)hash & t->tmask; t->tab && t->tab[q]; q = (q + 1) & t->tmask) {
            weir__gkey *e = t->tab[q];
            if (e->hash == hash && e->klen == klen && memcmp(e->kbytes, kb, klen) == 0)
                return WEIR_ERR_CORRUPT;
        }
        k = weir__gkey_insert(t, hash, (const char *)kb, klen);
        if (!k)
            return WEIR_ERR_NOMEM;
        for (uint32_t j = 0; j < nb; j++) {
            int64_t a = rb_i64(r), b = rb_i64(r);
            uint64_t records = (uint64_t)rb_i64(r);
            uint8_t fired = rb_u8(r);
            if (r->bad || fired > 1 || records == 0)
                return WEIR_ERR_CORRUPT;
            if (k->n) {
                const weir__gblock *prev = k->bl[k->head + k->n - 1].b;
                if (session ? a <= prev->b : a <= prev->a)
                    return WEIR_ERR_CORRUPT;
            }
            if (session && a >= b)
                return WEIR_ERR_CORRUPT;
            weir__gblock *blk = weir__gwindow_mem(t, t->block_size);
            if (!blk)
                return WEIR_ERR_NOMEM;
            size_t a_ok = 0;
            weir_err arc = WEIR_OK;
            for (; a_ok < t->p.n_aggs; a_ok++) {
                const weir_gagg_def *d = &t->defs[a_ok];
                uint32_t len = rb_u32(r);
                const uint8_t *p = rb_take(r, len);
                if (r->bad) {
                    arc = WEIR_ERR_CORRUPT;
                    break;
                }
                arc = d->ops->deserialize((uint8_t *)blk + t->offs[a_ok], p, len, d->params);
                if (arc != WEIR_OK)
                    break;
            }
            if (arc != WEIR_OK) {
                for (size_t q = 0; q < a_ok; q++)
                    if (t->defs[q].ops->free)
                        t->defs[q].ops->free((uint8_t *)blk + t->offs[q], t->defs[q].params);
                weir__gwindow_mem_free(t, blk, t->block_size);
                if (arc == WEIR_ERR_CORRUPT)
                    weir__errf(errstr, n, "snapshot: a state of aggregate %zu is malformed",
                               a_ok + 1);
                return arc;
            }
            blk->a = a;
            blk->b = b;
            blk->records = records;
            blk->fired = fired;
            if (weir__gkey_append(k, blk) != 0) {
                weir__gblock_free(t, blk);
                return WEIR_ERR_NOMEM;
            }
            if (session)
                t->st.live_sessions++;
            else
                t->st.live_slices++;
        }
    }
    if (r->pos != r->n)
        return WEIR_ERR_CORRUPT;
    return weir__gwindow_reschedule(t) == 0 ? WEIR_OK : WEIR_ERR_NOMEM;
}

weir_err weir_gwindow_restore(weir_gwindow *op, const uint8_t *buf, size_t len, char *errstr,
                              size_t errstr_size)
{
    if (errstr && errstr_size)
        errstr[0] = 0;
    if (len < HEADER || memcmp(buf, MAGIC, 8) != 0) {
        weir__errf(errstr, errstr_size, "not a generic window snapshot (bad magic or size)");
        return WEIR_ERR_CORRUPT;
    }
    uint32_t version = weir__get_le32(buf + 8);
    if (version != VERSION) {
        weir__errf(errstr, errstr_size, "snapshot format version %u, this library reads %d",
                   version, VERSION);
        return WEIR_ERR_UNSUPPORTED;
    }
    uint64_t raw = weir__get_le64(buf + 16), z = weir__get_le64(buf + 24);
    if (z != len - HEADER || raw > MAX_BODY ||
        XXH64(buf + HEADER, (size_t)z, 0) != weir__get_le64(buf + 32)) {
        weir__errf(errstr, errstr_size, "snapshot truncated or checksum mismatch");
        return WEIR_ERR_CORRUPT;
    }
    unsigned long long fsz = ZSTD_getFrameContentSize(buf + HEADER, (size_t)z);
    if (fsz != raw) {
        weir__errf(errstr, errstr_size, "snapshot body is not the zstd frame it claims");
        return WEIR_ERR_CORRUPT;
    }
    uint8_t *body = malloc(raw ? (size_t)raw : 1);
    if (!body)
        return WEIR_ERR_NOMEM;
    size_t got = ZSTD_decompress(body, (size_t)raw, buf + HEADER, (size_t)z);
    if (ZSTD_isError(got) || got != raw) {
        free(body);
        weir__errf(errstr, errstr_size, "snapshot body does not decompress");
        return WEIR_ERR_CORRUPT;
    }
    rbuf r = {body, (size_t)raw, 0, 0};
    weir_err rc = read_config(op, &r, errstr, errstr_size);
    weir_gwindow *t = NULL;
    if (rc == WEIR_OK) {
        t = weir_gwindow_new(&op->p, op->emit, op->opaque, NULL, 0);
        rc = t ? read_state(t, &r, errstr, errstr_size) : WEIR_ERR_NOMEM;
    }
    free(body);
    if (rc == WEIR_ERR_CORRUPT && errstr && errstr_size && !errstr[0])
        weir__errf(errstr, errstr_size, "snapshot contents are malformed");
    if (rc != WEIR_OK) {
        weir_gwindow_destroy(t);
        return rc;
    }
    /* Swap the restored state in; the old (fresh) state goes with t. */
    weir_gwindow tmp = *op;
    weir_gwindow_late_fn lf = op->late_fn;
    void *lo = op->late_opaque;
    *op = *t;
    op->late_fn = lf;
    op->late_opaque = lo;
    op->p.aggs = op->defs;
    *t = tmp;
    t->p.aggs = t->defs;
    weir_gwindow_destroy(t);
    return WEIR_OK;
}
