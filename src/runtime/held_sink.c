/* The held sink: Kafka-bound firings kept until the checkpoint that releases them. */
#include "runtime/held_sink.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/output_buf.h"
#include "state/bytes.h"
#include "util/buf.h"

static int reserve(weir__held *h, size_t more)
{
    if (h->len + more <= h->cap)
        return 0;
    uint8_t *n = weir__grow(h->log, &h->cap, h->len + more);
    if (!n)
        return -1;
    h->log = n;
    return 0;
}

static weir_err held_firing(weir_sink *s, const weir_firing *f)
{
    weir__held *h = (weir__held *)s;
    size_t need = weir__firing_json(s, f, &h->json, &h->json_cap);
    if (need == (size_t)-1)
        return WEIR_ERR_NOMEM;
    size_t klen = s->key_field ? f->key.len : 0;
    if (reserve(h, 1 + 4 + klen + 4 + need + 8) != 0)
        return WEIR_ERR_NOMEM;
    uint8_t *p = h->log + h->len;
    *p++ = s->key_field ? 1 : 0;
    weir__put_le32(p, (uint32_t)klen);
    p += 4;
    if (klen)
        memcpy(p, f->key.ptr, klen);
    p += klen;
    weir__put_le32(p, (uint32_t)need);
    p += 4;
    memcpy(p, h->json, need);
    p += need;
    weir__put_le64(p, (uint64_t)(f->window_end - 1));
    p += 8;
    h->len = (size_t)(p - h->log);
    h->count++;
    s->written++;
    return WEIR_OK;
}

static weir_err held_record(weir_sink *s, weir_slice rec, int32_t partition)
{
    (void)s;
    (void)rec;
    (void)partition;
    return WEIR_ERR_UNSUPPORTED;
}

static weir_err held_flush(weir_sink *s, int timeout_ms)
{
    (void)s;
    (void)timeout_ms;
    return WEIR_OK; /* held on purpose: a checkpoint releases them */
}

static void held_destroy(weir_sink *s)
{
    weir__held *h = (weir__held *)s;
    free(h->log);
    free(h->json);
    free(h);
}

static const weir_sink_ops HELD_OPS = {"held",     held_firing, held_record,
                                       held_flush, NULL,        held_destroy};

weir__held *weir__held_new(const char *key_field, const weir_agg_spec *aggs, size_t n_aggs)
{
    weir__held *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->base.ops = &HELD_OPS;
    h->base.key_field = key_field;
    h->base.aggs = aggs;
    h->base.n_aggs = n_aggs;
    return h;
}

size_t weir__held_next(const uint8_t *log, size_t len, size_t at, weir__held_entry *e, int *bad)
{
    *bad = 0;
    if (at >= len)
        return 0;
    if (len - at < 1 + 4 || log[at] > 1)
        goto bad;
    e->key = log[at] ? (const char *)log + at + 5 : NULL;
    size_t klen = weir__get_le32(log + at + 1);
    at += 5;
    /* An entry without a key has no key bytes: the log reads back as it was written. */
    if (klen > len - at || len - at - klen < 4 || (!e->key && klen))
        goto bad;
    e->key_len = klen;
    at += klen;
    size_t vlen = weir__get_le32(log + at);
    at += 4;
    if (vlen > len - at || len - at - vlen < 8)
        goto bad;
    e->val = (const char *)log + at;
    e->len = vlen;
    at += vlen;
    e->ts = (int64_t)weir__get_le64(log + at);
    return at + 8;
bad:
    *bad = 1;
    return 0;
}

weir_err weir__held_set(weir__held *h, const uint8_t *log, size_t len, uint64_t count)
{
    uint64_t n = 0;
    weir__held_entry e;
    int bad = 0;
    for (size_t at = 0; (at = weir__held_next(log, len, at, &e, &bad)) != 0;)
        n++;
    if (bad || n != count)
        return WEIR_ERR_CORRUPT;
    h->len = 0;
    h->count = 0;
    if (reserve(h, len) != 0)
        return WEIR_ERR_NOMEM;
    if (len)
        memcpy(h->log, log, len);
    h->len = len;
    h->count = count;
    return WEIR_OK;
}

void weir__held_clear(weir__held *h)
{
    h->len = 0;
    h->count = 0;
}

weir_err weir__held_put(weir__held *h, const char *key, size_t key_len, const char *val, size_t len,
                        int64_t ts)
{
    size_t klen = key ? key_len : 0;
    if (reserve(h, 1 + 4 + klen + 4 + len + 8) != 0)
        return WEIR_ERR_NOMEM;
    uint8_t *p = h->log + h->len;
    *p++ = key ? 1 : 0;
    weir__put_le32(p, (uint32_t)klen);
    p += 4;
    if (klen)
        memcpy(p, key, klen);
    p += klen;
    weir__put_le32(p, (uint32_t)len);
    p += 4;
    if (len)
        memcpy(p, val, len);
    p += len;
    weir__put_le64(p, (uint64_t)ts);
    h->len += 1 + 4 + klen + 4 + len + 8;
    h->count++;
    h->base.written++;
    return WEIR_OK;
}

int weir__held_is(const weir_sink *s)
{
    return s && s->ops == &HELD_OPS;
}
