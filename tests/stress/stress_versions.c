/*
 * stress_versions.c - files changing on disk under readers (issue 12).
 *
 * Reader threads (4 by default) share one manager with budgets small enough
 * that windows are evicted and descriptors closed and reopened all the time
 * (4 KiB windows, 8 windows of max_mapped, max_open_files 2). Each keeps a
 * few handles, opened and closed over time, and reads random ranges of them
 * with smmap_read, smmap_cursor_at and smmap_cursor_use. Another PROCESS
 * (forked before the first thread) changes the files in a loop: touch
 * (utimensat), append, rewrite in place, rename-replace (a new file written
 * beside and renamed over: on ext4 the new file often gets the inode number
 * of one replaced earlier, which the mutator checks with fstat and counts),
 * and truncation, to page-aligned and unaligned sizes.
 *
 * The oracle is the library's promise (notes of issue 12, DESIGN.md): a
 * handle sees the version of the file it opened, never another file's
 * bytes with a non-negative result, whatever happened to the path since.
 * It does not rely on the library's code:
 *
 *   - Every 8-byte word of every file tells what it is: byte 0 a check
 *     (a hash of lineage and word index), byte 1 a rewrite counter, bytes
 *     2-4 the lineage (which creation made the file: each rename-replace
 *     makes a new one, a rewrite in place, an append or a truncation keeps
 *     it), bytes 5-7 the word's index (offset / 8). All but the rewrite
 *     byte are a function of (lineage, offset), so the bytes a handle may
 *     return are known byte by byte, whatever the rewrites (a rewrite in
 *     place shows through every map: VERSIONS.md item 6; a read may see a
 *     word half rewritten, which changes only its rewrite byte).
 *   - A handle learns its lineage without trusting smmap: a descriptor is
 *     opened on the path right before smmap_file_open and another right
 *     after; the first word is read with pread from the first. If both
 *     have the same device and inode, the handle opened that file: the
 *     first descriptor keeps the inode alive, so its number cannot be
 *     reused in between, and the mutator never renames a file back. If they
 *     differ, the open raced a rename-replace and the handle is closed
 *     unused (counted as an open race).
 *   - A WRONG BYTE is a byte returned by a successful call (smmap_read with
 *     a non-negative count, or the memory behind a pointer from
 *     smmap_cursor_at / smmap_cursor_use) that is not the handle's lineage's
 *     byte at that offset. Zeros are the exception VERSIONS.md item 4
 *     allows: after a truncation to a size that is not page-aligned, the
 *     page holding the new end reads as zeros past it until the shrink is
 *     seen. The mutator logs every end a file of a lineage had below its
 *     largest size (truncations, and appends after one) in shared memory
 *     BEFORE making it; a zero at an offset p is "zeros" when some logged
 *     end e of the handle's lineage has e <= p < e rounded up to the page,
 *     or up to the largest folio (FOLIO_MAX) while a read races the
 *     truncation: Linux caches files in large folios (ext4 since 6.x), and
 *     a truncation that ends inside one zeroes the folio's tail in place
 *     (truncate_inode_partial_folio) before it splits and drops it, so a
 *     mapping sees zeros spreading from e, then the old bytes after them,
 *     even past a page-aligned end (seen once: zeros from a truncation to
 *     24576 up to 27281, old bytes after). A wrong byte otherwise.
 *   - smmap_read must return exactly min(len, size - off) bytes (0 at or
 *     past the end) or an error; another count is a failure ("count
 *     mismatch"). A window from smmap_cursor_use must hold the requested
 *     bytes ("window misses request").
 *   - Errors (-ESTALE, -EIO, -ERANGE, ...) are allowed and counted per code
 *     and per call. An -ESTALE or -EIO on a lineage that was never replaced
 *     nor truncated is reported as "spurious" (mtime is not identity,
 *     VERSIONS.md item 1; a growing file is not stale, item 5): a figure,
 *     not a failure.
 *
 * Raw pointers: a truncation makes pointers into a mapped window raise
 * SIGBUS, which the contract allows (smmap.h CAVEATS). So the files are in
 * two classes: paths 0-2 are never truncated (only touched, appended,
 * rewritten, replaced) and are read with smmap_read, smmap_cursor_at and
 * smmap_cursor_use; paths 3-5 are also truncated and are read only with
 * smmap_read (and refreshed). A raw pointer into a never-truncated file's
 * window cannot fault unless the window maps some other file: the checks
 * of raw bytes run under a SIGBUS handler (installed before the manager;
 * smmap chains faults that are not its own to it) that jumps out and counts
 * a "raw SIGBUS", a failure.
 *
 * Usage: stress_versions [--seconds S] [--dir DIR] [--seed N] [--readers N]
 *                        [--mutate-us U]
 * Ends with "1 passed, 0 failed" when there was no wrong byte, no count
 * mismatch, no window missing its request and no raw SIGBUS.
 */
#define _DEFAULT_SOURCE 1
#define _DARWIN_C_SOURCE 1
#include "smmap.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/vfs.h>
#endif

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif

#define NPATHS 6
#define NRAW 3               /* paths 0..NRAW-1 are never truncated */
#define MIN_SIZE 64u
#define MAX_SIZE (256u * 1024u)
#define MAX_LINEAGES (1u << 20) /* lineage ids 1 .. MAX_LINEAGES-1 */
#define NENDS 12             /* logged ends per lineage */
#define MAX_READERS 16
#define HANDLES 3            /* per reader */
#define READ_MAX 12000u
#define BUF_SIZE (64u * 1024u)
#define NREPORTS 4 /* of each kind, one per handle */
#define LOG_SIZE 4096

enum { OP_READ, OP_AT, OP_USE, OP_REFRESH, OP_OPEN, NOPS };
static const char *const op_names[NOPS] = {"smmap_read", "cursor_at",
                                           "cursor_use", "refresh", "open"};
enum { M_TOUCH, M_APPEND, M_REWRITE, M_REPLACE, M_TRUNCATE, NMUT };
static const char *const mut_names[NMUT] = {"touch", "append", "rewrite",
                                            "replace", "truncate"};

#define F_REPLACED 1u

/* One lineage, in memory shared with the mutator process. */
typedef struct slot {
    _Atomic uint32_t tag;    /* the lineage id, once created */
    _Atomic uint32_t flags;  /* F_REPLACED: renamed over (set before) */
    _Atomic uint32_t ntrunc; /* truncations (counted before each) */
    _Atomic uint32_t nends;
    _Atomic uint32_t ends[NENDS]; /* ends below the largest size */
    _Atomic uint64_t ino;
    _Atomic uint32_t path, created_ms;
} slot;

typedef struct mlog_entry {
    _Atomic uint64_t seq;
    _Atomic uint32_t ms, op, path, lineage, size, aux;
    _Atomic uint64_t ino;
} mlog_entry;

typedef struct shared {
    _Atomic int stop;
    _Atomic uint64_t count[NMUT];
    _Atomic uint64_t trunc_unaligned, trunc_page_aligned;
    _Atomic uint64_t reuses, reuses_same_path, distinct_inodes;
    _Atomic uint64_t lineages, lineage_cap, errors;
    _Atomic uint32_t current[NPATHS];
    _Atomic uint64_t log_seq;
    mlog_entry log[LOG_SIZE];
    char first_error[200];
} shared;

static shared *sh;
static slot *slots;
static char dir[512];
static char paths[NPATHS][600];
static char tmp_paths[NPATHS][600];
static size_t page; /* the system's: the zeros of a truncated end */
static struct timespec t0;
static int seconds = 10;
static int nreaders = 4;
static long mutate_us = 200;
static uint64_t seed;
static smmap_manager *manager;
static atomic_int stop_readers;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static int reports[5]; /* wrong bytes, raw SIGBUS, count mismatch, window,
                          spurious error */

static uint32_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((t.tv_sec - t0.tv_sec) * 1000 +
                      (t.tv_nsec - t0.tv_nsec) / 1000000);
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---------------------------------------------------------------- words */

static unsigned check8(uint32_t lineage, uint64_t idx)
{
    uint64_t x = lineage * 0x9E3779B97F4A7C15ull + idx * 0xC2B2AE3D27D4EB4Full;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    return (unsigned)(x >> 56);
}

/* The byte at offset p of any version of the lineage; -1 for the rewrite
 * byte, which a rewrite in place changes. */
static int expected_byte(uint32_t lineage, uint64_t p)
{
    uint64_t idx = p >> 3;
    switch (p & 7) {
    case 0: return (int)check8(lineage, idx);
    case 1: return -1;
    case 2: return (int)(lineage & 0xff);
    case 3: return (int)((lineage >> 8) & 0xff);
    case 4: return (int)((lineage >> 16) & 0xff);
    case 5: return (int)(idx & 0xff);
    case 6: return (int)((idx >> 8) & 0xff);
    default: return (int)((idx >> 16) & 0xff);
    }
}

static void fill(unsigned char *buf, uint32_t lineage, unsigned rewrite,
                 uint64_t from, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        int e = expected_byte(lineage, from + i);
        buf[i] = (unsigned char)(e < 0 ? rewrite : (unsigned)e);
    }
}

/* Decode a whole word: 0 when its check fails. */
static int decode(const unsigned char *w, uint32_t *lineage, uint64_t *idx)
{
    *lineage = (uint32_t)w[2] | (uint32_t)w[3] << 8 | (uint32_t)w[4] << 16;
    *idx = (uint64_t)w[5] | (uint64_t)w[6] << 8 | (uint64_t)w[7] << 16;
    return w[0] == check8(*lineage, *idx);
}

static slot *slot_of(uint32_t lineage)
{
    if (lineage == 0 || lineage >= MAX_LINEAGES)
        return NULL;
    if (atomic_load_explicit(&slots[lineage].tag, memory_order_acquire) != lineage)
        return NULL;
    return &slots[lineage];
}

/* The largest folio the page cache may hold a file's bytes in (a PMD on
 * x86-64 and arm64 with 4 KiB pages): the zeros a racing truncation
 * writes into a large folio reach at most to its end. */
#define FOLIO_MAX (2u * 1024 * 1024)

/* Zeros at p are allowed if the lineage had an end e at or before p in
 * p's page, or in p's largest possible folio (logged before it was made). */
static int zero_explained(uint32_t lineage, uint64_t p)
{
    slot *s = slot_of(lineage);
    uint32_t n, k;
    if (s == NULL)
        return 0;
    n = atomic_load_explicit(&s->nends, memory_order_acquire);
    for (k = 0; k < n && k < NENDS; k++) {
        uint64_t e = atomic_load_explicit(&s->ends[k], memory_order_relaxed);
        uint64_t folio = page > FOLIO_MAX ? page : FOLIO_MAX;
        if (e <= p && (p < (e + page - 1) / page * page ||
                       p / folio == e / folio))
            return 1;
    }
    return 0;
}

/* -------------------------------------------------------------- mutator */

typedef struct pstate {
    uint32_t lineage;
    unsigned rewrite;
    uint64_t size, max_size;
} pstate;

static pstate ps[NPATHS];
static unsigned char *mbuf;
/* inode number -> lineage and path that last had it (mutator only) */
#define INO_TABLE (1u << 16)
static struct { uint64_t ino; uint32_t lineage, path; } inos[INO_TABLE];
static uint32_t next_lineage = 1;
static uint64_t mrng;

static void mut_error(const char *what, int err)
{
    if (atomic_fetch_add(&sh->errors, 1) == 0)
        snprintf(sh->first_error, sizeof(sh->first_error), "%s: %s", what,
                 strerror(err));
}

static void log_op(int op, int path, uint32_t lineage, uint64_t size,
                   uint64_t ino, uint32_t aux)
{
    uint64_t seq = atomic_fetch_add(&sh->log_seq, 1);
    mlog_entry *e = &sh->log[seq % LOG_SIZE];
    atomic_store_explicit(&e->seq, 0, memory_order_relaxed);
    atomic_store_explicit(&e->ms, now_ms(), memory_order_relaxed);
    atomic_store_explicit(&e->op, (uint32_t)op, memory_order_relaxed);
    atomic_store_explicit(&e->path, (uint32_t)path, memory_order_relaxed);
    atomic_store_explicit(&e->lineage, lineage, memory_order_relaxed);
    atomic_store_explicit(&e->size, (uint32_t)size, memory_order_relaxed);
    atomic_store_explicit(&e->aux, aux, memory_order_relaxed);
    atomic_store_explicit(&e->ino, ino, memory_order_relaxed);
    atomic_store_explicit(&e->seq, seq + 1, memory_order_release);
}

static int write_all(int fd, const unsigned char *buf, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, buf, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Log an end of the file below its largest size, before making it. */
static int log_end(uint32_t lineage, uint64_t end)
{
    slot *s = &slots[lineage];
    uint32_t n = atomic_load_explicit(&s->nends, memory_order_relaxed);
    if (n >= NENDS)
        return -1;
    atomic_store_explicit(&s->ends[n], (uint32_t)end, memory_order_relaxed);
    atomic_store_explicit(&s->nends, n + 1, memory_order_release);
    return 0;
}

static void note_inode(int path, uint32_t lineage, uint64_t ino)
{
    uint32_t h = (uint32_t)((ino * 0x9E3779B97F4A7C15ull) >> 48) % INO_TABLE, k;
    for (k = 0; k < INO_TABLE; k++, h = (h + 1) % INO_TABLE) {
        if (inos[h].ino == ino) {
            if (inos[h].lineage != lineage) {
                atomic_fetch_add(&sh->reuses, 1);
                if (inos[h].path == (uint32_t)path)
                    atomic_fetch_add(&sh->reuses_same_path, 1);
            }
            inos[h].lineage = lineage;
            inos[h].path = (uint32_t)path;
            return;
        }
        if (inos[h].ino == 0) {
            inos[h].ino = ino;
            inos[h].lineage = lineage;
            inos[h].path = (uint32_t)path;
            atomic_fetch_add(&sh->distinct_inodes, 1);
            return;
        }
    }
}

/* Write a new lineage of `path` beside it and rename it over (or create the
 * path, the first time). */
static int replace(int path, uint64_t size)
{
    uint32_t lineage = next_lineage;
    uint32_t old = ps[path].lineage;
    struct stat st;
    slot *s;
    int fd, err;

    if (lineage >= MAX_LINEAGES) {
        atomic_fetch_add(&sh->lineage_cap, 1);
        return -1;
    }
    next_lineage++;
    unlink(tmp_paths[path]);
    fd = open(tmp_paths[path], O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        mut_error("create", errno);
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        mut_error("fstat", errno);
        close(fd);
        return -1;
    }
    s = &slots[lineage];
    atomic_store_explicit(&s->flags, 0, memory_order_relaxed);
    atomic_store_explicit(&s->ntrunc, 0, memory_order_relaxed);
    atomic_store_explicit(&s->nends, 0, memory_order_relaxed);
    atomic_store_explicit(&s->ino, (uint64_t)st.st_ino, memory_order_relaxed);
    atomic_store_explicit(&s->path, (uint32_t)path, memory_order_relaxed);
    atomic_store_explicit(&s->created_ms, now_ms(), memory_order_relaxed);
    atomic_store_explicit(&s->tag, lineage, memory_order_release);
    note_inode(path, lineage, (uint64_t)st.st_ino);
    fill(mbuf, lineage, 0, 0, (size_t)size);
    err = write_all(fd, mbuf, (size_t)size, 0);
    close(fd);
    if (err != 0) {
        mut_error("write new file", -err);
        return -1;
    }
    if (old != 0)
        atomic_fetch_or_explicit(&slots[old].flags, F_REPLACED,
                                 memory_order_release);
    if (rename(tmp_paths[path], paths[path]) != 0) {
        mut_error("rename", errno);
        return -1;
    }
    ps[path].lineage = lineage;
    ps[path].rewrite = 0;
    ps[path].size = ps[path].max_size = size;
    atomic_store(&sh->current[path], lineage);
    atomic_fetch_add(&sh->lineages, 1);
    log_op(M_REPLACE, path, lineage, size, (uint64_t)st.st_ino, old);
    return 0;
}

static uint64_t random_size(uint64_t lo, uint64_t hi)
{
    return lo + next_rand(&mrng) % (hi - lo + 1);
}

static int do_replace(int path)
{
    uint64_t size = random_size(MIN_SIZE, 160u * 1024u);
    if (replace(path, size) != 0)
        return -1;
    atomic_fetch_add(&sh->count[M_REPLACE], 1);
    return 0;
}

static int do_truncate(int path)
{
    pstate *p = &ps[path];
    uint64_t t;
    if (p->size <= MIN_SIZE + 1)
        return do_replace(path);
    t = random_size(MIN_SIZE, p->size - 1);
    if (next_rand(&mrng) % 4 == 0 && t >= page)
        t = t / page * page; /* sometimes page-aligned */
    if (log_end(p->lineage, t) != 0)
        return do_replace(path); /* this lineage's log is full */
    atomic_fetch_add_explicit(&slots[p->lineage].ntrunc, 1, memory_order_release);
    if (truncate(paths[path], (off_t)t) != 0) {
        mut_error("truncate", errno);
        return -1;
    }
    p->size = t;
    atomic_fetch_add(&sh->count[M_TRUNCATE], 1);
    atomic_fetch_add(t % page ? &sh->trunc_unaligned : &sh->trunc_page_aligned, 1);
    log_op(M_TRUNCATE, path, p->lineage, t, 0, 0);
    return 0;
}

static int do_append(int path)
{
    pstate *p = &ps[path];
    uint64_t add = random_size(1, 8192), end = p->size + add;
    int fd, err;
    if (end > MAX_SIZE)
        return path < NRAW ? do_replace(path) : do_truncate(path);
    if (end < p->max_size && log_end(p->lineage, end) != 0)
        return do_replace(path);
    fd = open(paths[path], O_WRONLY);
    if (fd < 0) {
        mut_error("open for append", errno);
        return -1;
    }
    fill(mbuf, p->lineage, p->rewrite, p->size, (size_t)add);
    err = write_all(fd, mbuf, (size_t)add, p->size);
    close(fd);
    if (err != 0) {
        mut_error("append", -err);
        return -1;
    }
    p->size = end;
    if (end > p->max_size)
        p->max_size = end;
    atomic_fetch_add(&sh->count[M_APPEND], 1);
    log_op(M_APPEND, path, p->lineage, end, 0, 0);
    return 0;
}

static int do_rewrite(int path)
{
    pstate *p = &ps[path];
    int fd, err;
    fd = open(paths[path], O_WRONLY);
    if (fd < 0) {
        mut_error("open for rewrite", errno);
        return -1;
    }
    p->rewrite = (p->rewrite + 1) & 0xff;
    fill(mbuf, p->lineage, p->rewrite, 0, (size_t)p->size);
    err = write_all(fd, mbuf, (size_t)p->size, 0);
    close(fd);
    if (err != 0) {
        mut_error("rewrite", -err);
        return -1;
    }
    atomic_fetch_add(&sh->count[M_REWRITE], 1);
    log_op(M_REWRITE, path, p->lineage, p->size, 0, p->rewrite);
    return 0;
}

static int do_touch(int path)
{
    if (utimensat(AT_FDCWD, paths[path], NULL, 0) != 0) {
        mut_error("utimensat", errno);
        return -1;
    }
    atomic_fetch_add(&sh->count[M_TOUCH], 1);
    log_op(M_TOUCH, path, ps[path].lineage, ps[path].size, 0, 0);
    return 0;
}

static void mutator(pid_t parent)
{
    long n = 0;
    while (!atomic_load(&sh->stop)) {
        int path = (int)(next_rand(&mrng) % NPATHS);
        unsigned r = (unsigned)(next_rand(&mrng) % 100);
        if (r < 20)
            do_touch(path);
        else if (r < 40)
            do_append(path);
        else if (r < 55)
            do_rewrite(path);
        else if (r < 80 || path < NRAW)
            do_replace(path);
        else
            do_truncate(path);
        if (mutate_us > 0)
            usleep((useconds_t)(mutate_us / 2 + (long)(next_rand(&mrng) % (uint64_t)mutate_us)));
        if (++n % 64 == 0 && getppid() != parent)
            break; /* the readers died */
    }
}

/* -------------------------------------------------------------- readers */

typedef struct handle {
    smmap_file *f;
    int path, raw;
    uint32_t lineage;
    uint64_t size, ino;
    uint32_t opened_ms;
    long ops_left, ops;
    int reported;
    uint64_t open_size;     /* smmap_file_size at open */
    long refreshes;         /* successful smmap_file_refresh calls */
    uint32_t refreshed_ms;  /* the last one */
    smmap_cursor rc, uc; /* smmap_read's; raw pointers' */
} handle;

typedef struct reader {
    pthread_t thread;
    int id;
    uint64_t rng;
    handle h[HANDLES];
    unsigned char *buf;
    uint64_t calls[NOPS], ok[NOPS];
    uint64_t errs[NOPS][256];
    uint64_t spurious_estale[NOPS], spurious_eio[NOPS];
    uint64_t bytes_checked, raw_bytes_checked;
    uint64_t wrong_bytes, wrong_reads, unexplained_zero_bytes;
    uint64_t zero_bytes, zero_reads;
    /* wrong calls by their first wrong word: another lineage with the
     * handle's inode number / with another inode number, zeros, other */
    uint64_t wrong_reused_ino, wrong_other_ino, wrong_zero, wrong_garbage;
    uint64_t count_mismatch, window_miss, raw_sigbus;
    uint64_t opens, open_races, closes, refreshed_growth;
    uint64_t released;
} reader;

static reader readers[MAX_READERS];

static _Thread_local sigjmp_buf *raw_jump;
static struct sigaction previous_bus, previous_segv;

static void on_fault(int sig, siginfo_t *info, void *uc)
{
    static const char msg[] = "stress_versions: SIGBUS/SIGSEGV outside a raw check\n";
    sigjmp_buf *j = raw_jump;
    (void)info;
    (void)uc;
    if (j != NULL && sig == SIGBUS) {
        raw_jump = NULL;
        siglongjmp(*j, 1);
    }
    if (write(2, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to do */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_fault_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &previous_bus);
    sigaction(SIGSEGV, &sa, &previous_segv);
}

static void print_log_for(int path, uint32_t l1, uint32_t l2, uint64_t ino)
{
    uint64_t end = atomic_load(&sh->log_seq), i, from;
    int shown = 0;
    from = end > LOG_SIZE ? end - LOG_SIZE : 0;
    for (i = end; i > from && shown < 10; i--) {
        mlog_entry *e = &sh->log[(i - 1) % LOG_SIZE];
        uint32_t p, l;
        if (atomic_load_explicit(&e->seq, memory_order_acquire) != i)
            continue;
        p = atomic_load_explicit(&e->path, memory_order_relaxed);
        l = atomic_load_explicit(&e->lineage, memory_order_relaxed);
        if (p != (uint32_t)path && l != l1 && l != l2 &&
            atomic_load_explicit(&e->ino, memory_order_relaxed) != ino)
            continue;
        fprintf(stderr, "    mutation %llu at %u ms: %s path %u lineage %u size %u ino %llu aux %u\n",
                (unsigned long long)i,
                atomic_load_explicit(&e->ms, memory_order_relaxed),
                mut_names[atomic_load_explicit(&e->op, memory_order_relaxed)],
                p, l, atomic_load_explicit(&e->size, memory_order_relaxed),
                (unsigned long long)atomic_load_explicit(&e->ino, memory_order_relaxed),
                atomic_load_explicit(&e->aux, memory_order_relaxed));
        shown++;
    }
}

static void report(reader *r, const handle *h, const char *what, int op,
                   uint64_t off, uint64_t len, int64_t result,
                   const unsigned char *buf, uint64_t buf_off, uint64_t buf_n,
                   uint64_t bad)
{
    slot *s2 = NULL;
    uint32_t l2 = 0;
    uint64_t idx2 = 0;
    int decoded = 0, check_ok = 0;
    smmap_stats st;

    int kind = what[0] == 'w' ? (what[1] == 'r' ? 0 : 3) : what[0] == 'r' ? 1 :
               what[0] == 's' ? 4 : 2;

    if (h->reported)
        return;
    pthread_mutex_lock(&report_lock);
    if (reports[kind]++ >= NREPORTS) {
        pthread_mutex_unlock(&report_lock);
        return;
    }
    ((handle *)h)->reported = 1;
    smmap_manager_stats(manager, &st);
    fprintf(stderr,
            "%s %s at %u ms: reader %d, %s(offset %llu, len %llu) = %lld on path %d (%s)\n"
            "    handle: lineage %u, inode %llu, size %llu (%llu at open, %ld refreshes, the last at %u ms), opened at %u ms, %ld ops ago\n",
            kind == 4 ? "NOTE" : "FAIL", what, now_ms(), r->id, op_names[op], (unsigned long long)off,
            (unsigned long long)len, (long long)result, h->path,
            h->raw ? "never truncated" : "truncated too", h->lineage,
            (unsigned long long)h->ino, (unsigned long long)h->size,
            (unsigned long long)h->open_size, h->refreshes, h->refreshed_ms,
            h->opened_ms, h->ops);
    if (buf != NULL && bad >= buf_off && bad < buf_off + buf_n) {
        uint64_t a = bad & ~(uint64_t)7;
        if (a < buf_off)
            a += 8;
        fprintf(stderr, "    first bad byte at offset %llu: 0x%02x, expected 0x%02x\n",
                (unsigned long long)bad, buf[bad - buf_off],
                (unsigned)expected_byte(h->lineage, bad) & 0xff);
        if (a >= buf_off && a + 8 <= buf_off + buf_n) {
            decoded = 1;
            check_ok = decode(buf + (a - buf_off), &l2, &idx2);
            fprintf(stderr, "    its word at %llu: lineage %u, index %llu (offset %llu), rewrite %u, check %s\n",
                    (unsigned long long)a, l2, (unsigned long long)idx2,
                    (unsigned long long)(idx2 * 8), buf[a - buf_off + 1],
                    check_ok ? "ok" : "BAD");
        }
    }
    if (decoded && check_ok && (s2 = slot_of(l2)) != NULL) {
        uint64_t ino2 = atomic_load_explicit(&s2->ino, memory_order_relaxed);
        fprintf(stderr, "    lineage %u: path %u, inode %llu%s, created at %u ms\n",
                l2, atomic_load_explicit(&s2->path, memory_order_relaxed),
                (unsigned long long)ino2,
                ino2 == h->ino ? " (THE HANDLE'S INODE NUMBER, REUSED)" : "",
                atomic_load_explicit(&s2->created_ms, memory_order_relaxed));
    }
    {
        slot *s = slot_of(h->lineage);
        if (s != NULL)
            fprintf(stderr, "    handle's lineage: %s, %u truncations, %u ends logged\n",
                    atomic_load(&s->flags) & F_REPLACED ? "replaced" : "current",
                    atomic_load(&s->ntrunc), atomic_load(&s->nends));
    }
    fprintf(stderr, "    manager: maps %llu unmaps %llu fd_closes %llu fd_reopens %llu faults %llu open_fds %u\n",
            (unsigned long long)st.maps, (unsigned long long)st.unmaps,
            (unsigned long long)st.fd_closes, (unsigned long long)st.fd_reopens,
            (unsigned long long)st.faults, st.open_fds);
    print_log_for(h->path, h->lineage, l2, h->ino);
    pthread_mutex_unlock(&report_lock);
}

/* Check n bytes at file offset off; returns the number of wrong bytes. */
static uint64_t check(reader *r, const handle *h, const unsigned char *buf,
                      uint64_t off, uint64_t n, uint64_t *first_bad)
{
    uint64_t i, wrong = 0, zeros = 0;
    for (i = 0; i < n; i++) {
        uint64_t p = off + i;
        int e = expected_byte(h->lineage, p);
        if (e < 0 || buf[i] == (unsigned)e)
            continue;
        if (buf[i] == 0 && zero_explained(h->lineage, p)) {
            zeros++;
            continue;
        }
        if (wrong++ == 0)
            *first_bad = p;
        if (buf[i] == 0)
            r->unexplained_zero_bytes++;
    }
    r->zero_bytes += zeros;
    r->zero_reads += zeros > 0;
    if (wrong > 0) {
        /* classify by the first whole word at or after the first bad byte */
        uint64_t a = *first_bad & ~(uint64_t)7, idx;
        uint32_t l2;
        slot *s2;
        static const unsigned char zero8[8];
        if (a < off)
            a += 8;
        if (a + 8 > off + n)
            r->wrong_garbage++;
        else if (!memcmp(buf + (a - off), zero8, 8))
            r->wrong_zero++;
        else if (decode(buf + (a - off), &l2, &idx) && idx == a / 8 &&
                 l2 != h->lineage && (s2 = slot_of(l2)) != NULL)
            *(atomic_load_explicit(&s2->ino, memory_order_relaxed) == h->ino
                  ? &r->wrong_reused_ino : &r->wrong_other_ino) += 1;
        else
            r->wrong_garbage++;
    }
    r->wrong_bytes += wrong;
    r->wrong_reads += wrong > 0;
    return wrong;
}

/* Count an error; 1 if it is a spurious -ESTALE or -EIO. */
static int count_error(reader *r, uint32_t lineage, int op, int err)
{
    int code = err < 0 && err > -256 ? -err : 255;
    r->errs[op][code]++;
    if (err == -ESTALE || err == -EIO) {
        slot *s = slot_of(lineage);
        if (s != NULL && !(atomic_load_explicit(&s->flags, memory_order_acquire) & F_REPLACED) &&
            atomic_load_explicit(&s->ntrunc, memory_order_acquire) == 0) {
            if (err == -ESTALE)
                r->spurious_estale[op]++;
            else
                r->spurious_eio[op]++;
            return 1;
        }
    }
    return 0;
}

static void close_handle(reader *r, handle *h)
{
    if (h->f == NULL)
        return;
    smmap_cursor_release(&h->rc);
    smmap_cursor_release(&h->uc);
    smmap_file_close(h->f);
    h->f = NULL;
    r->closes++;
}

static int open_handle(reader *r, handle *h)
{
    int path = (int)(next_rand(&r->rng) % NPATHS), fd0, fd1, err;
    unsigned char w[8];
    struct stat s0, s1;
    uint32_t lineage;
    uint64_t idx;
    smmap_file *f = NULL;

    fd0 = open(paths[path], O_RDONLY);
    if (fd0 < 0)
        return -1;
    if (fstat(fd0, &s0) != 0 || pread(fd0, w, 8, 0) != 8 ||
        !decode(w, &lineage, &idx) || idx != 0 || slot_of(lineage) == NULL) {
        fprintf(stderr, "stress_versions: cannot learn the lineage of %s\n", paths[path]);
        close(fd0);
        return -1;
    }
    r->calls[OP_OPEN]++;
    err = smmap_file_open(manager, paths[path], &f);
    fd1 = open(paths[path], O_RDONLY);
    if (err != 0) {
        count_error(r, lineage, OP_OPEN, err);
        if (fd1 >= 0)
            close(fd1);
        close(fd0);
        return -1;
    }
    r->ok[OP_OPEN]++;
    if (fd1 < 0 || fstat(fd1, &s1) != 0 || s1.st_ino != s0.st_ino ||
        s1.st_dev != s0.st_dev) {
        r->open_races++;
        smmap_file_close(f);
        if (fd1 >= 0)
            close(fd1);
        close(fd0);
        return -1;
    }
    close(fd1);
    close(fd0);
    r->opens++;
    h->f = f;
    h->path = path;
    h->raw = path < NRAW;
    h->lineage = lineage;
    h->ino = (uint64_t)s0.st_ino;
    h->size = h->open_size = smmap_file_size(f);
    h->refreshes = 0;
    h->refreshed_ms = 0;
    h->opened_ms = now_ms();
    h->ops = 0;
    h->reported = 0;
    h->ops_left = 50 + (long)(next_rand(&r->rng) % 2000);
    smmap_cursor_init(&h->rc, f);
    smmap_cursor_init(&h->uc, f);
    return 0;
}

static void op_read(reader *r, handle *h)
{
    uint64_t size = h->size;
    uint64_t off = next_rand(&r->rng) % (size + 64);
    size_t len = 1 + (size_t)(next_rand(&r->rng) % READ_MAX);
    uint64_t expect = off < size ? (size - off < len ? size - off : len) : 0;
    uint64_t bad = 0;
    int64_t n;

    r->calls[OP_READ]++;
    n = smmap_read(&h->rc, off, r->buf, len);
    if (n < 0) {
        if (count_error(r, h->lineage, OP_READ, (int)n))
            report(r, h, "spurious error", OP_READ, off, len, n, NULL, 0, 0, 0);
        return;
    }
    r->ok[OP_READ]++;
    if ((uint64_t)n != expect) {
        r->count_mismatch++;
        report(r, h, "count mismatch", OP_READ, off, len, n, NULL, 0, 0, 0);
        if ((uint64_t)n > len)
            return;
    }
    r->bytes_checked += (uint64_t)n;
    if (check(r, h, r->buf, off, (uint64_t)n, &bad) > 0)
        report(r, h, "wrong bytes", OP_READ, off, len, n, r->buf, off,
               (uint64_t)n, bad);
}

/* Copy raw memory under the SIGBUS jump: -1 if it faulted. */
static int guarded_copy(void *dst, const void *src, size_t n)
{
    sigjmp_buf jump;
    if (sigsetjmp(jump, 0) != 0)
        return -1;
    raw_jump = &jump;
    atomic_signal_fence(memory_order_seq_cst);
    memcpy(dst, src, n);
    atomic_signal_fence(memory_order_seq_cst);
    raw_jump = NULL;
    return 0;
}

static void op_raw(reader *r, handle *h, int use)
{
    uint64_t size = h->size, off = next_rand(&r->rng) % size, bad = 0;
    uint64_t want = 1 + next_rand(&r->rng) % (use ? 8192 : 6000);
    const unsigned char *p = NULL;
    uint64_t from = off, n = 0;
    int op = use ? OP_USE : OP_AT, err = 0;

    if (use && next_rand(&r->rng) % 3 == 0)
        want = 0;
    if (!use && off + want > size && next_rand(&r->rng) % 16 != 0)
        want = size - off; /* now and then past the end: -ERANGE */
    r->calls[op]++;
    if (use) {
        err = smmap_cursor_use(&h->uc, off, (size_t)want);
        if (err == 0) {
            uint64_t need = want == 0 ? 1 : (want < size - off ? want : size - off);
            if (h->uc.data == NULL || off < h->uc.begin ||
                off + need > h->uc.begin + h->uc.size) {
                r->window_miss++;
                report(r, h, "window misses request", op, off, want, 0, NULL, 0, 0, 0);
                return;
            }
            p = h->uc.data;
            from = h->uc.begin;
            n = h->uc.size;
        }
    } else {
        p = smmap_cursor_at(&h->uc, off, (size_t)want);
        if (p == NULL)
            err = h->uc.error != 0 ? h->uc.error : -EINVAL;
        n = want;
    }
    if (err != 0) {
        if (count_error(r, h->lineage, op, err))
            report(r, h, "spurious error", op, off, want, err, NULL, 0, 0, 0);
        return;
    }
    r->ok[op]++;
    if (n > BUF_SIZE)
        n = BUF_SIZE;
    /* Copy under the jump, check the copy: a report reads it again. */
    if (guarded_copy(r->buf, p, (size_t)n) != 0) {
        r->raw_sigbus++;
        report(r, h, "raw SIGBUS", op, off, want, 0, NULL, 0, 0, 0);
        smmap_cursor_release(&h->uc);
        return;
    }
    r->raw_bytes_checked += n;
    if (check(r, h, r->buf, from, n, &bad) > 0)
        report(r, h, "wrong bytes", op, off, want, 0, r->buf, from, n, bad);
}

static void op_refresh(reader *r, handle *h)
{
    int err;
    uint64_t before = h->size;
    r->calls[OP_REFRESH]++;
    err = smmap_file_refresh(h->f);
    if (err != 0) {
        if (count_error(r, h->lineage, OP_REFRESH, err))
            report(r, h, "spurious error", OP_REFRESH, 0, 0, err, NULL, 0, 0, 0);
        return;
    }
    r->ok[OP_REFRESH]++;
    h->size = smmap_file_size(h->f);
    h->refreshes++;
    h->refreshed_ms = now_ms();
    r->refreshed_growth += h->size > before;
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    while (!atomic_load_explicit(&stop_readers, memory_order_relaxed)) {
        handle *h = &r->h[next_rand(&r->rng) % HANDLES];
        unsigned op;
        if (h->f == NULL || h->ops_left-- <= 0) {
            close_handle(r, h);
            if (open_handle(r, h) != 0)
                continue;
        }
        h->ops++;
        op = (unsigned)(next_rand(&r->rng) % 100);
        if (op < 2) {
            smmap_cursor_release(next_rand(&r->rng) & 1 ? &h->rc : &h->uc);
            r->released++;
        } else if (op < 4) {
            op_refresh(r, h);
        } else if (!h->raw || op < 50) {
            op_read(r, h);
        } else {
            op_raw(r, h, op >= 75);
        }
    }
    {
        int k;
        for (k = 0; k < HANDLES; k++)
            close_handle(r, &r->h[k]);
    }
    return NULL;
}

/* ----------------------------------------------------------------- main */

static void on_alarm(int sig)
{
    static const char msg[] = "stress_versions: FAIL: did not finish in time (deadlock?)\n0 passed, 1 failed\n";
    (void)sig;
    if (write(1, msg, sizeof(msg) - 1) < 0) {
        /* exiting anyway */
    }
    _exit(3);
}

static const char *errno_name(int code)
{
    switch (code) {
    case EIO: return "EIO";
    case ESTALE: return "ESTALE";
    case ERANGE: return "ERANGE";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    default: return "errno";
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: stress_versions [--seconds S] [--dir DIR] [--seed N] "
                    "[--readers N] [--mutate-us U]\n");
    exit(2);
}

static const char *fs_name(const char *d)
{
#ifdef __linux__
    struct statfs s;
    if (statfs(d, &s) != 0)
        return "?";
    switch ((unsigned long)s.f_type) {
    case 0xEF53: return "ext2/3/4";
    case 0x01021994: return "tmpfs";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x794C7630: return "overlayfs";
    default: return "other";
    }
#else
    (void)d;
    return "?";
#endif
}

int main(int argc, char **argv)
{
    const char *parent_dir = NULL;
    pid_t child, me = getpid();
    int i, k, status = 0, failed = 0, child_ok;
    uint64_t t, start_ms;
    smmap_options o;
    smmap_stats st;
    reader sum;
    long elapsed_ms;

    seed = (uint64_t)time(NULL) ^ ((uint64_t)me << 32);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            parent_dir = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--readers") && i + 1 < argc)
            nreaders = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mutate-us") && i + 1 < argc)
            mutate_us = atol(argv[++i]);
        else
            usage();
    }
    if (seconds < 1 || nreaders < 1 || nreaders > MAX_READERS || mutate_us < 0)
        usage();
    if (seed == 0)
        seed = 1;
    if (parent_dir == NULL)
        parent_dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    clock_gettime(CLOCK_MONOTONIC, &t0);
    page = (size_t)sysconf(_SC_PAGESIZE);
    snprintf(dir, sizeof(dir), "%s/stress-versions.XXXXXX", parent_dir);
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "stress_versions: mkdtemp in %s: %s\n", parent_dir, strerror(errno));
        return 2;
    }
    for (i = 0; i < NPATHS; i++) {
        snprintf(paths[i], sizeof(paths[i]), "%s/f%d", dir, i);
        snprintf(tmp_paths[i], sizeof(tmp_paths[i]), "%s/f%d.new", dir, i);
    }
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    slots = mmap(NULL, sizeof(slot) * MAX_LINEAGES, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    mbuf = malloc(MAX_SIZE + 8192);
    if (sh == MAP_FAILED || slots == MAP_FAILED || mbuf == NULL) {
        fprintf(stderr, "stress_versions: out of memory\n");
        return 2;
    }
    mrng = seed * 0x9E3779B97F4A7C15ull | 1;
    for (i = 0; i < NPATHS; i++)
        if (replace(i, random_size(16u * 1024u, 128u * 1024u)) != 0) {
            fprintf(stderr, "stress_versions: creating the files: %s\n", sh->first_error);
            return 2;
        }

    printf("stress_versions: %d s, %d readers, seed %llu, dir %s (%s), page %zu, mutator pause %ld us\n",
           seconds, nreaders, (unsigned long long)seed, dir, fs_name(dir), page, mutate_us);
    fflush(stdout);
    fflush(stderr);

    child = fork();
    if (child < 0) {
        perror("fork");
        return 2;
    }
    if (child == 0) {
        mrng = (seed + 0x1234567) * 0xD1B54A32D192ED03ull | 1;
        mutator(me);
        _exit(0);
    }

    signal(SIGALRM, on_alarm);
    alarm((unsigned)seconds + 300u);
    install_fault_handler();
    smmap_options_init(&o);
    /* Windows of one granule, the library's alignment (the page, or the
     * build's SMMAP_GRANULARITY), eight of them in budget. */
    o.window_size = smmap__os.granularity();
    o.max_mapped = 8 * o.window_size;
    o.max_regions = 16;
    o.max_open_files = 2;
    k = smmap_manager_new(&manager, &o);
    if (k != 0) {
        fprintf(stderr, "stress_versions: smmap_manager_new: %s\n", smmap_strerror(k));
        atomic_store(&sh->stop, 1);
        waitpid(child, NULL, 0);
        return 2;
    }
    for (i = 0; i < nreaders; i++) {
        readers[i].id = i;
        readers[i].rng = (seed + (uint64_t)i * 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull | 1;
        readers[i].buf = malloc(BUF_SIZE);
        if (readers[i].buf == NULL ||
            pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]) != 0) {
            fprintf(stderr, "stress_versions: starting reader %d failed\n", i);
            return 2;
        }
    }
    child_ok = 1;
    start_ms = now_ms();
    /* a deadline, not a count of sleeps: on a loaded machine each sleep
     * overruns */
    for (t = 0; now_ms() < start_ms + (uint64_t)seconds * 1000u; t++) {
        usleep(100000);
        if (waitpid(child, &status, WNOHANG) == child) {
            child_ok = 0;
            break;
        }
    }
    elapsed_ms = (long)(now_ms() - start_ms);
    atomic_store(&stop_readers, 1);
    for (i = 0; i < nreaders; i++)
        pthread_join(readers[i].thread, NULL);
    atomic_store(&sh->stop, 1);
    if (child_ok)
        waitpid(child, &status, 0);
    child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    smmap_manager_stats(manager, &st);
    smmap_manager_free(manager);
    alarm(0);

    memset(&sum, 0, sizeof(sum));
    for (i = 0; i < nreaders; i++) {
        reader *r = &readers[i];
        int op, c;
        for (op = 0; op < NOPS; op++) {
            sum.calls[op] += r->calls[op];
            sum.ok[op] += r->ok[op];
            sum.spurious_estale[op] += r->spurious_estale[op];
            sum.spurious_eio[op] += r->spurious_eio[op];
            for (c = 0; c < 256; c++)
                sum.errs[op][c] += r->errs[op][c];
        }
#define ADD(f) sum.f += r->f
        ADD(bytes_checked); ADD(raw_bytes_checked); ADD(wrong_bytes);
        ADD(wrong_reads); ADD(unexplained_zero_bytes); ADD(zero_bytes);
        ADD(zero_reads); ADD(count_mismatch); ADD(window_miss); ADD(raw_sigbus);
        ADD(opens); ADD(open_races); ADD(closes); ADD(refreshed_growth);
        ADD(released); ADD(wrong_reused_ino); ADD(wrong_other_ino);
        ADD(wrong_zero); ADD(wrong_garbage);
#undef ADD
        free(r->buf);
    }

    printf("readers ran %.1f s\n", elapsed_ms / 1000.0);
    printf("calls:");
    for (i = 0; i < NOPS; i++)
        printf(" %s %llu (ok %llu)%s", op_names[i], (unsigned long long)sum.calls[i],
               (unsigned long long)sum.ok[i], i + 1 < NOPS ? "," : "\n");
    printf("bytes checked: %llu by smmap_read, %llu through raw pointers\n",
           (unsigned long long)sum.bytes_checked, (unsigned long long)sum.raw_bytes_checked);
    printf("wrong bytes: %llu in %llu calls (%llu of them zeros no logged end explains)\n",
           (unsigned long long)sum.wrong_bytes, (unsigned long long)sum.wrong_reads,
           (unsigned long long)sum.unexplained_zero_bytes);
    if (sum.wrong_reads)
        printf("wrong calls by their first wrong byte: another lineage's word with the handle's inode number %llu, "
               "with another inode number %llu, zeros %llu, other (or no whole word) %llu\n",
               (unsigned long long)sum.wrong_reused_ino, (unsigned long long)sum.wrong_other_ino,
               (unsigned long long)sum.wrong_zero, (unsigned long long)sum.wrong_garbage);
    printf("zeros (page of a truncated end, allowed): %llu bytes in %llu calls\n",
           (unsigned long long)sum.zero_bytes, (unsigned long long)sum.zero_reads);
    printf("count mismatches: %llu, windows missing their request: %llu, raw SIGBUS: %llu\n",
           (unsigned long long)sum.count_mismatch, (unsigned long long)sum.window_miss,
           (unsigned long long)sum.raw_sigbus);
    for (i = 0; i < NOPS; i++) {
        int c, any = 0;
        for (c = 1; c < 256; c++) {
            if (sum.errs[i][c] == 0)
                continue;
            if (!any)
                printf("errors of %s:", op_names[i]);
            printf("%s -%d %s %llu", any ? "," : "", c,
                   c == 255 ? "other" : errno_name(c),
                   (unsigned long long)sum.errs[i][c]);
            any = 1;
        }
        if (any)
            printf("\n");
    }
    printf("spurious -ESTALE (lineage neither replaced nor truncated):");
    for (i = 0; i < NOPS; i++)
        printf(" %s %llu", op_names[i], (unsigned long long)sum.spurious_estale[i]);
    printf("\nspurious -EIO (lineage never truncated):");
    for (i = 0; i < NOPS; i++)
        printf(" %s %llu", op_names[i], (unsigned long long)sum.spurious_eio[i]);
    printf("\nhandles: %llu opened, %llu closed, %llu open races, %llu refreshes that grew, %llu cursor releases\n",
           (unsigned long long)sum.opens, (unsigned long long)sum.closes,
           (unsigned long long)sum.open_races, (unsigned long long)sum.refreshed_growth,
           (unsigned long long)sum.released);
    printf("mutations:");
    for (i = 0; i < NMUT; i++)
        printf(" %s %llu%s", mut_names[i], (unsigned long long)atomic_load(&sh->count[i]),
               i + 1 < NMUT ? "," : "");
    printf(" (truncations %llu unaligned, %llu page-aligned)\n",
           (unsigned long long)atomic_load(&sh->trunc_unaligned),
           (unsigned long long)atomic_load(&sh->trunc_page_aligned));
    printf("lineages: %llu, distinct inodes %llu, inode reuses %llu (%llu at the same path)%s\n",
           (unsigned long long)atomic_load(&sh->lineages),
           (unsigned long long)atomic_load(&sh->distinct_inodes),
           (unsigned long long)atomic_load(&sh->reuses),
           (unsigned long long)atomic_load(&sh->reuses_same_path),
           atomic_load(&sh->lineage_cap) ? " (lineage cap reached)" : "");
    printf("manager: maps %llu, unmaps %llu, evictions %llu, reuses %llu, fd_closes %llu, "
           "fd_reopens %llu, faults %llu, read_windows %llu, direct_reads %llu, retries %llu\n",
           (unsigned long long)st.maps, (unsigned long long)st.unmaps,
           (unsigned long long)st.evictions, (unsigned long long)st.reuses,
           (unsigned long long)st.fd_closes, (unsigned long long)st.fd_reopens,
           (unsigned long long)st.faults, (unsigned long long)st.read_windows,
           (unsigned long long)st.direct_reads, (unsigned long long)st.retries);
    if (atomic_load(&sh->errors) != 0) {
        printf("FAIL: the mutator failed %llu times, first: %s\n",
               (unsigned long long)atomic_load(&sh->errors), sh->first_error);
        failed = 1;
    }
    if (!child_ok) {
        printf("FAIL: the mutator process ended badly (status 0x%x)\n", status);
        failed = 1;
    }
    if (atomic_load(&sh->reuses) == 0)
        printf("note: no inode number was reused (file system %s): the replace-with-reuse case did not run\n",
               fs_name(dir));
    if (sum.wrong_bytes || sum.count_mismatch || sum.window_miss || sum.raw_sigbus) {
        printf("FAIL: %llu wrong bytes, %llu count mismatches, %llu windows missing their request, %llu raw SIGBUS\n",
               (unsigned long long)sum.wrong_bytes, (unsigned long long)sum.count_mismatch,
               (unsigned long long)sum.window_miss, (unsigned long long)sum.raw_sigbus);
        failed = 1;
    }
    if (sum.opens == 0 || sum.ok[OP_READ] == 0) {
        printf("FAIL: no handle opened or no read succeeded\n");
        failed = 1;
    }

    for (i = 0; i < NPATHS; i++) {
        unlink(paths[i]);
        unlink(tmp_paths[i]);
    }
    rmdir(dir);
    munmap(slots, sizeof(slot) * MAX_LINEAGES);
    munmap(sh, sizeof(*sh));
    free(mbuf);
    printf("%d passed, %d failed\n", !failed, failed);
    return failed;
}
