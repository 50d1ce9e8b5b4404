/* libFuzzer target: the checkpoint-topic store (connectors/kafka_ckpt.c), whose manifests
 * and chunks are read back from a compacted topic at each restore. The target stands in for
 * the broker: the Makefile links it with the store's librdkafka calls wrapped (--wrap), so
 * that the store reads the messages of the input and writes to an in-memory topic.
 *
 * Checked: any messages are refused or give a payload that is exactly what some whole,
 * consistent manifest announces (every chunk, in order; its length and hash); the highest
 * sequence seen is reported; and that payload written again as a newer checkpoint is the one
 * read next.
 *
 * Input: messages of the stream "g/t/0", each u8 kind, u8 slot, u8 chunk index, u16 length
 * and the value. Kind & 3: 0 the manifest of a slot, 1 a chunk, 2 a manifest of another
 * stream, 3 a deletion (tombstone) of the slot's manifest. Kind & 4: fix the manifest's own
 * checksum and its payload hash (from the slot's chunks before it), which the fuzzer cannot. */
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <xxhash.h>

#include "fuzz.h"
#include "weir/kafka.h"

#define STREAM "g/t/0"

/* ---- the topic: one partition of messages ---- */

typedef struct msg {
    char *key;
    uint8_t *val; /* NULL: tombstone */
    size_t len;
} msg;

static msg *topic;
static size_t n_topic, cap_topic, next_read;
static rd_kafka_message_t polled;
static int fake_handle;

static void topic_add(const char *key, size_t key_len, const void *val, size_t len)
{
    if (n_topic == cap_topic) {
        cap_topic = cap_topic ? 2 * cap_topic : 64;
        topic = realloc(topic, cap_topic * sizeof *topic);
        CHECK(topic);
    }
    msg *m = &topic[n_topic++];
    m->key = strndup(key, key_len);
    m->val = val ? fz_dup(val, len) : NULL;
    m->len = len;
    CHECK(m->key);
}

static void topic_clear(void)
{
    for (size_t i = 0; i < n_topic; i++) {
        free(topic[i].key);
        free(topic[i].val);
    }
    n_topic = next_read = 0;
}

/* ---- librdkafka as the store uses it (see FUZZ_RDK_WRAP in the Makefile) ---- */

rd_kafka_t *__wrap_rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
                                size_t errstr_size);
rd_kafka_t *__wrap_rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
                                size_t errstr_size)
{
    (void)type;
    (void)errstr;
    (void)errstr_size;
    rd_kafka_conf_destroy(conf);
    return (rd_kafka_t *)&fake_handle;
}

void __wrap_rd_kafka_destroy(rd_kafka_t *rk);
void __wrap_rd_kafka_destroy(rd_kafka_t *rk)
{
    (void)rk;
}

rd_kafka_resp_err_t __wrap_rd_kafka_consumer_close(rd_kafka_t *rk);
rd_kafka_resp_err_t __wrap_rd_kafka_consumer_close(rd_kafka_t *rk)
{
    (void)rk;
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_topic_t *__wrap_rd_kafka_topic_new(rd_kafka_t *rk, const char *name,
                                            rd_kafka_topic_conf_t *conf);
rd_kafka_topic_t *__wrap_rd_kafka_topic_new(rd_kafka_t *rk, const char *name,
                                            rd_kafka_topic_conf_t *conf)
{
    (void)rk;
    (void)name;
    (void)conf;
    return (rd_kafka_topic_t *)&fake_handle;
}

void __wrap_rd_kafka_topic_destroy(rd_kafka_topic_t *t);
void __wrap_rd_kafka_topic_destroy(rd_kafka_topic_t *t)
{
    (void)t;
}

static struct rd_kafka_metadata_topic md_topic = {"checkpoints", 1, NULL, 0};
static struct rd_kafka_metadata md = {0, NULL, 1, &md_topic, 0, NULL};

rd_kafka_resp_err_t __wrap_rd_kafka_metadata(rd_kafka_t *rk, int all, rd_kafka_topic_t *only,
                                             const struct rd_kafka_metadata **out, int ms);
rd_kafka_resp_err_t __wrap_rd_kafka_metadata(rd_kafka_t *rk, int all, rd_kafka_topic_t *only,
                                             const struct rd_kafka_metadata **out, int ms)
{
    (void)rk;
    (void)all;
    (void)only;
    (void)ms;
    *out = &md;
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void __wrap_rd_kafka_metadata_destroy(const struct rd_kafka_metadata *m);
void __wrap_rd_kafka_metadata_destroy(const struct rd_kafka_metadata *m)
{
    (void)m;
}

rd_kafka_resp_err_t __wrap_rd_kafka_query_watermark_offsets(rd_kafka_t *rk, const char *t,
                                                            int32_t p, int64_t *lo, int64_t *hi,
                                                            int ms);
rd_kafka_resp_err_t __wrap_rd_kafka_query_watermark_offsets(rd_kafka_t *rk, const char *t,
                                                            int32_t p, int64_t *lo, int64_t *hi,
                                                            int ms)
{
    (void)rk;
    (void)t;
    (void)ms;
    CHECK(p == 0);
    *lo = 0;
    *hi = (int64_t)n_topic;
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t __wrap_rd_kafka_assign(rd_kafka_t *rk,
                                           const rd_kafka_topic_partition_list_t *list);
rd_kafka_resp_err_t __wrap_rd_kafka_assign(rd_kafka_t *rk,
                                           const rd_kafka_topic_partition_list_t *list)
{
    (void)rk;
    if (list) {
        CHECK(list->cnt == 1 && list->elems[0].partition == 0);
        next_read = (size_t)list->elems[0].offset;
    }
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_message_t *__wrap_rd_kafka_consumer_poll(rd_kafka_t *rk, int ms);
rd_kafka_message_t *__wrap_rd_kafka_consumer_poll(rd_kafka_t *rk, int ms)
{
    (void)rk;
    (void)ms;
    CHECK(next_read < n_topic); /* the store reads no further than the end it asked for */
    const msg *m = &topic[next_read];
    polled = (rd_kafka_message_t){
        RD_KAFKA_RESP_ERR_NO_ERROR, NULL, 0, m->val, m->len, m->key, strlen(m->key),
        (int64_t)next_read,         NULL};
    next_read++;
    return &polled;
}

void __wrap_rd_kafka_message_destroy(rd_kafka_message_t *m);
void __wrap_rd_kafka_message_destroy(rd_kafka_message_t *m)
{
    CHECK(m == &polled);
}

rd_kafka_resp_err_t __wrap_rd_kafka_producev(rd_kafka_t *rk, ...);
rd_kafka_resp_err_t __wrap_rd_kafka_producev(rd_kafka_t *rk, ...)
{
    (void)rk;
    va_list ap;
    va_start(ap, rk);
    const void *key = NULL, *val = NULL;
    size_t key_len = 0, len = 0;
    for (;;) {
        rd_kafka_vtype_t vt = va_arg(ap, rd_kafka_vtype_t);
        if (vt == RD_KAFKA_VTYPE_END)
            break;
        switch (vt) {
        case RD_KAFKA_VTYPE_TOPIC: (void)va_arg(ap, const char *); break;
        case RD_KAFKA_VTYPE_PARTITION: CHECK(va_arg(ap, int32_t) == 0); break;
        case RD_KAFKA_VTYPE_MSGFLAGS: (void)va_arg(ap, int); break;
        case RD_KAFKA_VTYPE_KEY:
            key = va_arg(ap, void *);
            key_len = va_arg(ap, size_t);
            break;
        case RD_KAFKA_VTYPE_VALUE:
            val = va_arg(ap, void *);
            len = va_arg(ap, size_t);
            break;
        default: CHECK(!"an argument the store does not pass");
        }
    }
    va_end(ap);
    CHECK(key);
    topic_add(key, key_len, val, len);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* ---- the target ---- */

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The latest value of `key` in the topic, or NULL (also for a tombstone). */
static const msg *latest(const char *key)
{
    for (size_t i = n_topic; i-- > 0;)
        if (!strcmp(topic[i].key, key))
            return topic[i].val ? &topic[i] : NULL;
    return NULL;
}

/* The payload the latest manifest of `slot` announces, put together from the latest
 * chunks, when the manifest has the weir layout (its sequence in *seq). `whole`: only when
 * every chunk is there and the manifest's checksums, length and payload hash agree. */
static uint8_t *announced(unsigned slot, int whole, size_t *len, uint64_t *seq)
{
    char key[64];
    snprintf(key, sizeof key, STREAM "|m%u", slot);
    const msg *m = latest(key);
    if (!m || m->len != 48 || memcmp(m->val, "WEIRMANI", 8) != 0)
        return NULL;
    uint32_t chunks = (uint32_t)get64(m->val + 12);
    *seq = get64(m->val + 16);
    fz_buf b = {0};
    fz_add(&b, "", 0);
    uint32_t i = 0;
    for (; i < chunks && i < 4096; i++) {
        snprintf(key, sizeof key, STREAM "|c%u.%u", slot, i);
        const msg *c = latest(key);
        if (!c || c->len < 32)
            break;
        fz_add(&b, c->val + 32, c->len - 32);
    }
    if (whole &&
        (i != chunks || get64(m->val + 24) != b.len || get64(m->val + 32) != XXH64(b.p, b.len, 0) ||
         get64(m->val + 40) != XXH64(m->val, 40, 0))) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

typedef struct got {
    uint8_t *payload;
    size_t len;
    int calls;
} got;

/* Accepts payloads of even length, so that refused ones make the store try older ones. */
static weir_err take(void *opaque, const uint8_t *p, size_t len, char *why, size_t size)
{
    got *g = opaque;
    g->calls++;
    if (len % 2) {
        snprintf(why, size, "odd");
        return WEIR_ERR_CORRUPT;
    }
    free(g->payload);
    g->payload = fz_dup(p, len);
    g->len = len;
    return WEIR_OK;
}

static weir_kafka_ckpt *store(void)
{
    static weir_kafka_ckpt *s;
    if (!s) {
        weir_conf *c = weir_conf_new();
        char err[256];
        CHECK(c && weir_conf_set(c, "brokers", "127.0.0.1:9", NULL, 0) == WEIR_OK);
        if (weir_kafka_ckpt_open(c, "checkpoints", 3, 1, &fake_handle, &s, err, sizeof err))
            fprintf(stderr, "%s\n", err);
        CHECK(s);
        weir_conf_destroy(c);
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weir_kafka_ckpt *s = store();
    topic_clear();
    for (size_t at = 0; at + 5 <= size;) {
        unsigned kind = data[at], slot = data[at + 1] % 4, idx = data[at + 2] % 8;
        size_t len = (size_t)data[at + 3] | (size_t)data[at + 4] << 8;
        at += 5;
        if (len > size - at)
            len = size - at;
        uint8_t *v = fz_dup(data + at, len);
        at += len;
        char key[64];
        switch (kind & 3) {
        case 0:
        case 3: snprintf(key, sizeof key, STREAM "|m%u", slot); break;
        case 1: snprintf(key, sizeof key, STREAM "|c%u.%u", slot, idx); break;
        default: snprintf(key, sizeof key, "g/t/1|m%u", slot); break;
        }
        if ((kind & 3) == 0 && (kind & 4) && len == 48) {
            size_t plen;
            uint64_t seq;
            topic_add(key, strlen(key), v, len);
            uint8_t *p = announced(slot, 0, &plen, &seq);
            n_topic--;
            free(topic[n_topic].key);
            free(topic[n_topic].val);
            if (p) {
                put64(v + 24, plen);
                put64(v + 32, XXH64(p, plen, 0));
                put64(v + 40, XXH64(v, 40, 0));
                free(p);
            }
        }
        topic_add(key, strlen(key), (kind & 3) == 3 ? NULL : v, len);
        free(v);
    }

    got g = {NULL, 0, 0};
    uint64_t max_seq = 0;
    char err[512] = "";
    weir_err rc =
        weir_kafka_ckpt_load(s, STREAM, 0, take, &g, &max_seq, NULL, NULL, err, sizeof err);
    CHECK(rc == WEIR_OK || rc == WEIR_ERR_NOT_FOUND || rc == WEIR_ERR_CORRUPT);
    CHECK(rc == WEIR_OK || !g.payload);
    if (rc == WEIR_OK) {
        /* Some slot's manifest announces exactly this payload. */
        int found = 0;
        uint64_t seq = 0;
        for (unsigned slot = 0; slot < 4 && !found; slot++) {
            size_t plen;
            uint8_t *p = announced(slot, 1, &plen, &seq);
            found = p && plen == g.len && !memcmp(p, g.payload, plen);
            free(p);
        }
        CHECK(found && seq <= max_seq);

        /* Written as the next checkpoint, it is what the store reads next; after 2^64-1 there
         * is no next one, and the write is refused rather than wrapped. */
        if (max_seq == UINT64_MAX) {
            CHECK(weir_kafka_ckpt_write(s, STREAM, 0, max_seq + 1, g.payload, g.len, err,
                                        sizeof err) == WEIR_ERR_STATE);
            free(g.payload);
            return 0;
        }
        CHECK(weir_kafka_ckpt_write(s, STREAM, 0, max_seq + 1, g.payload, g.len, err, sizeof err) ==
              WEIR_OK);
        got h = {NULL, 0, 0};
        uint64_t max2 = 0;
        CHECK(weir_kafka_ckpt_load(s, STREAM, 0, take, &h, &max2, NULL, NULL, err, sizeof err) ==
              WEIR_OK);
        CHECK(max2 == max_seq + 1 && h.calls == 1);
        CHECK(h.len == g.len && (!g.len || !memcmp(h.payload, g.payload, g.len)));
        free(h.payload);
    }
    free(g.payload);
    return 0;
}
