/* The services' operations flags and their logger with the platform's secrets registered. */
#include "ops.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"

void svc_ops_init(svc_ops *o)
{
    *o = (svc_ops){
        .log_format = WEIR_LOG_TEXT, .log_level = WEIR_LOG_INFO, .metrics_host = "127.0.0.1"};
}

static int bad(char *err, size_t err_size, const char *flag, const char *accepted)
{
    snprintf(err, err_size, "%s: %s", flag, accepted);
    return 2;
}

int svc_ops_flag(svc_ops *o, bool metrics, int argc, char **argv, int *i, char *err,
                 size_t err_size)
{
    const char *a = argv[*i];
    if (strcmp(a, "--check-config") == 0) {
        o->check = true;
        return 1;
    }
    bool known =
        strcmp(a, "--log-format") == 0 || strcmp(a, "--log-level") == 0 ||
        (metrics && (strcmp(a, "--metrics-port") == 0 || strcmp(a, "--metrics-host") == 0));
    if (!known)
        return 0;
    if (*i + 1 >= argc)
        return bad(err, err_size, a, "needs a value");
    const char *v = argv[++*i];
    unsigned char addr[16];
    int64_t n;
    if (strcmp(a, "--log-format") == 0) {
        if (weir_log_format_parse(v, &o->log_format) != WEIR_OK)
            return bad(err, err_size, a, "expected text or json");
    } else if (strcmp(a, "--log-level") == 0) {
        if (weir_log_level_parse(v, &o->log_level) != WEIR_OK)
            return bad(err, err_size, a, "expected debug, info, warn or error");
    } else if (strcmp(a, "--metrics-port") == 0) {
        if (!svc_parse_int(v, 0, 65535, &n))
            return bad(err, err_size, a,
                       o->no_listener ? "expected a port in 0..65535 (0: no endpoint)"
                                      : "expected a port in 0..65535 (0: /metrics on the "
                                        "--listen address)");
        o->metrics_port = (unsigned)n;
    } else {
        if (inet_pton(AF_INET, v, addr) != 1 && inet_pton(AF_INET6, v, addr) != 1)
            return bad(err, err_size, a, "expected a numeric IPv4 or IPv6 address");
        o->metrics_host = v;
    }
    return 1;
}

void svc_ops_usage(FILE *out, bool metrics)
{
    fputs("  --log-format text|json       log lines on stderr as text or JSON (default text)\n"
          "  --log-level debug|info|warn|error  lowest level logged (default info)\n"
          "  --check-config               check the flags and environment, then exit 0, or 2\n"
          "                               with the reason, without starting anything\n"
          "  --config-doc                 print this binary's section of docs/CONFIGURATION.md\n",
          out);
    if (metrics)
        fputs("  --metrics-port PORT          serve /metrics, /healthz and /readyz on their own\n"
              "                               port too (default 0: /metrics on --listen only)\n"
              "  --metrics-host ADDR          numeric address of that port (default 127.0.0.1)\n",
              out);
}

void svc_ops_config_doc(FILE *out, const char *name, const char *accepted, const svc_env_doc *env,
                        size_t n, void (*help)(FILE *out, const void *arg), const void *arg)
{
    fprintf(out, "\n## %s\n\nFlags:", name);
    /* The list as the unknown-flag error gives it, each flag as code. */
    for (const char *p = accepted; *p;) {
        p += strspn(p, ", ");
        size_t len = strcspn(p, ",");
        if (len)
            fprintf(out, " `%.*s`%s", (int)len, p, p[len] ? "," : ".");
        p += len;
    }
    if (n) {
        fputs("\n\n| environment variable | flag that wins over it | meaning |\n"
              "| --- | --- | --- |\n",
              out);
        for (size_t i = 0; i < n; i++)
            fprintf(out, "| `%s` | %s%s%s | %s |\n", env[i].name, env[i].flag ? "`" : "",
                    env[i].flag ? env[i].flag : "(none)", env[i].flag ? "`" : "", env[i].meaning);
    } else {
        fputs("\n\nNo environment variable.\n", out);
    }
    fputs("\n```text\n", out);
    help(out, arg);
    fputs("```\n", out);
}

/* Percent-decodes `s` (n bytes) into out (out_size > n). */
static void pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned hi, lo;
        if (s[i] == '%' && i + 2 < n && sscanf(s + i + 1, "%1x%1x", &hi, &lo) == 2) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

/* Registers the password of a postgresql:// URL or of a libpq key=value string. */
static bool add_db_secret(weir_logger *lg, const char *db)
{
    char pw[1024];
    const char *scheme = strstr(db, "://");
    if (scheme) {
        const char *auth = scheme + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *p = auth; p < auth + alen; p++)
            if (*p == '@')
                at = p;
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (!colon || (size_t)(at - colon - 1) >= sizeof pw)
            return true;
        size_t n = (size_t)(at - colon - 1);
        memcpy(pw, colon + 1, n);
        pw[n] = '\0';
        if (weir_logger_add_secret(lg, pw) != WEIR_OK)
            return false;
        pct_decode(colon + 1, n, pw);
        return weir_logger_add_secret(lg, pw) == WEIR_OK;
    }
    for (const char *p = strstr(db, "password"); p; p = strstr(p + 1, "password")) {
        const char *v = p + 8;
        while (*v == ' ')
            v++;
        if (*v != '=')
            continue;
        v++;
        while (*v == ' ')
            v++;
        size_t n = 0;
        if (*v == '\'') {
            for (v++; *v && *v != '\'' && n + 1 < sizeof pw; v++) {
                if (*v == '\\' && v[1])
                    v++;
                pw[n++] = *v;
            }
        } else {
            while (v[n] && v[n] != ' ' && n + 1 < sizeof pw) {
                pw[n] = v[n];
                n++;
            }
        }
        pw[n] = '\0';
        if (weir_logger_add_secret(lg, pw) != WEIR_OK)
            return false;
    }
    return true;
}

weir_logger *svc_ops_logger(const char *name, const svc_ops *o, const char *db)
{
    weir_logger *lg = NULL;
    if (weir_logger_new(name, o->log_format, o->log_level, STDERR_FILENO, &lg) != WEIR_OK)
        return NULL;
    static const char *const env[] = {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                      "AWS_ACCESS_KEY_ID", "DB_PASSWORD"};
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
        const char *v = getenv(env[i]);
        if (v && *v && weir_logger_add_secret(lg, v) != WEIR_OK) {
            weir_logger_destroy(lg);
            return NULL;
        }
    }
    if (db && !add_db_secret(lg, db)) {
        weir_logger_destroy(lg);
        return NULL;
    }
    return lg;
}

void svc_ops_wait_and_drain(struct svc_server *s, const sigset_t *sigs, weir_logger *lg)
{
    int sig = 0;
    sigwait(sigs, &sig);
    weir_log_field f = WEIR_LOG_STR("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    weir_logger_log(lg, WEIR_LOG_INFO, "draining", &f, 1);
    unsigned left = svc_server_drain(s, 10000);
    if (left) {
        f = WEIR_LOG_INT("in_flight", left);
        weir_logger_log(lg, WEIR_LOG_WARN, "requests still in flight after 10 s", &f, 1);
    }
}
