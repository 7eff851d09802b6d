/*
 * model.h - a reference model of an smmap manager, and the engine that runs
 * one operation at a time against both the model and the real library and
 * compares them.
 *
 * The model is written from DESIGN.md and include/smmap.h, not from src/:
 * window placement, reuse of covering regions, the budgets (max_mapped
 * soft or hard, max_regions hard, evictions only of unused regions and only
 * while the new window does not fit) and the descriptor cache. Which unused
 * regions an eviction takes, and which of several covering regions a
 * cursor gets, are the library's choice (issue 13: CLOCK, lock-free
 * hints): the engine replays a cursor move on the model through the
 * allowed choices until it ends where the library did. After every
 * operation it compares the bytes a cursor shows, the error code, every
 * statistic, each file's set of regions (offset, size, pins) and each
 * cursor's region.
 *
 * Files that change under the library (issue 12): besides the pool of
 * read-only files, a run may have a few *version files* that the engine
 * changes on disk between operations: touch (utime), append, rewrite in
 * place, truncate (to any size, page-aligned or not), rename-replace by a
 * new file (reusing the old inode number where the file system does), and
 * smmap_file_refresh of a handle, alone or from two threads while the
 * file grows. The model knows each version file's lineages (one per inode
 * it was given) and every write of each lineage, and each handle's lineage
 * and size; for every read it states the set of outcomes VERSIONS.md allows
 * (bytes of the handle's lineage only, zeros only in the page of a new end
 * before a shrink was seen, -ESTALE for new windows of a replaced or
 * shrunk version, -EIO past a shrink) and a byte outside the set fails.
 *
 * The randomized driver (model_main.c), the soak script and the libFuzzer
 * target (fuzz/fuzz_model.c) all run operations through this engine.
 */
#ifndef SMMAP_TEST_MODEL_H
#define SMMAP_TEST_MODEL_H

#include "smmap.h"

#include <stddef.h>
#include <stdint.h>

#define MODEL_MAX_POOL 50
#define MODEL_HANDLE_SLOTS 6
#define MODEL_CURSOR_SLOTS 6
#define MODEL_MAX_REGIONS 64
/* Version files of one run (created by model_run_start, removed by
 * model_run_finish, in the pool's directory). */
#define MODEL_MAX_VFILES 3

/* The files a run may open: created once, read-only afterwards. */
typedef struct model_pool_file {
    char path[512];
    char name[16];
    uint64_t size;
    int fd; /* our own descriptor, for pread() comparisons */
} model_pool_file;

typedef struct model_pool {
    char dir[400];
    unsigned count;
    uint64_t page;
    model_pool_file files[MODEL_MAX_POOL];
} model_pool;

/* Create count files (at most MODEL_MAX_POOL) in a fresh temporary
 * directory. The first eight have the sizes that matter (0, 1, a page, a
 * page plus one, two pages minus one, several MiB twice, a sparse file past
 * 4 GiB unless with_huge is 0); the rest have sizes drawn from seed.
 * Returns 0 or -errno. */
int model_pool_create(model_pool *p, unsigned count, uint64_t seed,
                      int with_huge);
void model_pool_destroy(model_pool *p);

enum model_op_kind {
    OP_OPEN_PATH,   /* handle slot a <- open file `file`, spelling b */
    OP_OPEN_FD,     /* handle slot a <- open_fd of file `file` */
    OP_CLOSE,       /* release the cursors on handle a, close it */
    OP_CURSOR_INIT, /* cursor a <- init on handle b (b >= slots: NULL file) */
    OP_USE,         /* smmap_cursor_use(cursor a, off, len) */
    OP_AT,          /* smmap_cursor_at(cursor a, off, len) */
    OP_READ,        /* smmap_read(cursor a, off, buf, len) (b: NULL dst) */
    OP_RELEASE,     /* smmap_cursor_release(cursor a) */
    OP_COPY,        /* smmap_cursor_copy(cursor a <- cursor b) */
    OP_COLLECT,     /* smmap_manager_collect */
    OP_RELEASE_PATH, /* release_path with prefix kind b, file `file` */
    OP_STATS,       /* compare every statistic (done after each op anyway) */
    OP_USE_RANGE,   /* smmap_cursor_use_range(cursor a, off, need, len) */
    /* Versions (issue 12): on a version file `file` (no-ops on a run
     * without version files, and on Windows, which refuses to rename or
     * truncate a file the library holds). */
    OP_TOUCH,       /* a later mtime, nothing else */
    OP_APPEND,      /* len bytes more, of a new write */
    OP_REWRITE,     /* bytes [off, off + len) (clamped; len 0: all) rewritten
                       in place with a new write */
    OP_TRUNCATE,    /* a smaller size: kind b (random, page-aligned, not
                       aligned, one byte less) from off */
    OP_REPLACE,     /* a new file of size len at the path: b % 3 = 0 write
                       a temporary and rename it over, 1 unlink first then
                       write a temporary and rename it over, 2 unlink then
                       create in place (1 and 2 let the file system reuse
                       the inode number); b & 4: release_path of the file
                       first, so that the library lets go of the inode */
    OP_REFRESH,     /* smmap_file_refresh(handle a) */
    OP_REFRESH_RACE, /* handles a and b refreshed from two threads while
                        the file of a grows by 2 + len % 6 appends */
    OP_KIND_COUNT
};

typedef struct model_op {
    uint8_t kind;
    uint8_t a, b;
    uint8_t file;
    uint64_t off;
    uint64_t len;
    uint64_t need; /* OP_USE_RANGE only */
} model_op;

/* Options of one run and which pool files it uses. */
typedef struct model_config {
    smmap_options opt;
    unsigned nfiles;
    uint8_t files[MODEL_MAX_POOL]; /* pool indices */
    unsigned nversions;            /* version files, 0..MODEL_MAX_VFILES */
    uint64_t version_seed;         /* their initial sizes */
} model_config;

typedef struct model_run model_run;

/* Start a run: a fresh manager and model, and the run's version files.
 * Returns NULL if the manager could not be created (the reason is in
 * *err). */
model_run *model_run_start(const model_pool *pool, const model_config *cfg,
                           int *err);
/* Where windows come from (issue 4): 0 mmap; 1 the read backend
 * (SMMAP_NO_MMAP); 2 mmap refused with ENODEV through the OS table, so the
 * library switches each file to the read backend by itself. The model is the
 * same in all three: only the counters that say how a window was made
 * differ (maps/unmaps, or read_windows), and which bytes a window of a
 * version file may show (a map shows the file as it is now; a window read
 * into the heap, the file as it was when it was read). */
extern int model_backend;
/* 0: the generator makes no version operations (--no-versions). */
extern int model_versions_enabled;

/* Apply one operation to both. Returns 0, or 1 on a mismatch (the message
 * is in model_run_message). Operations on empty slots are no-ops. */
int model_run_step(model_run *r, const model_op *op);
/* Release every cursor, close every handle, check that nothing is left
 * (regions, descriptors, allocations), free everything. Returns 0 or 1. */
int model_run_finish(model_run *r);
/* The message of r, or (r == NULL) of the last finished run. */
const char *model_run_message(const model_run *r);
/* Total operations applied by this process, across runs. */
extern uint64_t model_ops_applied;

/* Figures of the version operations, across runs. */
typedef struct model_version_figures {
    uint64_t ops[OP_KIND_COUNT]; /* version operations applied, by kind */
    uint64_t skipped;       /* version operations with nothing to do */
    uint64_t inode_reuses;  /* replacements given an inode number that an
                               earlier lineage of the run had */
    uint64_t reuses_under_handle; /* ... while a handle of it was open */
    uint64_t shared_reused_inode; /* opens of a reused inode number while an
                                     entry of the old lineage was open */
    uint64_t version_reads; /* reads, uses and at()s of version files */
    uint64_t estale, eio;   /* answers allowed by the versions */
    uint64_t zeros_seen;    /* reads that showed the zeros of a new end */
    uint64_t choice_resyncs; /* moves with more eviction choices than the
                                replays cover: state taken from the
                                library (see move_both in model.c) */
    uint64_t resyncs;       /* model states taken from the library after
                               an answer whose side effects DESIGN leaves
                               open (see resync in model.c) */
    uint64_t race_refreshes; /* smmap_file_refresh calls from race threads */
    /* The eviction order and the choice among covering regions are the
     * library's (issue 13): the model replays a cursor move with other
     * allowed choices until it ends in the library's state. */
    uint64_t moves;         /* cursor moves checked */
    uint64_t chosen_moves;  /* moves where more than one outcome was
                               allowed (several victims or covering
                               regions) */
    uint64_t replays;       /* replays beyond the first, all moves */
    uint64_t evictions;     /* evictions the model followed */
} model_version_figures;
extern model_version_figures model_figures;

/* A random operation suited to the run's state (offsets near region
 * boundaries, page edges, EOF). rng is a xorshift state. */
void model_generate(const model_run *r, uint64_t *rng, model_op *op);
/* Random options and a random subset of the pool. */
void model_random_config(const model_pool *pool, uint64_t *rng,
                         model_config *cfg);

void model_format_op(const model_op *op, char *buf, size_t size);
void model_format_config(const model_config *cfg, char *buf, size_t size);

uint64_t model_rand(uint64_t *state);

/* The allocation count seen through smmap__os.malloc/free, installed by
 * model_run_start (under a lock: the refresh race allocates from two
 * threads). */
extern long model_live_allocations;

#endif /* SMMAP_TEST_MODEL_H */
