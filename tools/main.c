/*
 * main.c - the smmap command-line tool's entry: `smmap cat`, `smmap stat`,
 * `smmap bench`, --help and --version. It picks the command and hands over
 * to it (cat.c, stat.c, bench.c); the command line is parsed in options.c.
 * Everything the tool reads goes through the public API of smmap.h, except
 * the plain reads of files.c.
 *
 * Exit status: 0 success; 1 when any file failed (each failure is reported
 * as "smmap: FILE: message" and the remaining files are still processed, as
 * cat(1) does) or writing the output failed; 2 for a usage error; a stat
 * interrupted by SIGINT dies of it after its report (130 in a shell).
 */
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#  include <fcntl.h>
#  include <io.h>
#endif

static int is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int main(int argc, char **argv)
{
    tool_options t;
    int status;

#ifdef _WIN32
    /* Bytes out as they are: no CRLF translation of file contents, and
     * messages end in "\n" as on every other platform, so scripts (and the
     * tests) see the same bytes everywhere. */
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
#endif
    if (argc < 2) {
        tool_usage_error(NULL, "no command given (cat, stat or bench)");
        return TOOL_EXIT_USAGE;
    }
    if (is_help(argv[1]))
        return tool_print_help(NULL);
    if (strcmp(argv[1], "help") == 0) {
        /* "smmap help" or "smmap help COMMAND" */
        if (argc > 2 && strcmp(argv[2], "bench") == 0) {
            /* The benchmark's own help, as `smmap bench --help`. */
            static char bench[] = "bench", help[] = "--help";
            char *bench_help[] = {bench, help, NULL};
            return tool_bench(2, bench_help);
        }
        if (argc > 2 && tool_is_command(argv[2]))
            return tool_print_help(argv[2]);
        if (argc > 2) {
            tool_usage_error(NULL, "help: unknown command '%s'", argv[2]);
            return TOOL_EXIT_USAGE;
        }
        return tool_print_help(NULL);
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("smmap %s\n", SMMAP_VERSION_STRING);
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : tool_write_failed();
    }
    if (strcmp(argv[1], "bench") == 0)
        return tool_bench(argc - 1, argv + 1);

    memset(&t, 0, sizeof(t));
    if (strcmp(argv[1], "cat") == 0)
        t.cmd = TOOL_CAT;
    else if (strcmp(argv[1], "stat") == 0)
        t.cmd = TOOL_STAT;
    else {
        tool_usage_error(NULL, argv[1][0] == '-' ? "unknown option '%s'"
                                                 : "unknown command '%s'",
                         argv[1]);
        return TOOL_EXIT_USAGE;
    }
    t.cmd_name = argv[1];
    t.seed = 1;
    smmap_options_init(&t.manager);
    status = tool_parse_command_line(&t, argc - 1, argv + 1);
    if (status == 0) {
        /* Large stdio buffer: few, big write calls for the small pieces
         * (the report); window-sized fwrites bypass it anyway. */
        static char out_buffer[1 << 16];
        setvbuf(stdout, out_buffer, _IOFBF, sizeof(out_buffer));
        status = t.cmd == TOOL_CAT ? tool_cat(&t) : tool_stat(&t);
    } else if (status < 0) {
        status = 0; /* --help */
    }
    free(t.files);
    return status;
}
