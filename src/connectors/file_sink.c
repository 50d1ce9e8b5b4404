/* The JSON-lines file sink. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/sink_int.h"
#include "weir/output.h"
#include "weir/sink.h"

/* Output is collected in a large buffer and written with one write() when it fills,
 * so a firing costs a memcpy, not a system call. */
#define FILE_BUF (1u << 20)

typedef struct file_sink {
    weir_sink base;
    int fd;
    int owns_fd;
    char *path;
    char *buf;
    size_t len;
    int64_t offset; /* bytes accepted, buffered ones included */
} file_sink;

static weir_err write_all(file_sink *fs)
{
    size_t off = 0;
    while (off < fs->len) {
        ssize_t w = write(fs->fd, fs->buf + off, fs->len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            snprintf(fs->base.error, sizeof fs->base.error, "%s: write failed: %s", fs->path,
                     strerror(errno));
            return WEIR_ERR_IO;
        }
        off += (size_t)w;
    }
    fs->len = 0;
    return WEIR_OK;
}

static weir_err append(file_sink *fs, const char *data, size_t n)
{
    if (fs->len + n > FILE_BUF) {
        weir_err rc = write_all(fs);
        if (rc != WEIR_OK)
            return rc;
    }
    if (n > FILE_BUF) {
        /* A record larger than the buffer goes straight out. */
        char *saved = fs->buf;
        fs->buf = (char *)data;
        fs->len = n;
        weir_err rc = write_all(fs);
        fs->buf = saved;
        fs->len = 0;
        return rc;
    }
    memcpy(fs->buf + fs->len, data, n);
    fs->len += n;
    return WEIR_OK;
}

static weir_err append_counted(file_sink *fs, const char *data, size_t n)
{
    weir_err rc = append(fs, data, n);
    if (rc == WEIR_OK)
        fs->offset += (int64_t)n;
    return rc;
}

static weir_err fs_firing(weir_sink *s, const weir_firing *f)
{
    file_sink *fs = (file_sink *)s;
    /* Straight into the buffer when the line fits in what is left of it (with its
     * newline; the formatter's NUL lands on a byte the next line overwrites). */
    size_t room = FILE_BUF - fs->len;
    size_t n = weir_firing_to_json(f, s->key_field, s->aggs, fs->buf + fs->len, room);
    if (n + 1 < room) {
        fs->buf[fs->len + n] = '\n';
        fs->len += n + 1;
        fs->offset += (int64_t)(n + 1);
        s->written++;
        return WEIR_OK;
    }
    char line[1024];
    n = weir_firing_to_json(f, s->key_field, s->aggs, line, sizeof line);
    weir_err rc;
    if (n + 1 <= sizeof line) {
        line[n] = '\n';
        rc = append_counted(fs, line, n + 1);
        s->written += rc == WEIR_OK;
        return rc;
    }
    char *big = malloc(n + 2);
    if (!big)
        return WEIR_ERR_NOMEM;
    weir_firing_to_json(f, s->key_field, s->aggs, big, n + 1);
    big[n] = '\n';
    rc = append_counted(fs, big, n + 1);
    s->written += rc == WEIR_OK;
    free(big);
    return rc;
}

static weir_err fs_record(weir_sink *s, weir_slice rec, int32_t partition)
{
    (void)partition;
    file_sink *fs = (file_sink *)s;
    weir_err rc = append_counted(fs, rec.ptr, rec.len);
    if (rc == WEIR_OK && (rc = append_counted(fs, "\n", 1)) == WEIR_OK)
        s->written++;
    return rc;
}

static weir_err fs_flush(weir_sink *s, int timeout_ms)
{
    (void)timeout_ms;
    return write_all((file_sink *)s);
}

static void fs_destroy(weir_sink *s)
{
    file_sink *fs = (file_sink *)s;
    if (fs->owns_fd)
        close(fs->fd);
    free(fs->path);
    free(fs->buf);
    free((char *)s->key_field);
    free(fs);
}

static const weir_sink_ops FILE_OPS = {
    .name = "file",
    .firing = fs_firing,
    .record = fs_record,
    .flush = fs_flush,
    .poll = NULL,
    .destroy = fs_destroy,
};

weir_err weir_file_sink_open(const char *path, const char *key_field, const weir_agg_spec *aggs,
                             size_t n_aggs, int64_t resume_at, weir_sink **out, char *errstr,
                             size_t errstr_size)
{
    int is_stdout = strcmp(path, "-") == 0;
    if (is_stdout && resume_at >= 0) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "standard output cannot resume from a checkpoint");
        return WEIR_ERR_INVALID_ARG;
    }
    file_sink *fs = calloc(1, sizeof *fs);
    if (!fs)
        return WEIR_ERR_NOMEM;
    fs->base.ops = &FILE_OPS;
    fs->base.aggs = aggs;
    fs->base.n_aggs = n_aggs;
    fs->fd = -1;
    fs->path = strdup(is_stdout ? "standard output" : path);
    fs->buf = malloc(FILE_BUF);
    fs->base.key_field = key_field ? strdup(key_field) : NULL;
    if (!fs->path || !fs->buf || (key_field && !fs->base.key_field)) {
        fs_destroy(&fs->base);
        return WEIR_ERR_NOMEM;
    }
    if (is_stdout) {
        fs->fd = STDOUT_FILENO;
    } else {
        int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (resume_at < 0 ? O_TRUNC : 0);
        fs->fd = open(path, flags, 0644);
        fs->owns_fd = fs->fd >= 0;
        if (fs->fd >= 0 && resume_at >= 0) {
            struct stat st;
            if (fstat(fs->fd, &st) != 0 || st.st_size < resume_at) {
                if (errstr && errstr_size)
                    snprintf(errstr, errstr_size,
                             "%s: shorter than the checkpoint says (%lld bytes expected)", path,
                             (long long)resume_at);
                fs_destroy(&fs->base);
                return WEIR_ERR_CORRUPT;
            }
            if (ftruncate(fs->fd, resume_at) != 0 || lseek(fs->fd, resume_at, SEEK_SET) < 0) {
                close(fs->fd);
                fs->fd = -1;
            }
            fs->offset = resume_at;
        }
        if (fs->fd < 0) {
            if (errstr && errstr_size)
                snprintf(errstr, errstr_size, "%s: cannot open for writing: %s", path,
                         strerror(errno));
            fs->owns_fd = 0;
            fs_destroy(&fs->base);
            return WEIR_ERR_IO;
        }
    }
    *out = &fs->base;
    return WEIR_OK;
}

weir_sink *weir_file_sink_new(const char *path, const char *key_field, const weir_agg_spec *aggs,
                              size_t n_aggs, char *errstr, size_t errstr_size)
{
    weir_sink *s = NULL;
    weir_file_sink_open(path, key_field, aggs, n_aggs, -1, &s, errstr, errstr_size);
    return s;
}

int64_t weir_file_sink_offset(const weir_sink *s)
{
    return ((const file_sink *)s)->offset;
}

weir_err weir_file_sink_sync(weir_sink *s)
{
    file_sink *fs = (file_sink *)s;
    weir_err rc = write_all(fs);
    if (rc != WEIR_OK)
        return rc;
    if (fs->owns_fd && fsync(fs->fd) != 0 && errno != EINVAL) {
        snprintf(fs->base.error, sizeof fs->base.error, "%s: fsync failed: %s", fs->path,
                 strerror(errno));
        return WEIR_ERR_IO;
    }
    return WEIR_OK;
}
