/* Zero-copy decoding of JSON event records into weir_events: one validating pass
 * (the scanner is json_scan.h). */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "connectors/json_scan.h"
#include "weir/event.h"

/* A nested path ("metadata.session_id") re-scans the already validated member. */

#define MAX_PATH_DEPTH 8

typedef struct field_path {
    char *parts[MAX_PATH_DEPTH];
    size_t lens[MAX_PATH_DEPTH];
    int n;
} field_path;

typedef struct want_set want_set;

/* The members an object scan looks for: keys compared as written (field names are plain
 * ASCII). `lens` has bit min(length, 63) set for each, so most other keys are passed
 * over after one test. */
struct want_set {
    int n;
    uint64_t lens;
    const char *key[3];
    size_t len[3];
    /* When no two keys share a length and each is shorter than 63 bytes (direct = 1),
     * by_len[length] is the index of the only key of that length. */
    int direct;
    uint8_t by_len[63];
};

struct weir_decoder {
    field_path key, user, ts;
    int global;
    want_set want; /* the first part of each path, once each */
    int idx[3];    /* of key, user and timestamp in `want` */
    weir__ts_cache ts_cache;
    weir_ts_unit unit;
    size_t max_record;
    weir__scratch scratch;
};

static const char *const STATUS_NAMES[WEIR_REC_STATUS_COUNT] = {
    "ok",      "not_json",      "not_object", "no_key",
    "no_user", "bad_timestamp", "too_large",  "bad_encoding",
};

const char *weir_rec_status_name(weir_rec_status status)
{
    if ((unsigned)status >= WEIR_REC_STATUS_COUNT)
        return "unknown";
    return STATUS_NAMES[status];
}

static int path_init(field_path *fp, const char *spec)
{
    memset(fp, 0, sizeof *fp);
    if (!spec || !*spec)
        return -1;
    const char *p = spec;
    while (1) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || fp->n == MAX_PATH_DEPTH)
            return -1;
        fp->parts[fp->n] = strndup(p, len);
        if (!fp->parts[fp->n])
            return -2; /* out of memory */
        fp->lens[fp->n++] = len;
        if (!dot)
            return 0;
        p = dot + 1;
    }
}

static inline uint64_t len_bit(size_t n)
{
    return 1ull << (n < 63 ? n : 63);
}

static void path_free(field_path *fp)
{
    for (int i = 0; i < fp->n; i++)
        free(fp->parts[i]);
}

weir_decoder *weir_decoder_new(const weir_conf *conf, char *errstr, size_t errstr_size)
{
    weir_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    static const char *const names[3] = {"key.field", "user.field", "timestamp.field"};
    field_path *paths[3] = {&d->key, &d->user, &d->ts};
    d->global = weir_conf_get_bool(conf, "global");
    for (int i = 0; i < 3; i++) {
        if (i == 0 && d->global)
            continue;
        const char *v = weir_conf_get(conf, names[i]);
        int pr = path_init(paths[i], v);
        if (pr != 0) {
            if (pr == -1 && errstr && errstr_size)
                snprintf(errstr, errstr_size,
                         "%s: invalid value \"%s\": accepted values are field names or dotted "
                         "paths of at most %d non-empty parts",
                         names[i], v, MAX_PATH_DEPTH);
            weir_decoder_destroy(d);
            return NULL;
        }
    }
    /* The wanted top-level members: the first part of each path, once each. */
    want_set *w = &d->want;
    for (int i = 0; i < 3; i++) {
        d->idx[i] = 0;
        if (i == 0 && d->global)
            continue;
        int j = 0;
        while (j < w->n && !(w->len[j] == paths[i]->lens[0] &&
                             !memcmp(w->key[j], paths[i]->parts[0], w->len[j])))
            j++;
        if (j == w->n) {
            w->key[j] = paths[i]->parts[0];
            w->len[j] = paths[i]->lens[0];
            w->lens |= len_bit(w->len[j]);
            w->n++;
        }
        d->idx[i] = j;
    }
    w->direct = 1;
    for (int j = 0; j < w->n; j++) {
        for (int k = 0; k < j; k++)
            if (w->len[k] == w->len[j])
                w->direct = 0;
        if (w->len[j] >= 63)
            w->direct = 0;
        else
            w->by_len[w->len[j]] = (uint8_t)j;
    }
    const char *unit = weir_conf_get(conf, "timestamp.unit");
    d->unit = !strcmp(unit, "s")    ? WEIR_TS_SECONDS
              : !strcmp(unit, "ms") ? WEIR_TS_MILLIS
                                    : WEIR_TS_AUTO;
    d->max_record = (size_t)weir_conf_get_int(conf, "input.max.record.bytes");
    return d;
}

void weir_decoder_destroy(weir_decoder *d)
{
    if (!d)
        return;
    path_free(&d->key);
    path_free(&d->user);
    path_free(&d->ts);
    weir__scratch_free(&d->scratch);
    free(d);
}

void weir_decoder_reset(weir_decoder *d)
{
    weir__scratch_reset(&d->scratch);
}

/* Notes the members of `w` in found[i] (the last duplicate wins, as in most parsers). */
typedef struct want_ctx {
    const want_set *w;
    jv *found;
} want_ctx;

static ALWAYS_INLINE const char *want_member(void *ctx, const char *k, size_t klen, const char *p,
                                             const char *e, const char *lo, int depth)
{
    const want_ctx *c = ctx;
    const want_set *w = c->w;
    jv v;
    if (!(p = scan_value(p, e, lo, depth, &v)))
        return NULL;
    if (w->lens & len_bit(klen)) {
        if (w->direct) {
            int i = w->by_len[klen];
            if (same_bytes(k, w->key[i], klen))
                c->found[i] = v;
        } else {
            for (int i = 0; i < w->n; i++)
                if (klen == w->len[i] && same_bytes(k, w->key[i], klen))
                    c->found[i] = v;
        }
    }
    return p;
}

/* The object scan that notes the members of `w`: the record's top level and nested paths. */
static const char *scan_object_want(const char *p, const char *e, const char *lo, int depth,
                                    const want_set *w, jv *found)
{
    want_ctx c = {w, found};
    return object_members(p, e, lo, depth, want_member, &c);
}

/* A key or distinct value: a string, or an integer taken as its decimal text. */
static ALWAYS_INLINE int text_value(weir_decoder *d, const jv *v, weir_slice *out)
{
    if (v->type == 's') {
        if (v->esc)
            return weir__unescape(&d->scratch, v->p, v->n, out);
        out->ptr = v->p;
        out->len = v->n;
        return 0;
    }
    if (v->type != 'n')
        return -1;
    for (size_t i = v->p[0] == '-' ? 1 : 0; i < v->n; i++)
        if (v->p[i] < '0' || v->p[i] > '9')
            return -1;
    out->ptr = v->p;
    out->len = v->n;
    return 0;
}

/* Finds `p` starting from a top-level member already located as `v`. */
static ALWAYS_INLINE int resolve(const field_path *p, jv *v, int depth)
{
    for (int level = 1; level < p->n; level++) {
        if (v->type != 'o')
            return -1;
        want_set w = {.n = 1,
                      .lens = len_bit(p->lens[level]),
                      .key = {p->parts[level]},
                      .len = {p->lens[level]}};
        jv found[1] = {{0}};
        if (!scan_object_want(v->p, v->p + v->n, v->p, depth + level, &w, found) ||
            found[0].type == 0)
            return -1;
        *v = found[0];
    }
    return v->type ? 0 : -1;
}

weir_rec_status weir_decoder_decode(weir_decoder *d, const char *rec, size_t len, weir_event *out)
{
    if (len > d->max_record)
        return WEIR_REC_TOO_LARGE;
    const char *e = rec + len;
    const char *p = skip_ws(rec, e);
    if (p == e)
        return weir__refused(rec, len);
    jv found[3] = {{0}, {0}, {0}};
    if (*p == '{') {
        const char *end = scan_object_want(p, e, rec, 1, &d->want, found);
        if (!end || skip_ws(end, e) != e)
            return weir__refused(rec, len);
    } else {
        jv root;
        const char *end = scan_value(p, e, rec, 1, &root);
        if (end && skip_ws(end, e) == e)
            return WEIR_REC_NOT_OBJECT;
        return weir__refused(rec, len);
    }
    jv v;
    if (d->global) {
        out->key.ptr = "";
        out->key.len = 0;
        out->key_hash = 0;
    } else {
        v = found[d->idx[0]];
        if (resolve(&d->key, &v, 1) != 0 || text_value(d, &v, &out->key) != 0)
            return WEIR_REC_NO_KEY;
        out->key_hash = XXH3_64bits(out->key.ptr, out->key.len);
    }
    v = found[d->idx[1]];
    if (resolve(&d->user, &v, 1) != 0 || text_value(d, &v, &out->user) != 0)
        return WEIR_REC_NO_USER;
    v = found[d->idx[2]];
    if (resolve(&d->ts, &v, 1) != 0 ||
        parse_ts(&d->ts_cache, &d->scratch, d->unit, &v, &out->ts) != 0)
        return WEIR_REC_BAD_TIMESTAMP;
    XXH128_hash_t h = XXH3_128bits(out->user.ptr, out->user.len);
    out->user_fp[0] = h.low64;
    out->user_fp[1] = h.high64;
    out->raw.ptr = rec;
    out->raw.len = len;
    return WEIR_REC_OK;
}
