/* Internal: the parsers of DynamoDB's answers, so that the fuzz targets (fuzz/fuzz_ddb_*.c)
 * reach them without a network. Not part of the API. */
#ifndef WEIR_CONNECTORS_DYNAMODB_INT_H
#define WEIR_CONNECTORS_DYNAMODB_INT_H

#include <stddef.h>

#include "weir/dynamodb.h"

/* Fills `type` (the __type after '#', or "code") and `msg` ("message" or "Message") of an
 * error answer {"__type":"...#Name","message":"..."}; both "" when absent or malformed. */
void weir__ddb_parse_error(const char *body, size_t len, char *type, size_t tsize, char *msg,
                           size_t msize);

/* Reads a DescribeTable answer into `info`. WEIR_ERR_PARSE (reason in errstr) when it is
 * malformed or lacks TableStatus or the HASH key. */
weir_err weir__ddb_table_info_parse(const char *body, size_t len, weir_ddb_table_info *info,
                                    char *errstr, size_t errstr_size);

/* An empty set of items, as weir_ddb_query_items() starts with; NULL when out of memory.
 * Free it with weir_ddb_items_destroy(). */
weir_ddb_items *weir__ddb_items_new(void);

/* Appends the items of one Query page to `it` (at most `limit` in all, 0: no limit) and
 * sets *last to a malloc'd copy of LastEvaluatedKey's JSON, or NULL. WEIR_ERR_PARSE on a
 * malformed page, WEIR_ERR_NOMEM. */
weir_err weir__ddb_items_from_page(weir_ddb_items *it, const char *body, size_t len, size_t limit,
                                   char **last);

#endif
