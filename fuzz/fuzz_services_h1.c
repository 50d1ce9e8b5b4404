/* libFuzzer target for the services' HTTP/1.1 client (services/lib/h1.c): the input is an
 * upstream's answer, read from a socket pair whose other end then closes. Any bytes end in an
 * answer (status 100-599, a NUL-terminated body no larger than the limit, the Location or
 * Retry-After header within its buffer) or in a failure status (502, 504) with a reason;
 * never a hang, a read out of bounds or a leak. The first line of the input is also parsed as
 * an upstream URL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../services/lib/h1.h"

#define LIMIT 2048 /* a small largest answer, so that "too large" is reached */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    size_t line = 0;
    while (line < size && line < 600 && data[line] != '\n')
        line++;
    char url[601];
    memcpy(url, data, line);
    url[line] = '\0';
    svc_h1_target parsed;
    if (strlen(url) == line && svc_h1_target_parse(url, &parsed) &&
        (!parsed.host[0] || !parsed.port[0] || strlen(parsed.prefix) >= sizeof parsed.prefix))
        abort();

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 0;
    for (size_t off = 0; off < size;) {
        ssize_t n = write(sv[1], data + off, size - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR);
    /* A connection already open, as a kept-alive one is; should the client try a new one, the
     * target refuses it at once (port 0). */
    svc_h1 h = SVC_H1_INIT;
    h.fd = sv[0];
    svc_h1_target t = {.host = "127.0.0.1", .port = "0", .authority = "127.0.0.1:0"};
    svc_h1_answer a;
    long connects = 0;
    char err[256];
    /* PUT: a body, and no look at the connection first (a POST drops one with bytes waiting). */
    int rc = svc_h1_call(&h, &t, 100, 1000, "PUT", "/x?y=1", "application/json", "{}", 2, LIMIT, &a,
                         &connects, err, sizeof err);
    if (rc == 0) {
        if (a.status < 100 || a.status > 599 || a.len > LIMIT || (a.len == 0) != (a.body == NULL) ||
            (a.body && a.body[a.len] != '\0') || strlen(a.header_value) >= sizeof a.header_value)
            abort();
    } else if ((rc != 502 && rc != 503 && rc != 504) || !err[0] || a.body) {
        abort();
    }
    free(a.body);
    svc_h1_close(&h);
    close(sv[1]);
    return 0;
}
