/* weir: a stream-processing library for event-time windowed jobs. The umbrella header. */
#ifndef WEIR_WEIR_H
#define WEIR_WEIR_H

#define WEIR_VERSION_MAJOR  0
#define WEIR_VERSION_MINOR  1
#define WEIR_VERSION_PATCH  0
#define WEIR_VERSION_STRING "0.1.0"
/* One number that grows with every release: major*10000 + minor*100 + patch. */
#define WEIR_VERSION_NUMBER                                                                        \
    (WEIR_VERSION_MAJOR * 10000 + WEIR_VERSION_MINOR * 100 + WEIR_VERSION_PATCH)

#include "weir/aggregate.h"
#include "weir/conf.h"
#include "weir/err.h"
#include "weir/event.h"
#include "weir/gagg.h"
#include "weir/gwindow.h"
#include "weir/output.h"
#include "weir/value.h"
#include "weir/watermark.h"
#include "weir/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library linked at run time (WEIR_VERSION_STRING when it was built). */
const char *weir_version(void);

#ifdef __cplusplus
}
#endif
#endif
