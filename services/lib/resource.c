/* The handlers' shared shape for a resource over the store (resource.h). */
#include "resource.h"

#include <stdio.h>

svc_conn *svc_resource_conn(const svc_req *req, svc_resp *resp)
{
    char err[256];
    svc_conn *c = svc_conn_acquire(((svc_app *)req->app)->store, err, sizeof err);
    if (!c)
        svc_resp_error(resp, 503, "store unavailable: %s", err);
    return c;
}

bool svc_resource_id(const svc_resource *r, const svc_req *req, svc_resp *resp, int64_t *id)
{
    if (svc_parse_int(req->params[0], 1, INT64_MAX, id))
        return true;
    svc_resp_error(resp, 404, "no %s %s (ids are positive integers)", r->name, req->params[0]);
    return false;
}

void svc_resource_one(const svc_resource *r, const svc_req *req, svc_resp *resp, int status,
                      const char *sql, const svc_val *p, size_t n, int64_t id,
                      const char *unique_detail)
{
    svc_conn *c = svc_resource_conn(req, resp);
    if (!c)
        return;
    svc_store_err e = svc_conn_exec(c, sql, p, n);
    if (e == SVC_STORE_UNIQUE && unique_detail) {
        svc_resp_error(resp, 409, "%s", unique_detail);
    } else if (e != SVC_STORE_OK) {
        svc_resp_store(resp, e, c);
    } else if (svc_conn_next(c)) {
        if (status == 201) {
            snprintf(resp->header_name, sizeof resp->header_name, "Location");
            snprintf(resp->header_value, sizeof resp->header_value, "/%s/%lld", r->plural,
                     (long long)svc_conn_int(c, 0));
        }
        svc_resp_json(resp, status, r->row(c));
    } else if (status == 201) {
        svc_resp_error(resp, 500, "the insert returned no row");
    } else {
        svc_resp_error(resp, 404, "no %s %lld", r->name, (long long)id);
    }
    svc_conn_release(c);
}

void svc_resource_list(const svc_resource *r, const svc_req *req, svc_resp *resp, const char *sql,
                       const svc_val *p, size_t n, int64_t limit, int64_t offset)
{
    svc_conn *c = svc_resource_conn(req, resp);
    if (!c)
        return;
    svc_store_err e = svc_conn_exec(c, sql, p, n);
    if (e != SVC_STORE_OK) {
        svc_resp_store(resp, e, c);
    } else {
        json_t *items = json_array();
        while (items && svc_conn_next(c))
            if (json_array_append_new(items, r->row(c)) != 0) {
                json_decref(items);
                items = NULL;
            }
        /* Out of memory for a row or the page: a 500 (svc_resp_json of NULL), not a page
         * whose rows read null. */
        svc_resp_json(resp, 200,
                      items ? json_pack("{s:o, s:I, s:I}", r->plural, items, "limit",
                                        (json_int_t)limit, "offset", (json_int_t)offset)
                            : NULL);
    }
    svc_conn_release(c);
}

void svc_resource_delete(const svc_resource *r, const svc_req *req, svc_resp *resp, const char *sql,
                         const char *referrers)
{
    int64_t id;
    if (!svc_resource_id(r, req, resp, &id))
        return;
    svc_conn *c = svc_resource_conn(req, resp);
    if (!c)
        return;
    svc_val p[] = {SVC_I(id)};
    svc_store_err e = svc_conn_exec(c, sql, p, 1);
    if (e == SVC_STORE_FOREIGN)
        svc_resp_error(resp, 409, "%s %lld has %s", r->name, (long long)id, referrers);
    else if (e != SVC_STORE_OK)
        svc_resp_store(resp, e, c);
    else if (svc_conn_changes(c) == 0)
        svc_resp_error(resp, 404, "no %s %lld", r->name, (long long)id);
    else
        svc_resp_json(resp, 204, NULL);
    svc_conn_release(c);
}
