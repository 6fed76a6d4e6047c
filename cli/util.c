/* Small helpers shared by the subcommands. */
#include "cli.h"

#include <stdarg.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;

    fputs("negoex: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_print_hex(FILE *f, const uint8_t *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        fputc(digits[data[i] >> 4], f);
        fputc(digits[data[i] & 0x0f], f);
    }
}
