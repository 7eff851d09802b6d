/*
 * smmap.c - the smmap command-line tool: `smmap cat`, `smmap stat` and
 * `smmap bench`.
 *
 * It owns the command line (a small hand-written parser, so the tool builds
 * with any C11 compiler, MinGW included, without getopt_long), the size
 * syntax (decimal digits with K, M, G or T, powers of 1024), the two reading
 * loops and the report format. Everything it reads goes through the public
 * API of smmap.h; the only other I/O it does is the plain read of
 * `stat --verify`, which exists to check the library against the operating
 * system, and writing to stdout.
 *
 * Exit status: 0 success; 1 when any file failed (each failure is reported
 * as "smmap: FILE: message" and the remaining files are still processed, as
 * cat(1) does) or writing the output failed; 2 for a usage error.
 */
#include "smmap.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#  include <fcntl.h>
#  include <io.h>
#else
#  include <fcntl.h>
#  include <unistd.h>
#endif

#ifdef SMMAP_TOOL_HAVE_BENCH
#  include "smmap_bench.h"
#endif

#define EXIT_FILE_ERROR 1
#define EXIT_USAGE 2

/* What the library rounds a window up to (smmap.h: the allocation
 * granularity), for messages; the library alone applies it. */
#ifdef _WIN32
#  define GRANULE_TEXT "64 KiB (the allocation granularity)"
#  define GRANULE_HELP "64K, the allocation granularity"
#elif defined(SMMAP_GRANULARITY)
/* A build with SMMAP_GRANULARITY (CMake): the library aligns to that many
 * bytes, or to the page where that is larger. */
#  define GRANULE_STR(x) GRANULE_STR_(x)
#  define GRANULE_STR_(x) #x
#  define GRANULE_TEXT \
    GRANULE_STR(SMMAP_GRANULARITY) " bytes (this build's granularity)"
#  define GRANULE_HELP GRANULE_STR(SMMAP_GRANULARITY) " bytes"
#else
#  define GRANULE_TEXT "the page size"
#  define GRANULE_HELP "the page size"
#endif

/* The allocation granularity the library rounds a window up to, for the
 * largest window below: the page size (or the build's SMMAP_GRANULARITY,
 * the larger), or 64 KiB on Windows (GRANULE_TEXT). */
static uint64_t granularity(void)
{
#ifdef _WIN32
    return (uint64_t)64 * 1024;
#else
    long page = sysconf(_SC_PAGESIZE);
    uint64_t g = page > 0 ? (uint64_t)page : 4096;
#  ifdef SMMAP_GRANULARITY
    if (g < (uint64_t)SMMAP_GRANULARITY)
        g = (uint64_t)SMMAP_GRANULARITY;
#  endif
    return g;
#endif
}

/* The largest --window: the library refuses a window that, rounded up to
 * the granularity, is above SIZE_MAX / 2 (smmap.h: it must fit the address
 * space; 2^63 - 1 on 64-bit, 2^31 - 1 on 32-bit), so the largest multiple
 * of the granularity not above that. Checked here, with a message that says
 * so, rather than left to the library's -EINVAL. */
static uint64_t max_window(void)
{
    uint64_t half = (uint64_t)SIZE_MAX / 2;
    return half - half % granularity();
}

/* Default bytes per read of `smmap stat`. */
#define DEFAULT_READ_LENGTH ((uint64_t)64 * 1024)

/* The largest request handed to smmap_cursor_use in static mode: the whole
 * file is mapped anyway, this only keeps the size_t cast honest on 32-bit. */
#define STATIC_CHUNK ((uint64_t)1 << 30)

static const char usage_text[] =
    "Usage: smmap cat  [OPTIONS] [-o OFFSET] [-n LENGTH] FILE...\n"
    "       smmap stat [OPTIONS] [-n LENGTH] [--random N] [--seed S] [--verify] FILE...\n"
    "       smmap bench [ARGS...]\n"
    "       smmap --version | --help\n"
    "\n"
    "Read files through one smmap manager: memory-mapped windows under budgets\n"
    "of mapped bytes, live mappings and open descriptors.\n"
    "\n"
    "cat   Write the bytes of each FILE to standard output, streamed straight from\n"
    "      the mapped windows. -o and -n apply to each file separately:\n"
    "        -o, --offset OFFSET  skip the first OFFSET bytes of each file\n"
    "                             (default 0)\n"
    "        -n, --length LENGTH  write at most LENGTH bytes of each file\n"
    "                             (default: to the end)\n"
    "      so the output for each file is that of\n"
    "        tail -c +$((OFFSET+1)) FILE | head -c LENGTH\n"
    "      An OFFSET at or past the end of a file gives no bytes of it; that is\n"
    "      not an error.\n"
    "\n"
    "stat  Read every FILE through one manager, then print one \"name value\" line\n"
    "      for each option, for what was read (reads, bytes_read, and fnv1a64, the\n"
    "      64-bit FNV-1a hash of the bytes in the order they were read) and for\n"
    "      every field of the manager's statistics, taken while the files are\n"
    "      still open. Byte counts are followed by a human size in parentheses.\n"
    "      By default each file is read in order, from start to end. One cursor\n"
    "      is used at a time, so in sliding mode the mapped bytes stay within\n"
    "      --max-mapped.\n"
    "        -n, --length LENGTH  bytes per read (default 64K, at most 1G)\n"
    "        --random N           instead make N reads at offsets drawn\n"
    "                             uniformly from all the bytes of all the\n"
    "                             files; a read stops at its file's end\n"
    "        --seed S             seed of the random offsets (default 1):\n"
    "                             same seed, same reads\n"
    "        --verify             also read each range with plain read(),\n"
    "                             compare, and print verify_mismatches; any\n"
    "                             mismatch exits 1\n"
    "\n"
    "bench Run the benchmarks, if they were built: smmap bench --help\n"
    "\n"
    "Manager options (cat and stat):\n"
    "  --window SIZE       bytes per window (default 1G on 64-bit, 64M on 32-bit;\n"
    "                      rounded up to " GRANULE_HELP "; at most half the\n"
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
    "  -h, --help          print this text and exit\n"
    "  --version           print the version and exit\n"
    "\n"
    "SIZE, N, OFFSET, LENGTH: decimal digits with an optional suffix K, M, G or T\n"
    "(powers of 1024; lower case too), e.g. 1M = 1048576. Options may follow the\n"
    "files; \"--\" ends the options. FILE \"-\" is standard input, which must be a\n"
    "regular file (redirected, not piped); it is read whole, from offset 0.\n"
    "\n"
    "Errors go to stderr as \"smmap: FILE: message\". A failing file does not stop\n"
    "the others. Exit status: 0 success, 1 if any file (or the output) failed,\n"
    "2 for a usage error.\n";

typedef enum command { CMD_CAT, CMD_STAT } command;

/* Everything the command line says, after validation. */
typedef struct tool_options {
    command cmd;
    const char *cmd_name;
    smmap_options manager;
    int window_given, max_mapped_given, static_mode;
    uint64_t offset;      /* cat -o */
    uint64_t length;      /* cat -n (bytes per file) or stat -n (bytes per read) */
    int length_given;
    uint64_t random_reads; /* stat --random; 0 = sequential */
    int random_given;
    uint64_t seed;
    int verify;
    char **files;
    int nfiles;
} tool_options;

/* ---- output helpers ------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void usage_error(const char *cmd, const char *fmt, ...)
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

static void file_error(const char *path, int err)
{
    fprintf(stderr, "smmap: %s: %s\n", path, smmap_strerror(err));
}

/* "1.5 MiB": a byte count for people; the exact count is printed beside it.
 * Whole multiples of the unit print without a fraction ("64 KiB"). */
static void format_size(uint64_t bytes, char *buf, size_t cap)
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

static void print_count(const char *name, uint64_t value)
{
    printf("%s %" PRIu64 "\n", name, value);
}

static void print_bytes(const char *name, uint64_t value)
{
    char human[32];
    format_size(value, human, sizeof(human));
    printf("%s %" PRIu64 " (%s)\n", name, value, human);
}

/* ---- parsing ------------------------------------------------------------- */

/*
 * Parse decimal digits with an optional K, M, G or T suffix (powers of
 * 1024) into *out. Nothing else is accepted: no sign, no space, no hex, no
 * fraction, no "KB", and nothing above max.
 *
 * @return 0, or -EINVAL for garbage, -ERANGE for a value above max
 */
static int parse_size(const char *text, uint64_t max, uint64_t *out)
{
    uint64_t value = 0, scale = 1;
    const char *p = text;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return -ERANGE;
        value = value * 10 + digit;
    }
    switch (*p) {
    case '\0': break;
    case 'K': case 'k': scale = (uint64_t)1 << 10; p++; break;
    case 'M': case 'm': scale = (uint64_t)1 << 20; p++; break;
    case 'G': case 'g': scale = (uint64_t)1 << 30; p++; break;
    case 'T': case 't': scale = (uint64_t)1 << 40; p++; break;
    default: return -EINVAL;
    }
    if (*p != '\0')
        return -EINVAL;
    if (value > UINT64_MAX / scale)
        return -ERANGE;
    value *= scale;
    if (value > max)
        return -ERANGE;
    *out = value;
    return 0;
}

/* Parse the value of option `name`; on failure print why and return -1. */
static int option_size(const tool_options *t, const char *name,
                       const char *text, uint64_t max, uint64_t *out)
{
    int err = parse_size(text, max, out);
    if (err == -EINVAL) {
        fprintf(stderr,
                "smmap: %s: invalid %s value '%s' (expected digits with an "
                "optional K, M, G or T suffix)\n"
                "Try 'smmap --help' for more information.\n",
                t->cmd_name, name, text);
        return -1;
    }
    if (err == -ERANGE) {
        fprintf(stderr,
                "smmap: %s: %s value '%s' is too large (at most %" PRIu64
                ")\nTry 'smmap --help' for more information.\n",
                t->cmd_name, name, text, max);
        return -1;
    }
    return 0;
}

typedef enum option_id {
    OPT_WINDOW, OPT_MAX_MAPPED, OPT_MAX_REGIONS, OPT_MAX_FILES, OPT_STATIC,
    OPT_HARD, OPT_HELP, OPT_OFFSET, OPT_LENGTH, OPT_RANDOM, OPT_SEED,
    OPT_VERIFY, OPT_ALWAYS_MAP
} option_id;

#define FOR_CAT 1
#define FOR_STAT 2
#define FOR_BOTH (FOR_CAT | FOR_STAT)

typedef struct option_spec {
    const char *long_name; /* without "--"; NULL for short-only */
    char short_name;       /* 0 for long-only */
    int takes_value;
    int commands;          /* FOR_* mask */
    option_id id;
} option_spec;

static const option_spec option_table[] = {
    {"window", 0, 1, FOR_BOTH, OPT_WINDOW},
    {"max-mapped", 0, 1, FOR_BOTH, OPT_MAX_MAPPED},
    {"max-regions", 0, 1, FOR_BOTH, OPT_MAX_REGIONS},
    {"max-files", 0, 1, FOR_BOTH, OPT_MAX_FILES},
    {"static", 0, 0, FOR_BOTH, OPT_STATIC},
    {"hard", 0, 0, FOR_BOTH, OPT_HARD},
    {"always-map", 0, 0, FOR_BOTH, OPT_ALWAYS_MAP},
    {"help", 'h', 0, FOR_BOTH, OPT_HELP},
    {"offset", 'o', 1, FOR_CAT, OPT_OFFSET},
    {"length", 'n', 1, FOR_BOTH, OPT_LENGTH},
    {"random", 0, 1, FOR_STAT, OPT_RANDOM},
    {"seed", 0, 1, FOR_STAT, OPT_SEED},
    {"verify", 0, 0, FOR_STAT, OPT_VERIFY},
};

static const option_spec *find_long(const char *name, size_t len, int mask)
{
    size_t i;
    for (i = 0; i < sizeof(option_table) / sizeof(option_table[0]); i++) {
        const option_spec *o = &option_table[i];
        if ((o->commands & mask) && o->long_name != NULL &&
            strlen(o->long_name) == len && memcmp(o->long_name, name, len) == 0)
            return o;
    }
    return NULL;
}

static const option_spec *find_short(char name, int mask)
{
    size_t i;
    for (i = 0; i < sizeof(option_table) / sizeof(option_table[0]); i++) {
        const option_spec *o = &option_table[i];
        if ((o->commands & mask) && o->short_name == name)
            return o;
    }
    return NULL;
}

/* Apply one option. Returns 0, or the exit status to stop with. */
static int apply_option(tool_options *t, const option_spec *o,
                        const char *shown, const char *value)
{
    uint64_t v = 0;
    switch (o->id) {
    case OPT_HELP:
        fputs(usage_text, stdout);
        return fflush(stdout) == 0 ? -1 : EXIT_FILE_ERROR;
    case OPT_STATIC:
        t->static_mode = 1;
        return 0;
    case OPT_HARD:
        t->manager.flags |= SMMAP_HARD_LIMITS;
        return 0;
    case OPT_ALWAYS_MAP:
        t->manager.flags |= SMMAP_ALWAYS_MAP;
        return 0;
    case OPT_VERIFY:
        t->verify = 1;
        return 0;
    case OPT_WINDOW:
        if (option_size(t, shown, value, max_window(), &v) != 0)
            return EXIT_USAGE;
        if (v == 0) {
            usage_error(t->cmd_name,
                        "--window must be greater than 0 (use --static to map "
                        "files whole)");
            return EXIT_USAGE;
        }
        t->manager.window_size = v;
        t->window_given = 1;
        return 0;
    case OPT_MAX_MAPPED:
        if (option_size(t, shown, value, UINT64_MAX, &v) != 0)
            return EXIT_USAGE;
        if (v == 0) {
            usage_error(t->cmd_name, "--max-mapped must be greater than 0");
            return EXIT_USAGE;
        }
        t->manager.max_mapped = v;
        t->max_mapped_given = 1;
        return 0;
    case OPT_MAX_REGIONS:
    case OPT_MAX_FILES:
        if (option_size(t, shown, value, UINT32_MAX, &v) != 0)
            return EXIT_USAGE;
        if (v == 0) {
            usage_error(t->cmd_name, "%s must be greater than 0", shown);
            return EXIT_USAGE;
        }
        if (o->id == OPT_MAX_REGIONS)
            t->manager.max_regions = (uint32_t)v;
        else
            t->manager.max_open_files = (uint32_t)v;
        return 0;
    case OPT_OFFSET:
        if (option_size(t, shown, value, UINT64_MAX, &t->offset) != 0)
            return EXIT_USAGE;
        return 0;
    case OPT_LENGTH:
        /* A stat read is one buffer, so it must fit in memory. */
        if (option_size(t, shown, value,
                        t->cmd == CMD_STAT ? (uint64_t)1 << 30 : UINT64_MAX,
                        &t->length) != 0)
            return EXIT_USAGE;
        if (t->cmd == CMD_STAT && t->length == 0) {
            usage_error(t->cmd_name, "%s must be greater than 0", shown);
            return EXIT_USAGE;
        }
        t->length_given = 1;
        return 0;
    case OPT_RANDOM:
        if (option_size(t, shown, value, UINT64_MAX, &t->random_reads) != 0)
            return EXIT_USAGE;
        t->random_given = 1;
        return 0;
    case OPT_SEED:
        if (option_size(t, shown, value, UINT64_MAX, &t->seed) != 0)
            return EXIT_USAGE;
        return 0;
    }
    return 0;
}

/*
 * Parse argv[1..argc) of a command. Options may come before or after the
 * files; "--" ends them; "-" alone is a file (standard input).
 *
 * @return 0 to go on, -1 when --help was printed (exit 0), or an exit status
 */
static int parse_command_line(tool_options *t, int argc, char **argv)
{
    int mask = t->cmd == CMD_CAT ? FOR_CAT : FOR_STAT;
    int i, options_done = 0, status;

    t->files = malloc(sizeof(char *) * (size_t)(argc > 0 ? argc : 1));
    if (t->files == NULL) {
        fprintf(stderr, "smmap: out of memory\n");
        return EXIT_FILE_ERROR;
    }
    for (i = 1; i < argc; i++) {
        char *arg = argv[i];
        const option_spec *o;
        const char *value = NULL;
        char shown[64];

        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            t->files[t->nfiles++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (arg[1] == '-') {
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
            o = find_long(name, len, mask);
            if (o == NULL) {
                usage_error(t->cmd_name, "unknown option '%s'", arg);
                return EXIT_USAGE;
            }
            snprintf(shown, sizeof(shown), "--%s", o->long_name);
            if (eq != NULL) {
                if (!o->takes_value) {
                    usage_error(t->cmd_name, "option '%s' takes no value",
                                shown);
                    return EXIT_USAGE;
                }
                value = eq + 1;
            }
        } else {
            o = find_short(arg[1], mask);
            if (o == NULL) {
                usage_error(t->cmd_name, "unknown option '%s'", arg);
                return EXIT_USAGE;
            }
            snprintf(shown, sizeof(shown), "-%c", o->short_name);
            if (arg[2] != '\0') {
                if (!o->takes_value) {
                    usage_error(t->cmd_name, "unknown option '%s'", arg);
                    return EXIT_USAGE;
                }
                value = arg + 2;
            }
        }
        if (o->takes_value && value == NULL) {
            if (i + 1 >= argc) {
                usage_error(t->cmd_name, "option '%s' needs a value", shown);
                return EXIT_USAGE;
            }
            value = argv[++i];
        }
        status = apply_option(t, o, shown, value);
        if (status != 0)
            return status;
    }
    if (t->nfiles == 0) {
        usage_error(t->cmd_name, "no file given");
        return EXIT_USAGE;
    }
    if (t->static_mode && t->window_given) {
        usage_error(t->cmd_name, "--static and --window exclude each other");
        return EXIT_USAGE;
    }
    if (t->static_mode)
        t->manager.window_size = 0;
    if (!t->static_mode && t->manager.max_mapped < t->manager.window_size) {
        char window[32], mapped[32];
        format_size(t->manager.window_size, window, sizeof(window));
        format_size(t->manager.max_mapped, mapped, sizeof(mapped));
        usage_error(t->cmd_name,
                    "--max-mapped (%s) is smaller than the window (%s)%s",
                    mapped, window,
                    t->window_given ? "" : "; give a smaller --window too");
        return EXIT_USAGE;
    }
    if (t->cmd == CMD_STAT && !t->length_given)
        t->length = DEFAULT_READ_LENGTH;
    return 0;
}

/* ---- opening files ------------------------------------------------------- */

/* "-" is standard input: opened from its descriptor, which the library
 * checks is a regular file (a pipe gives -EINVAL). */
static int open_file(smmap_manager *m, const char *path, smmap_file **out)
{
    if (strcmp(path, "-") == 0)
        return smmap_file_open_fd(m, 0, out);
    return smmap_file_open(m, path, out);
}

static void open_error(const char *path, int err)
{
    if (err == -EINVAL)
        fprintf(stderr, "smmap: %s: %s (not a regular file)\n", path,
                smmap_strerror(err));
    else
        file_error(path, err);
}

static int create_manager(const tool_options *t, smmap_manager **out)
{
    int err = smmap_manager_new(out, &t->manager);
    if (err != 0) {
        /* The tool checked what it can; what is left for -EINVAL is the
         * library rounding the window up to its allocation granularity. */
        fprintf(stderr, "smmap: %s: cannot create the manager: %s%s\n",
                t->cmd_name, smmap_strerror(err),
                err == -EINVAL ? " (is --max-mapped at least the window "
                                 "rounded up to " GRANULE_TEXT "?)"
                               : "");
        return err == -EINVAL ? EXIT_USAGE : EXIT_FILE_ERROR;
    }
    return 0;
}

/* ---- cat ----------------------------------------------------------------- */

static int write_failed(void)
{
    fprintf(stderr, "smmap: write error: %s\n", strerror(errno));
    return EXIT_FILE_ERROR;
}

/*
 * Stream [offset, offset + length) of one file to stdout, straight from the
 * mapped windows (no copy in between).
 *
 * @return 0, 1 for a file error (reported, go on), or -1 for a write error
 *         (reported, stop: the output is broken)
 */
static int cat_file(smmap_manager *m, const tool_options *t, const char *path)
{
    smmap_file *f;
    smmap_cursor c;
    uint64_t size, pos, end, step;
    int err, status = 0;

    err = open_file(m, path, &f);
    if (err != 0) {
        open_error(path, err);
        return 1;
    }
    size = smmap_file_size(f);
    pos = t->offset;
    end = size;
    if (pos < size && t->length_given && t->length < size - pos)
        end = pos + t->length;
    /* Ask for a whole window at a time: asking for less lets the library
     * place the window partly behind pos, where nothing is left to write. */
    step = t->manager.window_size != 0 ? t->manager.window_size : STATIC_CHUNK;
    if (step > SIZE_MAX)
        step = SIZE_MAX;
    smmap_cursor_init(&c, f);
    while (pos < end) {
        uint64_t want = end - pos, have;
        if (want > step)
            want = step;
        err = smmap_cursor_use(&c, pos, (size_t)want);
        if (err != 0) {
            file_error(path, err);
            status = 1;
            break;
        }
        /* Write all the window holds from pos, not only what was asked. */
        have = c.begin + c.size - pos;
        if (have > end - pos)
            have = end - pos;
        if (fwrite(c.data + (size_t)(pos - c.begin), 1, (size_t)have,
                   stdout) != (size_t)have) {
            status = -1;
            break;
        }
        pos += have;
    }
    smmap_cursor_release(&c);
    smmap_file_close(f);
    return status;
}

static int run_cat(const tool_options *t)
{
    smmap_manager *m;
    int i, status, failed = 0;

    status = create_manager(t, &m);
    if (status != 0)
        return status;
    for (i = 0; i < t->nfiles; i++) {
        int r = cat_file(m, t, t->files[i]);
        if (r < 0) {
            smmap_manager_free(m);
            return write_failed();
        }
        failed |= r;
    }
    smmap_manager_free(m);
    if (fflush(stdout) != 0 || ferror(stdout))
        return write_failed();
    return failed ? EXIT_FILE_ERROR : 0;
}

/* ---- stat ---------------------------------------------------------------- */

/* Plain reads for --verify: the operating system's view of the same bytes. */
#ifdef _WIN32
static int plain_open(const char *path)
{
    return strcmp(path, "-") == 0 ? 0 : _open(path, _O_RDONLY | _O_BINARY);
}
static void plain_close(int fd)
{
    if (fd > 0)
        _close(fd);
}
static int64_t plain_pread(int fd, unsigned char *buf, size_t len,
                           uint64_t offset)
{
    size_t done = 0;
    if (_lseeki64(fd, (__int64)offset, SEEK_SET) < 0)
        return -errno;
    while (done < len) {
        size_t chunk = len - done > 1u << 30 ? 1u << 30 : len - done;
        int n = _read(fd, buf + done, (unsigned)chunk);
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (int64_t)done;
}
#else
static int plain_open(const char *path)
{
    return strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
}
static void plain_close(int fd)
{
    if (fd > 0)
        close(fd);
}
static int64_t plain_pread(int fd, unsigned char *buf, size_t len,
                           uint64_t offset)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done,
                          (off_t)(offset + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (int64_t)done;
}
#endif

#define FNV1A64_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV1A64_PRIME UINT64_C(0x100000001b3)

static uint64_t fnv1a64(uint64_t hash, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        hash ^= p[i];
        hash *= FNV1A64_PRIME;
    }
    return hash;
}

/* splitmix64: tiny, fast, and the same sequence on every platform, so a
 * seed names one set of reads everywhere. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, bound), bound > 0, without modulo bias. */
static uint64_t random_below(uint64_t *state, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound, r;
    do
        r = next_random(state);
    while (r >= limit);
    return r % bound;
}

typedef struct stat_file {
    const char *path;
    smmap_file *file;
    uint64_t size;
    uint64_t first_byte; /* of this file in the concatenation of all files */
    int plain_fd;        /* --verify only, else -1 */
    int failed;          /* an error was reported; read no more of it */
} stat_file;

typedef struct stat_run {
    const tool_options *t;
    stat_file *files;
    int nfiles;
    unsigned char *buf, *plain_buf;
    uint64_t reads, bytes_read, mismatches, hash;
    int failed;
} stat_run;

/* Read one range of one file through the cursor (and, with --verify, with a
 * plain read too), adding it to the hash. */
static void stat_read(stat_run *run, stat_file *sf, smmap_cursor *c,
                      uint64_t offset)
{
    size_t len = (size_t)run->t->length;
    int64_t n;

    if (sf->failed)
        return;
    n = smmap_read(c, offset, run->buf, len);
    if (n < 0) {
        file_error(sf->path, (int)n);
        sf->failed = run->failed = 1;
        return;
    }
    run->reads++;
    run->bytes_read += (uint64_t)n;
    run->hash = fnv1a64(run->hash, run->buf, (size_t)n);
    if (run->t->verify) {
        int64_t p = plain_pread(sf->plain_fd, run->plain_buf, len, offset);
        if (p < 0) {
            fprintf(stderr, "smmap: %s: plain read: %s\n", sf->path,
                    smmap_strerror((int)p));
            sf->failed = run->failed = 1;
            return;
        }
        if (p != n || memcmp(run->buf, run->plain_buf, (size_t)n) != 0) {
            if (run->mismatches == 0 || p != n)
                fprintf(stderr,
                        "smmap: %s: mismatch in the %" PRId64
                        " bytes at offset %" PRIu64
                        " (plain read gave %" PRId64 ")\n",
                        sf->path, n, offset, p);
            run->mismatches++;
        }
    }
}

static void stat_sequential(stat_run *run)
{
    int i;
    for (i = 0; i < run->nfiles; i++) {
        stat_file *sf = &run->files[i];
        smmap_cursor c;
        uint64_t offset;
        smmap_cursor_init(&c, sf->file);
        for (offset = 0; offset < sf->size && !sf->failed;
             offset += run->t->length)
            stat_read(run, sf, &c, offset);
        /* Released before the next file, so that only one region is ever
         * pinned and the budget holds: peak <= max_mapped (+ one window if
         * a read is larger). */
        smmap_cursor_release(&c);
    }
}

/* @return 0, or EXIT_USAGE (reported) when the files hold more bytes in
 * all than an offset into their concatenation can name. */
static int stat_random(stat_run *run)
{
    uint64_t total = 0, state = run->t->seed, i;
    stat_file *current = NULL;
    smmap_cursor c;
    int k;

    for (k = 0; k < run->nfiles; k++) {
        run->files[k].first_byte = total;
        if (run->files[k].size > UINT64_MAX - total) {
            usage_error(run->t->cmd_name,
                        "--random: the files hold more than %" PRIu64
                        " bytes in all",
                        UINT64_MAX);
            return EXIT_USAGE;
        }
        total += run->files[k].size;
    }
    if (total == 0)
        return 0;
    smmap_cursor_init(&c, NULL);
    for (i = 0; i < run->t->random_reads; i++) {
        uint64_t at = random_below(&state, total);
        int lo = 0, hi = run->nfiles - 1;
        stat_file *sf;
        /* The last file whose first byte is <= at: empty files share their
         * first byte with the next one and are never picked. */
        while (lo < hi) {
            int mid = lo + (hi - lo + 1) / 2;
            if (run->files[mid].first_byte <= at)
                lo = mid;
            else
                hi = mid - 1;
        }
        sf = &run->files[lo];
        if (sf != current) {
            /* One cursor at a time, as in stat_sequential. */
            smmap_cursor_release(&c);
            smmap_cursor_init(&c, sf->file);
            current = sf;
        }
        stat_read(run, sf, &c, at - sf->first_byte);
    }
    smmap_cursor_release(&c);
    return 0;
}

static void print_stat_report(const stat_run *run, smmap_manager *m)
{
    const tool_options *t = run->t;
    smmap_stats s;
    char hash[32];

    smmap_manager_stats(m, &s);
    print_bytes("window_size", t->manager.window_size);
    print_bytes("max_mapped", t->manager.max_mapped);
    print_count("max_regions", t->manager.max_regions);
    print_count("max_open_files", t->manager.max_open_files);
    print_count("hard_limits", (t->manager.flags & SMMAP_HARD_LIMITS) ? 1 : 0);
    print_count("always_map", (t->manager.flags & SMMAP_ALWAYS_MAP) ? 1 : 0);
    printf("mode %s\n", t->static_mode ? "static" : "sliding");
    printf("order %s\n", t->random_given ? "random" : "sequential");
    if (t->random_given)
        print_count("seed", t->seed);
    print_bytes("read_length", t->length);
    print_count("files_read", (uint64_t)run->nfiles);
    print_count("reads", run->reads);
    print_bytes("bytes_read", run->bytes_read);
    snprintf(hash, sizeof(hash), "%016" PRIx64, run->hash);
    printf("fnv1a64 %s\n", hash);
    if (t->verify)
        print_count("verify_mismatches", run->mismatches);
    print_bytes("mapped_bytes", s.mapped_bytes);
    print_bytes("peak_mapped_bytes", s.peak_mapped_bytes);
    print_count("regions", s.regions);
    print_count("peak_regions", s.peak_regions);
    print_count("files", s.files);
    print_count("files_mapped", s.files_mapped);
    print_count("open_fds", s.open_fds);
    print_count("maps", s.maps);
    print_count("unmaps", s.unmaps);
    print_count("evictions", s.evictions);
    print_count("reuses", s.reuses);
    print_count("retries", s.retries);
    print_count("fd_closes", s.fd_closes);
    print_count("fd_reopens", s.fd_reopens);
    print_count("direct_reads", s.direct_reads);
    print_count("files_no_mmap", s.files_no_mmap);
    print_count("read_windows", s.read_windows);
    print_count("faults", s.faults);
}

static int run_stat(const tool_options *t)
{
    smmap_manager *m;
    stat_run run;
    int i, status;

    memset(&run, 0, sizeof(run));
    run.t = t;
    run.hash = FNV1A64_BASIS;
    status = create_manager(t, &m);
    if (status != 0)
        return status;
    run.files = calloc((size_t)t->nfiles, sizeof(*run.files));
    run.buf = malloc((size_t)t->length);
    run.plain_buf = t->verify ? malloc((size_t)t->length) : NULL;
    if (run.files == NULL || run.buf == NULL ||
        (t->verify && run.plain_buf == NULL)) {
        fprintf(stderr, "smmap: stat: out of memory for reads of %" PRIu64
                        " bytes\n", t->length);
        status = EXIT_FILE_ERROR;
        goto done;
    }
    /* Open everything first: the statistics are those of one manager
     * holding all the files, as a pack reader would. */
    for (i = 0; i < t->nfiles; i++) {
        stat_file *sf = &run.files[run.nfiles];
        int err = open_file(m, t->files[i], &sf->file);
        if (err != 0) {
            open_error(t->files[i], err);
            run.failed = 1;
            continue;
        }
        sf->path = t->files[i];
        sf->size = smmap_file_size(sf->file);
        sf->plain_fd = -1;
        if (t->verify) {
            sf->plain_fd = plain_open(sf->path);
            if (sf->plain_fd < 0) {
                fprintf(stderr, "smmap: %s: plain open: %s\n", sf->path,
                        smmap_strerror(-errno));
                smmap_file_close(sf->file);
                run.failed = 1;
                continue;
            }
        }
        run.nfiles++;
    }
    if (t->random_given) {
        status = stat_random(&run);
        if (status != 0)
            goto done;
    } else {
        stat_sequential(&run);
    }
    print_stat_report(&run, m);
    if (fflush(stdout) != 0 || ferror(stdout))
        status = write_failed();
    else if (run.failed || run.mismatches != 0)
        status = EXIT_FILE_ERROR;
done:
    if (run.files != NULL)
        for (i = 0; i < run.nfiles; i++) {
            plain_close(run.files[i].plain_fd);
            smmap_file_close(run.files[i].file);
        }
    smmap_manager_free(m);
    free(run.files);
    free(run.buf);
    free(run.plain_buf);
    return status;
}

/* ---- bench and main ------------------------------------------------------ */

static int run_bench(int argc, char **argv)
{
#ifdef SMMAP_TOOL_HAVE_BENCH
    static char name[] = "smmap bench";
    int status;
    argv[0] = name;
    status = smmap_bench_main(argc, argv);
    if (fflush(stdout) != 0)
        return write_failed();
    return status;
#else
    (void)argc;
    (void)argv;
    fprintf(stderr, "smmap: bench: benchmarks were not built (configure with "
                    "-DSMMAP_BUILD_BENCH=ON and a bench/ that defines "
                    "smmap_benchlib)\n");
    return EXIT_USAGE;
#endif
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
        usage_error(NULL, "no command given (cat, stat or bench)");
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        return fflush(stdout) == 0 ? 0 : EXIT_FILE_ERROR;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("smmap %s\n", SMMAP_VERSION_STRING);
        return fflush(stdout) == 0 ? 0 : EXIT_FILE_ERROR;
    }
    if (strcmp(argv[1], "bench") == 0)
        return run_bench(argc - 1, argv + 1);

    memset(&t, 0, sizeof(t));
    if (strcmp(argv[1], "cat") == 0)
        t.cmd = CMD_CAT;
    else if (strcmp(argv[1], "stat") == 0)
        t.cmd = CMD_STAT;
    else {
        usage_error(NULL, argv[1][0] == '-' ? "unknown option '%s'"
                                            : "unknown command '%s'",
                    argv[1]);
        return EXIT_USAGE;
    }
    t.cmd_name = argv[1];
    t.seed = 1;
    smmap_options_init(&t.manager);
    status = parse_command_line(&t, argc - 1, argv + 1);
    if (status == 0) {
        /* Large stdio buffer: few, big write calls for the small pieces
         * (the report); window-sized fwrites bypass it anyway. */
        static char out_buffer[1 << 16];
        setvbuf(stdout, out_buffer, _IOFBF, sizeof(out_buffer));
        status = t.cmd == CMD_CAT ? run_cat(&t) : run_stat(&t);
    } else if (status < 0) {
        status = 0; /* --help */
    }
    free(t.files);
    return status;
}
