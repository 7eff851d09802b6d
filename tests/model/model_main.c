/*
 * model_main.c - the randomized model test: for each seed, random options
 * and files, then a random operation sequence checked step by step against
 * the reference model (model.c). On a mismatch it prints the seed and the
 * shortest sequence it can find that still fails. On POSIX each candidate
 * is replayed in a child process, so a crash in the library counts as a
 * failure too; Windows has no fork, so there the candidates are replayed in
 * this process (a crash while shrinking ends the run after the seed and the
 * options were printed, which is enough to rerun it).
 *
 * Usage: test_model [--seeds N] [--first-seed S] [--ops M] [--pool K]
 *                   [--no-huge] [--fds-unbounded] [--no-open-fd] [--seconds T]
 *                   [--backend mmap|no-mmap|enodev] [--no-versions]
 *                   [--replay-seed S]
 * --seconds runs seeds until the time is up (the soak); the exit status is
 * 0 only if every seed passed. --no-versions leaves the files read-only
 * (no version files, no version operations). The figures of the version
 * operations (issue 12) are printed after the totals.
 */
#include "model.h"
#include "../portable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static model_pool pool;
/* --fds-unbounded: max_open_files above the pool size, so the descriptor
 * cache never closes anything and a run exercises the regions alone. */
static int fds_unbounded;
/* --no-open-fd: only path opens (isolates the descriptor-handle cases). */
static int no_open_fd;

static double now_seconds(void)
{
    return port_now();
}

/* Run ops against a fresh manager in this process. Returns 0 or 1. */
static int replay_here(const model_config *cfg, const model_op *ops, size_t n,
                       int verbose)
{
    int err;
    size_t i;
    model_run *r = model_run_start(&pool, cfg, &err);
    if (r == NULL) {
        if (verbose)
            fprintf(stderr, "manager_new failed: %d\n", err);
        return 1;
    }
    for (i = 0; i < n; i++) {
        if (model_run_step(r, &ops[i])) {
            char text[200];
            if (verbose) {
                model_format_op(&ops[i], text, sizeof(text));
                fprintf(stderr, "  step %zu (%s): %s\n", i, text,
                        model_run_message(r));
            }
            model_run_finish(r);
            return 1;
        }
    }
    if (model_run_finish(r)) {
        if (verbose)
            fprintf(stderr, "  at the end: %s\n", model_run_message(NULL));
        return 1;
    }
    return 0;
}

#ifdef _WIN32
/* No fork: replay here. A mismatch is a failure; a crash ends the run. */
static int replay_fails(const model_config *cfg, const model_op *ops,
                        size_t n)
{
    return replay_here(cfg, ops, n, 0);
}
#else
/* Replay in a child: a crash or an abort is a failure like a mismatch. */
static int replay_fails(const model_config *cfg, const model_op *ops,
                        size_t n)
{
    int status;
    pid_t pid;
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return replay_here(cfg, ops, n, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 2); /* sanitizer reports of candidates are noise */
        _exit(replay_here(cfg, ops, n, 0));
    }
    if (waitpid(pid, &status, 0) < 0)
        return 1;
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
#endif

/* Remove chunks of operations, halving the chunk size, while the sequence
 * still fails. Bounded by max_tries replays. */
static size_t shrink(const model_config *cfg, model_op *ops, size_t n)
{
    model_op *trial = malloc((n + 1) * sizeof(*trial));
    size_t chunk, tries = 0, max_tries = 3000;
    int changed = 1;
    if (trial == NULL)
        return n;
    while (changed && tries < max_tries) {
        changed = 0;
        for (chunk = n / 2 > 0 ? n / 2 : 1; chunk >= 1 && tries < max_tries;
             chunk /= 2) {
            size_t i = 0;
            while (i < n && tries < max_tries) {
                size_t end = i + chunk > n ? n : i + chunk;
                memcpy(trial, ops, i * sizeof(*ops));
                memcpy(trial + i, ops + end, (n - end) * sizeof(*ops));
                tries++;
                if (replay_fails(cfg, trial, n - (end - i))) {
                    memcpy(ops, trial, (n - (end - i)) * sizeof(*ops));
                    n -= end - i;
                    changed = 1;
                } else {
                    i = end;
                }
            }
            if (chunk == 1)
                break;
        }
    }
    free(trial);
    return n;
}

static void print_failure(uint64_t seed, const model_config *cfg,
                          model_op *ops, size_t n)
{
    char text[2048];
    size_t i, shrunk;
    model_format_config(cfg, text, sizeof(text));
    fprintf(stderr, "FAIL seed %llu after %zu operations\n  options: %s\n",
            (unsigned long long)seed, n, text);
    fflush(stderr);
    shrunk = replay_fails(cfg, ops, n) ? shrink(cfg, ops, n) : n;
    fprintf(stderr, "  shortest failing sequence (%zu operations):\n", shrunk);
    for (i = 0; i < shrunk; i++) {
        model_format_op(&ops[i], text, sizeof(text));
        fprintf(stderr, "    %3zu: %s\n", i, text);
    }
    fprintf(stderr, "  replayed:\n");
    replay_here(cfg, ops, shrunk, 1);
    fprintf(stderr, "  rerun with: test_model --replay-seed %llu\n",
            (unsigned long long)seed);
}

static void print_version_figures(void)
{
    const model_version_figures *f = &model_figures;
    uint64_t total = 0;
    int k;
    for (k = OP_TOUCH; k < OP_KIND_COUNT; k++)
        total += f->ops[k];
    printf("versions: %llu operations (touch %llu, append %llu, rewrite "
           "%llu, truncate %llu, replace %llu, refresh %llu, refresh race "
           "%llu with %llu refreshes), %llu with nothing to do\n",
           (unsigned long long)total, (unsigned long long)f->ops[OP_TOUCH],
           (unsigned long long)f->ops[OP_APPEND],
           (unsigned long long)f->ops[OP_REWRITE],
           (unsigned long long)f->ops[OP_TRUNCATE],
           (unsigned long long)f->ops[OP_REPLACE],
           (unsigned long long)f->ops[OP_REFRESH],
           (unsigned long long)f->ops[OP_REFRESH_RACE],
           (unsigned long long)f->race_refreshes,
           (unsigned long long)f->skipped);
    printf("versions: %llu inode numbers reused (%llu while a handle of the "
           "old file was open, %llu opens beside an entry of the old file); "
           "%llu reads of version files, %llu -ESTALE, %llu -EIO, %llu "
           "reads with the zeros of a new end; %llu states taken from the "
           "library\n",
           (unsigned long long)f->inode_reuses,
           (unsigned long long)f->reuses_under_handle,
           (unsigned long long)f->shared_reused_inode,
           (unsigned long long)f->version_reads,
           (unsigned long long)f->estale, (unsigned long long)f->eio,
           (unsigned long long)f->zeros_seen,
           (unsigned long long)f->resyncs);
    printf("choices: %llu cursor moves, %llu with more than one allowed "
           "outcome (victims, covering regions), %llu replays to find the "
           "library's, %llu states taken from the library when they did "
           "not; %llu evictions followed\n",
           (unsigned long long)f->moves, (unsigned long long)f->chosen_moves,
           (unsigned long long)f->replays,
           (unsigned long long)f->choice_resyncs,
           (unsigned long long)f->evictions);
}

/* One seed. Returns 0 if it passed. */
static int run_seed(uint64_t seed, size_t nops, model_op *ops)
{
    uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
    model_config cfg;
    model_run *r;
    size_t i;
    int err;

    model_random_config(&pool, &rng, &cfg);
    if (fds_unbounded)
        cfg.opt.max_open_files = 1000;
    r = model_run_start(&pool, &cfg, &err);
    if (r == NULL) {
        fprintf(stderr, "FAIL seed %llu: manager_new gave %d\n",
                (unsigned long long)seed, err);
        return 1;
    }
    for (i = 0; i < nops; i++) {
        model_generate(r, &rng, &ops[i]);
        if (no_open_fd && ops[i].kind == OP_OPEN_FD)
            ops[i].kind = OP_OPEN_PATH;
        if (model_run_step(r, &ops[i])) {
            fprintf(stderr, "mismatch: %s\n", model_run_message(r));
            model_run_finish(r);
            print_failure(seed, &cfg, ops, i + 1);
            return 1;
        }
    }
    if (model_run_finish(r)) {
        fprintf(stderr, "at the end: %s\n", model_run_message(NULL));
        print_failure(seed, &cfg, ops, nops);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t first = 1, seeds = 200, s;
    size_t nops = 600;
    unsigned pool_size = MODEL_MAX_POOL;
    int with_huge = 1, err, i;
    double seconds = 0, start;
    unsigned passed = 0, failed = 0;
    model_op *ops;

    for (i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : "0";
        if (strcmp(argv[i], "--seeds") == 0)
            seeds = strtoull(next, NULL, 0), i++;
        else if (strcmp(argv[i], "--first-seed") == 0)
            first = strtoull(next, NULL, 0), i++;
        else if (strcmp(argv[i], "--replay-seed") == 0)
            first = strtoull(next, NULL, 0), seeds = 1, i++;
        else if (strcmp(argv[i], "--ops") == 0)
            nops = (size_t)strtoull(next, NULL, 0), i++;
        else if (strcmp(argv[i], "--pool") == 0)
            pool_size = (unsigned)strtoul(next, NULL, 0), i++;
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = strtod(next, NULL), i++;
        else if (strcmp(argv[i], "--no-open-fd") == 0)
            no_open_fd = 1;
        else if (strcmp(argv[i], "--fds-unbounded") == 0)
            fds_unbounded = 1;
        else if (strcmp(argv[i], "--backend") == 0)
            model_backend = strcmp(next, "no-mmap") == 0  ? 1
                            : strcmp(next, "enodev") == 0 ? 2
                                                          : 0, i++;
        else if (strcmp(argv[i], "--no-huge") == 0)
            with_huge = 0;
        else if (strcmp(argv[i], "--no-versions") == 0)
            model_versions_enabled = 0;
        else {
            fprintf(stderr, "usage: %s [--seeds N] [--first-seed S] [--ops M] "
                    "[--pool K] [--no-huge] [--fds-unbounded] [--no-open-fd] "
                    "[--seconds T] [--backend mmap|no-mmap|enodev] "
                    "[--no-versions] [--replay-seed S]\n",
                    argv[0]);
            return 2;
        }
    }
    if (pool_size < 1)
        pool_size = 1;
    err = model_pool_create(&pool, pool_size, 12345, with_huge);
    if (err != 0) {
        fprintf(stderr, "could not create the test files: %d\n", err);
        model_pool_destroy(&pool);
        return 1;
    }
    ops = malloc((nops + 1) * sizeof(*ops));
    if (ops == NULL)
        return 1;
    start = now_seconds();
    for (s = first; seconds > 0 || s < first + seeds; s++) {
        if (seconds > 0 && now_seconds() - start > seconds)
            break;
        if (run_seed(s, nops, ops) == 0)
            passed++;
        else
            failed++;
    }
    printf("model: %llu operations over %u seeds (%llu..%llu), %u files in "
           "the pool, %.1f s\n",
           (unsigned long long)model_ops_applied, passed + failed,
           (unsigned long long)first,
           (unsigned long long)(first + passed + failed - 1), pool.count,
           now_seconds() - start);
    print_version_figures();
    printf("%u passed, %u failed\n", passed, failed);
    free(ops);
    model_pool_destroy(&pool);
    return failed == 0 ? 0 : 1;
}
