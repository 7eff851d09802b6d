/*
 * manager.c - managers: options and their defaults, creation and (deferred)
 * destruction, collect, release_path, the relief taken when the operating
 * system refuses a resource, and fork().
 */
#include "smmap_int.h"

#include <string.h>

#define GIB (1024ull * 1024 * 1024)
#define MIB (1024ull * 1024)
#define INITIAL_BUCKETS 16

void smmap_options_init(smmap_options *o)
{
    uint64_t map_count, nofile;
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    if (sizeof(void *) >= 8) {
        o->window_size = 1 * GIB;
        o->max_mapped = 8 * GIB;
    } else {
        o->window_size = 64 * MIB;
        o->max_mapped = 1 * GIB;
    }
    map_count = smmap__os.max_map_count();
    o->max_regions = map_count >= 4 ? (uint32_t)smmap__min_u64(map_count / 4,
                                                               UINT32_MAX)
                                    : 16384;
    nofile = smmap__os.max_open_files();
    if (nofile == 0)
        nofile = 1024;
    nofile /= 4;
    o->max_open_files = (uint32_t)smmap__min_u64(nofile < 8 ? 8 : nofile,
                                                 UINT32_MAX);
    o->flags = 0;
}

static int validate(smmap_options *o, uint64_t granularity)
{
    uint64_t w = o->window_size;
    if (o->max_mapped == 0 || o->max_regions == 0 || o->max_open_files == 0)
        return -EINVAL;
    if (o->flags & ~(uint32_t)(SMMAP_HARD_LIMITS | SMMAP_NO_MMAP |
                               SMMAP_POPULATE | SMMAP_NO_SIGNAL_HANDLER |
                               SMMAP_ALWAYS_MAP | SMMAP_CHECK_MTIME))
        return -EINVAL;
    if (o->advice > SMMAP_ADVICE_WILLNEED)
        return -EINVAL;
    if (w != 0) {
        /* At most half the address space (2^63 bytes on 64-bit, 2 GiB on
         * 32-bit), a power of two as granularities are: the rounding below
         * cannot wrap, and neither can the slot filter's shifts. */
        if (w > (uint64_t)(SIZE_MAX >> 1) + 1 - granularity)
            return -EINVAL;
        if (w % granularity != 0)
            w += granularity - w % granularity;
        if (o->max_mapped < w)
            return -EINVAL;
        o->window_size = w;
    }
    return 0;
}

/*
 * fork(): a child has only the thread that forked, so a manager lock held
 * by another thread at that moment would never be released in it. Every
 * live manager's lock is taken before the fork and given back on both
 * sides (no lock is held across a system call that blocks, so this waits
 * only for short critical sections). What other threads were doing
 * outside the lock (a map in flight, a cursor holding a region) stays as
 * it was in the child: the region stays pinned, the reservation counted
 * (but no miss waits for that map: fork_child).
 */
static smmap_mutex live_lock = SMMAP_MUTEX_INITIALIZER;
static smmap_manager *live_managers;

static void fork_prepare(void)
{
    smmap_manager *m;
    smmap__mutex_lock(&live_lock);
    for (m = live_managers; m != NULL; m = m->live_next)
        smmap__mutex_lock(&m->lock);
}

static void fork_release(void)
{
    smmap_manager *m;
    for (m = live_managers; m != NULL; m = m->live_next)
        smmap__mutex_unlock(&m->lock);
    smmap__mutex_unlock(&live_lock);
}

/* The child: the maps in flight were other threads', which it does not
 * have; none will finish, so no miss may wait for them (region.c). Their
 * reservations stay counted. */
static void fork_child(void)
{
    smmap_manager *m;
    for (m = live_managers; m != NULL; m = m->live_next)
        m->jobs = NULL;
    fork_release();
}

static void live_add(smmap_manager *m)
{
    smmap__at_fork(fork_prepare, fork_release, fork_child);
    smmap__mutex_lock(&live_lock);
    m->live_prev = NULL;
    m->live_next = live_managers;
    if (live_managers != NULL)
        live_managers->live_prev = m;
    live_managers = m;
    smmap__mutex_unlock(&live_lock);
}

static void live_remove(smmap_manager *m)
{
    smmap__mutex_lock(&live_lock);
    if (m->live_prev != NULL)
        m->live_prev->live_next = m->live_next;
    else
        live_managers = m->live_next;
    if (m->live_next != NULL)
        m->live_next->live_prev = m->live_prev;
    smmap__mutex_unlock(&live_lock);
}

int smmap_manager_new(smmap_manager **out, const smmap_options *o)
{
    smmap_manager *m;
    smmap_options opt;
    uint64_t granularity;
    int err;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (o != NULL)
        opt = *o;
    else
        smmap_options_init(&opt);
    granularity = smmap__os.granularity();
    err = validate(&opt, granularity);
    if (err != 0)
        return err;
    m = smmap__os.malloc(sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    memset(m, 0, sizeof(*m));
    m->opt = opt;
    m->granularity = granularity;
    smmap__hazard_init(m);
    smmap__policy_init(m);
    m->nbuckets = INITIAL_BUCKETS;
    m->buckets = smmap__os.malloc(m->nbuckets * sizeof(*m->buckets));
    if (m->buckets == NULL) {
        smmap__os.free(m);
        return -ENOMEM;
    }
    memset(m->buckets, 0, m->nbuckets * sizeof(*m->buckets));
    err = smmap__mutex_init(&m->lock);
    if (err != 0) {
        smmap__os.free(m->buckets);
        smmap__os.free(m);
        return err;
    }
    live_add(m);
    *out = m;
    return 0;
}

/* Every entry is freed with its last handle, so nothing is left to unmap. */
void smmap__manager_destroy(smmap_manager *m)
{
    assert(m->handles == 0 && m->stats.regions == 0 && m->stats.files == 0);
    live_remove(m);
    smmap__region_free_spare(m);
    smmap__region_blocks_free(m);
    smmap__hazard_blocks_free(m);
    smmap__mutex_destroy(&m->lock);
    smmap__os.free(m->buckets);
    smmap__os.free(m);
}

void smmap_manager_free(smmap_manager *m)
{
    int now;
    if (m == NULL)
        return;
    smmap__mutex_lock(&m->lock);
    now = m->handles == 0;
    if (!now)
        m->free_pending = 1;
    smmap__mutex_unlock(&m->lock);
    if (now)
        smmap__manager_destroy(m);
}

size_t smmap_manager_collect(smmap_manager *m)
{
    smmap_region *chain = NULL;
    size_t count;
    if (m == NULL)
        return 0;
    smmap__mutex_lock(&m->lock);
    count = smmap__region_detach_unused(m, &chain);
    smmap__region_free_spare(m);
    smmap__mutex_unlock(&m->lock);
    smmap__region_unmap_chain(m, chain);
    return count;
}

void smmap__manager_relieve(smmap_manager *m)
{
    smmap_region *chain = NULL;
    smmap__mutex_lock(&m->lock);
    (void)smmap__region_detach_unused(m, &chain);
    smmap__region_free_spare(m);
    smmap__fd_trim(m, 0);
    smmap__mutex_unlock(&m->lock);
    smmap__region_unmap_chain(m, chain);
}

static int entry_matches(const smmap_entry *e, const char *prefix, size_t len)
{
    const smmap_file *f;
    for (f = e->handle_list; f != NULL; f = f->next)
        if (f->path != NULL && strncmp(f->path, prefix, len) == 0)
            return 1;
    return 0;
}

/* Apply fn to every entry matching prefix; stops at the first non-zero. */
static int for_each_match(smmap_manager *m, const char *prefix,
                          int (*fn)(smmap_manager *, smmap_entry *, void *),
                          void *arg)
{
    size_t len = strlen(prefix);
    smmap_entry *e;
    for (e = m->entries; e != NULL; e = e->all_next) {
        int err;
        if (!entry_matches(e, prefix, len))
            continue;
        err = fn(m, e, arg);
        if (err != 0)
            return err;
    }
    return 0;
}

/* Claim every region of a matching entry, so that no cursor can pin one
 * between the check and the release: -EBUSY when a cursor holds one (or
 * a descriptor is in use). */
static int claim_idle(smmap_manager *m, smmap_entry *e, void *arg)
{
    (void)m;
    (void)arg;
    /* A pressure window is always held by its cursor. */
    if (e->fd_busy != 0 || e->transients != NULL)
        return -EBUSY;
    return smmap__entry_claim_all(e);
}

static int unclaim(smmap_manager *m, smmap_entry *e, void *arg)
{
    (void)m;
    (void)arg;
    smmap__entry_unclaim_all(e);
    return 0;
}

static int release_entry(smmap_manager *m, smmap_entry *e, void *chain)
{
    while (e->tree != NULL)
        smmap__region_detach(m, e->tree, (smmap_region **)chain);
    if (e->fd != SMMAP_OS_NO_FD && e->path != NULL && e->fd_handles == 0)
        smmap__entry_close_fd(m, e);
    return 0;
}

int smmap_manager_release_path(smmap_manager *m, const char *prefix)
{
    smmap_region *chain = NULL;
    int err;
    if (m == NULL || prefix == NULL)
        return -EINVAL;
    smmap__mutex_lock(&m->lock);
    err = for_each_match(m, prefix, claim_idle, NULL);
    if (err == 0) {
        /* A region held by a hazard slot is spared: busy after all. */
        err = smmap__hazard_confirm(m);
        if (err > 0)
            err = -EBUSY;
    }
    if (err == 0)
        (void)for_each_match(m, prefix, release_entry, &chain);
    else
        (void)for_each_match(m, prefix, unclaim, NULL);
    smmap__mutex_unlock(&m->lock);
    smmap__region_unmap_chain(m, chain);
    return err;
}
