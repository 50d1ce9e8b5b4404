/* libFuzzer target: DynamoDB Query answer pages, read by weir_ddb_query_items() (the
 * gateway's reads). Any bytes are refused or give items whose attributes can be listed,
 * found and written as JSON; the items written back as a page read the same, a limit of one
 * keeps the first, and LastEvaluatedKey is kept as a JSON object. */
#include "connectors/dynamodb_int.h"
#include "fuzz.h"

/* The items as a page again, every value as a string: a page reads them back unchanged. */
static void page_of(const weir_ddb_items *it, fz_buf *b)
{
    fz_str(b, "{\"Items\":[");
    for (size_t i = 0; i < weir_ddb_items_count(it); i++) {
        fz_str(b, i ? ",{" : "{");
        for (size_t j = 0; j < weir_ddb_items_attr_count(it, i); j++) {
            const weir_ddb_attr *a = weir_ddb_items_attr(it, i, j);
            if (j)
                fz_str(b, ",");
            fz_json_str(b, a->name, strlen(a->name));
            fz_str(b, ":{");
            fz_json_str(b, a->type, strlen(a->type));
            fz_str(b, ":");
            fz_json_str(b, a->value, strlen(a->value));
            fz_str(b, "}");
        }
        fz_str(b, "}");
    }
    fz_str(b, "],\"Count\":1}");
}

static void check_items(const weir_ddb_items *it)
{
    for (size_t i = 0; i < weir_ddb_items_count(it); i++) {
        size_t n = weir_ddb_items_attr_count(it, i);
        CHECK(weir_ddb_items_attr(it, i, n) == NULL);
        for (size_t j = 0; j < n; j++) {
            const weir_ddb_attr *a = weir_ddb_items_attr(it, i, j);
            CHECK(a && a->name && a->type && a->value);
            const weir_ddb_attr *f = weir_ddb_items_find(it, i, a->name);
            CHECK(f && !strcmp(f->name, a->name));
        }
        size_t need = weir_ddb_items_to_json(it, i, NULL, 0);
        char *js = malloc(need + 1), small[8];
        CHECK(js);
        CHECK(weir_ddb_items_to_json(it, i, js, need + 1) == need);
        CHECK(weir_ddb_items_to_json(it, i, small, sizeof small) == need);
        CHECK(js[0] == '{' && js[need - 1] == '}');
        CHECK(strncmp(small, js, sizeof small - 1) == 0);
        free(js);
    }
    CHECK(weir_ddb_items_attr_count(it, weir_ddb_items_count(it)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = (char *)fz_dup(data, size);
    weir_ddb_items *it = weir__ddb_items_new(), *one = weir__ddb_items_new();
    CHECK(it && one);
    char *last = NULL, *last1 = NULL;
    weir_err rc = weir__ddb_items_from_page(it, body, size, 0, &last);
    weir_err rc1 = weir__ddb_items_from_page(one, body, size, 1, &last1);
    free(body);
    CHECK(rc == WEIR_OK || rc == WEIR_ERR_PARSE);
    if (rc == WEIR_OK) {
        CHECK(rc1 == WEIR_OK);
        check_items(it);
        CHECK(weir_ddb_items_count(one) == (weir_ddb_items_count(it) ? 1u : 0u));
        if (last)
            CHECK(last[0] == '{' && last[strlen(last) - 1] == '}');
        CHECK(!last == !last1 && (!last || !strcmp(last, last1)));

        fz_buf b = {0}, b2 = {0};
        page_of(it, &b);
        weir_ddb_items *again = weir__ddb_items_new();
        char *last2 = NULL;
        CHECK(weir__ddb_items_from_page(again, (const char *)b.p, b.len, 0, &last2) == WEIR_OK);
        CHECK(!last2);
        page_of(again, &b2);
        CHECK(b.len == b2.len && !memcmp(b.p, b2.p, b.len));
        CHECK(weir_ddb_items_count(again) == weir_ddb_items_count(it));
        weir_ddb_items_destroy(again);
        free(b.p);
        free(b2.p);
    }
    free(last);
    free(last1);
    weir_ddb_items_destroy(it);
    weir_ddb_items_destroy(one);
    return 0;
}
