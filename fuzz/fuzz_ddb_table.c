/* libFuzzer target: DynamoDB DescribeTable answers, read when the sink starts. Any bytes
 * are refused or give a status and a partition key; that information written back as an
 * answer reads the same. */
#include "connectors/dynamodb_int.h"
#include "fuzz.h"

static void key(fz_buf *b, const char *name, const char *type)
{
    fz_str(b, "{\"AttributeName\":");
    fz_json_str(b, name, strlen(name));
    fz_str(b, ",\"KeyType\":\"");
    fz_str(b, type);
    fz_str(b, "\"}");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = (char *)fz_dup(data, size);
    weir_ddb_table_info info;
    char err[256];
    weir_err rc = weir__ddb_table_info_parse(body, size, &info, err, sizeof err);
    free(body);
    if (rc != WEIR_OK) {
        CHECK(rc == WEIR_ERR_PARSE && err[0]);
        return 0;
    }
    CHECK(memchr(info.status, 0, sizeof info.status) && info.status[0]);
    CHECK(memchr(info.partition_key, 0, sizeof info.partition_key) && info.partition_key[0]);
    CHECK(memchr(info.sort_key, 0, sizeof info.sort_key));

    fz_buf b = {0};
    fz_str(&b, "{\"Table\":{\"TableName\":\"t\",\"TableStatus\":");
    fz_json_str(&b, info.status, strlen(info.status));
    fz_str(&b, ",\"KeySchema\":[");
    key(&b, info.partition_key, "HASH");
    if (info.sort_key[0]) {
        fz_str(&b, ",");
        key(&b, info.sort_key, "RANGE");
    }
    fz_str(&b, "]}}");
    weir_ddb_table_info again;
    CHECK(weir__ddb_table_info_parse((const char *)b.p, b.len, &again, err, sizeof err) == WEIR_OK);
    CHECK(!strcmp(info.status, again.status) && !strcmp(info.partition_key, again.partition_key) &&
          !strcmp(info.sort_key, again.sort_key));
    free(b.p);
    return 0;
}
