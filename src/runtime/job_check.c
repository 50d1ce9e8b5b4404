/* Checking a job's configuration without starting it (`--check-config`, as `nginx -t`). */
#include <arpa/inet.h>
#include <string.h>

#include "runtime/errbuf.h"
#include "runtime/job_int.h"
#include "weir/job.h"
#include "weir/pipeline.h"

weir_err weir_job_check(const weir_conf *conf, int table, char *errstr, size_t errstr_size)
{
    if (errstr && errstr_size)
        errstr[0] = '\0';
    /* The pipeline refuses what the operator and the decoder cannot run. */
    weir_pipeline *p = weir_pipeline_new(conf, 1, NULL, 0, NULL, NULL, errstr, errstr_size);
    if (!p) {
        if (errstr && errstr_size && errstr[0])
            return WEIR_ERR_INVALID_ARG;
        weir__errf(errstr, errstr_size, "out of memory");
        return WEIR_ERR_NOMEM;
    }
    weir_pipeline_destroy(p);
    return weir__job_check_common(conf, table, errstr, errstr_size);
}

weir_err weir__job_check_common(const weir_conf *conf, int table, char *errstr, size_t errstr_size)
{
    const char *host = weir_conf_get(conf, "metrics.host");
    unsigned char addr[16];
    if (weir_conf_get_int(conf, "metrics.port") > 0 && inet_pton(AF_INET, host, addr) != 1 &&
        inet_pton(AF_INET6, host, addr) != 1) {
        weir__errf(errstr, errstr_size,
                   "metrics.host: \"%s\" is not a numeric IPv4 or IPv6 address", host);
        return WEIR_ERR_INVALID_ARG;
    }
    int kafka = weir_conf_get(conf, "brokers")[0] != '\0';
    if (!kafka && weir_conf_get(conf, "checkpoint.dir")[0]) {
        if (!strcmp(weir_conf_get(conf, "input.path"), "-")) {
            weir__errf(errstr, errstr_size,
                       "checkpoint.dir: resuming needs input.path to be a regular file, not "
                       "standard input");
            return WEIR_ERR_INVALID_ARG;
        }
        if (table || !strcmp(weir_conf_get(conf, "output.path"), "-")) {
            weir__errf(errstr, errstr_size,
                       "checkpoint.dir: resuming needs output.path to be a file, not standard "
                       "output");
            return WEIR_ERR_INVALID_ARG;
        }
    }
    return WEIR_OK;
}
