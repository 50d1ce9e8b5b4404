/* Calls from one service to another over HTTP (libcurl): connections kept alive and reused,
 * a connect and a total timeout on every call, and upstream failures turned into the JSON
 * errors a service answers with: 503 when the upstream is down (refused, unresolvable), 504
 * when it does not answer in time, 502 when it answers with something that is not HTTP/JSON. */
#ifndef SVC_CLIENT_H
#define SVC_CLIENT_H

#include "http.h"

typedef struct svc_client svc_client;

/* A client of the service at `base_url` ("http://127.0.0.1:8081"); up to `handles` calls at
 * once (each keeps its own connections alive; more callers wait). NULL with a reason when
 * libcurl cannot be set up. Thread-safe; free with svc_client_destroy() (accepts NULL). */
svc_client *svc_client_new(const char *base_url, unsigned handles, unsigned connect_timeout_ms,
                           unsigned timeout_ms, char *errstr, size_t errstr_size);
void svc_client_destroy(svc_client *c);

/* Calls `method` `path_and_query` with an optional JSON body. On an answer, resp gets the
 * upstream's status and JSON document (none for an empty body) and the result is true; on a
 * failure, resp gets the 502/503/504 JSON error and the result is false. */
bool svc_client_call(svc_client *c, const char *method, const char *path_and_query,
                     const char *body, size_t body_len, svc_resp *resp);

/* As svc_client_call(), with the body's Content-Type (NULL: application/json); the upstream's
 * Location or Retry-After header, when it sends one, is copied into resp's header. */
bool svc_client_call_ct(svc_client *c, const char *method, const char *path_and_query,
                        const char *content_type, const char *body, size_t body_len,
                        svc_resp *resp);

/* As svc_client_call_ct(), but the upstream's JSON answer is checked (svc_json_valid()), not
 * parsed: resp gets its bytes in resp->raw, to be sent on unchanged. A proxy's call. */
bool svc_client_pass(svc_client *c, const char *method, const char *path_and_query,
                     const char *content_type, const char *body, size_t body_len, svc_resp *resp);

/* Connections opened so far, across the client's handles (to verify reuse). */
unsigned long svc_client_connects(svc_client *c);

#endif
