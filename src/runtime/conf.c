/* Configuration: the one table of keys, validation of values, and the generated reference. */
#include "weir/conf.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errbuf.h"
#include "runtime/logf.h"

/* T_LIST: a string to which each setting adds one item (a repeatable flag); items are kept
 * separated by LIST_SEP, which an item may not hold. */
typedef enum { T_STRING, T_INT, T_DURATION, T_BOOL, T_ENUM, T_LIST } key_type;

#define LIST_SEP '\x1f'

typedef struct key_def {
    const char *name;
    key_type type;
    const char *def;    /* default, as text */
    int64_t min, max;   /* T_INT and T_DURATION (ms) */
    const char *values; /* T_ENUM: accepted values separated by '|'; T_DURATION: "off" allowed if
                           non-NULL */
    const char *flag;   /* the unique-users flag that sets it, for the reference */
    const char *doc;
} key_def;

#define I64MAX INT64_MAX

/* The one table of keys. docs/CONFIGURATION.md is generated from it (make docs). */
static const key_def KEYS[] = {
    {"input.path", T_STRING, "-", 0, 0, NULL, "--input",
     "Input file of JSON lines, one record per line; `-` reads standard input."},
    {"output.path", T_STRING, "-", 0, 0, NULL, "--output",
     "Where results go as JSON lines; `-` is standard output, empty writes no file."},
    {"key.field", T_STRING, "product_id", 0, 0, NULL, "--key",
     "Field holding the grouping key; a dotted path reaches into nested objects. weir-window "
     "takes a comma-separated list of fields (a composite key)."},
    {"global", T_BOOL, "false", 0, 0, NULL, "--global",
     "One aggregate per window over all records, no key field."},
    {"user.field", T_STRING, "user_id", 0, 0, NULL, "--user-field",
     "Field whose distinct values are counted."},
    {"timestamp.field", T_STRING, "timestamp", 0, 0, NULL, "--timestamp-field",
     "Field holding the event time: ISO-8601 text (years 0000-9999, or a sign and 4 to 9 "
     "digits: -0001, +10000), or an integer of seconds "
     "or milliseconds, as a number or as text; a fraction or an exponent makes it invalid, as "
     "does a time 2^61 ms (73 million years) or more from the epoch."},
    {"timestamp.unit", T_ENUM, "auto", 0, 0, "auto|s|ms", "--timestamp-unit",
     "Unit of integer timestamps; `auto` takes values below 100,000,000,000 in absolute value "
     "as seconds, others as milliseconds."},
    {"window.size", T_DURATION, "60s", 1, I64MAX, NULL, "--window",
     "Size of the tumbling event-time windows, aligned to the epoch."},
    {"window.spec", T_STRING, "", 0, 0, NULL, NULL,
     "weir-window's windows (its `--window`): `tumble:W[@O]`, `hop:W/S` or `session:G`; empty: "
     "tumbling windows of window.size."},
    {"aggregates", T_LIST, "", 0, 0, NULL, NULL,
     "weir-window's aggregates (its repeatable `--agg`): each setting adds one, "
     "`FUNC(FIELD) [where PRED] [as NAME]`, output in the order given (docs/SEMANTICS.md)."},
    {"where", T_LIST, "", 0, 0, NULL, NULL,
     "weir-window's record filters (its repeatable `--where`): each setting adds one "
     "predicate `FIELD OP LITERAL [and ...]`; a record must pass all of them."},
    {"watermark.out.of.orderness", T_DURATION, "10s", 0, I64MAX, NULL, "--out-of-orderness",
     "Bounded out-of-orderness: the watermark trails the largest event time by this much."},
    {"window.allowed.lateness", T_DURATION, "0s", 0, I64MAX, NULL, "--allowed-lateness",
     "How long after the watermark passes a window's end its late records are still accepted."},
    {"emit.mode", T_ENUM, "updates", 0, 0, "updates|final", "--emit",
     "`updates` emits every firing, on-time and late (Flink); `final` emits each window once "
     "when its state is freed (Kafka Streams suppress)."},
    {"distinct.mode", T_ENUM, "exact", 0, 0, "exact|hll", "--distinct",
     "Exact distinct counting (roaring bitmaps) or a HyperLogLog estimate."},
    {"hll.precision", T_INT, "14", 4, 18, NULL, "--hll-precision",
     "HyperLogLog precision p: 2^p registers, standard error 1.04/sqrt(2^p)."},
    {"late.output.path", T_STRING, "", 0, 0, NULL, "--late-output",
     "File that receives records dropped as late, unchanged; empty: none."},
    {"dead.letter.path", T_STRING, "", 0, 0, NULL, "--dead-letter",
     "File that receives invalid records, unchanged; empty: none."},
    {"watermark.max.future.skew", T_DURATION, "off", 0, I64MAX, "off", "--max-future-skew",
     "Records further ahead of the wall clock than this are processed but do not move the "
     "watermark; `off` disables the cap."},
    {"watermark.idle.timeout", T_DURATION, "off", 0, I64MAX, "off", "--idle-timeout",
     "A partition without records for this long (wall time) is idle and does not hold the "
     "watermark back; `off` disables idleness."},
    {"watermark.idle.advance", T_BOOL, "false", 0, 0, NULL, "--idle-advance",
     "An idle partition's watermark advances with the wall clock, so a quiet stream's last "
     "windows still fire. Not reproducible: leave off for deterministic runs."},
    {"input.max.record.bytes", T_INT, "1048576", 64, 1073741824, NULL, NULL,
     "Longest record accepted; longer ones are invalid (counted and skipped)."},
    {"input.batch.records", T_INT, "4096", 1, 1048576, NULL, NULL,
     "Records handed to the operator at a time."},
    {"brokers", T_STRING, "", 0, 0, NULL, "--brokers",
     "Kafka bootstrap servers (host:port,...); empty: file mode."},
    {"input.topic", T_STRING, "ecom-raw-events", 0, 0, NULL, "--input-topic",
     "Kafka topic of raw events."},
    {"output.topic", T_STRING, "ecom-analytics-results", 0, 0, NULL, "--output-topic",
     "Kafka topic that receives every firing; empty: none."},
    {"group.id", T_STRING, "weir-unique-users", 0, 0, NULL, "--group-id",
     "Kafka consumer group of the job's instances."},
    {"dead.letter.topic", T_STRING, "", 0, 0, NULL, "--dead-letter-topic",
     "Kafka topic that receives invalid records unchanged; empty: none."},
    {"input.keyed", T_BOOL, "true", 0, 0, NULL, NULL,
     "The input topic is partitioned by the grouping key, so each partition runs as its own "
     "pipeline; false runs one pipeline over all partitions."},
    {"stop.when.idle", T_DURATION, "off", 0, I64MAX, "off", "--stop-when-idle",
     "Kafka mode: stop once every assigned partition is at its end and no record arrived for "
     "this long; `off` runs until SIGINT or SIGTERM."},
    {"drain", T_BOOL, "false", 0, 0, NULL, "--drain",
     "Kafka mode: when stopping because the input is drained, fire every open window first, as "
     "at the end of a file."},
    {"checkpoint.dir", T_STRING, "", 0, 0, NULL, "--checkpoint-dir",
     "Directory that keeps checkpoints; a restarted job resumes from the newest usable one. "
     "File mode needs an input file and an output file (not standard input or output)."},
    {"checkpoint.topic", T_STRING, "", 0, 0, NULL, "--checkpoint-topic",
     "Kafka mode: compacted topic that keeps each partition's checkpoints, so any member of "
     "the group can restore a partition it is given. Results are then released at each "
     "checkpoint, exactly once (docs/CHECKPOINTS.md). Empty with exactly.once: "
     "`<group.id>-checkpoints`, created compacted when missing."},
    {"instance.id", T_STRING, "", 0, 0, NULL, "--instance-id",
     "Kafka mode: this instance's stable identity in its group (static membership, "
     "group.instance.id) and in its transactional id, so that a restarted instance takes its "
     "partitions back at once and fences its predecessor. Empty: `<host>-<n>`, n the lowest "
     "number no other running instance of the group on this host holds."},
    {"checkpoint.interval", T_DURATION, "10s", 1, I64MAX, NULL, "--checkpoint-interval",
     "Wall time between checkpoints; in Kafka mode also the latency of results."},
    {"checkpoint.keep", T_INT, "3", 1, 1000, NULL, NULL,
     "Checkpoints kept per file-mode directory or per Kafka partition; older ones are removed "
     "or overwritten."},
    {"checkpoint.log", T_BOOL, "false", 0, 0, NULL, NULL,
     "Kafka mode: one info line in the log at each step of a checkpoint (writing, durable, "
     "done), for operators and tests."},
    {"exactly.once", T_BOOL, "false", 0, 0, NULL, "--exactly-once",
     "Kafka mode: results, checkpoint and consumed offsets go into one Kafka transaction per "
     "checkpoint, so read_committed readers see them together or not at all. Checkpoints go to "
     "checkpoint.topic, by default `<group.id>-checkpoints`."},
    {"reset.state", T_BOOL, "false", 0, 0, NULL, "--reset-state",
     "Ignore and remove existing checkpoints and start from empty state (needed when a "
     "checkpoint was taken with a configuration of another meaning)."},
    {"dynamodb.table", T_STRING, "ecom-analytics", 0, 0, NULL, "--dynamodb-table",
     "DynamoDB table that receives every firing."},
    {"dynamodb.endpoint", T_STRING, "", 0, 0, NULL, "--dynamodb-endpoint",
     "DynamoDB endpoint URL; empty: no DynamoDB sink unless aws.region is set, then AWS's "
     "regional endpoint."},
    {"aws.region", T_STRING, "", 0, 0, NULL, "--aws-region",
     "AWS region for SigV4 signing; empty: $AWS_REGION, else $AWS_DEFAULT_REGION, at signing."},
    {"dynamodb.create.table", T_BOOL, "false", 0, 0, NULL, "--dynamodb-create-table",
     "Create the table at start when it does not exist."},
    {"dynamodb.max.inflight", T_INT, "4", 1, 64, NULL, NULL,
     "BatchWriteItem requests in flight at once."},
    {"dynamodb.max.retries", T_INT, "10", 0, 100, NULL, NULL,
     "Attempts at a throttled or failed request before the job stops with an error."},
    {"log.format", T_ENUM, "text", 0, 0, "text|json", "--log-format",
     "Log lines on standard error as text or as JSON objects (`ts`, `level`, `binary`, `msg` "
     "and fields); secrets are masked in both."},
    {"log.level", T_ENUM, "info", 0, 0, "debug|info|warn|error", "--log-level",
     "Lowest level of the log lines written."},
    {"metrics.port", T_INT, "0", 0, 65535, NULL, "--metrics-port",
     "Port of the HTTP endpoint serving /metrics (Prometheus), /healthz and /readyz; 0: no "
     "endpoint."},
    {"metrics.host", T_STRING, "127.0.0.1", 0, 0, NULL, "--metrics-host",
     "Numeric address the metrics endpoint listens on; 0.0.0.0 for every interface."},
    {"health.watermark.stuck", T_DURATION, "off", 1, I64MAX, "off", "--watermark-stuck",
     "/readyz says not ready when the watermark has not advanced for this long while input is "
     "open; `off`: never."},
};

#define NKEYS (sizeof KEYS / sizeof KEYS[0])

/* The seeds' environment variables and the keys they set when neither a flag nor a --config
 * line did (weir_conf_load_env()); the reference and the help name them beside their keys.
 * None holds a secret: credentials stay with the AWS client (AWS_ACCESS_KEY_ID, ...). */
static const struct {
    const char *key, *env;
} ENV[] = {
    {"brokers", "KAFKA_BOOTSTRAP_SERVERS"}, {"input.topic", "KAFKA_INPUT_TOPIC"},
    {"output.topic", "KAFKA_OUTPUT_TOPIC"}, {"dynamodb.table", "DYNAMODB_TABLE"},
    {"aws.region", "AWS_REGION"},
};

#define NENV (sizeof ENV / sizeof ENV[0])

const char *weir_conf_key_env(const char *key)
{
    for (size_t i = 0; key && i < NENV; i++)
        if (strcmp(ENV[i].key, key) == 0)
            return ENV[i].env;
    return NULL;
}

/* Keys starting with one of these are passed through unchecked (librdkafka properties). */
static const char *const PASSTHROUGH[] = {"kafka."};

typedef struct extra {
    char *key, *value;
} extra;

struct weir_conf {
    char *values[NKEYS]; /* NULL: default */
    extra *extras;
    size_t n_extras, cap_extras;
    weir__log log;
};

static const key_def *find_key(const char *name, size_t *idx)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(KEYS[i].name, name) == 0) {
            if (idx)
                *idx = i;
            return &KEYS[i];
        }
    return NULL;
}

static int is_passthrough(const char *key)
{
    for (size_t i = 0; i < sizeof PASSTHROUGH / sizeof PASSTHROUGH[0]; i++) {
        size_t n = strlen(PASSTHROUGH[i]);
        if (strncmp(key, PASSTHROUGH[i], n) == 0 && key[n] != '\0')
            return 1;
    }
    return 0;
}

weir_conf *weir_conf_new(void)
{
    return calloc(1, sizeof(weir_conf));
}

void weir_conf_destroy(weir_conf *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        free(conf->values[i]);
    for (size_t i = 0; i < conf->n_extras; i++) {
        free(conf->extras[i].key);
        free(conf->extras[i].value);
    }
    free(conf->extras);
    free(conf);
}

weir_conf *weir_conf_dup(const weir_conf *conf)
{
    weir_conf *c = weir_conf_new();
    if (!c)
        return NULL;
    c->log = conf->log;
    for (size_t i = 0; i < NKEYS; i++)
        if (conf->values[i] && !(c->values[i] = strdup(conf->values[i])))
            goto fail;
    if (conf->n_extras) {
        c->extras = calloc(conf->n_extras, sizeof(extra));
        if (!c->extras)
            goto fail;
        c->cap_extras = conf->n_extras;
        for (size_t i = 0; i < conf->n_extras; i++) {
            c->extras[i].key = strdup(conf->extras[i].key);
            c->extras[i].value = strdup(conf->extras[i].value);
            c->n_extras++;
            if (!c->extras[i].key || !c->extras[i].value)
                goto fail;
        }
    }
    return c;
fail:
    weir_conf_destroy(c);
    return NULL;
}

void weir_conf_set_log(weir_conf *conf, weir_log_fn fn, void *arg)
{
    conf->log = (weir__log){fn, arg};
}

weir__log weir__conf_log(const weir_conf *conf)
{
    return conf ? conf->log : (weir__log){0};
}

weir_err weir_parse_duration(const char *text, int64_t *out_ms)
{
    const char *p = text;
    if (!p || !isdigit((unsigned char)*p))
        return WEIR_ERR_INVALID_ARG;
    int64_t v = 0;
    while (isdigit((unsigned char)*p)) {
        int d = *p++ - '0';
        if (v > (INT64_MAX - d) / 10)
            return WEIR_ERR_INVALID_ARG;
        v = v * 10 + d;
    }
    int64_t mult;
    if (strcmp(p, "ms") == 0)
        mult = 1;
    else if (strcmp(p, "s") == 0)
        mult = 1000;
    else if (strcmp(p, "m") == 0 || strcmp(p, "min") == 0)
        mult = 60000;
    else if (strcmp(p, "h") == 0)
        mult = 3600000;
    else if (strcmp(p, "d") == 0)
        mult = 86400000;
    else if (*p == '\0' && v == 0)
        mult = 1;
    else
        return WEIR_ERR_INVALID_ARG;
    if (v > INT64_MAX / mult)
        return WEIR_ERR_INVALID_ARG;
    *out_ms = v * mult;
    return WEIR_OK;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_int(const char *v, int64_t *out)
{
    if (!*v)
        return -1;
    errno = 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (errno || *end != '\0')
        return -1;
    *out = x;
    return 0;
}

static int enum_has(const char *values, const char *v)
{
    size_t n = strlen(v);
    const char *p = values;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

/* Checks `v` against `k`; 0 when valid. */
static int validate(const key_def *k, const char *v, char *errstr, size_t size)
{
    int64_t x;
    int b;
    switch (k->type) {
    case T_STRING: return 0;
    case T_LIST:
        if (!strchr(v, LIST_SEP))
            return 0;
        weir__errf(errstr, size, "%s: invalid value: it holds the byte 0x1f", k->name);
        return -1;
    case T_BOOL:
        if (parse_bool(v, &b) == 0)
            return 0;
        weir__errf(errstr, size, "%s: invalid value \"%s\": accepted values are true or false",
                   k->name, v);
        return -1;
    case T_ENUM:
        if (enum_has(k->values, v))
            return 0;
        weir__errf(errstr, size, "%s: invalid value \"%s\": accepted values are %s", k->name, v,
                   k->values);
        return -1;
    case T_INT:
        if (parse_int(v, &x) == 0 && x >= k->min && x <= k->max)
            return 0;
        weir__errf(errstr, size,
                   "%s: invalid value \"%s\": accepted values are integers from %" PRId64
                   " to %" PRId64,
                   k->name, v, k->min, k->max);
        return -1;
    case T_DURATION:
        if (k->values && strcmp(v, "off") == 0)
            return 0;
        if (weir_parse_duration(v, &x) == WEIR_OK && x >= k->min && x <= k->max)
            return 0;
        weir__errf(errstr, size,
                   "%s: invalid value \"%s\": accepted values are durations like 500ms, 10s, "
                   "1m, 2h%s%s",
                   k->name, v, k->min > 0 ? " (greater than 0)" : "", k->values ? ", or off" : "");
        return -1;
    }
    return -1;
}

weir_err weir_conf_set(weir_conf *conf, const char *key, const char *value, char *errstr,
                       size_t errstr_size)
{
    if (!conf || !key || !value) {
        weir__errf(errstr, errstr_size, "configuration: missing key or value");
        return WEIR_ERR_INVALID_ARG;
    }
    size_t idx;
    const key_def *k = find_key(key, &idx);
    if (!k) {
        if (!is_passthrough(key)) {
            weir__errf(errstr, errstr_size,
                       "%s: unknown configuration key (see docs/CONFIGURATION.md; librdkafka "
                       "properties take the prefix kafka.)",
                       key);
            return WEIR_ERR_INVALID_ARG;
        }
        char *v = strdup(value);
        if (!v)
            return WEIR_ERR_NOMEM;
        for (size_t i = 0; i < conf->n_extras; i++)
            if (strcmp(conf->extras[i].key, key) == 0) {
                free(conf->extras[i].value);
                conf->extras[i].value = v;
                return WEIR_OK;
            }
        if (conf->n_extras == conf->cap_extras) {
            size_t cap = conf->cap_extras ? conf->cap_extras * 2 : 8;
            extra *e = realloc(conf->extras, cap * sizeof(extra));
            if (!e) {
                free(v);
                return WEIR_ERR_NOMEM;
            }
            conf->extras = e;
            conf->cap_extras = cap;
        }
        char *kc = strdup(key);
        if (!kc) {
            free(v);
            return WEIR_ERR_NOMEM;
        }
        conf->extras[conf->n_extras++] = (extra){kc, v};
        return WEIR_OK;
    }
    if (validate(k, value, errstr, errstr_size) != 0)
        return WEIR_ERR_INVALID_ARG;
    char *v;
    if (k->type == T_LIST && conf->values[idx]) {
        size_t a = strlen(conf->values[idx]), b = strlen(value);
        if ((v = malloc(a + 1 + b + 1))) {
            memcpy(v, conf->values[idx], a);
            v[a] = LIST_SEP;
            memcpy(v + a + 1, value, b + 1);
        }
    } else {
        v = strdup(value);
    }
    if (!v)
        return WEIR_ERR_NOMEM;
    free(conf->values[idx]);
    conf->values[idx] = v;
    return WEIR_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

weir_err weir_conf_load_file(weir_conf *conf, const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        weir__errf(errstr, errstr_size, "--config %s: cannot read: %s", path, strerror(errno));
        return WEIR_ERR_IO;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    weir_err rc = WEIR_OK;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        /* Keys and values are C strings: a NUL would silently cut the line short. */
        const char *nul = memchr(line, '\0', (size_t)n);
        if (nul) {
            weir__errf(errstr, errstr_size,
                       "%s:%d: NUL byte at column %zu (a configuration file is text)", path, lineno,
                       (size_t)(nul - line) + 1);
            rc = WEIR_ERR_INVALID_ARG;
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            weir__errf(errstr, errstr_size, "%s:%d: expected key=value, got \"%s\"", path, lineno,
                       s);
            rc = WEIR_ERR_INVALID_ARG;
            break;
        }
        *eq = '\0';
        char inner[512];
        rc = weir_conf_set(conf, trim(s), trim(eq + 1), inner, sizeof inner);
        if (rc != WEIR_OK) {
            weir__errf(errstr, errstr_size, "%s:%d: %s", path, lineno, inner);
            break;
        }
    }
    if (rc == WEIR_OK && ferror(f)) {
        weir__errf(errstr, errstr_size, "--config %s: read error", path);
        rc = WEIR_ERR_IO;
    }
    free(line);
    fclose(f);
    return rc;
}

weir_err weir_conf_load_env(weir_conf *conf, char *errstr, size_t errstr_size)
{
    if (!conf) {
        weir__errf(errstr, errstr_size, "configuration: missing");
        return WEIR_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < NENV; i++) {
        const char *v = getenv(ENV[i].env);
        if (!v || !*v || weir_conf_is_set(conf, ENV[i].key))
            continue;
        char inner[448];
        weir_err rc = weir_conf_set(conf, ENV[i].key, v, inner, sizeof inner);
        if (rc != WEIR_OK) {
            weir__errf(errstr, errstr_size, "%s: %s", ENV[i].env, inner);
            return rc;
        }
    }
    return WEIR_OK;
}

const char *weir_conf_get(const weir_conf *conf, const char *key)
{
    size_t idx;
    const key_def *k = find_key(key, &idx);
    if (k)
        return conf->values[idx] ? conf->values[idx] : k->def;
    for (size_t i = 0; i < conf->n_extras; i++)
        if (strcmp(conf->extras[i].key, key) == 0)
            return conf->extras[i].value;
    return NULL;
}

int weir_conf_is_set(const weir_conf *conf, const char *key)
{
    size_t idx;
    if (find_key(key, &idx))
        return conf->values[idx] != NULL;
    for (size_t i = 0; i < conf->n_extras; i++)
        if (strcmp(conf->extras[i].key, key) == 0)
            return 1;
    return 0;
}

int64_t weir_conf_get_int(const weir_conf *conf, const char *key)
{
    const key_def *k = find_key(key, NULL);
    assert(k && k->type == T_INT);
    int64_t x = 0;
    if (!k || k->type != T_INT || parse_int(weir_conf_get(conf, key), &x) != 0)
        return 0;
    return x;
}

int64_t weir_conf_get_duration_ms(const weir_conf *conf, const char *key)
{
    const key_def *k = find_key(key, NULL);
    assert(k && k->type == T_DURATION);
    int64_t x = 0;
    if (!k || k->type != T_DURATION)
        return 0;
    const char *v = weir_conf_get(conf, key);
    if (strcmp(v, "off") == 0 || weir_parse_duration(v, &x) != WEIR_OK)
        return 0;
    return x;
}

int weir_conf_get_bool(const weir_conf *conf, const char *key)
{
    const key_def *k = find_key(key, NULL);
    assert(k && k->type == T_BOOL);
    int b = 0;
    if (!k || k->type != T_BOOL || parse_bool(weir_conf_get(conf, key), &b) != 0)
        return 0;
    return b;
}

void weir_conf_foreach_prefix(const weir_conf *conf, const char *prefix,
                              void (*fn)(void *opaque, const char *name, const char *value),
                              void *opaque)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < NKEYS; i++)
        if (conf->values[i] && strncmp(KEYS[i].name, prefix, n) == 0)
            fn(opaque, KEYS[i].name + n, conf->values[i]);
    for (size_t i = 0; i < conf->n_extras; i++)
        if (strncmp(conf->extras[i].key, prefix, n) == 0)
            fn(opaque, conf->extras[i].key + n, conf->extras[i].value);
}

static const char *type_name(const key_def *k, char *buf, size_t size)
{
    switch (k->type) {
    case T_STRING: return "string";
    case T_LIST: return "list (repeatable)";
    case T_BOOL: return "bool";
    case T_ENUM: snprintf(buf, size, "`%s`", k->values); return buf;
    case T_INT: snprintf(buf, size, "integer %" PRId64 "..%" PRId64, k->min, k->max); return buf;
    case T_DURATION: return k->values ? "duration or `off`" : "duration";
    }
    return "";
}

void weir_conf_write_doc(FILE *out)
{
    fprintf(out, "# Configuration keys\n\n"
                 "Generated from the key table in `src/runtime/conf.c` by `make docs`; "
                 "do not edit by hand.\n\n"
                 "Every key can be set with `-X key=value` or a `--config FILE` line "
                 "`key=value`; the flag column names the job flag that sets the same key. "
                 "Durations are an integer with a unit: `500ms`, `10s`, `1m`, `2h`, `1d`. "
                 "Keys starting with `kafka.` are passed to librdkafka without the prefix "
                 "(`-X kafka.security.protocol=SASL_SSL`). In unique-users, a key that names an "
                 "environment "
                 "variable takes its value from it when neither a flag, `-X` nor `--config` set "
                 "it (the seeds' variables, as in a Kubernetes ConfigMap).\n\n"
                 "| key | type | default | flag | meaning |\n"
                 "| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < NKEYS; i++) {
        char buf[128];
        const key_def *k = &KEYS[i];
        const char *env = weir_conf_key_env(k->name);
        fprintf(out, "| `%s` | %s | `%s` | %s%s%s | %s%s%s%s |\n", k->name,
                type_name(k, buf, sizeof buf), k->def[0] ? k->def : "\"\"", k->flag ? "`" : "",
                k->flag ? k->flag : "", k->flag ? "`" : "", k->doc, env ? " Environment: `" : "",
                env ? env : "", env ? "`." : "");
    }
}

const char *weir_conf_key_for_flag(const char *flag, int *takes_value)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (KEYS[i].flag && strcmp(KEYS[i].flag, flag) == 0) {
            if (takes_value)
                *takes_value = KEYS[i].type != T_BOOL;
            return KEYS[i].name;
        }
    return NULL;
}

static const char *metavar(const key_def *k)
{
    switch (k->type) {
    case T_STRING:
        return strstr(k->name, "path") ? "PATH" : strstr(k->name, "field") ? "FIELD" : "NAME";
    case T_INT: return "N";
    case T_DURATION: return "DUR";
    case T_BOOL: return "";
    case T_ENUM: return k->values;
    case T_LIST: return "SPEC";
    }
    return "";
}

static void write_flags(FILE *out, const char *const *flags, int with_env)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const key_def *k = &KEYS[i];
        if (!k->flag)
            continue;
        int listed = !flags;
        for (size_t f = 0; flags && flags[f]; f++)
            listed |= !strcmp(flags[f], k->flag);
        if (!listed)
            continue;
        char left[64];
        snprintf(left, sizeof left, "%s %s", k->flag, metavar(k));
        fprintf(out, "  %-34s %s [%s", left, k->doc, k->name);
        if (k->type != T_BOOL && k->def[0])
            fprintf(out, ", default %s", k->def);
        const char *env = with_env ? weir_conf_key_env(k->name) : NULL;
        if (env)
            fprintf(out, ", env %s", env);
        fprintf(out, "]\n");
    }
}

void weir_conf_write_flags(FILE *out)
{
    write_flags(out, NULL, 1);
}

/* A job that takes a subset of the flags does not necessarily read the environment. */
void weir_conf_write_flags_only(FILE *out, const char *const *flags)
{
    write_flags(out, flags, 0);
}

int weir_conf_get_list(const weir_conf *conf, const char *key,
                       int (*fn)(void *opaque, const char *item), void *opaque)
{
    size_t idx;
    const key_def *k = find_key(key, &idx);
    assert(k && k->type == T_LIST);
    if (!k || k->type != T_LIST || !conf->values[idx])
        return 0;
    const char *p = conf->values[idx];
    for (;;) {
        const char *sep = strchr(p, LIST_SEP);
        size_t n = sep ? (size_t)(sep - p) : strlen(p);
        char *item = strndup(p, n);
        if (!item)
            return -1;
        int r = fn(opaque, item);
        free(item);
        if (r)
            return r;
        if (!sep)
            return 0;
        p = sep + 1;
    }
}
