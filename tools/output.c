/*
 * output.c - how the tool talks: usage and file errors on stderr in one
 * format ("smmap: [CMD: |FILE: ]message"), human byte sizes, and the
 * "name value" lines of the stat report.
 */
#include "tool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void tool_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "smmap: ");
    if (cmd != NULL)
        fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'smmap --help' for more information.\n");
}

void tool_file_error(const char *path, int err)
{
    fprintf(stderr, "smmap: %s: %s\n", path, smmap_strerror(err));
}

int tool_write_failed(void)
{
    fprintf(stderr, "smmap: write error: %s\n", strerror(errno));
    return TOOL_EXIT_FILE_ERROR;
}

void tool_format_size(uint64_t bytes, char *buf, size_t cap)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB",
                                        "EiB"};
    uint64_t divisor = 1024;
    int unit = 0;
    if (bytes < 1024) {
        snprintf(buf, cap, "%" PRIu64 " B", bytes);
        return;
    }
    while (unit < 5 && bytes / divisor >= 1024) {
        divisor *= 1024;
        unit++;
    }
    if (bytes % divisor == 0)
        snprintf(buf, cap, "%" PRIu64 " %s", bytes / divisor, units[unit]);
    else
        snprintf(buf, cap, "%.1f %s", (double)bytes / (double)divisor,
                 units[unit]);
}

void tool_print_count(const char *name, uint64_t value)
{
    printf("%s %" PRIu64 "\n", name, value);
}

void tool_print_bytes(const char *name, uint64_t value)
{
    char human[32];
    tool_format_size(value, human, sizeof(human));
    printf("%s %" PRIu64 " (%s)\n", name, value, human);
}
