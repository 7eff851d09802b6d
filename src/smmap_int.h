/*
 * smmap_int.h - the library's internal structures and the functions its
 * modules share (named smmap__*).
 *
 * Ownership: a manager owns its file entries (one per device and inode), each
 * entry owns its regions (an interval tree ordered by offset) and its
 * descriptor. Handles (smmap_file) are per open and point at a shared entry.
 * Everything below the manager is guarded by the manager's one lock, except
 * what a cursor reads on the hit path: a pinned region's base, offset and
 * size never change while it is pinned.
 */
#ifndef SMMAP_INT_H
#define SMMAP_INT_H

#include "smmap.h"
#include "os.h"

#include <assert.h>

typedef struct smmap_entry smmap_entry;

/* A region's state word (64 bits, atomic): its pins and three flags in the
 * low half, the reuses it served in the high half, so that a switch pins
 * and counts with one compare-and-swap. See cache.c for the protocol. */
#define SMMAP__PINS 0x1FFFFFFFull       /* cursors holding it */
#define SMMAP__PARKED 0x20000000ull     /* in the manager's parked list
                                           (pinned when eviction passed) */
#define SMMAP__REFERENCED 0x40000000ull /* pinned since eviction passed */
#define SMMAP__DEAD 0x80000000ull       /* evicted (or free): no pin */
#define SMMAP__USE (1ull << 32)         /* one reuse */
#define SMMAP__USES_FOLD (1ull << 63)   /* 2^31 reuses: fold them into the
                                           manager's count (cache.c) */

struct smmap_region {
    /* The first 40 bytes hold what a switch reads without the lock: the
     * state word it pins with, and what says whether the region covers a
     * range. Descriptors are 96 bytes apart in blocks aligned to cache
     * lines (cache.c), so that no pin writes a line that holds another
     * descriptor's first 40 bytes. Fields a lock-free reader loads are
     * written with relaxed atomic stores (a descriptor is reused for
     * another region while a reader may still look at it). */
    uint64_t state;   /* SMMAP__* above */
    uint64_t offset;  /* file offset of base[0] */
    size_t size;
    const unsigned char *base; /* the mapping */
    smmap_entry *entry;
    uint8_t past_end; /* reaches past its file's seen end (a truncation
                         was seen): smmap_read checks each copy from it
                         against that end. Set under the lock, read on
                         the hit path without it (relaxed atomic). */
    uint8_t first_hold; /* still held by the cursor that mapped it: the
                           read policy samples its use when it leaves
                           (relaxed atomic; cleared under the lock) */
    uint8_t heap;    /* base is a heap buffer (read backend), not a mapping */
    uint8_t transient; /* a pressure window (see pressure.c): in the
                          entry's transients list, not its tree; freed
                          when its last cursor leaves, never cached */
    uint32_t served; /* reads and reuses it served during its first hold,
                        for the read policy (relaxed atomic add, stops
                        at 2^30) */
    /* Under the lock only. */
    uint64_t max_end; /* largest offset + size in the subtree; for a
                         pressure window (not in the tree): the capacity
                         of its buffer */
    smmap_region *left, *right;         /* interval tree of the entry */
    smmap_region *lru_prev, *lru_next;  /* the clock or parked list, the
                                           transients, a to-unmap chain,
                                           or the free descriptors */
    int16_t height;  /* AVL height of the subtree rooted here */
    uint8_t doomed;  /* claimed by an eviction that has not yet checked
                        the hazard slots (hazard.c) */
};

/* A cursor's by_hazard: its region is held by its hazard slot, not by a
 * pin; SETTLED: and the region's first hold had ended when it was taken
 * (first_hold is cleared only once, and the descriptor is not reused while
 * held), so leaving it tells the read policy nothing. 0: not by hazard. */
#define SMMAP__BY_HAZARD 1u
#define SMMAP__BY_HAZARD_SETTLED 2u

/* Hazard slots (hazard.c): how a cursor that switches among cached windows
 * holds its region without a locked instruction. One line per cursor,
 * written by that cursor only. */
typedef struct smmap_hazard {
    /* slot[cur]: the region its cursor holds by hazard (or NULL);
     * slot[cur ^ 1]: one it is checking on a switch (or NULL). */
    smmap_region *slot[2];
    uint64_t uses;  /* reuses counted through it (relaxed; one writer) */
    uint32_t cur;
    uint32_t owner; /* 1 while a cursor has it (released with release) */
    uint32_t fence; /* the reader fences itself (no asymmetric barrier,
                       or the manager chose fences: hazard.c) */
} smmap_hazard;

/* Hints (cache.c): a table of regions by the slot of 2^shift bytes they
 * start in, 2^bits buckets of two ways (bucket: slot & mask), lossy: a way
 * holds a region last mapped or found there, or 0. Each way is the
 * region's address (32-byte aligned, see cache.c) tagged in its low 5 bits
 * with the slot's bits above the bucket's, so that a reader skips another
 * slot's region without loading it. Replaced by a larger table as the
 * entry's regions grow; a replaced table is kept until the entry is freed,
 * since a lock-free reader may still be reading it. */
#define SMMAP__HINT_TAG 31u
typedef struct smmap_hints {
    struct smmap_hints *retired; /* the tables it replaced */
    uint64_t mask;
    uint32_t shift;
    uint32_t bits;
    uintptr_t way[]; /* 2 << bits of them */
} smmap_hints;

/* The tagged way of r in h (r starts in slot). */
static inline uintptr_t smmap__hint_way(const smmap_hints *h,
                                        const smmap_region *r, uint64_t slot)
{
    return (uintptr_t)r | (uintptr_t)((slot >> h->bits) & SMMAP__HINT_TAG);
}

struct smmap_entry {
    smmap_hints *hints; /* read by lock-free switches; NULL until the
                           first window */
    smmap_manager *manager;
    /* The identity of the version this entry maps, fixed when it is
     * created and never written again, so read without the lock: a reopen
     * must find these (mtime_ns only with SMMAP_CHECK_MTIME). */
    uint64_t dev, ino, gen;
    int64_t mtime_ns;
    uint64_t max_size; /* largest size of its handles: an open of the same
                          identity that finds less sees a truncation */
    uint64_t seen_end; /* the smallest end a truncation was seen to leave
                          (UINT64_MAX: none): no read returns bytes past
                          it, and handles larger than it get no new
                          windows */
    char *path;        /* for reopening; NULL when opened from a descriptor */
    smmap_os_fd fd;    /* SMMAP_OS_NO_FD while closed */
    uint32_t fd_busy;  /* map or reopen calls using fd outside the lock */
    uint32_t fd_handles; /* handles opened from a descriptor: fd stays open */
    uint32_t handles;
    uint32_t nregions;
    uint32_t tree_inserts; /* regions ever inserted (wrapping): a map that
                              sees it unchanged after its unlocked part
                              knows no covering region appeared meanwhile */
    uint32_t slot_nbits;   /* see slot_bits */
    /* Flags, packed (memory per file is a target of issue 7). */
    uint8_t in_fd_lru;
    uint8_t no_mmap;   /* windows come from the read backend */
    uint8_t advice;    /* SMMAP_ADVICE_* for its windows */
    uint8_t in_hash;   /* 0 once the file was seen written past its seen
                          end: later opens make a new entry */
    uint8_t slot_shift; /* see slot_bits */
    smmap_region *tree;
    smmap_region *transients; /* pressure windows, linked by lru_prev and
                                 lru_next: each belongs to the cursor that
                                 made it, so it is never looked up and
                                 stays out of the tree */
    /* Which slots of 2^slot_shift bytes some region of the tree overlaps:
     * a lookup whose offset falls in a clear slot is a miss without a tree
     * search (the common case under pressure). At most 65536 bits,
     * allocated with the first window; NULL: search the tree. */
    uint64_t *slot_bits;
    smmap_entry *hash_next;
    smmap_entry *all_prev, *all_next; /* every entry of the manager */
    smmap_entry *fd_prev, *fd_next; /* LRU of idle, closable descriptors */
    smmap_file *handle_list;
};

struct smmap_file {
    smmap_manager *manager;
    smmap_entry *entry;
    uint64_t size; /* taken at open; grows only by smmap_file_refresh, so
                      read with smmap__file_size() */
    char *path;    /* as given; NULL when opened from a descriptor */
    int from_fd;
    smmap_file *prev, *next; /* the entry's handles */
};

struct smmap_manager {
    smmap_mutex lock;
    smmap_manager *live_prev, *live_next; /* every live manager, for fork */
    smmap_options opt; /* validated; window_size rounded to granularity */
    uint64_t granularity;
    /* The clock list (cache.c): every region of the trees that is not
     * parked; eviction looks at the head. */
    smmap_region *lru_head, *lru_tail;
    smmap_region *parked_head;         /* pinned when eviction passed */
    smmap_region *free_regions;        /* descriptors to reuse */
    void *region_blocks;               /* their allocations, freed with
                                          the manager */
    void *hazard_blocks;               /* the hazard slots (hazard.c) */
    struct map_job *jobs; /* maps in flight: reserved in the budgets, not
                             yet in a tree (region.c); emptied in a
                             fork's child, where their threads are gone */
    uint32_t hazards;                  /* lines of slots allocated */
    uint32_t hazard_next;              /* where the next allocation looks */
    int barrier;                       /* smmap__os.barrier is available */
    /* Which side pays (hazard.c): readers fence (fenced) or evictions run
     * the barrier; chosen anew every 64 confirms. */
    uint32_t fenced;
    uint32_t confirms;     /* confirms with slots owned, this window */
    uint64_t window_uses;  /* reuses through slots when the window began */
    uint64_t barrier_ns;   /* barriers' time this window (or one probe) */
    smmap_entry *fd_head, *fd_tail;    /* head: idle longest */
    uint32_t fd_idle;                  /* entries in that list */
    smmap_entry **buckets;             /* current entries by (dev, ino) */
    smmap_entry *entries;              /* every entry, current or not */
    size_t nbuckets;
    uint32_t handles;  /* open smmap_file handles */
    int free_pending;  /* smmap_manager_free called with handles open */
    /* the read policy (policy.c) */
    uint32_t yield_x16;  /* moving average of reads per new window, x16 */
    uint32_t misses;     /* smmap_read misses since the last exploration */
    uint32_t explore_every; /* misses between two exploring windows */
    uint32_t jitter;        /* LCG state jittering that interval */
    int pressure;           /* misses are being served by pread: room in
                               the budget no longer means a map is free */
    smmap_region *spare_window; /* the last pressure window given up, kept
                                   with its buffer for the next one (not a
                                   region: not counted in the stats) */
    smmap_stats stats;
};

/* tree.c: an AVL tree of regions by (offset, size), augmented with max_end. */
void smmap__tree_insert(smmap_region **root, smmap_region *r);
void smmap__tree_remove(smmap_region **root, smmap_region *r);
/* Whether some region overlaps [lo, hi). O(log n). */
int smmap__tree_any_overlap(const smmap_region *root, uint64_t lo,
                            uint64_t hi);
/* A region containing [lo, hi), or NULL. O(log n). */
smmap_region *smmap__tree_find_covering(smmap_region *root, uint64_t lo,
                                        uint64_t hi);
/* The free gap around [lo, hi): *gap_lo is the end of the regions left of lo
 * (lo itself if one overlaps lo, 0 if none), *gap_hi the start of the first
 * region right of lo (hi if one starts inside [lo, hi), UINT64_MAX if none). */
void smmap__tree_gap(smmap_region *root, uint64_t lo, uint64_t hi,
                     uint64_t *gap_lo, uint64_t *gap_hi);

/* cache.c: the regions of the trees as a cache (see its top comment). */
/* Without the lock (the inline ones are below). Unpin r; takes the lock
 * only when r was parked and this was its last pin. Also takes back a
 * reuse counted with the pin when uses is SMMAP__USE. */
void smmap__region_unpin_fast(smmap_manager *m, smmap_region *r,
                              uint64_t uses);
/* Count a reuse of a region the caller holds (its stats, and the read
 * policy's credit); 1 when its reuses must be folded (below). */
int smmap__region_count_use(smmap_region *r);
/* After a pin that brought r's reuses to 2^31: fold them into the
 * manager's count (the first takes the lock, the second has it). */
void smmap__region_fold(smmap_manager *m, smmap_region *r);
void smmap__region_fold_locked(smmap_manager *m, smmap_region *r);
/* Credit r with reads served through a cursor during its first hold, the
 * read policy's sample (atomic; any lock state). */
void smmap__region_credit(smmap_region *r, uint64_t served);
/* With the lock held. */
void smmap__region_unpin(smmap_manager *m, smmap_region *r);
/* A new region (pinned once, by its cursor) joins e's tree, slot filter
 * and hints, and the tail of the clock list. */
void smmap__cache_insert(smmap_manager *m, smmap_entry *e, smmap_region *r);
/* Remember r (found by a tree search) in e's hints. */
void smmap__cache_hint(smmap_entry *e, smmap_region *r);
/* Claim (mark dead) the unused region eviction takes next, or NULL when
 * every region is pinned; the caller detaches it. */
smmap_region *smmap__cache_evict(smmap_manager *m);
/* Whether some region is unused (cached); parks pinned ones on the way. */
int smmap__cache_has_unused(smmap_manager *m);
/* Whether the tree filter allows a region covering off (0 proves a miss). */
int smmap__slot_may_cover(const smmap_entry *e, uint64_t off);
/* Detach a region from every list, index and counter; it joins *chain. */
void smmap__region_detach(smmap_manager *m, smmap_region *r,
                          smmap_region **chain);
/* The counters of a region leaving, out of every list and index. */
void smmap__region_unaccount(smmap_manager *m, smmap_region *r);
/* Detach every unused region into *chain; returns how many. */
size_t smmap__region_detach_unused(smmap_manager *m, smmap_region **chain);
/* Claim every region of e's tree for removal: 0, or -EBUSY (and claims
 * that smmap__entry_unclaim_all takes back) when a cursor holds one. */
int smmap__entry_claim_all(smmap_entry *e);
void smmap__entry_unclaim_all(smmap_entry *e);
/* The reuses counted on live regions. */
uint64_t smmap__cache_uses(const smmap_manager *m);
/* A descriptor for a new region (dead until smmap__region_init), or NULL. */
smmap_region *smmap__region_alloc(smmap_manager *m);
/* Make r the region [offset, offset + size) of e at base, pinned once. */
void smmap__region_init(smmap_region *r, smmap_entry *e, uint64_t offset,
                        size_t size, const void *base, int heap);
/* Give unmapped descriptors back for reuse. */
void smmap__region_recycle(smmap_manager *m, smmap_region *chain);
void smmap__region_blocks_free(smmap_manager *m);
/* Free a list of allocations that each begin with the next one's address
 * (the blocks of descriptors and of hazard slots). */
void smmap__blocks_free(void *head);
/* Without the lock: unmap a chain; returns the descriptors to recycle
 * (pressure windows are freed). */
smmap_region *smmap__region_unmap_only(smmap_region *chain);
/* Unmap a chain and recycle its descriptors (takes the lock once). */
void smmap__region_unmap_chain(smmap_manager *m, smmap_region *chain);

/* The index of an entry (slot filter and hints), made with its first
 * window: planned under the lock, allocated outside it, installed under
 * it. */
typedef struct smmap_index_alloc {
    smmap_hints *hints;
    uint64_t *bits;
    uint32_t bits_shift, bits_n;
} smmap_index_alloc;
int smmap__index_plan(const smmap_manager *m, const smmap_entry *e,
                      smmap_index_alloc *a);
void smmap__index_alloc(const smmap_manager *m, smmap_index_alloc *a);
void smmap__index_install(smmap_entry *e, smmap_index_alloc *a);
void smmap__index_free(smmap_index_alloc *a);
void smmap__index_destroy(smmap_entry *e);

/* hazard.c (see its top comment). With the lock held, but for free. */
void smmap__hazard_init(smmap_manager *m);
/* A free line of slots for a cursor, or NULL (no memory: it pins). */
smmap_hazard *smmap__hazard_alloc(smmap_manager *m);
/* Without the lock: give h back (its slots already cleared). */
void smmap__hazard_free(smmap_hazard *h);
/* Whether some slot holds r now (no barrier: a hint for eviction). */
int smmap__hazard_holds(const smmap_manager *m, const smmap_region *r);
/* After regions were claimed (DEAD) and marked doomed: spare (undoom and
 * revive) every doomed region a slot holds. How many slots named one (0:
 * none spared), or a negative errno when the barrier failed: then the
 * caller must spare them all. */
int smmap__hazard_confirm(smmap_manager *m);
/* The reuses counted through slots. */
uint64_t smmap__hazard_uses(const smmap_manager *m);
void smmap__hazard_blocks_free(smmap_manager *m);

/* region.c. Pin a region holding [off, off + need) of f, and unpin held (may be
 * NULL), crediting it with served reads. A region already mapped is reused;
 * otherwise one is placed for [off, off + n) (n >= need) and mapped, unless
 * direct_fd is given and the read policy prefers a pread: then SMMAP__DIRECT
 * is returned, nothing is pinned, and the descriptor to pread from is held
 * busy for smmap__read_direct (SMMAP_OS_NO_FD: it must be reopened). Called
 * without the lock, by smmap__cursor_move once the lock-free switch
 * (smmap__cursor_switch_cached) found nothing: this is the locked path. */
#define SMMAP__DIRECT 1
/* "Another thread is mapping a window that covers the request, and the
 * budgets it holds refused this one": the cursor's window was let go (the
 * caller clears it), and the caller yields and asks again. */
#define SMMAP__WAIT 2
int smmap__region_acquire(smmap_cursor *c, uint64_t off, uint64_t need,
                          uint64_t n, smmap_os_fd *direct_fd,
                          smmap_region **out);
/* With the lock held: evict unused regions (into *victims) until a region
 * of len bytes fits both budgets, then reserve it (*chosen: len, or
 * min_len when only that fits beside the pinned ones). -EMFILE or -ENOMEM
 * when it cannot. */
int smmap__budget_reserve(smmap_manager *m, uint64_t len, uint64_t min_len,
                          uint64_t *chosen, smmap_region **victims);
void smmap__budget_unreserve(smmap_manager *m, uint64_t len);
void smmap__stats_peaks(smmap_stats *s);
/* Whether a map's error is the system refusing for want of memory or
 * descriptors (relieved and retried once). */
int smmap__is_os_refusal(int err);

/* pressure.c: pressure windows and direct reads, the misses served by
 * pread (see policy.c). */
/* With the lock held: a miss of c at [a, b) gets a pressure window;
 * releases the lock. */
int smmap__pressure_acquire(smmap_cursor *c, uint64_t a, uint64_t b,
                            smmap_region **out);
/* Whether [off, off + need) of f, rounded to cache lines as [*pa, *pb),
 * is small enough for a pressure window. */
int smmap__pressure_fits(const smmap_manager *m, const smmap_file *f,
                         uint64_t off, uint64_t need, uint64_t *pa,
                         uint64_t *pb);
/* With the lock held: the last cursor left pressure window r. */
void smmap__pressure_left(smmap_manager *m, smmap_region *r);
/* With the lock held: take r out of its entry's transients. */
void smmap__pressure_unlink(smmap_region *r);
/* Free a pressure window (its buffer and descriptor). */
void smmap__pressure_free(smmap_region *r);
/* With the lock held: hold c's descriptor for direct reads. */
smmap_os_fd smmap__cursor_hold_fd(smmap_manager *m, smmap_cursor *c);
/* Free the spare pressure window, if any. With the lock held. */
void smmap__region_free_spare(smmap_manager *m);
/* Let go of the descriptor c holds for direct reads, if any. With the lock
 * held. */
void smmap__cursor_drop_fd(smmap_manager *m, smmap_cursor *c);
/* c->holds_fd: held across reads, or for one pread only (given back right
 * after it) when keeping it would leave more than max_open_files
 * descriptors busy. */
#define SMMAP__HOLD_KEPT 1u
#define SMMAP__HOLD_ONCE 2u
/* Under the lock: give a descriptor reopened outside it to the entry, or,
 * when another thread reopened it first, return it for closing. */
smmap_os_fd smmap__entry_adopt_fd(smmap_manager *m, smmap_entry *e,
                                  smmap_os_fd fd);
/* Read [off, off + len) of c's file with pread from fd, which acquire left
 * held by c (SMMAP_OS_NO_FD: reopen it first); returns the count or a
 * negative error. Called without the lock. */
int64_t smmap__read_direct(smmap_cursor *c, smmap_os_fd fd, uint64_t off,
                           void *dst, size_t len);

/* cursor.c: move c to a window holding [off, off + need) (a cached one
 * without the lock if it can), placed for [off, off + n) if it must be
 * mapped; SMMAP__DIRECT (cursor released, the
 * descriptor in *direct_fd) when direct_fd is given and a pread is
 * preferred. */
int smmap__cursor_move(smmap_cursor *c, uint64_t off, uint64_t need,
                       uint64_t n, smmap_os_fd *direct_fd);

/* policy.c, with the lock held: whether a miss should be served by pread
 * (smmap_read) or a pressure window (a cursor) rather than a new window. */
void smmap__policy_init(smmap_manager *m);
int smmap__policy_prefer_direct(smmap_manager *m, uint64_t window);
/* A cursor leaves r, whose served count includes its reads. */
void smmap__policy_left(smmap_manager *m, smmap_region *r);
/* A cursor leaves r for bytes touching it (a scan). */
void smmap__policy_scanned(smmap_region *r);

/* file.c. Called with the manager lock held. */
void smmap__fd_lru_update(smmap_manager *m, smmap_entry *e);
/* Close e's descriptor (open, not busy) and update the counters. */
void smmap__entry_close_fd(smmap_manager *m, smmap_entry *e);
/* Close idle closable descriptors until at most budget stay open. */
void smmap__fd_trim(smmap_manager *m, uint32_t budget);
/* Checks outside the lock report a truncation they find through an
 * out-parameter `seen`: the size the file was found at when smaller than
 * needed, left as it was (UINT64_MAX) otherwise; the caller then gives it
 * to smmap__entry_saw_end under the lock. */

/* Reopen a path-opened entry's file, checking that it is the same version
 * and holds at least need bytes (-ESTALE, and *seen, otherwise). No lock
 * held. */
int smmap__entry_reopen(smmap_entry *e, uint64_t need, smmap_os_fd *out,
                        uint64_t *seen);
/* Take e out of the table of entries (later opens make a new one). */
void smmap__entry_unhash(smmap_manager *m, smmap_entry *e);
/* The size of e's file now, through its descriptor when open, else its
 * path (the same version only: -ESTALE otherwise). Called without the
 * lock. */
int smmap__entry_probe_size(smmap_manager *m, smmap_entry *e, uint64_t *size);

/* version.c: what is learned about an entry's version after it is made. */
/* Whether st, a stat of e's open descriptor or of its reopened path, still
 * holds need bytes (and, with SMMAP_CHECK_MTIME, the same mtime): 0, or
 * -ESTALE with *seen set when it is smaller. No lock needed. */
int smmap__entry_check_size(const smmap_entry *e, const smmap_os_stat *st,
                            uint64_t need, uint64_t *seen);
/* With SMMAP_CHECK_MTIME, whether st's mtime is not e's (a new version). */
static inline int smmap__entry_mtime_differs(const smmap_entry *e,
                                             const smmap_os_stat *st);
/* With the lock held: e's file was found at size end, less than a handle
 * of it holds: a truncation. Record it (seen_end) for every handle of e,
 * and mark its regions that reach past end. An end no smaller than the largest handle, or than an end
 * seen before (UINT64_MAX: nothing was found), changes nothing. */
void smmap__entry_saw_end(smmap_entry *e, uint64_t end);
/* A pread from fd found the end of the file at `at`: the end to record,
 * the file's size if that is smaller (the pread proves the end is at most
 * `at`; the rest of a truncated page must not stay readable). No lock. */
uint64_t smmap__short_read_end(smmap_os_fd fd, uint64_t at);
/* Whether handle f may have new windows of e: 0, or -ESTALE when the
 * version was seen smaller than f. With the lock held. */
int smmap__entry_may_map(const smmap_entry *e, const smmap_file *f);
/* The end a truncation was seen to leave (UINT64_MAX: none); no lock. */
static inline uint64_t smmap__entry_seen_end(const smmap_entry *e);
/* Mark r if it reaches past e's seen end (for a region made while the
 * truncation was seen). With the lock held. */
void smmap__region_mark_past_end(smmap_region *r);

/* manager.c */
/* Free everything unused (regions and idle descriptors) after an OS refusal.
 * Called without the lock. */
void smmap__manager_relieve(smmap_manager *m);
void smmap__manager_destroy(smmap_manager *m);

/* Ask for the cache line at p without waiting for it (a hint: never a
 * fault, even for an address not mapped). */
#if defined(__GNUC__) || defined(__clang__)
#define smmap__prefetch(p) __builtin_prefetch(p)
#else
#define smmap__prefetch(p) ((void)(p))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SMMAP__ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SMMAP__ALWAYS_INLINE inline
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SMMAP__NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define SMMAP__NOINLINE __declspec(noinline)
#else
#define SMMAP__NOINLINE
#endif

/* Fields one thread may write while others read them without the lock
 * (a handle's size, a region's past_end) are accessed as relaxed atomics:
 * a plain load on the processors we build for, and no data race. */
/* The pins of cache.c need the GCC/Clang __atomic builtins (GCC, Clang and
 * MinGW have them; the library builds with nothing else). */
#if !defined(__GNUC__) && !defined(__clang__)
#error "smmap needs the GCC/Clang __atomic builtins"
#endif
/* Helgrind knows the mutexes but not the atomics: a build for it
 * (-DSMMAP_HELGRIND, scripts/test-sanitizers.sh) tells it the
 * happens-before edges the release/acquire pairs and the pins make, and
 * leaves out of its checks the words only ever accessed atomically.
 * Nothing in other builds. */
#ifdef SMMAP_HELGRIND
#include <valgrind/helgrind.h>
#define SMMAP__HG_BEFORE(p) ANNOTATE_HAPPENS_BEFORE(p)
#define SMMAP__HG_AFTER(p) ANNOTATE_HAPPENS_AFTER(p)
#define SMMAP__HG_ATOMIC(p, n) VALGRIND_HG_DISABLE_CHECKING((p), (n))
#else
#define SMMAP__HG_BEFORE(p) ((void)0)
#define SMMAP__HG_AFTER(p) ((void)0)
#define SMMAP__HG_ATOMIC(p, n) ((void)0)
#endif
#define smmap__load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define smmap__store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define smmap__load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smmap__store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define smmap__cas(p, expected, desired)                                       \
    __atomic_compare_exchange_n((p), (expected), (desired), 0,                 \
                                __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)
#define smmap__fetch_sub_release(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_RELEASE)
#define smmap__fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

static inline uint64_t smmap__file_size(const smmap_file *f)
{
    return smmap__load_relaxed(&f->size);
}

static inline uint64_t smmap__min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Pin r, and count a reuse when use is SMMAP__USE, unless it is dead (or
 * held by 2^29 cursors): its new state, or 0. Any lock state. */
static inline uint64_t smmap__region_try_pin(smmap_region *r, uint64_t use)
{
    uint64_t s = smmap__load_relaxed(&r->state), next;
    do {
        if ((s & SMMAP__DEAD) || (s & SMMAP__PINS) == SMMAP__PINS)
            return 0;
        next = (s + 1 + use) | SMMAP__REFERENCED;
    } while (!smmap__cas(&r->state, &s, next));
    SMMAP__HG_AFTER(&r->state);
    return next;
}

/*
 * Hold r in hazard slot h->cur ^ 1 (hazard.c): the state seen (marked
 * REFERENCED), or 0 when r is dead; then the slot still names r, which is
 * harmless (the caller clears it or stores another).
 */
static inline uint64_t smmap__hazard_hold(smmap_hazard *h, smmap_region *r)
{
    uint64_t s;
    uint32_t fence = smmap__load_relaxed(&h->fence);
    SMMAP__HG_BEFORE(h);
    smmap__store_relaxed(&h->slot[h->cur ^ 1], r);
    /* The store before the load below: the evictor's barrier orders them
     * (hazard.c), or the reader's own fence when the evictor asks for it
     * or has no barrier. */
    if (fence)
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    else
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
    /* Acquire: what made r live (its descriptor's fields) happens before. */
    s = smmap__load_acquire(&r->state);
    if (!fence && smmap__load_relaxed(&h->fence)) {
        /* Readers were just asked to fence: evictions may no longer run
         * the barrier, so this reader's store must be seen without it. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        s = smmap__load_acquire(&r->state);
    }
    if (s & SMMAP__DEAD)
        return 0;
    SMMAP__HG_AFTER(&r->state);
    if (!(s & SMMAP__REFERENCED))
        __atomic_fetch_or(&r->state, SMMAP__REFERENCED, __ATOMIC_RELAXED);
    return s | SMMAP__REFERENCED;
}

/* Count a reuse made through h (its cursor is the only writer). */
static inline void smmap__hazard_count_use(smmap_hazard *h)
{
    smmap__store_relaxed(&h->uses, smmap__load_relaxed(&h->uses) + 1);
}

/* The region held in slot h->cur ^ 1 (smmap__hazard_hold) becomes the
 * cursor's, the other slot already cleared: one more reuse. */
static inline void smmap__hazard_took(smmap_hazard *h)
{
    smmap__store_relaxed(&h->cur, h->cur ^ 1);
    smmap__hazard_count_use(h);
}

/* Hold r for a cursor: in its hazard slot when it has slots (h), else with
 * a pin on r's state word that counts a reuse. The state seen (non-zero),
 * or 0 when r is dead (or held by 2^29 cursors). */
static inline uint64_t smmap__region_try_hold(smmap_region *r,
                                              smmap_hazard *h)
{
    return h == NULL ? smmap__region_try_pin(r, SMMAP__USE)
                     : smmap__hazard_hold(h, r);
}

/* Let go of r, held with smmap__region_try_hold but not kept. */
static inline void smmap__region_drop_hold(smmap_entry *e, smmap_region *r,
                                           smmap_hazard *h)
{
    if (h == NULL)
        smmap__region_unpin_fast(e->manager, r, SMMAP__USE);
}

/*
 * Without the lock: a region of e covering [off, end) from e's hints, held
 * (see smmap__region_try_hold) and counted as a reuse; NULL when the hints
 * know none (which does not prove a miss). A region seen in a hint may
 * have been evicted and its descriptor reused since: once held, it is
 * checked again.
 */
static inline smmap_region *smmap__cache_find_hold(smmap_entry *e,
                                                   uint64_t off, uint64_t end,
                                                   smmap_hazard *hz)
{
    /* Acquire: the table's shift and mask were written before. */
    smmap_hints *h = smmap__load_acquire(&e->hints);
    uint64_t t;
    int i;
    if (h == NULL)
        return NULL;
    SMMAP__HG_AFTER(&e->hints);
    /* A region no larger than a window covering off starts in off's slot
     * or the one before: two buckets of two. */
    t = off >> h->shift;
    for (i = 0; i < 4; i++) {
        uint64_t slot = t - (uint64_t)(i >> 1);
        uintptr_t way = smmap__load_acquire(
            &h->way[2 * (slot & h->mask) + (uint64_t)(i & 1)]);
        smmap_region *r;
        uint64_t ro, state;
        if (way == 0 ||
            (way & SMMAP__HINT_TAG) != ((slot >> h->bits) & SMMAP__HINT_TAG))
            continue;
        r = (smmap_region *)(way & ~(uintptr_t)SMMAP__HINT_TAG);
        SMMAP__HG_AFTER(r);
        ro = smmap__load_relaxed(&r->offset);
        if (!(ro <= off && end - ro <= smmap__load_relaxed(&r->size)))
            continue;
        /* The caller reads at off next, most often a cache and TLB miss:
         * start it now (a prefetch never faults, even if the region is
         * evicted meanwhile). */
        smmap__prefetch(smmap__load_relaxed(&r->base) + (size_t)(off - ro));
        state = smmap__region_try_hold(r, hz);
        if (state == 0)
            continue;
        /* Held: nothing below changes until it is let go. */
        ro = smmap__load_relaxed(&r->offset);
        if (smmap__load_relaxed(&r->entry) == e && ro <= off &&
            end - ro <= smmap__load_relaxed(&r->size)) {
            if (hz == NULL && (state & SMMAP__USES_FOLD))
                smmap__region_fold(e->manager, r);
            return r;
        }
        smmap__region_drop_hold(e, r, hz);
    }
    return NULL;
}

/* Count a reuse of r, which c holds already. */
static inline void smmap__cursor_count_reuse(smmap_cursor *c,
                                             smmap_region *r)
{
    smmap_hazard *h = c->hazard;
    if (c->by_hazard) {
        smmap__hazard_count_use(h);
        if (smmap__load_relaxed(&r->first_hold))
            smmap__region_credit(r, 1);
    } else if (smmap__region_count_use(r)) {
        smmap__region_fold(c->file->manager, r);
    }
}

/* c lets go of its region (held by hazard or by a pin); the caller clears
 * the window. With the lock held when locked is 1. */
static inline void smmap__cursor_unhold(smmap_cursor *c, int locked)
{
    smmap_region *r = c->region;
    smmap_hazard *h = c->hazard;
    if (r == NULL)
        return;
    if (c->by_hazard) {
        SMMAP__HG_BEFORE(h);
        smmap__store_release(&h->slot[h->cur], (smmap_region *)NULL);
        c->by_hazard = 0;
    } else if (locked) {
        smmap__region_unpin(c->file->manager, r);
    } else {
        smmap__region_unpin_fast(c->file->manager, r, 0);
    }
}

/*
 * The switch among cached windows, without the lock: the held region still
 * covers [off, end), or the hints know a region that does. Not for a
 * cursor that must tell the read policy something (it leaves a window's
 * first hold or a pressure window) or holds a descriptor: those take the
 * lock. Nor for a cursor switching before it has hazard slots: the locked
 * path gives it some. 1 when *out is held (the held region, or another and
 * the held one let go), 0 when the caller must take the locked path.
 */
static inline int smmap__cursor_switch_cached(smmap_cursor *c, uint64_t off,
                                              uint64_t end, smmap_region **out)
{
    smmap_region *held = c->region, *r;
    smmap_hazard *hz = c->hazard;
    if (c->holds_fd)
        return 0;
    if (held != NULL) {
        if (held->offset <= off && end - held->offset <= held->size) {
            smmap__region_credit(held, c->served);
            smmap__cursor_count_reuse(c, held);
            *out = held;
            return 1;
        }
        if (hz == NULL || held->transient ||
            smmap__load_relaxed(&held->first_hold))
            return 0;
    }
    r = smmap__cache_find_hold(c->file->entry, off, end, hz);
    if (hz != NULL) {
        if (r == NULL) {
            smmap__store_relaxed(&hz->slot[hz->cur ^ 1], (smmap_region *)NULL);
            return 0;
        }
        /* r stays in the slot it was checked in; the held region's slot
         * is cleared (release: its reads happen before any unmap). */
        smmap__cursor_unhold(c, 0);
        smmap__hazard_took(hz);
        c->by_hazard = smmap__load_relaxed(&r->first_hold)
                           ? SMMAP__BY_HAZARD
                           : SMMAP__BY_HAZARD_SETTLED;
    } else if (r == NULL) {
        return 0;
    }
    if (smmap__load_relaxed(&r->first_hold))
        smmap__region_credit(r, 1);
    *out = r;
    return 1;
}

/* The cursors holding r: its pins and the hazard slots naming it. Under
 * the lock, for tests and checks; exact for a region of a tree when no
 * cursor is switching. */
uint32_t smmap__region_pins(const smmap_region *r);

/* Whether bytes more mapped and regions more live stay within the budgets.
 * With the lock held. */
static inline int smmap__budget_fits(const smmap_manager *m, uint64_t bytes,
                                     uint32_t regions)
{
    return m->stats.mapped_bytes + bytes <= m->opt.max_mapped &&
           (uint64_t)m->stats.regions + regions <= m->opt.max_regions;
}

static inline uint64_t smmap__entry_seen_end(const smmap_entry *e)
{
    return smmap__load_relaxed(&e->seen_end);
}

static inline int smmap__entry_mtime_differs(const smmap_entry *e,
                                             const smmap_os_stat *st)
{
    return (e->manager->opt.flags & SMMAP_CHECK_MTIME) &&
           st->mtime_ns != e->mtime_ns;
}

#endif /* SMMAP_INT_H */
