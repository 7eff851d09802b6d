/*
 * options.c - the command line of `smmap cat` and `smmap stat`: a small
 * hand-written parser (so the tool builds with any C11 compiler, MinGW
 * included, without getopt_long), the size syntax (decimal digits with K,
 * M, G or T, powers of 1024) and the checks that need no library call.
 */
#include "tool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#  include <unistd.h>
#endif

/* What the library rounds a window up to (smmap.h: the allocation
 * granularity), for messages; the library alone applies it. */
#ifdef _WIN32
const char tool_granule_text[] = "64 KiB (the allocation granularity)";
const char tool_granule_help[] = "64K, the allocation granularity";
#elif defined(SMMAP_GRANULARITY)
/* A build with SMMAP_GRANULARITY (CMake): the library aligns to that many
 * bytes, or to the page where that is larger. */
#  define GRANULE_STR(x) GRANULE_STR_(x)
#  define GRANULE_STR_(x) #x
const char tool_granule_text[] =
    GRANULE_STR(SMMAP_GRANULARITY) " bytes (this build's granularity)";
const char tool_granule_help[] = GRANULE_STR(SMMAP_GRANULARITY) " bytes";
#else
const char tool_granule_text[] = "the page size";
const char tool_granule_help[] = "the page size";
#endif

/* The allocation granularity the library rounds a window up to, for the
 * largest window below: the page size (or the build's SMMAP_GRANULARITY,
 * the larger), or 64 KiB on Windows (tool_granule_text). */
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
    OPT_VERIFY, OPT_ALWAYS_MAP, OPT_JSON
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
    {"json", 0, 0, FOR_STAT, OPT_JSON},
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
        return tool_print_help(t->cmd_name) == 0 ? -1 : TOOL_EXIT_FILE_ERROR;
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
    case OPT_JSON:
        t->json = 1;
        return 0;
    case OPT_WINDOW:
        if (option_size(t, shown, value, max_window(), &v) != 0)
            return TOOL_EXIT_USAGE;
        if (v == 0) {
            tool_usage_error(t->cmd_name,
                        "--window must be greater than 0 (use --static to map "
                        "files whole)");
            return TOOL_EXIT_USAGE;
        }
        t->manager.window_size = v;
        t->window_given = 1;
        return 0;
    case OPT_MAX_MAPPED:
        if (option_size(t, shown, value, UINT64_MAX, &v) != 0)
            return TOOL_EXIT_USAGE;
        if (v == 0) {
            tool_usage_error(t->cmd_name,
                             "--max-mapped must be greater than 0");
            return TOOL_EXIT_USAGE;
        }
        t->manager.max_mapped = v;
        t->max_mapped_given = 1;
        return 0;
    case OPT_MAX_REGIONS:
    case OPT_MAX_FILES:
        if (option_size(t, shown, value, UINT32_MAX, &v) != 0)
            return TOOL_EXIT_USAGE;
        if (v == 0) {
            tool_usage_error(t->cmd_name, "%s must be greater than 0", shown);
            return TOOL_EXIT_USAGE;
        }
        if (o->id == OPT_MAX_REGIONS)
            t->manager.max_regions = (uint32_t)v;
        else
            t->manager.max_open_files = (uint32_t)v;
        return 0;
    case OPT_OFFSET:
        if (option_size(t, shown, value, UINT64_MAX, &t->offset) != 0)
            return TOOL_EXIT_USAGE;
        return 0;
    case OPT_LENGTH:
        /* A stat read is one buffer, so it must fit in memory. */
        if (option_size(t, shown, value,
                        t->cmd == TOOL_STAT ? (uint64_t)1 << 30 : UINT64_MAX,
                        &t->length) != 0)
            return TOOL_EXIT_USAGE;
        if (t->cmd == TOOL_STAT && t->length == 0) {
            tool_usage_error(t->cmd_name, "%s must be greater than 0", shown);
            return TOOL_EXIT_USAGE;
        }
        t->length_given = 1;
        return 0;
    case OPT_RANDOM:
        if (option_size(t, shown, value, UINT64_MAX, &t->random_reads) != 0)
            return TOOL_EXIT_USAGE;
        t->random_given = 1;
        return 0;
    case OPT_SEED:
        if (option_size(t, shown, value, UINT64_MAX, &t->seed) != 0)
            return TOOL_EXIT_USAGE;
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
int tool_parse_command_line(tool_options *t, int argc, char **argv)
{
    int mask = t->cmd == TOOL_CAT ? FOR_CAT : FOR_STAT;
    int i, options_done = 0, status;

    t->files = malloc(sizeof(char *) * (size_t)(argc > 0 ? argc : 1));
    if (t->files == NULL) {
        fprintf(stderr, "smmap: out of memory\n");
        return TOOL_EXIT_FILE_ERROR;
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
                tool_usage_error(t->cmd_name, "unknown option '%s'", arg);
                return TOOL_EXIT_USAGE;
            }
            snprintf(shown, sizeof(shown), "--%s", o->long_name);
            if (eq != NULL) {
                if (!o->takes_value) {
                    tool_usage_error(t->cmd_name, "option '%s' takes no value",
                                shown);
                    return TOOL_EXIT_USAGE;
                }
                value = eq + 1;
            }
        } else {
            o = find_short(arg[1], mask);
            if (o == NULL) {
                tool_usage_error(t->cmd_name, "unknown option '%s'", arg);
                return TOOL_EXIT_USAGE;
            }
            snprintf(shown, sizeof(shown), "-%c", o->short_name);
            if (arg[2] != '\0') {
                if (!o->takes_value) {
                    tool_usage_error(t->cmd_name, "unknown option '%s'", arg);
                    return TOOL_EXIT_USAGE;
                }
                value = arg + 2;
            }
        }
        if (o->takes_value && value == NULL) {
            if (i + 1 >= argc) {
                tool_usage_error(t->cmd_name, "option '%s' needs a value",
                                 shown);
                return TOOL_EXIT_USAGE;
            }
            value = argv[++i];
        }
        status = apply_option(t, o, shown, value);
        if (status != 0)
            return status;
    }
    if (t->nfiles == 0) {
        tool_usage_error(t->cmd_name, "no file given");
        return TOOL_EXIT_USAGE;
    }
    if (t->static_mode && t->window_given) {
        tool_usage_error(t->cmd_name,
                         "--static and --window exclude each other");
        return TOOL_EXIT_USAGE;
    }
    if (t->static_mode)
        t->manager.window_size = 0;
    if (!t->static_mode && t->manager.max_mapped < t->manager.window_size) {
        char window[32], mapped[32];
        tool_format_size(t->manager.window_size, window, sizeof(window));
        tool_format_size(t->manager.max_mapped, mapped, sizeof(mapped));
        tool_usage_error(t->cmd_name,
                    "--max-mapped (%s) is smaller than the window (%s)%s",
                    mapped, window,
                    t->window_given ? "" : "; give a smaller --window too");
        return TOOL_EXIT_USAGE;
    }
    if (t->cmd == TOOL_STAT && !t->length_given)
        t->length = DEFAULT_READ_LENGTH;
    return 0;
}

