/* The jobs' signals: SIGINT and SIGTERM call the job's handler (which sets the stop flag its
 * run polls), and SIGPIPE is ignored so that a closed output is a write error the job
 * reports, not a silent end of the process. */
#ifndef WEIR_JOBS_SIGNALS_H
#define WEIR_JOBS_SIGNALS_H

#include <signal.h>
#include <string.h>

static inline void catch_stop_signals(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

#endif
