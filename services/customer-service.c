/* customer-service: customers, CRUD on /customers over the shared store; an email belongs to
 * one customer (409 otherwise). */
#include "lib/resource.h"

#include <stdio.h>
#include <string.h>

#define COLS "id, name, email, phone, address, created_at"

static const char *const SQL_INSERT =
    "INSERT INTO customers (name, email, phone, address, created_at)"
    " VALUES (?, ?, ?, ?, ?) RETURNING " COLS;
static const char *const SQL_GET = "SELECT " COLS " FROM customers WHERE id = ?";
static const char *const SQL_LIST = "SELECT " COLS " FROM customers ORDER BY id LIMIT ? OFFSET ?";
static const char *const SQL_UPDATE =
    "UPDATE customers SET name = COALESCE(?, name), email = COALESCE(?, email),"
    " phone = COALESCE(?, phone), address = COALESCE(?, address) WHERE id = ? RETURNING " COLS;
static const char *const SQL_DELETE = "DELETE FROM customers WHERE id = ?";

#define MAX_TEXT  4096
#define MAX_EMAIL 320

static json_t *row(svc_conn *c)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)svc_conn_int(c, 0), "name",
                     svc_conn_text(c, 1), "email", svc_conn_text(c, 2), "phone",
                     svc_conn_text(c, 3), "address", svc_conn_text(c, 4), "created_at",
                     svc_conn_text(c, 5));
}

static const svc_resource RES = {.name = "customer", .plural = "customers", .row = row};

typedef struct fields {
    const char *name, *email, *phone, *address;
} fields;

static bool read_fields(const json_t *o, bool create, fields *f, svc_resp *resp)
{
    if (!svc_json_str(o, "name", create, MAX_TEXT, &f->name, resp) ||
        !svc_json_str(o, "email", create, MAX_EMAIL, &f->email, resp) ||
        !svc_json_str(o, "phone", false, MAX_TEXT, &f->phone, resp) ||
        !svc_json_str(o, "address", false, MAX_TEXT, &f->address, resp))
        return false;
    if (f->name && !*f->name) {
        svc_resp_error(resp, 400, "field 'name' must not be empty");
        return false;
    }
    if (f->email) {
        const char *at = strchr(f->email, '@');
        if (!at || at == f->email || !at[1] || strchr(at + 1, '@') ||
            strpbrk(f->email, " \t\r\n")) {
            svc_resp_error(resp, 400, "field 'email' must be an address such as a@example.com");
            return false;
        }
    }
    return true;
}

static void create(const svc_req *req, svc_resp *resp)
{
    fields f = {0};
    json_t *o = svc_json_object(req->body, req->body_len, resp);
    if (o && read_fields(o, true, &f, resp)) {
        char now[32], dup[400];
        svc_now_iso(now, sizeof now);
        snprintf(dup, sizeof dup, "a customer with email %s exists", f.email);
        svc_val p[] = {SVC_S(f.name), SVC_S(f.email), SVC_S(f.phone ? f.phone : ""),
                       SVC_S(f.address ? f.address : ""), SVC_S(now)};
        svc_resource_one(&RES, req, resp, 201, SQL_INSERT, p, 5, 0, dup);
    }
    json_decref(o);
}

static void get_one(const svc_req *req, svc_resp *resp)
{
    int64_t id;
    if (!svc_resource_id(&RES, req, resp, &id))
        return;
    svc_val p[] = {SVC_I(id)};
    svc_resource_one(&RES, req, resp, 200, SQL_GET, p, 1, id, NULL);
}

static void list(const svc_req *req, svc_resp *resp)
{
    int64_t limit, offset;
    if (!svc_req_page(req, &limit, &offset, resp))
        return;
    svc_val p[] = {SVC_I(limit), SVC_I(offset)};
    svc_resource_list(&RES, req, resp, SQL_LIST, p, 2, limit, offset);
}

static void update(const svc_req *req, svc_resp *resp)
{
    int64_t id;
    fields f = {0};
    if (!svc_resource_id(&RES, req, resp, &id))
        return;
    json_t *o = svc_json_object(req->body, req->body_len, resp);
    if (o && read_fields(o, false, &f, resp)) {
        char dup[400];
        snprintf(dup, sizeof dup, "a customer with email %s exists", f.email ? f.email : "");
        svc_val p[] = {SVC_S(f.name), SVC_S(f.email), SVC_S(f.phone), SVC_S(f.address), SVC_I(id)};
        svc_resource_one(&RES, req, resp, 200, SQL_UPDATE, p, 5, id, dup);
    }
    json_decref(o);
}

static void delete (const svc_req *req, svc_resp *resp)
{
    svc_resource_delete(&RES, req, resp, SQL_DELETE, "orders");
}

static const svc_route routes[] = {
    {"POST", "/customers", create},        {"GET", "/customers", list},
    {"GET", "/customers/{id}", get_one},   {"PUT", "/customers/{id}", update},
    {"DELETE", "/customers/{id}", delete},
};

int main(int argc, char **argv)
{
    const svc_spec spec = {.name = "customer-service",
                           .default_listen = "127.0.0.1:8082",
                           .routes = routes,
                           .n_routes = sizeof routes / sizeof routes[0]};
    return svc_main(&spec, argc, argv);
}
