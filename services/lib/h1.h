/* A plain HTTP/1.1 client connection (http:// only) for the services' calls to each other:
 * one socket kept alive from call to call, each request written with one sendmsg, each answer
 * framed by Content-Length, chunked encoding or the close, under a connect and a total
 * deadline. client.c uses it for http:// upstreams and keeps libcurl for the rest. */
#ifndef SVC_H1_H
#define SVC_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where an http:// URL points. */
typedef struct svc_h1_target {
    char host[256];      /* a name or an address, IPv6 without its brackets */
    char port[8];        /* "80" when the URL has none */
    char authority[272]; /* the Host header, as the URL writes it */
    char prefix[256];    /* the URL's path without a trailing '/', "" for none */
} svc_h1_target;

/* Fills t from "http://host[:port][/path]"; false for anything else (https://, user info, a
 * query or fragment, fields too long), which is then libcurl's to call. */
bool svc_h1_target_parse(const char *url, svc_h1_target *t);

/* A connection (fd -1 while closed) and the read buffer it keeps between calls. One caller
 * at a time; svc_h1_close() closes it and frees the buffer. */
typedef struct svc_h1 {
    int fd;
    int64_t rcv_ms; /* the SO_RCVTIMEO set on fd, 0 for none */
    char *buf;
    size_t cap;
} svc_h1;

#define SVC_H1_INIT                                                                                \
    {                                                                                              \
        .fd = -1                                                                                   \
    }
void svc_h1_close(svc_h1 *h);

/* An upstream's answer. body is malloc'ed and NUL-terminated, or NULL when empty: the caller
 * frees it. header_name is "" unless the upstream sent Location or Retry-After. */
typedef struct svc_h1_answer {
    int status;
    char *body;
    size_t len;
    char header_name[32];
    char header_value[128];
} svc_h1_answer;

/* Sends `method` prefix+`path_and_query` (with `body` of `content_type` when body is not
 * NULL) and reads the answer into *a. Returns 0, or the status the failure becomes with its
 * reason in err: 503 (cannot resolve or connect), 504 (connect_ms or timeout_ms passed), 502
 * (closed, not HTTP, larger than max_answer), 500 (a request that cannot be written). A
 * kept-alive connection the upstream had closed is replaced once, before any answer byte, and
 * only when the request could not have been acted on: unsent, or idempotent (GET, HEAD, PUT,
 * DELETE, OPTIONS). timeout_ms bounds the whole call, connecting and a retry included.
 * *connects grows by the connections opened. */
int svc_h1_call(svc_h1 *h, const svc_h1_target *t, unsigned connect_ms, unsigned timeout_ms,
                const char *method, const char *path_and_query, const char *content_type,
                const char *body, size_t body_len, size_t max_answer, svc_h1_answer *a,
                long *connects, char *err, size_t err_size);

#endif
