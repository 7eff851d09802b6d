/*
 * tool.h - what the files of the smmap command-line tool share, and nothing
 * else: the parsed command line (tool_options), the exit statuses, the
 * output helpers (output.c), the parser (options.c), the help texts
 * (help.c), opening files and plain reads (files.c), and one entry point
 * per command (cat.c, stat.c, bench.c). Internal to tools/: the library
 * and the benchmark never include it. Every name here starts with tool_.
 */
#ifndef SMMAP_TOOL_H
#define SMMAP_TOOL_H

#include "smmap.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define TOOL_EXIT_FILE_ERROR 1
#define TOOL_EXIT_USAGE 2

#if defined(__GNUC__)
#  define TOOL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#  define TOOL_PRINTF(fmt, args)
#endif

typedef enum tool_command { TOOL_CAT, TOOL_STAT } tool_command;

/* Everything the command line of `smmap cat` or `smmap stat` says, after
 * validation. */
typedef struct tool_options {
    tool_command cmd;
    const char *cmd_name;
    smmap_options manager;
    int window_given, max_mapped_given, static_mode;
    uint64_t offset;       /* cat -o */
    uint64_t length;       /* cat -n (bytes per file) or stat -n (per read) */
    int length_given;
    uint64_t random_reads; /* stat --random; 0 = sequential */
    int random_given;
    uint64_t seed;
    int verify;            /* stat --verify */
    int json;              /* stat --json */
    char **files;
    int nfiles;
} tool_options;

/* ---- output.c ------------------------------------------------------------ */

/* "smmap: CMD: message" and the --help hint on stderr (cmd may be NULL). */
void tool_usage_error(const char *cmd, const char *fmt, ...) TOOL_PRINTF(2, 3);
/* "smmap: PATH: message of err" on stderr. */
void tool_file_error(const char *path, int err);
/* Reports a failed write to stdout (errno); returns TOOL_EXIT_FILE_ERROR. */
int tool_write_failed(void);
/* "1.5 MiB": a byte count for people; whole multiples print no fraction. */
void tool_format_size(uint64_t bytes, char *buf, size_t cap);
/* The report's "name value" and "name value (human size)" lines. */
void tool_print_count(const char *name, uint64_t value);
void tool_print_bytes(const char *name, uint64_t value);

/* ---- options.c ----------------------------------------------------------- */

/* What the library rounds a window up to, for messages and for --help. */
extern const char tool_granule_text[];
extern const char tool_granule_help[];
/*
 * Parse argv[1..argc) of `smmap cat` or `smmap stat` (argv[0] is the
 * command) into t, which main initialised (cmd, cmd_name, defaults).
 *
 * @return 0 to go on, -1 when --help was printed (exit 0), or an exit status
 */
int tool_parse_command_line(tool_options *t, int argc, char **argv);

/* ---- help.c -------------------------------------------------------------- */

/*
 * Print the help of one command ("cat", "stat", "bench") or, for NULL, of
 * the whole tool, to stdout.
 *
 * @return 0, or TOOL_EXIT_FILE_ERROR when stdout could not be written
 */
int tool_print_help(const char *command);
/* 1 when the tool has a command of that name. */
int tool_is_command(const char *name);

/* ---- files.c ------------------------------------------------------------- */

/* Open path ("-": standard input) through the library. */
int tool_open_file(smmap_manager *m, const char *path, smmap_file **out);
/* Report an open error (an -EINVAL says "not a regular file"). */
void tool_open_error(const char *path, int err);
/* Create the manager of t's options, reporting a failure.
 * @return 0 or the exit status */
int tool_create_manager(const tool_options *t, smmap_manager **out);

/*
 * Whether a file must be read as a stream (plain read(2) until end of file)
 * because its size does not say how many bytes it holds. open_err is what
 * tool_open_file returned and f the handle when that was 0. Streamed are:
 * a file the library refused as not regular (a pipe, a character device);
 * a file of size 0 (/proc files are regular files of size 0 that have
 * bytes; an empty file gives none as a stream too); on Linux, a file of a
 * kernel pseudo file system (proc, sysfs, debugfs, tracefs, securityfs,
 * configfs, cgroup), whose size is a placeholder (a sysfs attribute says
 * 4096 and holds a few bytes).
 *
 * @return NULL when the library's view holds, else why (for messages):
 *         tool_stream_size_zero for a size-0 regular file of another file
 *         system, which may well be empty
 */
const char *tool_stream_reason(const char *path, int open_err,
                               smmap_file *f);
extern const char tool_stream_size_zero[];

/* Plain reads, outside the library: streams, and stat --verify. */
int tool_plain_open(const char *path);   /* "-" is 0; -1 and errno */
void tool_plain_close(int fd);           /* never closes 0 */
/* pread all of len at offset (less at EOF). @return bytes or -errno */
int64_t tool_plain_pread(int fd, unsigned char *buf, size_t len,
                         uint64_t offset);
/* read(2) until len bytes or EOF. @return bytes, or -errno (-EINTR only
 * when *stop became non-zero while waiting, e.g. on SIGINT) */
int64_t tool_plain_read(int fd, unsigned char *buf, size_t len,
                        const volatile sig_atomic_t *stop);
/* write(2) all of len to stdout, unbuffered (flush stdio first). From a
 * mapped window, a page a truncation removed makes the kernel refuse the
 * copy (-EFAULT) where a copy in this process would raise SIGBUS.
 * @return 0 or -errno */
int tool_plain_write_stdout(const void *buf, size_t len);
/* The file position of fd (lseek), or -1 where it has none. */
int64_t tool_plain_tell(int fd);
/* Set the file position of fd (lseek). @return 0 or -errno */
int tool_plain_seek(int fd, uint64_t pos);

/* ---- stat_report.c ------------------------------------------------------- */

/* What one `smmap stat` run did, for its report. */
typedef struct tool_stat_result {
    const tool_options *t;
    smmap_stats stats;           /* taken while the files are still open */
    uint64_t files_read;         /* opened (or streamed) and read */
    uint64_t streamed_files;     /* of those, read as a stream */
    uint64_t reads, bytes_read, mismatches, hash;
    double elapsed_seconds;      /* opening and reading, not the report */
    int interrupted;             /* SIGINT stopped the reads */
} tool_stat_result;

/* Print the report as "name value" lines, or as one JSON object. */
void tool_stat_report_text(const tool_stat_result *r);
void tool_stat_report_json(const tool_stat_result *r);

/* ---- the commands -------------------------------------------------------- */

int tool_cat(const tool_options *t);              /* cat.c */
int tool_stat(const tool_options *t);             /* stat.c */
int tool_bench(int argc, char **argv);            /* bench.c */

#endif /* SMMAP_TOOL_H */
