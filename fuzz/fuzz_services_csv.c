/* libFuzzer target for product-import's CSV reader (services/lib/csv.c): any bytes end in a
 * finite sequence of records whose lines only grow, each field a NUL-terminated copy, and the
 * UTF-8 check agrees with itself on every field. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../services/lib/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    svc_csv_reader rd;
    svc_csv_init(&rd, (const char *)data, size);
    svc_csv_record r;
    size_t last = 0, records = 0, lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    while (svc_csv_next(&rd, &r)) {
        if (r.line < last || r.line > lines || r.n > SVC_CSV_MAX_FIELDS || ++records > size)
            abort();
        last = r.line;
        for (size_t i = 0; i < r.n; i++)
            if (strlen(r.fields[i]) > size ||
                svc_utf8_valid(r.fields[i]) != svc_utf8_valid(r.fields[i]))
                abort();
        svc_csv_record_free(&r);
    }
    return 0;
}
