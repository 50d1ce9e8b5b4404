/* The services' own HTTP/1.1 client for http:// upstreams. It exists for the gateway's cost
 * per proxied request: libcurl's hop spent most of it in poll rounds, header callbacks and
 * allocations, where a blocking keep-alive socket needs one sendmsg and, for an answer that
 * arrives whole, one recv. The first recv is bounded by SO_RCVTIMEO set to the call's time
 * left (only when that changed), later reads poll the time left, and a send that would block
 * polls it too: the timeout bounds the whole call, a retry on a new connection included. */
#include "h1.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The largest status line plus headers read; a larger head is a 502. */
#define MAX_HEAD (64u * 1024)
/* A read buffer that grew past this for a large answer is freed after the call. */
#define KEEP_BUF (64u * 1024)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool svc_h1_target_parse(const char *url, svc_h1_target *t)
{
    memset(t, 0, sizeof *t);
    if (strncasecmp(url, "http://", 7) != 0)
        return false;
    const char *a = url + 7;
    size_t alen = strcspn(a, "/?#");
    if (alen == 0 || alen >= sizeof t->authority || memchr(a, '@', alen))
        return false;
    const char *path = a + alen;
    if (strpbrk(path, "?# \t\r\n"))
        return false;
    size_t plen = strlen(path);
    while (plen && path[plen - 1] == '/')
        plen--;
    if (plen >= sizeof t->prefix)
        return false;
    for (size_t i = 0; i < alen; i++)
        if ((unsigned char)a[i] <= ' ' || a[i] == 0x7f)
            return false;
    memcpy(t->authority, a, alen);
    memcpy(t->prefix, path, plen);
    const char *hs = a, *he, *port = NULL, *end = a + alen;
    if (*a == '[') {
        const char *rb = memchr(a, ']', alen);
        if (!rb || (rb + 1 < end && rb[1] != ':'))
            return false;
        hs = a + 1, he = rb;
        if (rb + 1 < end)
            port = rb + 2;
    } else {
        const char *colon = memchr(a, ':', alen);
        he = colon ? colon : end;
        if (colon)
            port = colon + 1;
    }
    size_t hl = (size_t)(he - hs), pl = port ? (size_t)(end - port) : 0;
    if (hl == 0 || hl >= sizeof t->host || (port && (pl == 0 || pl >= sizeof t->port)))
        return false;
    memcpy(t->host, hs, hl);
    for (size_t i = 0; i < pl; i++)
        if (port[i] < '0' || port[i] > '9')
            return false;
    if (port)
        memcpy(t->port, port, pl);
    else
        memcpy(t->port, "80", 3);
    return true;
}

void svc_h1_close(svc_h1 *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    h->rcv_ms = 0;
    free(h->buf);
    h->buf = NULL;
    h->cap = 0;
}

static void drop(svc_h1 *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    h->rcv_ms = 0;
}

/* Opens h->fd to t within connect_ms (and the call's deadline); 0 or the failure's status. */
static int open_conn(svc_h1 *h, const svc_h1_target *t, unsigned connect_ms, int64_t deadline,
                     char *err, size_t err_size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(t->host, t->port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, err_size, "cannot resolve %s: %s", t->host, gai_strerror(rc));
        return 503;
    }
    int64_t until = now_ms() + connect_ms;
    if (until > deadline)
        until = deadline;
    int status = 503;
    snprintf(err, err_size, "%s has no address", t->host);
    for (struct addrinfo *p = ai; p && h->fd < 0; p = p->ai_next) {
        int fd =
            socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) {
            snprintf(err, err_size, "socket: %s", strerror(errno));
            continue;
        }
        int e = connect(fd, p->ai_addr, p->ai_addrlen) == 0 ? 0 : errno;
        while (e == EINPROGRESS || e == EINTR) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int64_t left = until - now_ms();
            int pr = left > 0 ? poll(&pf, 1, (int)left) : 0;
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr == 0) {
                e = ETIMEDOUT;
                break;
            }
            socklen_t sl = sizeof e;
            if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
                e = errno;
        }
        if (e) {
            close(fd);
            status = e == ETIMEDOUT ? 504 : 503;
            snprintf(err, err_size, "cannot connect to %s port %s: %s", t->host, t->port,
                     e == ETIMEDOUT ? "timed out" : strerror(e));
            if (e == ETIMEDOUT)
                break;
            continue;
        }
        /* Blocking from here: fill() bounds the reads by the call's deadline, send_all() the
         * writes. */
        int one = 1, fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
            snprintf(err, err_size, "socket options: %s", strerror(errno));
            close(fd);
            status = 503;
            continue;
        }
        h->fd = fd;
    }
    freeaddrinfo(ai);
    return h->fd >= 0 ? 0 : status;
}

/* Writes the head and the body by the deadline; 0, or -1 with errno (EAGAIN: the deadline
 * passed) and *sent the bytes the kernel took. A write that would block polls the time left
 * instead of blocking on a socket timeout, which would bound each write, not the call. */
static int send_all(int fd, const char *head, size_t head_len, const char *body, size_t body_len,
                    int64_t deadline, size_t *sent)
{
    struct iovec iov[2] = {{(void *)head, head_len}, {(void *)body, body ? body_len : 0}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = body && body_len ? 2 : 1};
    *sent = 0;
    while (m.msg_iovlen) {
        ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int64_t left = deadline - now_ms();
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int pr = left > 0 ? poll(&pf, 1, (int)left) : 0;
            if (pr < 0 && errno != EINTR)
                return -1;
            if (pr == 0) {
                errno = EAGAIN;
                return -1;
            }
            continue;
        }
        if (n < 0)
            return -1;
        *sent += (size_t)n;
        while (m.msg_iovlen && (size_t)n >= m.msg_iov->iov_len) {
            n -= (ssize_t)m.msg_iov->iov_len;
            m.msg_iov++, m.msg_iovlen--;
        }
        if (m.msg_iovlen) {
            m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + n;
            m.msg_iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* A call's reading state over h->buf[0..len). */
typedef struct reader {
    svc_h1 *h;
    size_t len, limit;
    int64_t deadline;
    bool polled; /* false until the first read, which blocks on SO_RCVTIMEO alone */
    int status;  /* the failure's status when a read fails */
    int err_no;  /* and its errno */
} reader;

/* Reads more; >0 bytes, 0 at the close, -1 on a failure (r->status and err set). */
static ssize_t fill(reader *r, char *err, size_t err_size)
{
    svc_h1 *h = r->h;
    if (r->len + 4096 + 1 > h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16384;
        while (cap < r->len + 4096 + 1)
            cap *= 2;
        if (r->len >= r->limit) {
            r->status = 502;
            snprintf(err, err_size, "answer too large");
            return -1;
        }
        char *p = realloc(h->buf, cap);
        if (!p) {
            r->status = 502;
            snprintf(err, err_size, "out of memory for the answer");
            return -1;
        }
        h->buf = p, h->cap = cap;
    }
    for (;;) {
        int64_t left = r->deadline - now_ms();
        if (left <= 0) {
            errno = EAGAIN;
            goto failed;
        }
        if (r->polled) {
            struct pollfd pf = {.fd = h->fd, .events = POLLIN};
            int pr = poll(&pf, 1, (int)left);
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr == 0) {
                errno = EAGAIN;
                goto failed;
            }
        } else if (left != h->rcv_ms) {
            /* The first read blocks for the call's time left, not for a whole timeout. */
            struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
            if (setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
                goto failed;
            h->rcv_ms = left;
        }
        r->polled = true;
        ssize_t n = recv(h->fd, h->buf + r->len, h->cap - r->len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto failed;
        r->len += (size_t)n;
        h->buf[r->len] = '\0';
        return n;
    }
failed:
    r->err_no = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        r->status = 504;
        snprintf(err, err_size, "no answer within the timeout");
    } else {
        r->status = 502;
        snprintf(err, err_size, "reading the answer: %s", strerror(errno));
    }
    return -1;
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
                      size_t *vlen)
{
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return false;
    const char *v = line + nl + 1, *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *value = v, *vlen = (size_t)(e - v);
    return true;
}

static bool has_token(const char *v, size_t vl, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i + tl <= vl; i++)
        if (strncasecmp(v + i, token, tl) == 0)
            return true;
    return false;
}

/* Whether the last of the codings in v[0..vl) is `chunked` (RFC 9112 6.3: only then is the
 * body chunked; otherwise it runs to the close). */
static bool chunked_last(const char *v, size_t vl)
{
    const char *t = v;
    for (size_t i = 0; i < vl; i++)
        if (v[i] == ',')
            t = v + i + 1;
    size_t tl = (size_t)(v + vl - t);
    while (tl && (*t == ' ' || *t == '\t'))
        t++, tl--;
    return tl == 7 && strncasecmp(t, "chunked", 7) == 0;
}

/* What the head says about the body. */
typedef struct head {
    size_t len; /* bytes of the head, its blank line included */
    int status;
    bool chunked, close, has_length, has_te;
    size_t length;
} head;

/* Parses the head in buf[0..n) ending at its blank line; false (err set) when it is not HTTP. */
static bool parse_head(const char *buf, size_t n, head *hd, size_t max_answer, svc_h1_answer *a,
                       char *err, size_t err_size)
{
    const char *p = buf, *end = buf + n;
    const char *eol = memchr(p, '\r', n);
    if (!eol || eol + 1 >= end || eol[1] != '\n' || eol - p < 12 ||
        memchr(p, '\n', (size_t)(eol - p)) || strncmp(p, "HTTP/1.", 7) != 0 ||
        (p[7] != '0' && p[7] != '1') || p[8] != ' ' || p[9] < '1' || p[9] > '5' || p[10] < '0' ||
        p[10] > '9' || p[11] < '0' || p[11] > '9' || (eol - p > 12 && p[12] != ' ')) {
        snprintf(err, err_size, "not an HTTP answer");
        return false;
    }
    hd->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    hd->close = p[7] == '0';
    for (p = eol + 2; p < end;) {
        const char *le = memchr(p, '\r', (size_t)(end - p));
        if (!le || le + 1 >= end || le[1] != '\n') {
            snprintf(err, err_size, "a header line without CRLF");
            return false;
        }
        size_t ll = (size_t)(le - p), vl;
        const char *v;
        if (ll == 0)
            break;
        /* Either would make this reader and another see different headers (RFC 9112 5.2 lets
         * a gateway answer an obs-fold with a 502). */
        if (memchr(p, '\n', ll)) {
            snprintf(err, err_size, "a bare LF in a header line");
            return false;
        }
        if (*p == ' ' || *p == '\t') {
            snprintf(err, err_size, "a folded header line");
            return false;
        }
        if (header_is(p, ll, "Content-Length", &v, &vl)) {
            size_t len = 0;
            if (vl == 0) {
                snprintf(err, err_size, "an empty Content-Length");
                return false;
            }
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9' || len > max_answer) {
                    snprintf(err, err_size,
                             len > max_answer ? "answer too large" : "a bad Content-Length");
                    return false;
                }
                len = len * 10 + (size_t)(v[i] - '0');
            }
            if (len > max_answer || (hd->has_length && hd->length != len)) {
                snprintf(err, err_size,
                         len > max_answer ? "answer too large" : "two Content-Lengths");
                return false;
            }
            hd->has_length = true, hd->length = len;
        } else if (header_is(p, ll, "Transfer-Encoding", &v, &vl)) {
            hd->has_te = true;
            hd->chunked = chunked_last(v, vl);
        } else if (header_is(p, ll, "Connection", &v, &vl)) {
            if (has_token(v, vl, "close"))
                hd->close = true;
            else if (has_token(v, vl, "keep-alive"))
                hd->close = false;
        } else if ((header_is(p, ll, "Location", &v, &vl) ||
                    header_is(p, ll, "Retry-After", &v, &vl)) &&
                   vl < sizeof a->header_value) {
            snprintf(a->header_name, sizeof a->header_name, "%s",
                     p[0] == 'L' || p[0] == 'l' ? "Location" : "Retry-After");
            memcpy(a->header_value, v, vl);
            a->header_value[vl] = '\0';
        }
        p = le + 2;
    }
    /* RFC 9112 6.3: Transfer-Encoding overrides Content-Length; both at once put the framing
     * in doubt, so the connection is not used again. */
    if (hd->has_te) {
        hd->close = hd->close || hd->has_length;
        hd->has_length = false;
    }
    return true;
}

/* Decodes a chunked body in place: the data moves down to buf[start..), the sizes and CRLFs
 * go. Returns the body's length, or -1 (r->status, err) when it is cut short or malformed. */
static ptrdiff_t dechunk(reader *r, size_t start, size_t max_answer, bool *leftover, char *err,
                         size_t err_size)
{
    size_t rp = start, wp = start;
    enum { SIZE, DATA, CRLF, TRAILER } st = SIZE;
    size_t left = 0;
    for (;;) {
        char *buf = r->h->buf;
        char *le = rp < r->len ? memchr(buf + rp, '\n', r->len - rp) : NULL;
        if (st == SIZE && le) {
            char *q = buf + rp;
            size_t size = 0;
            int digits = 0;
            for (; q < le; q++, digits++) {
                int d = *q >= '0' && *q <= '9'   ? *q - '0'
                        : *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
                        : *q >= 'A' && *q <= 'F' ? *q - 'A' + 10
                                                 : -1;
                if (d < 0)
                    break;
                if (size > max_answer) {
                    r->status = 502;
                    snprintf(err, err_size, "answer too large");
                    return -1;
                }
                size = size * 16 + (size_t)d;
            }
            if (!digits || (q < le && *q != ';' && *q != '\r')) {
                r->status = 502;
                snprintf(err, err_size, "a bad chunk size");
                return -1;
            }
            if (size > max_answer - (wp - start)) {
                r->status = 502;
                snprintf(err, err_size, "answer too large");
                return -1;
            }
            rp = (size_t)(le - buf) + 1;
            st = size ? DATA : TRAILER, left = size;
            continue;
        }
        if (st == DATA && rp < r->len) {
            size_t take = r->len - rp < left ? r->len - rp : left;
            memmove(buf + wp, buf + rp, take);
            wp += take, rp += take, left -= take;
            if (!left)
                st = CRLF;
            continue;
        }
        if (st == CRLF && r->len - rp >= 2) {
            if (buf[rp] != '\r' || buf[rp + 1] != '\n') {
                r->status = 502;
                snprintf(err, err_size, "a chunk without its CRLF");
                return -1;
            }
            rp += 2, st = SIZE;
            continue;
        }
        if (st == TRAILER && le) {
            bool blank = le == buf + rp || (le == buf + rp + 1 && buf[rp] == '\r');
            rp = (size_t)(le - buf) + 1;
            if (blank) {
                *leftover = rp < r->len;
                return (ptrdiff_t)(wp - start);
            }
            continue;
        }
        /* What is decoded so far stays below wp; the rest (a part of a line) moves down to
         * it, so that the sizes and CRLFs read never take up the room of the answer. */
        if (rp > wp) {
            memmove(buf + wp, buf + rp, r->len - rp);
            r->len -= rp - wp;
            rp = wp;
        }
        if ((st == SIZE || st == TRAILER) && r->len - rp > 4096) {
            r->status = 502;
            snprintf(err, err_size, "a chunk line too long");
            return -1;
        }
        ssize_t n = fill(r, err, err_size);
        if (n == 0) {
            r->status = 502;
            snprintf(err, err_size, "answer cut short");
        }
        if (n <= 0)
            return -1;
    }
}

/* One exchange on the open h->fd. Returns 0, a failure status, or -1 when a reused
 * connection turned out closed before the upstream could have acted on the request: nothing
 * of it was sent, or (for an idempotent request only) no answer byte came. The caller may
 * then try a new connection. */
static int exchange(svc_h1 *h, bool reused, bool idempotent, const char *req, size_t req_len,
                    const char *body, size_t body_len, bool no_body, size_t max_answer,
                    int64_t deadline, svc_h1_answer *a, char *err, size_t err_size)
{
    size_t sent;
    if (send_all(h->fd, req, req_len, body, body_len, deadline, &sent) != 0) {
        int e = errno;
        if (reused && (e == EPIPE || e == ECONNRESET) && (idempotent || sent == 0))
            return -1;
        snprintf(err, err_size, "sending the request: %s",
                 e == EAGAIN || e == EWOULDBLOCK ? "timed out" : strerror(e));
        return e == EAGAIN || e == EWOULDBLOCK ? 504 : 502;
    }
    /* A request sent whole may have been processed by an upstream that closed before it
     * answered: only an idempotent one is sent again. */
    bool retry = reused && idempotent;
    reader r = {.h = h, .limit = MAX_HEAD + max_answer + 16384, .deadline = deadline};
    head hd;
    for (;;) {
        /* The head: read until its blank line. */
        char *blank = NULL;
        size_t from = 0;
        while (!(blank = r.len ? strstr(h->buf + from, "\r\n\r\n") : NULL)) {
            if (r.len > MAX_HEAD) {
                snprintf(err, err_size, "answer head too large");
                return 502;
            }
            from = r.len > 3 ? r.len - 3 : 0;
            ssize_t n = fill(&r, err, err_size);
            if (n < 0 && retry && r.len == 0 && r.err_no == ECONNRESET)
                return -1;
            if (n < 0)
                return r.status;
            if (n == 0) {
                if (retry && r.len == 0)
                    return -1;
                snprintf(err, err_size, r.len ? "answer cut short" : "closed without an answer");
                return 502;
            }
            /* A NUL in the head would hide the rest from strstr. */
            if (memchr(h->buf + from, '\0', r.len - from)) {
                snprintf(err, err_size, "not an HTTP answer");
                return 502;
            }
        }
        hd = (head){.len = (size_t)(blank - h->buf) + 4};
        memset(a, 0, sizeof *a);
        if (!parse_head(h->buf, hd.len, &hd, max_answer, a, err, err_size))
            return 502;
        if (hd.status >= 200 || hd.status == 101)
            break;
        /* An interim answer (100 Continue, 103): the real one follows. */
        memmove(h->buf, h->buf + hd.len, r.len - hd.len);
        r.len -= hd.len;
        h->buf[r.len] = '\0';
    }
    if (hd.status == 101) {
        snprintf(err, err_size, "the upstream switched protocols");
        return 502;
    }
    a->status = hd.status;
    size_t blen = 0;
    bool leftover = false;
    if (no_body || hd.status == 204 || hd.status == 304) {
        leftover = r.len > hd.len;
    } else if (hd.chunked) {
        ptrdiff_t n = dechunk(&r, hd.len, max_answer, &leftover, err, err_size);
        if (n < 0)
            return r.status;
        blen = (size_t)n;
    } else if (hd.has_length) {
        while (r.len - hd.len < hd.length) {
            ssize_t n = fill(&r, err, err_size);
            if (n == 0)
                snprintf(err, err_size, "answer cut short");
            if (n <= 0)
                return n < 0 ? r.status : 502;
        }
        blen = hd.length;
        leftover = r.len - hd.len > hd.length;
    } else {
        /* Framed by the close. */
        ssize_t n = 1;
        while (r.len - hd.len <= max_answer && (n = fill(&r, err, err_size)) > 0)
            ;
        if (n < 0)
            return r.status;
        if (r.len - hd.len > max_answer) {
            snprintf(err, err_size, "answer too large");
            return 502;
        }
        blen = r.len - hd.len;
        hd.close = true;
    }
    if (blen) {
        if (!(a->body = malloc(blen + 1))) {
            snprintf(err, err_size, "out of memory for the answer");
            return 502;
        }
        memcpy(a->body, h->buf + hd.len, blen);
        a->body[blen] = '\0';
        a->len = blen;
    }
    if (hd.close || leftover)
        drop(h);
    return 0;
}

int svc_h1_call(svc_h1 *h, const svc_h1_target *t, unsigned connect_ms, unsigned timeout_ms,
                const char *method, const char *path_and_query, const char *content_type,
                const char *body, size_t body_len, size_t max_answer, svc_h1_answer *a,
                long *connects, char *err, size_t err_size)
{
    memset(a, 0, sizeof *a);
    /* A zero SO_RCVTIMEO would mean no timeout at all: the least is 1 ms. */
    timeout_ms = timeout_ms ? timeout_ms : 1;
    connect_ms = connect_ms ? connect_ms : timeout_ms;
    int64_t deadline = now_ms() + timeout_ms;
    if (strpbrk(method, " \t\r\n") || strpbrk(path_and_query, " \t\r\n") ||
        (content_type && strpbrk(content_type, "\r\n"))) {
        snprintf(err, err_size, "a request line or header with spaces or line breaks");
        return 500;
    }
    bool sends_body = body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                      strcmp(method, "PATCH") == 0;
    /* RFC 9110 9.2.2; a request that may not be repeated is not sent on a kept-alive
     * connection the upstream has already closed, as far as a look at it can tell. */
    bool idempotent = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
                      strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0 ||
                      strcmp(method, "OPTIONS") == 0;
    char stack[1024], *req = stack;
    char extra[224] = "";
    if (sends_body)
        snprintf(extra, sizeof extra, "Content-Type: %.160s\r\nContent-Length: %zu\r\n",
                 content_type ? content_type : "application/json", body ? body_len : 0);
    const char *fmt = "%s %s%s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n%s\r\n";
    int n =
        snprintf(stack, sizeof stack, fmt, method, t->prefix, path_and_query, t->authority, extra);
    if (n < 0) {
        snprintf(err, err_size, "cannot format the request");
        return 500;
    }
    if ((size_t)n >= sizeof stack) {
        if (!(req = malloc((size_t)n + 1))) {
            snprintf(err, err_size, "out of memory");
            return 500;
        }
        snprintf(req, (size_t)n + 1, fmt, method, t->prefix, path_and_query, t->authority, extra);
    }
    int rc = -1;
    if (h->fd >= 0 && !idempotent) {
        char c;
        ssize_t peek = recv(h->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (peek >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            drop(h);
    }
    for (int attempt = 0; attempt < 2 && rc == -1; attempt++) {
        bool reused = h->fd >= 0;
        if (!reused) {
            rc = open_conn(h, t, connect_ms, deadline, err, err_size);
            if (rc != 0)
                break;
            ++*connects;
        }
        rc = exchange(h, reused, idempotent, req, (size_t)n, body, body_len,
                      strcmp(method, "HEAD") == 0, max_answer, deadline, a, err, err_size);
        if (rc != 0)
            drop(h);
    }
    if (rc == -1) {
        snprintf(err, err_size, "the connection closed twice without an answer");
        rc = 502;
    }
    if (rc != 0) {
        free(a->body);
        a->body = NULL, a->len = 0;
    }
    if (h->cap > KEEP_BUF) {
        free(h->buf);
        h->buf = NULL, h->cap = 0;
    }
    if (req != stack)
        free(req);
    return rc;
}
