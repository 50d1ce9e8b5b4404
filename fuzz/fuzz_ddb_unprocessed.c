/* libFuzzer target: the UnprocessedItems of a BatchWriteItem answer, which the sink sends
 * again. Any bytes are refused or give (partition key, sort key) pairs; those pairs written
 * back as an answer give the same pairs, in order. */
#include "connectors/dynamodb_int.h"
#include "fuzz.h"

#define TABLE "weir-fuzz"
#define PK    "product_id"
#define SK    "window_start"

typedef struct pairs {
    fz_buf keys; /* u32 length + bytes, pk then sk, per pair */
    size_t n;
} pairs;

static void on_pair(void *opaque, const char *pk, size_t pk_len, const char *sk, size_t sk_len)
{
    pairs *p = opaque;
    fz_le32(&p->keys, (uint32_t)pk_len);
    fz_add(&p->keys, pk, pk_len);
    fz_le32(&p->keys, (uint32_t)sk_len);
    fz_add(&p->keys, sk, sk_len);
    p->n++;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void attr(fz_buf *b, const char *name, const uint8_t *v, size_t n)
{
    fz_json_str(b, name, strlen(name));
    fz_str(b, ":{\"S\":");
    fz_json_str(b, (const char *)v, n);
    fz_str(b, "}");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = (char *)fz_dup(data, size);
    pairs got = {{0}, 0};
    weir_err rc = weir_ddb_batch_unprocessed(body, size, TABLE, PK, SK, on_pair, &got);
    free(body);
    CHECK(rc == WEIR_OK || rc == WEIR_ERR_PARSE);
    if (rc != WEIR_OK) {
        free(got.keys.p);
        return 0;
    }

    fz_buf b = {0};
    fz_str(&b, "{\"UnprocessedItems\":{\"" TABLE "\":[");
    size_t at = 0;
    for (size_t i = 0; i < got.n; i++) {
        const uint8_t *k = got.keys.p + at;
        uint32_t pl = get32(k), sl = get32(k + 4 + pl);
        fz_str(&b, i ? ",{\"PutRequest\":{\"Item\":{" : "{\"PutRequest\":{\"Item\":{");
        attr(&b, PK, k + 4, pl);
        fz_str(&b, ",");
        attr(&b, SK, k + 8 + pl, sl);
        fz_str(&b, "}}}");
        at += 8 + pl + sl;
    }
    fz_str(&b, "]},\"ConsumedCapacity\":[]}");
    pairs again = {{0}, 0};
    CHECK(weir_ddb_batch_unprocessed((const char *)b.p, b.len, TABLE, PK, SK, on_pair, &again) ==
          WEIR_OK);
    CHECK(again.n == got.n && again.keys.len == got.keys.len &&
          (!got.keys.len || memcmp(again.keys.p, got.keys.p, got.keys.len) == 0));
    free(b.p);
    free(got.keys.p);
    free(again.keys.p);
    return 0;
}
