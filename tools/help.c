/*
 * help.c - the help texts: `smmap --help` (every command), and `smmap
 * COMMAND --help` (that command's usage, options and exit status). The
 * manual page tools/smmap.1 says the same at more length; a change to an
 * option belongs in both.
 */
#include "tool.h"

#include <stdio.h>
#include <string.h>

static const char cat_usage[] =
    "Usage: smmap cat  [OPTIONS] [-o OFFSET] [-n LENGTH] FILE...\n";
static const char stat_usage[] =
    "Usage: smmap stat [OPTIONS] [-n LENGTH] [--random N] [--seed S] "
    "[--verify] [--json] FILE...\n";
static const char bench_usage[] = "Usage: smmap bench [ARGS...]\n";

static const char intro[] =
    "Read files through one smmap manager: memory-mapped windows under budgets\n"
    "of mapped bytes, live mappings and open descriptors.\n";

static const char cat_text[] =
    "cat   Write the bytes of each FILE to standard output, streamed straight from\n"
    "      the mapped windows. -o and -n apply to each file separately:\n"
    "        -o, --offset OFFSET  skip the first OFFSET bytes of each file\n"
    "                             (default 0)\n"
    "        -n, --length LENGTH  write at most LENGTH bytes of each file\n"
    "                             (default: to the end)\n"
    "      so the output for each file is that of\n"
    "        tail -c +$((OFFSET+1)) FILE | head -c LENGTH\n"
    "      An OFFSET at or past the end of a file gives no bytes of it; that is\n"
    "      not an error.\n";

static const char stat_text[] =
    "stat  Read every FILE through one manager, then print one \"name value\" line\n"
    "      for each option, for what was read (reads, bytes_read, and fnv1a64, the\n"
    "      64-bit FNV-1a hash of the bytes in the order they were read), for\n"
    "      every field of the manager's statistics, taken while the files are\n"
    "      still open, and for the time it took (elapsed_seconds, throughput_mb_s\n"
    "      in 10^6 bytes per second). Byte counts are followed by a human size\n"
    "      in parentheses. By default each file is read in order, from start to\n"
    "      end. One cursor is used at a time, so in sliding mode the mapped bytes\n"
    "      stay within --max-mapped. On a terminal, a run longer than a second\n"
    "      shows its progress on stderr. Ctrl-C stops the reads and prints the\n"
    "      report of what was read (interrupted 1), then exits as interrupted.\n"
    "        -n, --length LENGTH  bytes per read (default 64K, at most 1G)\n"
    "        --random N           instead make N reads at offsets drawn\n"
    "                             uniformly from all the bytes of all the\n"
    "                             files; a read stops at its file's end\n"
    "        --seed S             seed of the random offsets (default 1):\n"
    "                             same seed, same reads\n"
    "        --verify             also read each range with plain read(),\n"
    "                             compare, and print verify_mismatches; any\n"
    "                             mismatch exits 1. It keeps a plain\n"
    "                             descriptor per file open, beside the\n"
    "                             --max-files budget of the manager\n"
    "        --json               print the report as one JSON object\n";

static const char bench_text[] =
    "bench Run the benchmarks, if they were built: smmap bench --help lists\n"
    "      their options.\n";

static const char manager_text[] =
    "Manager options (cat and stat):\n"
    "  --window SIZE       bytes per window (default 1G on 64-bit, 64M on 32-bit;\n"
    "                      rounded up to %s; at most half the\n"
    "                      address space)\n"
    "  --max-mapped SIZE   budget of mapped bytes (default 8G on 64-bit); must be\n"
    "                      at least the window\n"
    "  --max-regions N     budget of live mappings (default: vm.max_map_count/4)\n"
    "  --max-files N       budget of open descriptors (default: RLIMIT_NOFILE/4)\n"
    "  --static            map every file whole instead of in windows\n"
    "  --hard              make --max-mapped hard: fail instead of exceeding it\n"
    "  --always-map        map a window for every read that misses; by default,\n"
    "                      while evicted windows served few reads, stat serves\n"
    "                      a miss with one plain read (counted in direct_reads)\n"
    "  -h, --help          print this text and exit\n";

static const char files_text[] =
    "SIZE, N, OFFSET, LENGTH: decimal digits with an optional suffix K, M, G or T\n"
    "(powers of 1024; lower case too), e.g. 1M = 1048576. Options may follow the\n"
    "files; \"--\" ends the options. FILE \"-\" is standard input.\n"
    "\n"
    "A file whose size does not say how many bytes it holds is read as a\n"
    "stream, with plain read() until its end, not through the manager: a file\n"
    "of size 0 (/proc/self/maps), a file of a kernel pseudo file system (proc,\n"
    "sysfs, debugfs, tracefs, securityfs, configfs, cgroup), a pipe or a\n"
    "character device. stat counts them in streamed_files; --random and\n"
    "--verify leave them out.\n"
    "\n"
    "Errors go to stderr as \"smmap: FILE: message\". A failing file does not stop\n"
    "the others. Exit status: 0 success, 1 if any file (or the output) failed,\n"
    "2 for a usage error, 130 when stat was interrupted.\n";

static const char tool_text[] =
    "       smmap --version | --help\n"
    "       smmap COMMAND --help\n";

int tool_is_command(const char *name)
{
    return strcmp(name, "cat") == 0 || strcmp(name, "stat") == 0 ||
           strcmp(name, "bench") == 0;
}

int tool_print_help(const char *command)
{
    if (command == NULL) {
        /* The usage lines of every command under one "Usage:". */
        printf("%s       %s       %s%s\n%s\n%s\n%s\n%s\n", cat_usage,
               stat_usage + 7, bench_usage + 7, tool_text, intro, cat_text,
               stat_text, bench_text);
        printf(manager_text, tool_granule_help);
        printf("  --version           print the version and exit\n\n%s"
               "\nThe manual: man smmap.\n", files_text);
    } else if (strcmp(command, "cat") == 0 || strcmp(command, "stat") == 0) {
        int cat = strcmp(command, "cat") == 0;
        printf("%s\n%s\n%s\n", cat ? cat_usage : stat_usage, intro,
               cat ? cat_text : stat_text);
        printf(manager_text, tool_granule_help);
        printf("\n%s", files_text);
    } else {
        printf("%s\n%s", bench_usage, bench_text);
    }
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : tool_write_failed();
}
