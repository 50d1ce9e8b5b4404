/* The logger: one text or JSON line per entry, with secrets masked, written with one write(2).
 *
 * What is masked, in this order: the exact secrets registered with weir_logger_add_secret(),
 * then the shapes weir_log_mask_secrets() knows. The masking runs on every string value and on
 * the message, before the format's escaping, so an escaped secret cannot slip through. */
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "runtime/utf8.h"
#include "util/buf.h"
#include "util/clock.h"
#include "weir/log.h"

#define MASK "***"

struct weir_logger {
    char *name;
    weir_log_format format;
    _Atomic int level;
    int fd;
    char **secrets;
    size_t nsecrets;
};

/* ------------------------------------------------------------------ masking */

static int contains_ci(const char *s, size_t n, const char *word)
{
    size_t k = strlen(word);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, word, k) == 0)
            return 1;
    return 0;
}

static const char *const secret_keys[] = {"password",   "passwd",        "secret",  "token",
                                          "credential", "authorization", "api_key", "apikey"};
/* In values, `credential` and `authorization` are not masked after their key: SigV4's
 * Credential=AKIA.../date/region/service scope is not secret (its key id is masked on its
 * own) and an Authorization header's Signature= is masked on its own. */
static const char *const secret_words[] = {"password", "passwd",    "pwd",     "secret",
                                           "token",    "signature", "api_key", "apikey"};

static int names_secret(const char *s, size_t n, const char *const *words, size_t nwords)
{
    for (size_t i = 0; i < nwords; i++)
        if (contains_ci(s, n, words[i]))
            return 1;
    return 0;
}

static int word_char(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

static int b64_char(int c)
{
    return isalnum(c) || c == '/' || c == '+';
}

/* An AWS access key id at s: AKIA or ASIA and 16 upper-case letters or digits, alone. */
static size_t aws_key_id(const char *s, size_t i)
{
    if (i && isalnum((unsigned char)s[i - 1]))
        return 0;
    if (strncmp(s + i, "AKIA", 4) != 0 && strncmp(s + i, "ASIA", 4) != 0)
        return 0;
    size_t n = 4;
    while (n < 20 && (isupper((unsigned char)s[i + n]) || isdigit((unsigned char)s[i + n])))
        n++;
    return n == 20 && !isalnum((unsigned char)s[i + n]) ? n : 0;
}

/* A word of exactly 40 base64 characters with upper and lower case letters and a digit: the
 * shape of an AWS secret access key (a hex SHA-1 has no upper case). */
static size_t aws_secret_shape(const char *s, size_t i)
{
    if (i && b64_char((unsigned char)s[i - 1]))
        return 0;
    size_t n = 0;
    int up = 0, low = 0, dig = 0;
    while (b64_char((unsigned char)s[i + n])) {
        up |= isupper((unsigned char)s[i + n]);
        low |= islower((unsigned char)s[i + n]);
        dig |= isdigit((unsigned char)s[i + n]);
        n++;
    }
    return n == 40 && up && low && dig && s[i + n] != '=' ? n : 0;
}

/* `key=value`, `key: value`, `"key":"value"` with a secret-named key starting at i: copies the
 * key and separator, then MASK, and returns the length consumed; 0 when not there. */
static size_t secret_pair(weir__buf *b, const char *s, size_t i)
{
    if (i && word_char((unsigned char)s[i - 1]))
        return 0;
    size_t j = i;
    while (word_char((unsigned char)s[j]))
        j++;
    if (j == i || !names_secret(s + i, j - i, secret_words, sizeof secret_words / sizeof(char *)))
        return 0;
    size_t k = j;
    if (s[k] == '"' || s[k] == '\'')
        k++;
    while (s[k] == ' ')
        k++;
    if (s[k] != '=' && s[k] != ':')
        return 0;
    k++;
    while (s[k] == ' ')
        k++;
    char quote = 0;
    if (s[k] == '"' || s[k] == '\'')
        quote = s[k++];
    size_t v = k;
    if (quote) {
        while (s[v] && s[v] != quote)
            v += s[v] == '\\' && s[v + 1] ? 2 : 1;
    } else {
        while (s[v] && !isspace((unsigned char)s[v]) && !strchr("&,;\"'})", s[v]))
            v++;
    }
    if (v == k)
        return 0;
    weir__buf_put(b, s + i, k - i);
    weir__buf_str(b, MASK);
    return v - i;
}

/* scheme://user:password@host: copies up to the colon, then MASK, and returns the length
 * consumed from i (which points at "://"); 0 when there is no password. */
static size_t url_password(weir__buf *b, const char *s, size_t i)
{
    if (strncmp(s + i, "://", 3) != 0)
        return 0;
    size_t start = i + 3, end = start, at = 0, colon = 0;
    while (s[end] && !strchr("/?# \t\r\n\"'", s[end])) {
        if (s[end] == '@')
            at = end;
        end++;
    }
    if (!at)
        return 0;
    for (size_t k = start; k < at; k++)
        if (s[k] == ':') {
            colon = k;
            break;
        }
    if (!colon)
        return 0;
    weir__buf_put(b, s + i, colon + 1 - i);
    weir__buf_str(b, MASK);
    return at - i;
}

static void mask_into(weir__buf *b, const char *key, const char *s)
{
    if (key && names_secret(key, strlen(key), secret_keys, sizeof secret_keys / sizeof(char *))) {
        weir__buf_str(b, *s ? MASK : "");
        return;
    }
    for (size_t i = 0; s[i];) {
        size_t n;
        if ((n = aws_key_id(s, i)) || (n = aws_secret_shape(s, i))) {
            weir__buf_str(b, MASK);
            i += n;
        } else if ((n = secret_pair(b, s, i)) || (n = url_password(b, s, i))) {
            i += n;
        } else {
            weir__buf_put(b, s + i, 1);
            i++;
        }
    }
}

size_t weir_log_mask_secrets(const char *key, const char *value, char *out, size_t out_size)
{
    weir__buf b = {0};
    weir__buf_put(&b, "", 0);
    mask_into(&b, key, value ? value : "");
    size_t need = b.len;
    if (b.oom) {
        /* Without memory nothing is shown, so nothing leaks. */
        need = strlen(MASK);
        if (out && out_size)
            snprintf(out, out_size, "%s", MASK);
    } else if (out && out_size) {
        snprintf(out, out_size, "%s", b.p);
    }
    free(b.p);
    return need;
}

/* The registered secrets replaced in s, then the known shapes. */
static void mask_all(const weir_logger *lg, weir__buf *b, const char *key, const char *s)
{
    if (!s)
        s = "";
    weir__buf exact = {0};
    weir__buf_put(&exact, "", 0);
    for (size_t i = 0; s[i];) {
        size_t hit = 0;
        for (size_t k = 0; k < lg->nsecrets && !hit; k++) {
            size_t n = strlen(lg->secrets[k]);
            if (strncmp(s + i, lg->secrets[k], n) == 0)
                hit = n;
        }
        if (hit) {
            weir__buf_str(&exact, MASK);
            i += hit;
        } else {
            weir__buf_put(&exact, s + i, 1);
            i++;
        }
    }
    if (exact.oom)
        weir__buf_str(b, MASK);
    else
        mask_into(b, key, exact.p);
    free(exact.p);
}

/* ------------------------------------------------------------------ formats */

static void json_str(weir__buf *b, const char *s)
{
    weir__buf_put(b, "\"", 1);
    for (size_t i = 0; s[i];) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            weir__buf_put(b, e, 2);
            i++;
        } else if (c == '\n') {
            weir__buf_put(b, "\\n", 2), i++;
        } else if (c == '\t') {
            weir__buf_put(b, "\\t", 2), i++;
        } else if (c == '\r') {
            weir__buf_put(b, "\\r", 2), i++;
        } else if (c < 0x20) {
            weir__buf_printf(b, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            weir__buf_put(b, s + i, 1), i++;
        } else {
            size_t n = weir__utf8_len((const unsigned char *)s + i);
            if (n)
                weir__buf_put(b, s + i, n), i += n;
            else
                weir__buf_str(b, "\\ufffd"), i++;
        }
    }
    weir__buf_put(b, "\"", 1);
}

/* A text value: bare when it is one plain word, else quoted with \" \\ \n \r \t escaped. */
static void text_value(weir__buf *b, const char *s, int always_bare)
{
    int bare = *s != '\0' || always_bare;
    for (const char *p = s; *p && bare; p++)
        if (isspace((unsigned char)*p) || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
            bare = 0;
    if (bare) {
        weir__buf_str(b, s);
        return;
    }
    if (!always_bare)
        weir__buf_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\n')
            weir__buf_put(b, "\\n", 2);
        else if (*p == '\r')
            weir__buf_put(b, "\\r", 2);
        else if (*p == '\t' && !always_bare)
            weir__buf_put(b, "\\t", 2);
        else if ((*p == '"' || *p == '\\') && !always_bare) {
            weir__buf_put(b, "\\", 1);
            weir__buf_put(b, p, 1);
        } else
            weir__buf_put(b, p, 1);
    }
    if (!always_bare)
        weir__buf_put(b, "\"", 1);
}

static void number(weir__buf *b, const weir_log_field *f)
{
    if (f->type == WEIR_LOG_FIELD_INT) {
        weir__buf_printf(b, "%lld", (long long)f->i);
    } else if (f->f != f->f || f->f > 1.7976931348623157e308 || f->f < -1.7976931348623157e308) {
        weir__buf_str(b, "null"); /* JSON has no NaN or infinity */
    } else {
        weir__buf_printf(b, "%.17g", f->f);
    }
}

const char *weir_log_level_str(weir_log_level level)
{
    switch (level) {
    case WEIR_LOG_DEBUG: return "debug";
    case WEIR_LOG_INFO: return "info";
    case WEIR_LOG_WARN: return "warn";
    case WEIR_LOG_ERROR: return "error";
    }
    return "unknown";
}

static void timestamp(weir__buf *b)
{
    int64_t ms = weir__wall_ms();
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char t[32];
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    weir__buf_printf(b, "%s.%03dZ", t, (int)(ms % 1000));
}

static void format_line(const weir_logger *lg, weir__buf *b, weir_log_level level, const char *msg,
                        const weir_log_field *fields, size_t n)
{
    weir__buf tmp = {0};
    int json = lg->format == WEIR_LOG_JSON;
    if (json) {
        weir__buf_str(b, "{\"ts\":\"");
        timestamp(b);
        weir__buf_printf(b, "\",\"level\":\"%s\",\"binary\":", weir_log_level_str(level));
        json_str(b, lg->name);
        weir__buf_str(b, ",\"msg\":");
    } else {
        timestamp(b);
        weir__buf_printf(b, " %s %s: ", weir_log_level_str(level), lg->name);
    }
    weir__buf_put(&tmp, "", 0);
    mask_all(lg, &tmp, NULL, msg ? msg : "");
    if (json)
        json_str(b, tmp.oom ? MASK : tmp.p);
    else
        text_value(b, tmp.oom ? MASK : tmp.p, 1);
    for (size_t i = 0; i < n; i++) {
        const weir_log_field *f = &fields[i];
        const char *key = f->key ? f->key : "";
        if (json) {
            weir__buf_put(b, ",", 1);
            json_str(b, key);
            weir__buf_put(b, ":", 1);
        } else {
            weir__buf_put(b, " ", 1);
            weir__buf_str(b, key);
            weir__buf_put(b, "=", 1);
        }
        if (f->type != WEIR_LOG_FIELD_STR) {
            number(b, f);
            continue;
        }
        weir__buf_clear(&tmp);
        mask_all(lg, &tmp, key, f->str);
        if (json)
            json_str(b, tmp.oom ? MASK : tmp.p);
        else
            text_value(b, tmp.oom ? MASK : tmp.p, 0);
    }
    free(tmp.p);
    weir__buf_str(b, json ? "}\n" : "\n");
}

/* ------------------------------------------------------------------ the logger */

weir_err weir_logger_new(const char *name, weir_log_format format, weir_log_level level, int fd,
                         weir_logger **out)
{
    if (!name || !out || fd < 0 || (format != WEIR_LOG_TEXT && format != WEIR_LOG_JSON) ||
        level < WEIR_LOG_DEBUG || level > WEIR_LOG_ERROR)
        return WEIR_ERR_INVALID_ARG;
    weir_logger *lg = calloc(1, sizeof *lg);
    if (!lg)
        return WEIR_ERR_NOMEM;
    lg->name = strdup(name);
    if (!lg->name) {
        free(lg);
        return WEIR_ERR_NOMEM;
    }
    lg->format = format;
    atomic_init(&lg->level, (int)level);
    lg->fd = fd;
    *out = lg;
    return WEIR_OK;
}

void weir_logger_destroy(weir_logger *lg)
{
    if (!lg)
        return;
    for (size_t i = 0; i < lg->nsecrets; i++)
        free(lg->secrets[i]);
    free(lg->secrets);
    free(lg->name);
    free(lg);
}

void weir_logger_set_level(weir_logger *lg, weir_log_level level)
{
    atomic_store_explicit(&lg->level, (int)level, memory_order_relaxed);
}

int weir_logger_enabled(const weir_logger *lg, weir_log_level level)
{
    return lg &&
           (int)level >= atomic_load_explicit(&((weir_logger *)lg)->level, memory_order_relaxed);
}

weir_err weir_logger_add_secret(weir_logger *lg, const char *secret)
{
    if (!lg)
        return WEIR_ERR_INVALID_ARG;
    if (!secret || !*secret)
        return WEIR_OK;
    char **s = realloc(lg->secrets, (lg->nsecrets + 1) * sizeof *s);
    if (!s)
        return WEIR_ERR_NOMEM;
    lg->secrets = s;
    s[lg->nsecrets] = strdup(secret);
    if (!s[lg->nsecrets])
        return WEIR_ERR_NOMEM;
    lg->nsecrets++;
    return WEIR_OK;
}

void weir_logger_log(weir_logger *lg, weir_log_level level, const char *msg,
                     const weir_log_field *fields, size_t n_fields)
{
    if (!weir_logger_enabled(lg, level))
        return;
    weir__buf b = {0};
    format_line(lg, &b, level, msg, fields, n_fields);
    if (b.oom) {
        free(b.p);
        return;
    }
    for (size_t off = 0; off < b.len;) {
        ssize_t w = write(lg->fd, b.p + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(b.p);
}

void weir_logger_fn(void *logger, weir_log_level level, const char *msg,
                    const weir_log_field *fields, size_t n_fields)
{
    weir_logger_log(logger, level, msg, fields, n_fields);
}

weir_err weir_log_level_parse(const char *s, weir_log_level *out)
{
    static const struct {
        const char *name;
        weir_log_level level;
    } names[] = {{"debug", WEIR_LOG_DEBUG},
                 {"info", WEIR_LOG_INFO},
                 {"warn", WEIR_LOG_WARN},
                 {"warning", WEIR_LOG_WARN},
                 {"error", WEIR_LOG_ERROR}};
    for (size_t i = 0; s && out && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return WEIR_OK;
        }
    return WEIR_ERR_INVALID_ARG;
}

weir_err weir_log_format_parse(const char *s, weir_log_format *out)
{
    if (!s || !out)
        return WEIR_ERR_INVALID_ARG;
    if (strcmp(s, "text") == 0)
        *out = WEIR_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = WEIR_LOG_JSON;
    else
        return WEIR_ERR_INVALID_ARG;
    return WEIR_OK;
}
