/* Snapshot and restore of a window operator: msgpack, zstd-compressed, checksummed. */
#include <msgpack.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "operators/window_int.h"
#include "runtime/errbuf.h"
#include "state/bytes.h"
#include "util/buf.h"

/*
 * Byte layout (docs/SNAPSHOT.md), all integers little-endian:
 *   0  8  magic "WEIRSNAP"
 *   8  4  format version (3; version 2 is still read)
 *  12  4  kind (1: window operator)
 *  16  8  length of the msgpack body before compression
 *  24  8  length of the compressed body that follows the header
 *  32  8  XXH64 (seed 0) of the compressed body
 *  40  .  zstd frame of the msgpack body
 * The body is one msgpack array:
 *   [config, watermark, counters, windows]
 *   config    = [size_ms, allowed_lateness_ms, emit, global, [aggregate names]]
 *   watermark = [combined, [max event time per partition]]
 *   counters  = [accepted, late_dropped, late_accepted, late_firings, future_skewed,
 *                windows_created, windows_freed, keys_created, emissions]
 *   windows   = [[start, fired, dict_count, dict_values (bin),
 *                 [[key (bin), key hash, [aggregate state (bin), ...]], ...]], ...]
 * dict_values holds the dictionary's fingerprints, not its table (src/state/dict.h,
 * weir__dict_encode): sorted and Elias-Fano coded, some 7.3 bytes a value at a million
 * values instead of 12. The ids are numbered afresh in that order and every set of
 * dense ids is written through the new numbering (the aggregate's renumber()); a
 * restore interns the values in order, so each gets its new id. Version 2 held the
 * values in id order, 12 bytes each (low 64 bits, then 32 of the high half).
 * Key hashes are stored, not recomputed: the operator does not fix how callers hash.
 * The checksum is verified and the body fully validated before the operator is
 * touched, so a restore either replaces the whole state or changes nothing.
 */

#define MAGIC       "WEIRSNAP"
#define VERSION     3
#define KIND_WINDOW 1
#define HEADER      40
#define MAX_BODY    ((uint64_t)1 << 36)

/* Packs the dictionary; map[old id] receives each value's id in the snapshot. */
static int pack_dict(msgpack_packer *pk, const weir__dict *d, uint32_t *map)
{
    uint8_t *b;
    size_t n;
    if (weir__dict_encode(d, &b, &n, map) != 0)
        return -1;
    msgpack_pack_uint32(pk, d->count);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, b, n);
    free(b);
    return 0;
}

/* The snapshot's msgpack buffer: a write that fails (the buffer cannot grow) is remembered,
 * since the packing calls' results are not checked one by one. Without it a snapshot taken
 * while memory ran out came back WEIR_OK with elements missing from its body. */
typedef struct packbuf {
    msgpack_sbuffer sb;
    int failed;
} packbuf;

static int packbuf_write(void *data, const char *buf, size_t len)
{
    packbuf *p = data;
    if (!p->failed && msgpack_sbuffer_write(&p->sb, buf, len) != 0)
        p->failed = 1;
    return p->failed ? -1 : 0;
}

weir_err weir_window_op_snapshot(const weir_window_op *op, uint8_t **out, size_t *out_len)
{
    packbuf pb = {.failed = 0};
    msgpack_sbuffer_init(&pb.sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &pb, packbuf_write);
    weir_err rc = WEIR_ERR_NOMEM;
    uint8_t *agg_buf = NULL;
    size_t agg_cap = 0;
    uint32_t *map = NULL;
    size_t map_cap = 0;
    for (size_t a = 0; a < op->p.n_aggs; a++)
        if ((op->p.aggs[a].ops->flags & WEIR_AGG_NEEDS_DENSE_ID) && !op->p.aggs[a].ops->renumber) {
            rc = WEIR_ERR_UNSUPPORTED;
            goto done;
        }
    /* The sets are written whole: each window's log joins them first (a change of
     * representation, as when a set merges its pending ids to be written). */
    for (size_t wi = 0; wi < op->nwin; wi++)
        if (weir__win_flush(op, op->wins[wi]) != WEIR_OK)
            goto done;

    msgpack_pack_array(&pk, 4);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_int64(&pk, op->p.size_ms);
    msgpack_pack_int64(&pk, op->p.allowed_lateness_ms);
    msgpack_pack_int(&pk, (int)op->p.emit);
    msgpack_pack_int(&pk, op->p.global);
    msgpack_pack_array(&pk, op->p.n_aggs);
    for (size_t a = 0; a < op->p.n_aggs; a++) {
        const char *name = op->p.aggs[a].ops->name;
        msgpack_pack_str(&pk, strlen(name));
        msgpack_pack_str_body(&pk, name, strlen(name));
    }
    int parts = weir_watermark_partitions(op->wm);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int64(&pk, weir_watermark_current(op->wm));
    msgpack_pack_array(&pk, (size_t)parts);
    for (int i = 0; i < parts; i++)
        msgpack_pack_int64(&pk, weir_watermark_partition_max(op->wm, i));
    const weir_window_stats *s = &op->st;
    uint64_t counters[] = {s->accepted,      s->late_dropped,  s->late_accepted,
                           s->late_firings,  s->future_skewed, s->windows_created,
                           s->windows_freed, s->keys_created,  s->emissions};
    size_t nc = sizeof counters / sizeof counters[0];
    msgpack_pack_array(&pk, nc);
    for (size_t i = 0; i < nc; i++)
        msgpack_pack_uint64(&pk, counters[i]);
    msgpack_pack_array(&pk, op->nwin);
    for (size_t wi = 0; wi < op->nwin; wi++) {
        const weir__win *w = op->wins[wi];
        msgpack_pack_array(&pk, 5);
        msgpack_pack_int64(&pk, w->start);
        msgpack_pack_int(&pk, wi < op->nfired);
        if (w->dict.count > map_cap) {
            free(map);
            map_cap = w->dict.count;
            if (!(map = malloc(map_cap * sizeof *map)))
                goto done;
        }
        if (!op->need_dict) {
            msgpack_pack_uint32(&pk, 0);
            msgpack_pack_bin(&pk, 0);
        } else if (pack_dict(&pk, &w->dict, map) != 0) {
            goto done;
        }
        msgpack_pack_array(&pk, w->nkeys);
        for (uint32_t k = 0; k < w->nkeys; k++) {
            weir__kentry *e = weir__entry(op, w, k);
            msgpack_pack_array(&pk, 3);
            msgpack_pack_bin(&pk, e->klen);
            msgpack_pack_bin_body(&pk, weir__kentry_key(e), e->klen);
            msgpack_pack_uint64(&pk, e->hash);
            msgpack_pack_array(&pk, op->p.n_aggs);
            for (size_t a = 0; a < op->p.n_aggs; a++) {
                const weir_agg_spec *sp = &op->p.aggs[a];
                void *state = (uint8_t *)e + op->offs[a];
                /* A set of dense ids is written in the dictionary's new numbering. */
                _Alignas(max_align_t) uint8_t copy[256];
                int renumbered = (sp->ops->flags & WEIR_AGG_NEEDS_DENSE_ID) != 0;
                if (renumbered) {
                    memset(copy, 0, sp->ops->state_size);
                    weir_err e = sp->ops->renumber(copy, state, map, w->dict.count, sp->params);
                    if (e != WEIR_OK) {
                        rc = e;
                        goto done;
                    }
                    state = copy;
                }
                size_t need = sp->ops->serialized_size(state, sp->params);
                if (need > agg_cap) {
                    uint8_t *nb = weir__grow(agg_buf, &agg_cap, need);
                    if (!nb) {
                        if (renumbered)
                            sp->ops->free(copy, sp->params);
                        goto done;
                    }
                    agg_buf = nb;
                }
                size_t n = sp->ops->serialize(state, agg_buf, sp->params);
                if (renumbered)
                    sp->ops->free(copy, sp->params);
                msgpack_pack_bin(&pk, n);
                msgpack_pack_bin_body(&pk, agg_buf, n);
            }
        }
    }
    if (pb.failed)
        goto done;
    size_t bound = ZSTD_compressBound(pb.sb.size);
    uint8_t *buf = malloc(HEADER + bound);
    if (!buf)
        goto done;
    size_t clen = ZSTD_compress(buf + HEADER, bound, pb.sb.data, pb.sb.size, 3);
    if (ZSTD_isError(clen)) {
        free(buf);
        goto done;
    }
    memcpy(buf, MAGIC, 8);
    weir__put_le32(buf + 8, VERSION);
    weir__put_le32(buf + 12, KIND_WINDOW);
    weir__put_le64(buf + 16, pb.sb.size);
    weir__put_le64(buf + 24, clen);
    weir__put_le64(buf + 32, XXH64(buf + HEADER, clen, 0));
    *out = buf;
    *out_len = HEADER + clen;
    rc = WEIR_OK;
done:
    free(agg_buf);
    free(map);
    msgpack_sbuffer_destroy(&pb.sb);
    return rc;
}

/*
 * msgpack-c allocates room for every element an array or map header declares before it
 * reads them, so a crafted header could ask for terabytes. This walk checks that each
 * declared length fits in the bytes that remain (every element takes at least one byte)
 * before msgpack-c sees the body. Returns the end of the value, or NULL.
 */
static const uint8_t *mp_check(const uint8_t *p, const uint8_t *e, int depth)
{
    if (p >= e || depth > 32)
        return NULL;
    uint8_t b = *p++;
    uint64_t n = 0, elems = 0, skip = 0;
    size_t rem = (size_t)(e - p);
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return p;
    if (b >= 0x80 && b <= 0x8f)
        elems = 2 * (uint64_t)(b & 0x0f);
    else if (b >= 0x90 && b <= 0x9f)
        elems = b & 0x0f;
    else if (b >= 0xa0 && b <= 0xbf)
        skip = b & 0x1f;
    else {
        static const struct {
            uint8_t code, lenbytes, fixed, kind; /* kind: 0 fixed, 1 bytes, 2 array, 3 map, 4 ext */
        } T[] = {{0xc4, 1, 0, 1},  {0xc5, 2, 0, 1}, {0xc6, 4, 0, 1}, {0xc7, 1, 1, 4},
                 {0xc8, 2, 1, 4},  {0xc9, 4, 1, 4}, {0xca, 0, 4, 0}, {0xcb, 0, 8, 0},
                 {0xcc, 0, 1, 0},  {0xcd, 0, 2, 0}, {0xce, 0, 4, 0}, {0xcf, 0, 8, 0},
                 {0xd0, 0, 1, 0},  {0xd1, 0, 2, 0}, {0xd2, 0, 4, 0}, {0xd3, 0, 8, 0},
                 {0xd4, 0, 2, 0},  {0xd5, 0, 3, 0}, {0xd6, 0, 5, 0}, {0xd7, 0, 9, 0},
                 {0xd8, 0, 17, 0}, {0xd9, 1, 0, 1}, {0xda, 2, 0, 1}, {0xdb, 4, 0, 1},
                 {0xdc, 2, 0, 2},  {0xdd, 4, 0, 2}, {0xde, 2, 0, 3}, {0xdf, 4, 0, 3}};
        size_t i = 0;
        while (i < sizeof T / sizeof T[0] && T[i].code != b)
            i++;
        if (i == sizeof T / sizeof T[0])
            return NULL; /* 0xc1 is never used */
        if (rem < T[i].lenbytes)
            return NULL;
        for (int k = 0; k < T[i].lenbytes; k++)
            n = n << 8 | p[k]; /* msgpack lengths are big-endian */
        p += T[i].lenbytes;
        rem -= T[i].lenbytes;
        switch (T[i].kind) {
        case 0: skip = T[i].fixed; break;
        case 1: skip = n; break;
        case 2: elems = n; break;
        case 3: elems = 2 * n; break;
        default: skip = n + 1; break;
        }
    }
    if (skip)
        return skip <= rem ? p + skip : NULL;
    if (elems > rem)
        return NULL;
    for (uint64_t i = 0; i < elems; i++)
        if (!(p = mp_check(p, e, depth + 1)))
            return NULL;
    return p;
}

/* Reading helpers: each returns 0 when the object has the expected shape. */
static int get_i64(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return 0;
    }
    return -1;
}

static int get_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    *v = o->via.u64;
    return 0;
}

static const msgpack_object *arr(const msgpack_object *o, uint32_t n)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || (n != UINT32_MAX && o->via.array.size != n))
        return NULL;
    return o->via.array.ptr;
}

static void free_wins(const weir_window_op *op, weir__win **w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        weir__win_free(op, w[i]);
    free(w);
}

/* Rebuilds one window from its msgpack form into a fresh weir__win. On failure returns NULL
 * with *why WEIR_ERR_CORRUPT (errstr says what is malformed) or WEIR_ERR_NOMEM. */
static weir__win *load_window(weir_window_op *op, const msgpack_object *o, uint32_t version,
                              int *fired, weir_err *why, char *errstr, size_t errstr_size)
{
    *why = WEIR_ERR_CORRUPT;
    const msgpack_object *f = arr(o, 5);
    int64_t start, fl;
    uint64_t count;
    if (!f || get_i64(&f[0], &start) || get_i64(&f[1], &fl) || get_u64(&f[2], &count) ||
        f[3].type != MSGPACK_OBJECT_BIN || !arr(&f[4], UINT32_MAX)) {
        weir__errf(errstr, errstr_size, "snapshot: malformed window");
        return NULL;
    }
    if (((start % op->p.size_ms) + op->p.size_ms) % op->p.size_ms != 0 || (fl != 0 && fl != 1)) {
        weir__errf(errstr, errstr_size, "snapshot: window start not aligned to the window size");
        return NULL;
    }
    *fired = (int)fl;
    weir__win *w = weir__win_new(op, start);
    if (!w) {
        *why = WEIR_ERR_NOMEM;
        return NULL;
    }
    if (op->need_dict && version >= 3) {
        int r = count < UINT32_MAX ? weir__dict_decode(&w->dict, (const uint8_t *)f[3].via.bin.ptr,
                                                       f[3].via.bin.size, (uint32_t)count)
                                   : -2;
        if (r == -1)
            goto nomem;
        if (r != 0) {
            weir__errf(errstr, errstr_size, "snapshot: malformed dictionary");
            goto fail;
        }
    } else if (op->need_dict) {
        if (count >= UINT32_MAX || f[3].via.bin.size != count * 12) {
            weir__errf(errstr, errstr_size, "snapshot: malformed dictionary");
            goto fail;
        }
        weir__dict_free(&w->dict);
        if (weir__dict_init(&w->dict, (uint32_t)count) != 0)
            goto nomem;
        /* Interning the values in id order gives each its id back; a repeated value
         * would not, and is refused. */
        const uint8_t *b = (const uint8_t *)f[3].via.bin.ptr;
        for (uint64_t i = 0; i < count; i++) {
            uint32_t id = weir__dict_intern(&w->dict, weir__get_le64(b + 12 * i),
                                            weir__get_le32(b + 12 * i + 8));
            if (id == UINT32_MAX)
                goto nomem;
            if (id != i) {
                weir__errf(errstr, errstr_size, "snapshot: repeated dictionary value");
                goto fail;
            }
        }
    } else if (count != 0 || f[3].via.bin.size != 0) {
        weir__errf(errstr, errstr_size, "snapshot: unexpected dictionary");
        goto fail;
    }
    uint32_t nkeys = f[4].via.array.size;
    for (uint32_t k = 0; k < nkeys; k++) {
        const msgpack_object *ke = arr(&f[4].via.array.ptr[k], 3);
        const msgpack_object *aggs = ke ? arr(&ke[2], (uint32_t)op->p.n_aggs) : NULL;
        uint64_t h;
        if (!ke || ke[0].type != MSGPACK_OBJECT_BIN || !aggs || get_u64(&ke[1], &h)) {
            weir__errf(errstr, errstr_size, "snapshot: malformed key entry");
            goto fail;
        }
        const char *key = ke[0].via.bin.ptr;
        uint32_t klen = ke[0].via.bin.size;
        uint32_t before = w->nkeys;
        weir__kentry *e = weir__win_key(op, w, h, klen ? key : "", klen);
        if (!e)
            goto nomem;
        op->st.keys_created--; /* win_key counts a creation; a restore creates nothing */
        op->st.live_keys--;
        if (w->nkeys == before) {
            weir__errf(errstr, errstr_size, "snapshot: duplicate key in a window");
            goto fail;
        }
        for (size_t a = 0; a < op->p.n_aggs; a++) {
            const weir_agg_spec *sp = &op->p.aggs[a];
            void *state = (uint8_t *)e + op->offs[a];
            sp->ops->free(state, sp->params);
            memset(state, 0, sp->ops->state_size);
            weir_err de = aggs[a].type != MSGPACK_OBJECT_BIN
                              ? WEIR_ERR_CORRUPT
                              : sp->ops->deserialize(state, (const uint8_t *)aggs[a].via.bin.ptr,
                                                     aggs[a].via.bin.size, sp->params);
            if (de != WEIR_OK) {
                /* Leave a valid empty state so that freeing the window is safe. */
                memset(state, 0, sp->ops->state_size);
                sp->ops->init(state, sp->params);
                if (de == WEIR_ERR_NOMEM)
                    goto nomem;
                weir__errf(errstr, errstr_size, "snapshot: malformed %s state", sp->ops->name);
                goto fail;
            }
            if (op->need_dict && (sp->ops->flags & WEIR_AGG_NEEDS_DENSE_ID)) {
                /* Every id of a set must name a value of the dictionary. */
                _Alignas(max_align_t) uint8_t copy[256];
                memset(copy, 0, sp->ops->state_size);
                weir_err e = sp->ops->renumber(copy, state, NULL, (uint32_t)count, sp->params);
                if (e == WEIR_ERR_NOMEM)
                    goto nomem;
                if (e != WEIR_OK) {
                    weir__errf(errstr, errstr_size,
                               "snapshot: a %s state holds an id its dictionary does not have",
                               sp->ops->name);
                    goto fail;
                }
            }
        }
    }
    return w;
nomem:
    *why = WEIR_ERR_NOMEM;
fail:
    weir__win_free(op, w);
    return NULL;
}

weir_err weir_window_op_restore(weir_window_op *op, const uint8_t *buf, size_t len, char *errstr,
                                size_t errstr_size)
{
    if (len < HEADER || memcmp(buf, MAGIC, 8) != 0) {
        weir__errf(errstr, errstr_size, "snapshot: not a weir snapshot (bad magic or too short)");
        return WEIR_ERR_CORRUPT;
    }
    uint32_t version = weir__get_le32(buf + 8), kind = weir__get_le32(buf + 12);
    if (version < 2 || version > VERSION || kind != KIND_WINDOW) {
        weir__errf(errstr, errstr_size,
                   "snapshot: format version %u kind %u, this build reads versions 2 to %u kind %u",
                   version, kind, VERSION, KIND_WINDOW);
        return WEIR_ERR_UNSUPPORTED;
    }
    uint64_t raw_len = weir__get_le64(buf + 16), clen = weir__get_le64(buf + 24);
    if (clen != len - HEADER || raw_len > MAX_BODY) {
        weir__errf(errstr, errstr_size, "snapshot: truncated or oversized (%zu bytes)", len);
        return WEIR_ERR_CORRUPT;
    }
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* Fuzz builds skip the checksum so that mutated bodies reach the checks behind it. */
    if (XXH64(buf + HEADER, clen, 0) != weir__get_le64(buf + 32)) {
        weir__errf(errstr, errstr_size, "snapshot: checksum mismatch");
        return WEIR_ERR_CORRUPT;
    }
#endif
    unsigned long long fsz = ZSTD_getFrameContentSize(buf + HEADER, clen);
    if (fsz != raw_len) {
        weir__errf(errstr, errstr_size, "snapshot: compressed body does not match its header");
        return WEIR_ERR_CORRUPT;
    }
    char *body = malloc(raw_len ? raw_len : 1);
    if (!body)
        return WEIR_ERR_NOMEM;
    size_t got = ZSTD_decompress(body, raw_len, buf + HEADER, clen);
    if (ZSTD_isError(got) || got != raw_len) {
        free(body);
        weir__errf(errstr, errstr_size, "snapshot: cannot decompress the body");
        return WEIR_ERR_CORRUPT;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    weir_err rc = WEIR_ERR_CORRUPT;
    weir__win **wins = NULL;
    size_t nw = 0, nfired = 0;
    weir_window_stats saved = op->st;
    int64_t *maxima = NULL;
    msgpack_unpack_return ur = MSGPACK_UNPACK_PARSE_ERROR;
    if (mp_check((const uint8_t *)body, (const uint8_t *)body + raw_len, 0) !=
            (const uint8_t *)body + raw_len ||
        (ur = msgpack_unpack_next(&up, body, raw_len, &off)) != MSGPACK_UNPACK_SUCCESS ||
        off != raw_len) {
        if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
            rc = WEIR_ERR_NOMEM;
        else
            weir__errf(errstr, errstr_size, "snapshot: malformed body");
        goto done;
    }
    const msgpack_object *top = arr(&up.data, 4);
    const msgpack_object *cfg = top ? arr(&top[0], 5) : NULL;
    const msgpack_object *wmo = top ? arr(&top[1], 2) : NULL;
    const msgpack_object *cnt = top ? arr(&top[2], 9) : NULL;
    if (!cfg || !wmo || !cnt || !arr(&top[3], UINT32_MAX) || !arr(&wmo[1], UINT32_MAX) ||
        !arr(&cfg[4], UINT32_MAX)) {
        weir__errf(errstr, errstr_size, "snapshot: malformed body");
        goto done;
    }
    int64_t size, late, emit, global;
    if (get_i64(&cfg[0], &size) || get_i64(&cfg[1], &late) || get_i64(&cfg[2], &emit) ||
        get_i64(&cfg[3], &global)) {
        weir__errf(errstr, errstr_size, "snapshot: malformed configuration");
        goto done;
    }
    int same_aggs = cfg[4].via.array.size == op->p.n_aggs;
    for (size_t a = 0; same_aggs && a < op->p.n_aggs; a++) {
        const msgpack_object *n = &cfg[4].via.array.ptr[a];
        const char *name = op->p.aggs[a].ops->name;
        same_aggs = n->type == MSGPACK_OBJECT_STR && n->via.str.size == strlen(name) &&
                    memcmp(n->via.str.ptr, name, n->via.str.size) == 0;
    }
    if (size != op->p.size_ms || late != op->p.allowed_lateness_ms || emit != (int)op->p.emit ||
        global != op->p.global || !same_aggs) {
        weir__errf(errstr, errstr_size,
                   "snapshot: taken with window.size=%lldms window.allowed.lateness=%lldms "
                   "emit.mode=%s global=%s and other aggregates or not; this job has "
                   "window.size=%lldms window.allowed.lateness=%lldms emit.mode=%s global=%s "
                   "(start with empty state to change these)",
                   (long long)size, (long long)late, emit ? "final" : "updates",
                   global ? "true" : "false", (long long)op->p.size_ms,
                   (long long)op->p.allowed_lateness_ms, op->p.emit ? "final" : "updates",
                   op->p.global ? "true" : "false");
        rc = WEIR_ERR_INVALID_ARG;
        goto done;
    }
    int64_t combined;
    uint32_t nparts = wmo[1].via.array.size;
    if (get_i64(&wmo[0], &combined)) {
        weir__errf(errstr, errstr_size, "snapshot: malformed watermark");
        goto done;
    }
    maxima = calloc(nparts ? nparts : 1, sizeof(int64_t));
    if (!maxima) {
        rc = WEIR_ERR_NOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < nparts; i++)
        if (get_i64(&wmo[1].via.array.ptr[i], &maxima[i])) {
            weir__errf(errstr, errstr_size, "snapshot: malformed watermark");
            goto done;
        }
    uint64_t c[9];
    for (int i = 0; i < 9; i++)
        if (get_u64(&cnt[i], &c[i])) {
            weir__errf(errstr, errstr_size, "snapshot: malformed counters");
            goto done;
        }
    uint32_t nwin = top[3].via.array.size;
    wins = calloc(nwin ? nwin : 1, sizeof(*wins));
    if (!wins) {
        rc = WEIR_ERR_NOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < nwin; i++) {
        int fired;
        weir__win *w =
            load_window(op, &top[3].via.array.ptr[i], version, &fired, &rc, errstr, errstr_size);
        if (!w)
            goto done;
        rc = WEIR_ERR_CORRUPT;
        wins[nw++] = w;
        if ((i > 0 && wins[i - 1]->start >= w->start) || (fired && nfired != i)) {
            weir__errf(errstr, errstr_size, "snapshot: windows out of order");
            goto done;
        }
        nfired += (size_t)fired;
    }
    /* Everything is valid: replace the operator's state. */
    for (size_t i = 0; i < op->nwin; i++)
        weir__win_free(op, op->wins[i]);
    free(op->wins);
    op->wins = wins;
    op->nwin = op->capwin = nw;
    op->nfired = nfired;
    op->hot = 0;
    wins = NULL;
    nw = 0;
    weir_watermark_restore(op->wm, maxima, (int)nparts, combined);
    memset(&op->st, 0, sizeof op->st);
    op->st.accepted = c[0];
    op->st.late_dropped = c[1];
    op->st.late_accepted = c[2];
    op->st.late_firings = c[3];
    op->st.future_skewed = c[4];
    op->st.windows_created = c[5];
    op->st.windows_freed = c[6];
    op->st.keys_created = c[7];
    op->st.emissions = c[8];
    op->st.live_windows = op->nwin;
    for (size_t i = 0; i < op->nwin; i++)
        op->st.live_keys += op->wins[i]->nkeys;
    saved = op->st;
    rc = WEIR_OK;
done:
    op->st = saved;
    free_wins(op, wins, nw);
    free(maxima);
    msgpack_unpacked_destroy(&up);
    free(body);
    return rc;
}
