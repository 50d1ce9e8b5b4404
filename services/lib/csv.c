/* RFC 4180 CSV records for product-import (services/lib/csv.h). */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

void svc_csv_init(svc_csv_reader *rd, const char *data, size_t len)
{
    rd->p = data, rd->end = data + len, rd->line = 1;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        rd->p += 3;
}

void svc_csv_record_free(svc_csv_record *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->fields[i]);
    r->n = 0;
}

static bool push_field(svc_csv_record *r, const char *s, size_t len)
{
    if (r->n == SVC_CSV_MAX_FIELDS) {
        r->error = "more than 64 fields";
        return false;
    }
    char *f = malloc(len + 1);
    if (!f) {
        r->error = "out of memory";
        return false;
    }
    memcpy(f, s, len);
    f[len] = '\0';
    r->fields[r->n++] = f;
    return true;
}

bool svc_csv_next(svc_csv_reader *rd, svc_csv_record *r)
{
    memset(r, 0, sizeof *r);
    /* skip blank lines */
    for (;;) {
        const char *q = rd->p;
        while (q < rd->end && (*q == ' ' || *q == '\t'))
            q++;
        if (q < rd->end && (*q == '\n' || (*q == '\r' && q + 1 < rd->end && q[1] == '\n'))) {
            rd->p = q + (*q == '\r' ? 2 : 1);
            rd->line++;
            continue;
        }
        if (q == rd->end)
            return false;
        break;
    }
    r->line = rd->line;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) { /* one field */
        len = 0;
        bool quoted = rd->p < rd->end && *rd->p == '"';
        if (quoted) {
            rd->p++;
            for (;;) {
                if (rd->p == rd->end) {
                    r->error = "unterminated quoted field (truncated file?)";
                    free(buf);
                    return true;
                }
                char ch = *rd->p++;
                if (ch == '"') {
                    if (rd->p < rd->end && *rd->p == '"') {
                        rd->p++;
                    } else {
                        break;
                    }
                } else if (ch == '\n') {
                    rd->line++;
                }
                if (len + 1 >= cap) {
                    char *nb = realloc(buf, cap = cap ? cap * 2 : 256);
                    if (!nb) {
                        free(buf);
                        r->error = "out of memory";
                        return true;
                    }
                    buf = nb;
                }
                buf[len++] = ch;
            }
            if (rd->p < rd->end && *rd->p != ',' && *rd->p != '\n' && *rd->p != '\r') {
                r->error = "a quote inside a quoted field must be doubled";
            }
        } else {
            const char *s = rd->p;
            while (rd->p < rd->end && *rd->p != ',' && *rd->p != '\n' && *rd->p != '\r')
                rd->p++;
            len = (size_t)(rd->p - s);
            if (len + 1 > cap) {
                char *nb = realloc(buf, cap = len + 1);
                if (!nb) {
                    free(buf);
                    r->error = "out of memory";
                    return true;
                }
                buf = nb;
            }
            if (len)
                memcpy(buf, s, len);
        }
        if (!r->error && !push_field(r, buf ? buf : "", len)) {
            /* error set */
        }
        if (r->error) { /* skip the rest of the line */
            while (rd->p < rd->end && *rd->p != '\n')
                rd->p++;
        }
        if (rd->p == rd->end)
            break;
        char ch = *rd->p;
        if (ch == ',' && !r->error) {
            rd->p++;
            continue;
        }
        if (ch == '\r' && rd->p + 1 < rd->end && rd->p[1] == '\n')
            rd->p++;
        else if (ch == '\r' && !r->error) { /* a lone CR inside an unquoted field */
            r->error = "a carriage return outside quotes";
            while (rd->p < rd->end && *rd->p != '\n')
                rd->p++;
            if (rd->p == rd->end)
                break;
        }
        rd->p++; /* the newline */
        rd->line++;
        break;
    }
    free(buf);
    return true;
}

bool svc_utf8_valid(const char *text)

{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        unsigned c = *s++, cp, more;
        if (c < 0x80)
            continue;
        if (c >= 0xC2 && c <= 0xDF)
            more = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            more = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            more = 3, cp = c & 0x07;
        else
            return false;
        for (unsigned i = 0; i < more; i++) {
            if ((*s & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (*s++ & 0x3F);
        }
        if ((more == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
    }
    return true;
}
