/* The shape product-, customer- and order-service's handlers share for one resource (a table
 * of rows with integer ids): the id in the path, a store connection, one statement whose rows
 * become the JSON answer, and the store's errors as their statuses. */
#ifndef SVC_RESOURCE_H
#define SVC_RESOURCE_H

#include "svc.h"

typedef struct svc_resource {
    const char *name;            /* "product": in "no product 7" */
    const char *plural;          /* "products": the list's key and the Location's path */
    json_t *(*row)(svc_conn *c); /* the current row as the resource's JSON (NULL: no memory) */
} svc_resource;

/* A store connection for req, or NULL with a 503 in resp. */
svc_conn *svc_resource_conn(const svc_req *req, svc_resp *resp);

/* The id in req's first path parameter, or false with a 404 in resp (ids are positive). */
bool svc_resource_id(const svc_resource *r, const svc_req *req, svc_resp *resp, int64_t *id);

/* Runs `sql` with p and answers its first row as JSON with `status`. 201 adds the Location
 * of the new row (its id is column 0) and makes no row a 500; otherwise no row is a 404 for
 * `id`. A unique violation is a 409 with `unique_detail` when it is not NULL; other store
 * errors as svc_resp_store(). */
void svc_resource_one(const svc_resource *r, const svc_req *req, svc_resp *resp, int status,
                      const char *sql, const svc_val *p, size_t n, int64_t id,
                      const char *unique_detail);

/* Runs `sql` with p (the page's limit and offset its last two parameters) and answers
 * {"<plural>": [rows], "limit": .., "offset": ..}. */
void svc_resource_list(const svc_resource *r, const svc_req *req, svc_resp *resp, const char *sql,
                       const svc_val *p, size_t n, int64_t limit, int64_t offset);

/* DELETE by the id in the path with `sql` (one parameter, the id): 204, 404 when nothing was
 * deleted, 409 when other rows refer to it ("<name> <id> has <referrers>"). */
void svc_resource_delete(const svc_resource *r, const svc_req *req, svc_resp *resp, const char *sql,
                         const char *referrers);

#endif
