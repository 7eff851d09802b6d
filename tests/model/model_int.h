/*
 * model_int.h - the state of one model run, shared by the engine
 * (model.c), the versions of files (model_versions.c) and the generator
 * (model_gen.c). Nothing outside tests/model includes it.
 */
#ifndef SMMAP_TEST_MODEL_INT_H
#define SMMAP_TEST_MODEL_INT_H

#include "model.h"
#include "smmap_int.h"

#include <stdio.h>

/* An entry lives while a handle holds it, so there are never more. */
#define MODEL_MAX_ENTRIES MODEL_HANDLE_SLOTS
/* File ids: a pool index, or MODEL_VFILE_BASE + a version file's index. */
#define MODEL_VFILE_BASE MODEL_MAX_POOL
#define MODEL_IS_VFILE(fid) ((fid) >= MODEL_VFILE_BASE)
/* Lineages of one run (replacements stop when they run out) and writes of
 * one version file (each has its own tag, 0..MODEL_MAX_WRITES-1, so that
 * a byte tells which write it came from; writing stops when they run
 * out). */
#define MODEL_MAX_LINEAGES 40
#define MODEL_MAX_WRITES 240
/* Version files stay small, so that whole windows and reads of them are
 * checked byte by byte. */
#define MODEL_VFILE_MAX_PAGES 20

typedef struct mregion {
    int live;
    int entry; /* entry slot */
    uint64_t off, size;
    uint32_t pins;
} mregion;

typedef struct mentry {
    int exists;
    int fid;           /* the file it was opened as */
    int lineage;       /* its version file's lineage, -1 for a pool file */
    int64_t mtime_ns;  /* the lineage's mtime when the entry was made */
    uint32_t truncations; /* the lineage's truncations then */
    uint64_t seen_bound; /* the model saw the library learn of a shrink:
                            no read of this version may return bytes past
                            it (UINT64_MAX: nothing seen) */
    smmap_entry *core; /* the library's entry (every handle's f->entry) */
    uint32_t handles, fd_handles, path_handles;
    uint32_t nregions;
    int fd_open;
    uint64_t fd_used; /* clock of the last open or map: descriptor LRU */
} mentry;

typedef struct mhandle {
    int live;
    int entry;   /* entry slot */
    int fid;
    int lineage; /* -1 for a pool file */
    int from_fd;
    uint64_t size; /* smmap_file_size: at open, grown by refresh */
    char path[700];
    smmap_file *f;
} mhandle;

typedef struct mcursor {
    int handle; /* slot, or -1 for a NULL file */
    int region; /* model region index, or -1 */
    uint64_t cut; /* its handle's size when it moved: the window it shows
                     ends there (a refresh later does not change it) */
    smmap_cursor c;
} mcursor;

/* One write to a version file: bytes [lo, hi) of a lineage. The bytes
 * written at offset p are model_content(vfile, tag, p), the tag being the
 * write's index in its file's list. */
typedef struct mwrite {
    int lineage;
    uint64_t lo, hi;
} mwrite;

/* One inode a version file's path has named. */
typedef struct mlineage {
    int vfile;
    uint64_t dev, ino;
    uint64_t size;        /* on disk now; fixed once replaced */
    uint64_t first_trunc; /* size its first truncation left (UINT64_MAX:
                             never truncated; no appends follow one) */
    uint32_t truncations;
    int64_t mtime_ns;     /* on disk now */
    int current;          /* still at its path */
    unsigned char *tags;  /* tag of the write each byte now holds */
} mlineage;

typedef struct mvfile {
    char name[16];
    char path[512];
    int lineage;          /* the one at the path */
    unsigned nwrites;
    mwrite writes[MODEL_MAX_WRITES];
} mvfile;

/* The library's regions and counters before an operation, for the checks
 * of resync(). */
typedef struct snap_region {
    int entry;
    uint64_t off, size;
    uint32_t pins;
} snap_region;

typedef struct model_snapshot {
    int n;
    snap_region regions[MODEL_MAX_REGIONS];
    smmap_stats st;
    int cursor;     /* the cursor the operation moves, or -1 */
    int old_region; /* its region before (index in regions), or -1 */
} model_snapshot;

/* Choice points of one cursor move (see choose() in model.c): at most
 * this many are replayed; a move with more is checked on its first
 * MODEL_MAX_CHOICES choices and the default for the rest. */
#define MODEL_MAX_CHOICES 64

/* What an operation's new window risks, from the versions: none; -ESTALE
 * or success (a replaced file whose descriptor is still open: the library
 * may map the old inode or look at the path); -ESTALE only. */
enum { RISK_NONE, RISK_MAY, RISK_MUST };

struct model_run {
    const model_pool *pool;
    model_config cfg;
    smmap_manager *m;
    uint64_t g, window, max_mapped;
    /* The system's page (g may be larger: 64 KiB on Windows or with
     * SMMAP_GRANULARITY): a truncated map faults past the page of the
     * new end and reads zeros inside it. */
    uint64_t sys_page;
    uint32_t max_regions, max_open_files;
    int hard;
    int check_mtime;
    mregion regions[MODEL_MAX_REGIONS];
    mentry entries[MODEL_MAX_ENTRIES];
    mhandle handles[MODEL_HANDLE_SLOTS];
    mcursor cursors[MODEL_CURSOR_SLOTS];
    smmap_stats st;
    uint64_t clock;
    int failed;
    char msg[4096];
    unsigned char *buf;
    size_t bufsize;
    long allocations_before;
    /* versions */
    unsigned nvfiles;
    mvfile vfiles[MODEL_MAX_VFILES];
    mlineage lineages[MODEL_MAX_LINEAGES];
    unsigned nlineages;
    int op_risk; /* the highest RISK_* of the operation's new windows */
    model_snapshot snap;
    /* The choices DESIGN leaves to the library in the move being checked
     * (which of several covering regions a cursor gets, which unused
     * regions an eviction takes): the move is replayed on the model with
     * picks[] until it ends where the library did (see move_both in
     * model.c). options[k] is how many outcomes choice point k allowed. */
    int nchoices, npicks;
    uint16_t picks[MODEL_MAX_CHOICES], options[MODEL_MAX_CHOICES];
    model_run *replay_from; /* the model before the move (its own copy) */
    int in_read; /* the move is a smmap_read (see evict_for) */
};

#define FAIL(r, ...)                                                         \
    do {                                                                     \
        snprintf((r)->msg, sizeof((r)->msg), __VA_ARGS__);                   \
        (r)->failed = 1;                                                     \
        return 1;                                                            \
    } while (0)

static inline uint64_t model_align_down(uint64_t x, uint64_t g)
{
    return x - x % g;
}

static inline uint64_t model_align_up(uint64_t x, uint64_t g)
{
    return x % g == 0 ? x : x + (g - x % g);
}

static inline uint64_t model_min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static inline uint64_t model_rand_below(uint64_t *rng, uint64_t n)
{
    return n == 0 ? 0 : model_rand(rng) % n;
}

/* The file id an operation's `file` names: its cfg.files, then the
 * version files. */
int model__op_fid(const model_run *r, uint8_t file);
/* The size of fid on disk now, and its name in the pool's directory. */
uint64_t model__fid_size(const model_run *r, int fid);
const char *model__fid_name(const model_run *r, int fid);

/* model_versions.c */
int model__vfiles_create(model_run *r);
void model__vfiles_destroy(model_run *r);
/* Apply a version operation (OP_TOUCH .. OP_REFRESH_RACE). */
int model__version_step(model_run *r, const model_op *op);
/* What a new window of handle slot risks (RISK_*). */
int model__window_risk(const model_run *r, int slot);
/* Check len bytes that handle slot shows at file offset off: p is a
 * window's memory when raw (copied page by page with the library's
 * guarded copy, since a map of a truncated file faults), else a read's
 * destination. Returns 0 or 1 (FAIL). */
int model__check_vbytes(model_run *r, int slot, uint64_t off,
                        const unsigned char *p, uint64_t len, int raw,
                        const char *what);
/* The model saw the library learn that handle slot's version shrank (the
 * bound no read may pass from now on). */
void model__observe_shrink(model_run *r, int slot, uint64_t bound);
/* The lineage's mtime and size on disk, as stat gives them. */
int model__stat_lineage(model_run *r, int lineage);

/* model.c */
/* release_path on both sides (model_versions.c's replace uses it). */
int model__release_path_both(model_run *r, int fid, int kind);
/* "v1.3" (version file 1, lineage 3), or a pool file's name. */
const char *model__entry_label(const model_run *r, int entry, char *buf,
                               size_t size);
/* The window a model cursor shows: its region cut where it moved. */
void model__window(const model_run *r, const mcursor *c, uint64_t *begin,
                   uint64_t *size);

/* model_check.c */
/* Bytes handle slot shows at off (raw: p points into a window). */
int model__check_handle_bytes(model_run *r, int slot, uint64_t off,
                              const unsigned char *p, uint64_t len, int raw,
                              const char *what);
int model__check_window_edges(model_run *r, mcursor *c, const char *what);
/* DESIGN: a region held by a cursor is never unmapped. Every region the
 * model's cursors hold is in the library's trees. */
int model__check_held(model_run *r);
int model__compare_stats(model_run *r);
int model__compare_state(model_run *r);
/* The model entry of a library entry, or -1. */
int model__entry_of_core(const model_run *r, const smmap_entry *ce);
/* Whether the library's tree of model entry holds a region [off, +size). */
int model__lib_has_region(const model_run *r, int entry, uint64_t off,
                          uint64_t size);
/* Before an operation that moves cursor (or -1). */
void model__take_snapshot(model_run *r, int cursor);
/* The library answered got where the model predicted expect: 0 the
 * prediction stands, 2 another allowed answer (the library's state is now
 * the model's), 1 a failure. */
int model__resync_choices(model_run *r, int is_read, const char *what);
int model__settle(model_run *r, int slot, int64_t got, int64_t expect,
                  int eio_ok, int is_read, const char *what);

/* A descriptor the cache may close: path-opened and no descriptor-opened
 * handle keeps it. */
static inline int model__closable(const mentry *e)
{
    return e->exists && e->fd_open && e->fd_handles == 0 &&
           e->path_handles > 0;
}

/* Windows made, whichever way the backend makes them. */
static inline uint64_t model__windows_made(const smmap_stats *s)
{
    return s->maps + s->read_windows;
}

#endif /* SMMAP_TEST_MODEL_INT_H */
