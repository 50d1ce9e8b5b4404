/* libFuzzer target: DynamoDB error answers ({"__type":"...#Name","message":"..."}), read by
 * every failed request. Any bytes give a type and a message that fit their buffers and a
 * class; the type and message written back as an error answer read the same. */
#include "connectors/dynamodb_int.h"
#include "fuzz.h"

static void parse(const char *body, size_t len, char type[128], char msg[512])
{
    memset(type, 0x55, 128);
    memset(msg, 0x55, 512);
    weir__ddb_parse_error(body, len, type, 128, msg, 512);
    CHECK(memchr(type, 0, 128) && memchr(msg, 0, 512));
    CHECK(!strchr(type, '#'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = (char *)fz_dup(data, size);
    char type[128], msg[512];
    parse(body, size, type, msg);
    static const long statuses[] = {0, 200, 400, 403, 404, 413, 429, 500, 503};
    for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++) {
        weir_err e = weir_ddb_classify(statuses[i], type);
        CHECK(weir_err_str(e) && weir_err_str(e)[0]);
        if (statuses[i] >= 200 && statuses[i] < 300)
            CHECK(e == WEIR_OK);
        else
            CHECK(e != WEIR_OK);
    }

    /* Written back as the service would: the same type and message. */
    fz_buf b = {0};
    fz_str(&b, "{\"__type\":");
    fz_buf t = {0};
    fz_str(&t, "com.amazonaws.dynamodb.v20120810#");
    fz_str(&t, type);
    fz_json_str(&b, (const char *)t.p, t.len);
    fz_str(&b, ",\"message\":");
    fz_json_str(&b, msg, strlen(msg));
    fz_str(&b, "}");
    char type2[128], msg2[512];
    parse((const char *)b.p, b.len, type2, msg2);
    CHECK(strcmp(type, type2) == 0 && strcmp(msg, msg2) == 0);
    free(t.p);
    free(b.p);
    free(body);
    return 0;
}
