/* A directory of checkpoints: atomic writes (write, fsync, rename, fsync dir), keep the last N. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "runtime/logf.h"
#include "state/bytes.h"
#include "weir/checkpoint.h"

#define MAGIC       "WEIRCKPT"
#define VERSION     1
#define HEAD        32
#define MAX_PAYLOAD ((uint64_t)1 << 36)

struct weir_ckpt_dir {
    char *path;
    int dirfd;
    int keep;
    uint64_t seq;
};

/* The name of checkpoint `seq`'s file: "ckpt-<decimal>.weir". */
static void file_name(char name[64], uint64_t seq)
{
    snprintf(name, 64, "ckpt-%" PRIu64 ".weir", seq);
}

/* The sequence number of a checkpoint file's name, exactly as weir_ckpt_dir_write spells it
 * ("ckpt-<decimal>.weir", no sign, no leading zero, within 64 bits): a name that would
 * overflow or that names no file the store reads back is not one of its checkpoints. */
static int parse_name(const char *name, uint64_t *seq)
{
    if (strncmp(name, "ckpt-", 5) != 0)
        return -1;
    const char *p = name + 5;
    if (*p < '0' || *p > '9')
        return -1;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    char canon[64];
    file_name(canon, v);
    if (strcmp(name, canon) != 0)
        return -1;
    *seq = v;
    return 0;
}

/* Sequence numbers of the checkpoint files present, ascending. */
static int list(weir_ckpt_dir *d, uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *dir = opendir(d->path);
    if (!dir)
        return -1;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        uint64_t seq;
        if (parse_name(de->d_name, &seq) != 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *g = realloc(*out, cap * sizeof(uint64_t));
            if (!g) {
                closedir(dir);
                return -1;
            }
            *out = g;
        }
        (*out)[(*n)++] = seq;
    }
    closedir(dir);
    for (size_t i = 1; i < *n; i++) /* insertion sort: a handful of files */
        for (size_t j = i; j > 0 && (*out)[j - 1] > (*out)[j]; j--) {
            uint64_t t = (*out)[j];
            (*out)[j] = (*out)[j - 1];
            (*out)[j - 1] = t;
        }
    return 0;
}

weir_err weir_ckpt_dir_open(const char *path, int keep, weir_ckpt_dir **out, char *errstr,
                            size_t errstr_size)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(errstr, errstr_size, "checkpoint.dir %s: cannot create: %s", path,
                 strerror(errno));
        return WEIR_ERR_IO;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "checkpoint.dir %s: cannot open: %s", path, strerror(errno));
        return WEIR_ERR_IO;
    }
    weir_ckpt_dir *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(path))) {
        free(d);
        close(fd);
        return WEIR_ERR_NOMEM;
    }
    d->dirfd = fd;
    d->keep = keep < 1 ? 1 : keep;
    uint64_t *seqs;
    size_t n;
    if (list(d, &seqs, &n) == 0 && n)
        d->seq = seqs[n - 1];
    free(seqs);
    /* A crash while writing leaves a .tmp file that no checkpoint refers to. */
    DIR *dir = opendir(path);
    struct dirent *de;
    while (dir && (de = readdir(dir))) {
        size_t l = strlen(de->d_name);
        if (!strncmp(de->d_name, "ckpt-", 5) && l > 4 && !strcmp(de->d_name + l - 4, ".tmp"))
            unlinkat(fd, de->d_name, 0);
    }
    if (dir)
        closedir(dir);
    *out = d;
    return WEIR_OK;
}

void weir_ckpt_dir_close(weir_ckpt_dir *d)
{
    if (!d)
        return;
    close(d->dirfd);
    free(d->path);
    free(d);
}

uint64_t weir_ckpt_dir_sequence(const weir_ckpt_dir *d)
{
    return d->seq;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

weir_err weir_ckpt_dir_write(weir_ckpt_dir *d, const uint8_t *payload, size_t len, char *errstr,
                             size_t errstr_size)
{
    /* A restart takes the highest sequence as the newest checkpoint: after the last one a
     * wrap to 0 would make the newest state the oldest, so the store refuses instead. */
    if (d->seq == UINT64_MAX) {
        snprintf(errstr, errstr_size,
                 "checkpoint.dir %s: sequence numbers used up (ckpt-%" PRIu64
                 ".weir is the last); clear the directory (--reset-state) to start over",
                 d->path, d->seq);
        return WEIR_ERR_STATE;
    }
    uint64_t seq = d->seq + 1;
    uint8_t head[HEAD];
    memcpy(head, MAGIC, 8);
    weir__put_le64(head + 8, VERSION);
    weir__put_le64(head + 16, seq);
    weir__put_le64(head + 24, len);
    XXH64_state_t *h = XXH64_createState();
    if (!h)
        return WEIR_ERR_NOMEM;
    XXH64_reset(h, 0);
    XXH64_update(h, head, HEAD);
    XXH64_update(h, payload, len);
    uint8_t tail[8];
    weir__put_le64(tail, XXH64_digest(h));
    XXH64_freeState(h);
    char tmp[64], name[64];
    snprintf(tmp, sizeof tmp, "ckpt-%" PRIu64 ".tmp", seq);
    file_name(name, seq);
    int fd = openat(d->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, head, HEAD) || write_all(fd, payload, len) ||
        write_all(fd, tail, 8) || fsync(fd) != 0) {
        snprintf(errstr, errstr_size, "checkpoint.dir %s: cannot write %s: %s", d->path, tmp,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        unlinkat(d->dirfd, tmp, 0);
        return WEIR_ERR_IO;
    }
    close(fd);
    if (renameat(d->dirfd, tmp, d->dirfd, name) != 0 || fsync(d->dirfd) != 0) {
        snprintf(errstr, errstr_size, "checkpoint.dir %s: cannot commit %s: %s", d->path, name,
                 strerror(errno));
        unlinkat(d->dirfd, tmp, 0);
        return WEIR_ERR_IO;
    }
    d->seq = seq;
    uint64_t *seqs;
    size_t n;
    if (list(d, &seqs, &n) == 0) {
        for (size_t i = 0; i + (size_t)d->keep < n; i++) {
            file_name(name, seqs[i]);
            unlinkat(d->dirfd, name, 0);
        }
    }
    free(seqs);
    return WEIR_OK;
}

static weir_err read_file(weir_ckpt_dir *d, const char *name, uint8_t **out, size_t *len)
{
    int fd = openat(d->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return WEIR_ERR_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > MAX_PAYLOAD + HEAD + 8) {
        close(fd);
        return WEIR_ERR_IO;
    }
    uint8_t *b = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!b || got != (size_t)st.st_size) {
        free(b);
        return WEIR_ERR_IO;
    }
    *out = b;
    *len = got;
    return WEIR_OK;
}

/* list(), saying why it failed in errstr. */
static int list_or_fail(weir_ckpt_dir *d, uint64_t **out, size_t *n, char *errstr,
                        size_t errstr_size)
{
    if (list(d, out, n) == 0)
        return 0;
    snprintf(errstr, errstr_size, "checkpoint.dir %s: cannot list: %s", d->path, strerror(errno));
    return -1;
}

weir_err weir_ckpt_dir_load(weir_ckpt_dir *d, weir_ckpt_accept_fn accept, void *opaque,
                            weir_log_fn log, void *log_arg, char *errstr, size_t errstr_size)
{
    uint64_t *seqs;
    size_t n;
    if (list_or_fail(d, &seqs, &n, errstr, errstr_size) != 0)
        return WEIR_ERR_IO;
    weir_err result = n ? WEIR_ERR_CORRUPT : WEIR_ERR_NOT_FOUND;
    if (!n)
        snprintf(errstr, errstr_size, "checkpoint.dir %s: no checkpoint", d->path);
    for (size_t i = n; i-- > 0;) {
        char name[64], why[512] = "";
        file_name(name, seqs[i]);
        uint8_t *b = NULL;
        size_t len = 0;
        weir_err rc = read_file(d, name, &b, &len);
        if (rc != WEIR_OK)
            snprintf(why, sizeof why, "cannot read: %s", strerror(errno));
        else if (len < HEAD + 8 || memcmp(b, MAGIC, 8) != 0)
            snprintf(why, sizeof why, "not a weir checkpoint (bad magic or too short)");
        else if (weir__get_le64(b + 8) != VERSION)
            snprintf(why, sizeof why, "checkpoint format version %" PRIu64 " is not supported",
                     weir__get_le64(b + 8));
        else if (weir__get_le64(b + 24) != len - HEAD - 8 || weir__get_le64(b + 16) != seqs[i])
            snprintf(why, sizeof why, "truncated (length or sequence does not match)");
        else if (XXH64(b, len - 8, 0) != weir__get_le64(b + len - 8))
            snprintf(why, sizeof why, "checksum mismatch");
        else {
            rc = accept(opaque, b + HEAD, len - HEAD - 8, why, sizeof why);
            if (rc == WEIR_OK) {
                d->seq = seqs[n - 1] > seqs[i] ? seqs[n - 1] : seqs[i];
                free(b);
                free(seqs);
                return WEIR_OK;
            }
            if (rc != WEIR_ERR_CORRUPT && rc != WEIR_ERR_UNSUPPORTED) {
                snprintf(errstr, errstr_size, "%s/%s: %s", d->path, name, why);
                free(b);
                free(seqs);
                return rc;
            }
        }
        free(b);
        weir_log_field f[2] = {WEIR_LOG_STR("dir", d->path), WEIR_LOG_STR("file", name)};
        weir__logf(&(weir__log){log, log_arg}, WEIR_LOG_WARN, f, 2,
                   "checkpoint %s/%s refused: %s; trying an older one", d->path, name, why);
        snprintf(errstr, errstr_size,
                 "checkpoint.dir %s: no usable checkpoint (newest refused: %s)", d->path, why);
    }
    free(seqs);
    return result;
}

weir_err weir_ckpt_dir_clear(weir_ckpt_dir *d, char *errstr, size_t errstr_size)
{
    uint64_t *seqs;
    size_t n;
    if (list_or_fail(d, &seqs, &n, errstr, errstr_size) != 0)
        return WEIR_ERR_IO;
    for (size_t i = 0; i < n; i++) {
        char name[64];
        file_name(name, seqs[i]);
        unlinkat(d->dirfd, name, 0);
    }
    free(seqs);
    d->seq = 0;
    fsync(d->dirfd);
    return WEIR_OK;
}
