/* libFuzzer target: field extraction must type any bytes without UB or leaks, and the spec
 * parsers (predicates, aggregate specs, keys) must accept or refuse any text the same way. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/fields.h"
#include "weir/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static weir_fields *f;
    static weir_pred *pred;
    static weir_key *key;
    if (!f) {
        weir_fields_new("ts", WEIR_TS_AUTO, 4096, &f, NULL, 0);
        weir_key_parse("k,m.k", f, &key, NULL, 0);
        weir_pred_parse("a.b = x and n > 2.5 and s != \"q\" and i <= 7", f, &pred, NULL, 0);
        weir_fields_add(f, "a", NULL, 0);
        weir_fields_add(f, "a.b.c", NULL, 0);
    }
    /* The bytes as a record. */
    weir_value v[16];
    int64_t ts;
    if (weir_fields_decode(f, (const char *)data, size, &ts, v) == WEIR_REC_OK) {
        volatile char sink = 0;
        for (size_t i = 0; i < weir_fields_count(f); i++)
            if (v[i].type == WEIR_VALUE_STRING)
                for (size_t k = 0; k < v[i].u.s.len; k++)
                    sink ^= v[i].u.s.ptr[k];
        (void)sink;
        (void)weir_pred_eval(pred, v);
        char kb[64];
        size_t n = weir_key_encode(key, v, kb, sizeof kb);
        weir_slice parts[2];
        if (n != (size_t)-1 && n <= sizeof kb && weir_key_parts(key, (weir_slice){kb, n}, parts))
            abort(); /* an encoded key always decodes */
    }
    weir_fields_reset(f);
    /* The bytes as specs, against a fresh field list. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    weir_fields *g;
    weir_fields_new("ts", WEIR_TS_AUTO, 4096, &g, NULL, 0);
    char err[256];
    weir_pred *p = NULL;
    if (weir_pred_parse(text, g, &p, err, sizeof err) == WEIR_OK)
        weir_pred_destroy(p);
    weir_aggs *a = weir_aggs_new(g, 14);
    weir_aggs_add(a, text, err, sizeof err);
    weir_aggs_destroy(a);
    weir_key *k = NULL;
    if (weir_key_parse(text, g, &k, err, sizeof err) == WEIR_OK)
        weir_key_destroy(k);
    weir_fields_destroy(g);
    free(text);
    return 0;
}
