/*
 * model.h - a reference model of an smmap manager, and the engine that runs
 * one operation at a time against both the model and the real library and
 * compares them.
 *
 * The model is written from DESIGN.md and include/smmap.h, not from src/:
 * window placement, reuse of covering regions, the true LRU of unused
 * regions, the budgets (max_mapped soft or hard, max_regions hard) and the
 * descriptor cache. After every operation the engine compares the bytes a
 * cursor shows with pread(), the error code, every statistic, each file's
 * set of regions (offset, size, pins) and the order of the unused LRU.
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
    OP_OPEN_PATH,   /* handle slot a <- open pool file `file`, spelling b */
    OP_OPEN_FD,     /* handle slot a <- open_fd of pool file `file` */
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
} model_config;

typedef struct model_run model_run;

/* Start a run: a fresh manager and model. Returns NULL if the manager could
 * not be created (the reason is in *err). */
model_run *model_run_start(const model_pool *pool, const model_config *cfg,
                           int *err);
/* Where windows come from (issue 4): 0 mmap; 1 the read backend
 * (SMMAP_NO_MMAP); 2 mmap refused with ENODEV through the OS table, so the
 * library switches each file to the read backend by itself. The model is the
 * same in all three: only the counters that say how a window was made
 * differ (maps/unmaps, or read_windows). */
extern int model_backend;

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
 * model_run_start. */
extern long model_live_allocations;

#endif /* SMMAP_TEST_MODEL_H */
