/* Filling a caller's error buffer: the one-line reasons that weir functions give. */
#ifndef WEIR_RUNTIME_ERRBUF_H
#define WEIR_RUNTIME_ERRBUF_H

#include <stddef.h>

/* printf into errstr when it is not NULL and has room; otherwise nothing. */
__attribute__((format(printf, 3, 4))) void weir__errf(char *errstr, size_t size, const char *fmt,
                                                      ...);

#endif
