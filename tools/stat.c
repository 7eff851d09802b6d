/*
 * stat.c - `smmap stat`: reads every file through one manager, in order or
 * at random offsets, hashing the bytes (FNV-1a), optionally checking them
 * against plain reads (--verify), and hands what it did to the report
 * (stat_report.c). It also owns the run's clock, its progress line on a
 * terminal and its Ctrl-C: SIGINT sets a flag, the read loops stop at it,
 * and the partial report is printed before the tool dies of the signal.
 */
#include "tool.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#  include <io.h>
#  define isatty _isatty
#else
#  include <unistd.h>
#endif

#define FNV1A64_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV1A64_PRIME UINT64_C(0x100000001b3)

/* The progress line appears after this long, and is redrawn this often. */
#define PROGRESS_AFTER_SECONDS 1.0
#define PROGRESS_EVERY_SECONDS 0.25

/* Set by the SIGINT handler, read by the loops: the only thing the handler
 * does, so it stays async-signal-safe. */
static volatile sig_atomic_t stat_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    stat_interrupted = 1;
}

/* Catch SIGINT unless it is ignored (a background job of a shell without
 * job control must stay immune, as it was started). Without SA_RESTART, so
 * that a read(2) waiting on a pipe returns and the loop sees the flag.
 * @return 1 when the handler was installed */
static int catch_sigint(void)
{
#ifdef _WIN32
    void (*old)(int) = signal(SIGINT, on_sigint);
    if (old == SIG_IGN) {
        signal(SIGINT, SIG_IGN);
        return 0;
    }
    return old != SIG_ERR;
#else
    struct sigaction sa, old;
    if (sigaction(SIGINT, NULL, &old) != 0 || old.sa_handler == SIG_IGN)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGINT, &sa, NULL) == 0;
#endif
}

/* After the partial report: die of SIGINT as if never caught, so that the
 * shell sees an interrupted command (status 130) and stops a script.
 * @return the status to exit with where raising did not end the process */
static int die_of_sigint(void)
{
    fflush(stdout);
    fflush(stderr);
#ifndef _WIN32
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
#endif
    return 128 + SIGINT;
}

/* Seconds on a clock that only goes forward. (Windows' clock() is wall
 * time since the process started, in milliseconds.) */
static double now_seconds(void)
{
#ifdef _WIN32
    return (double)clock() / CLOCKS_PER_SEC;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

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
    smmap_file *file;      /* NULL when the library refused a stream */
    uint64_t size;         /* 0 for a stream: the library's size is not it */
    uint64_t first_byte;   /* of this file in the concatenation of all files */
    int plain_fd;          /* --verify or a stream, else -1 */
    const char *stream;    /* why it is read as a stream, or NULL */
    int failed;            /* an error was reported; read no more of it */
} stat_file;

typedef struct stat_run {
    const tool_options *t;
    stat_file *files;
    int nfiles;
    unsigned char *buf, *plain_buf;
    uint64_t reads, bytes_read, mismatches, hash, streamed;
    int failed;
    double start, last_progress;
    int progress_tty;      /* stderr is a terminal */
    size_t progress_width; /* of the line drawn, to clear it; 0 = none */
} stat_run;

/* Redraw the progress line when stderr is a terminal, the run is past its
 * first second and the line is older than PROGRESS_EVERY_SECONDS. Called
 * after each read; the clock is asked every 64 reads of small lengths. */
static void progress(stat_run *run)
{
    char bytes[32], line[128];
    double now, elapsed;
    int n;

    if (!run->progress_tty ||
        (run->t->length < 65536 && (run->reads & 63) != 0))
        return;
    now = now_seconds();
    elapsed = now - run->start;
    if (elapsed < PROGRESS_AFTER_SECONDS ||
        now - run->last_progress < PROGRESS_EVERY_SECONDS)
        return;
    run->last_progress = now;
    tool_format_size(run->bytes_read, bytes, sizeof(bytes));
    n = snprintf(line, sizeof(line),
                 "smmap stat: %" PRIu64 " reads, %s in %.1f s, %.1f MB/s",
                 run->reads, bytes, elapsed,
                 (double)run->bytes_read / 1e6 / elapsed);
    if (n < 0)
        return;
    fprintf(stderr, "\r%-*s", (int)run->progress_width, line);
    if ((size_t)n > run->progress_width)
        run->progress_width = (size_t)n;
    fflush(stderr);
}

static void clear_progress(stat_run *run)
{
    if (run->progress_width > 0) {
        fprintf(stderr, "\r%*s\r", (int)run->progress_width, "");
        fflush(stderr);
    }
}

static void count_read(stat_run *run, const unsigned char *p, size_t n)
{
    run->reads++;
    run->bytes_read += n;
    run->hash = fnv1a64(run->hash, p, n);
    progress(run);
}

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
        tool_file_error(sf->path, (int)n);
        sf->failed = run->failed = 1;
        return;
    }
    count_read(run, run->buf, (size_t)n);
    if (run->t->verify) {
        int64_t p = tool_plain_pread(sf->plain_fd, run->plain_buf, len,
                                     offset);
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

/* A stream is read in reads of the same length as a mapped file, each
 * filled up to it unless the file ends, so the counts compare. */
static void stat_stream(stat_run *run, stat_file *sf)
{
    while (!stat_interrupted) {
        int64_t n = tool_plain_read(sf->plain_fd, run->buf,
                                    (size_t)run->t->length,
                                    &stat_interrupted);
        if (n == -EINTR)
            return;
        if (n < 0) {
            tool_file_error(sf->path, (int)n);
            sf->failed = run->failed = 1;
            return;
        }
        if (n == 0)
            return;
        count_read(run, run->buf, (size_t)n);
    }
}

static void stat_sequential(stat_run *run)
{
    int i;
    for (i = 0; i < run->nfiles && !stat_interrupted; i++) {
        stat_file *sf = &run->files[i];
        smmap_cursor c;
        uint64_t offset;
        if (sf->stream != NULL) {
            stat_stream(run, sf);
            continue;
        }
        smmap_cursor_init(&c, sf->file);
        for (offset = 0;
             offset < sf->size && !sf->failed && !stat_interrupted;
             offset += run->t->length)
            stat_read(run, sf, &c, offset);
        /* Released before the next file, so that only one region is ever
         * pinned and the budget holds: peak <= max_mapped (+ one window if
         * a read is larger). */
        smmap_cursor_release(&c);
    }
}

/* Whether a streamed file of size 0 holds no bytes indeed (an empty file:
 * --random never draws from it, as from any empty file), asked with a read
 * of one byte. Files streamed for another reason are not asked. */
static int stream_is_empty(stat_run *run, stat_file *sf)
{
    return sf->stream == tool_stream_size_zero &&
           tool_plain_read(sf->plain_fd, run->buf, 1, NULL) == 0;
}

/* @return 0, or TOOL_EXIT_USAGE (reported) when the files hold more bytes
 * in all than an offset into their concatenation can name. */
static int stat_random(stat_run *run)
{
    uint64_t total = 0, state = run->t->seed, i;
    stat_file *current = NULL;
    smmap_cursor c;
    int k;

    for (k = 0; k < run->nfiles; k++) {
        stat_file *sf = &run->files[k];
        sf->first_byte = total;
        if (sf->stream != NULL && !stream_is_empty(run, sf)) {
            /* Its size 0 keeps it out of the draw. */
            fprintf(stderr, "smmap: %s: not read: --random draws offsets "
                            "from file sizes, and this file is read as a "
                            "stream (%s)\n", sf->path, sf->stream);
            sf->failed = run->failed = 1;
            continue;
        }
        if (sf->size > UINT64_MAX - total) {
            tool_usage_error(run->t->cmd_name,
                             "--random: the files hold more than %" PRIu64
                             " bytes in all",
                             UINT64_MAX);
            return TOOL_EXIT_USAGE;
        }
        total += sf->size;
    }
    if (total == 0)
        return 0;
    smmap_cursor_init(&c, NULL);
    for (i = 0; i < run->t->random_reads && !stat_interrupted; i++) {
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

/* Open one file into run->files[run->nfiles]: through the library, plus a
 * plain descriptor for --verify or a stream. A failure is reported. */
static void stat_open(stat_run *run, smmap_manager *m, const char *path)
{
    stat_file *sf = &run->files[run->nfiles];
    int err;

    memset(sf, 0, sizeof(*sf));
    sf->path = path;
    sf->plain_fd = -1;
    err = tool_open_file(m, path, &sf->file);
    sf->stream = tool_stream_reason(path, err, sf->file);
    if (sf->stream == NULL && err != 0) {
        tool_open_error(path, err);
        run->failed = 1;
        return;
    }
    /* A stream the library opened (a /proc file) keeps its handle, so the
     * manager's statistics count every file it was given. */
    sf->size = sf->stream == NULL ? smmap_file_size(sf->file) : 0;
    if (run->t->verify || sf->stream != NULL) {
        sf->plain_fd = tool_plain_open(path);
        if (sf->plain_fd < 0) {
            fprintf(stderr, "smmap: %s: plain open: %s\n", path,
                    smmap_strerror(-errno));
            smmap_file_close(sf->file);
            run->failed = 1;
            return;
        }
    }
    if (sf->stream != NULL)
        run->streamed++;
    run->nfiles++;
}

int tool_stat(const tool_options *t)
{
    smmap_manager *m;
    stat_run run;
    tool_stat_result result;
    int i, status, caught = 0;

    memset(&run, 0, sizeof(run));
    run.t = t;
    run.hash = FNV1A64_BASIS;
    status = tool_create_manager(t, &m);
    if (status != 0)
        return status;
    run.files = calloc((size_t)t->nfiles, sizeof(*run.files));
    run.buf = malloc((size_t)t->length);
    run.plain_buf = t->verify ? malloc((size_t)t->length) : NULL;
    if (run.files == NULL || run.buf == NULL ||
        (t->verify && run.plain_buf == NULL)) {
        fprintf(stderr, "smmap: stat: out of memory for reads of %" PRIu64
                        " bytes\n", t->length);
        status = TOOL_EXIT_FILE_ERROR;
        goto done;
    }
    stat_interrupted = 0;
    caught = catch_sigint();
    run.progress_tty = isatty(2);
    run.start = now_seconds();
    /* Open everything first: the statistics are those of one manager
     * holding all the files, as a pack reader would. */
    for (i = 0; i < t->nfiles && !stat_interrupted; i++)
        stat_open(&run, m, t->files[i]);
    if (t->random_given) {
        status = stat_random(&run);
        if (status != 0) {
            clear_progress(&run);
            goto done;
        }
    } else {
        stat_sequential(&run);
    }
    memset(&result, 0, sizeof(result));
    result.elapsed_seconds = now_seconds() - run.start;
    clear_progress(&run);
    result.t = t;
    smmap_manager_stats(m, &result.stats);
    result.files_read = (uint64_t)run.nfiles;
    result.streamed_files = run.streamed;
    result.reads = run.reads;
    result.bytes_read = run.bytes_read;
    result.mismatches = run.mismatches;
    result.hash = run.hash;
    result.interrupted = stat_interrupted != 0;
    if (t->json)
        tool_stat_report_json(&result);
    else
        tool_stat_report_text(&result);
    if (fflush(stdout) != 0 || ferror(stdout))
        status = tool_write_failed();
    else if (run.failed || run.mismatches != 0)
        status = TOOL_EXIT_FILE_ERROR;
done:
    if (run.files != NULL)
        for (i = 0; i < run.nfiles; i++) {
            tool_plain_close(run.files[i].plain_fd);
            smmap_file_close(run.files[i].file);
        }
    smmap_manager_free(m);
    free(run.files);
    free(run.buf);
    free(run.plain_buf);
    if (stat_interrupted && caught)
        return die_of_sigint();
    return status;
}
