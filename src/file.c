/*
 * file.c - file handles and the entries they share: opening by path or
 * descriptor, the table of entries by identity (device, inode, generation),
 * and the descriptor cache (LRU of idle descriptors, closed to stay within
 * max_open_files and reopened on demand with an identity check).
 *
 * An entry is one version of a file: its identity is fixed when it is made
 * and never written again, so checks outside the lock read it safely, and
 * a later open never changes what earlier handles accept. What is learned
 * about the version later (a truncation) is version.c's, under the lock.
 */
#include "smmap_int.h"

#include <string.h>

static size_t hash_index(const smmap_manager *m, uint64_t dev, uint64_t ino)
{
    uint64_t h = ino * 0x9E3779B97F4A7C15ull ^ dev * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (size_t)(h & (m->nbuckets - 1));
}

/* Whether st (from identify) is e's file: the same device, inode and
 * generation (the mtime, which only SMMAP_CHECK_MTIME counts, apart). */
static int same_file(const smmap_entry *e, const smmap_os_stat *st)
{
    return st->dev == e->dev && st->ino == e->ino && st->gen == e->gen &&
           st->kind == SMMAP_OS_REGULAR;
}

static smmap_entry *hash_find(smmap_manager *m, const smmap_os_stat *st)
{
    smmap_entry *e = m->buckets[hash_index(m, st->dev, st->ino)];
    while (e != NULL && (!same_file(e, st) || smmap__entry_mtime_differs(e, st)))
        e = e->hash_next;
    return e;
}

static void hash_insert(smmap_manager *m, smmap_entry *e)
{
    size_t i = hash_index(m, e->dev, e->ino);
    e->hash_next = m->buckets[i];
    m->buckets[i] = e;
    e->in_hash = 1;
}

void smmap__entry_unhash(smmap_manager *m, smmap_entry *e)
{
    smmap_entry **p = &m->buckets[hash_index(m, e->dev, e->ino)];
    if (!e->in_hash)
        return;
    while (*p != e)
        p = &(*p)->hash_next;
    *p = e->hash_next;
    e->in_hash = 0;
}

static void list_insert(smmap_manager *m, smmap_entry *e)
{
    e->all_prev = NULL;
    e->all_next = m->entries;
    if (m->entries)
        m->entries->all_prev = e;
    m->entries = e;
}

static void list_remove(smmap_manager *m, smmap_entry *e)
{
    if (e->all_prev)
        e->all_prev->all_next = e->all_next;
    else
        m->entries = e->all_next;
    if (e->all_next)
        e->all_next->all_prev = e->all_prev;
}

/* Double the table when it is full; on allocation failure keep the old one,
 * which still works, only with longer chains. */
static void hash_grow(smmap_manager *m, smmap_entry **spare, size_t count)
{
    smmap_entry **old = m->buckets;
    size_t i, n = m->nbuckets;
    if (spare == NULL)
        return;
    memset(spare, 0, count * sizeof(*spare));
    m->buckets = spare;
    m->nbuckets = count;
    for (i = 0; i < n; i++) {
        smmap_entry *e = old[i];
        while (e != NULL) {
            smmap_entry *next = e->hash_next;
            hash_insert(m, e);
            e = next;
        }
    }
    smmap__os.free(old);
}

static int closable(const smmap_entry *e)
{
    return e->path != NULL && e->fd_handles == 0;
}

static void fd_lru_unlink(smmap_manager *m, smmap_entry *e)
{
    if (e->fd_prev)
        e->fd_prev->fd_next = e->fd_next;
    else
        m->fd_head = e->fd_next;
    if (e->fd_next)
        e->fd_next->fd_prev = e->fd_prev;
    else
        m->fd_tail = e->fd_prev;
    e->fd_prev = e->fd_next = NULL;
    e->in_fd_lru = 0;
    m->fd_idle--;
}

smmap_os_fd smmap__entry_adopt_fd(smmap_manager *m, smmap_entry *e,
                                  smmap_os_fd fd)
{
    m->stats.fd_reopens++;
    if (e->fd != SMMAP_OS_NO_FD)
        return fd;
    e->fd = fd;
    m->stats.open_fds++;
    return SMMAP_OS_NO_FD;
}

/* Membership only: an entry joins at the tail (most recently used) when its
 * descriptor becomes idle and closable, and leaves when it stops being so;
 * its place among the others does not change otherwise. */
void smmap__fd_lru_update(smmap_manager *m, smmap_entry *e)
{
    int want = e->fd != SMMAP_OS_NO_FD && e->fd_busy == 0 && closable(e);
    if (e->in_fd_lru && !want) {
        fd_lru_unlink(m, e);
    } else if (!e->in_fd_lru && want) {
        e->fd_prev = m->fd_tail;
        e->fd_next = NULL;
        if (m->fd_tail)
            m->fd_tail->fd_next = e;
        else
            m->fd_head = e;
        m->fd_tail = e;
        e->in_fd_lru = 1;
        m->fd_idle++;
    }
}

/* The descriptor was just used (opened again): most recently used. */
static void fd_lru_touch(smmap_manager *m, smmap_entry *e)
{
    if (e->in_fd_lru)
        fd_lru_unlink(m, e);
    smmap__fd_lru_update(m, e);
}

void smmap__entry_close_fd(smmap_manager *m, smmap_entry *e)
{
    (void)smmap__os.close(e->fd);
    e->fd = SMMAP_OS_NO_FD;
    m->stats.open_fds--;
    smmap__fd_lru_update(m, e);
}

/* close() does not block like open or mmap can, so the descriptors are
 * closed under the lock. */
void smmap__fd_trim(smmap_manager *m, uint32_t budget)
{
    while (m->stats.open_fds > budget && m->fd_head != NULL) {
        smmap__entry_close_fd(m, m->fd_head);
        m->stats.fd_closes++;
    }
}

static int open_path(smmap_manager *m, const char *path, smmap_os_fd *fd,
                     int *retried)
{
    int err = smmap__os.open_ro(path, fd);
    if (err == -EMFILE || err == -ENFILE) {
        smmap__manager_relieve(m);
        err = smmap__os.open_ro(path, fd);
        *retried = err == 0;
    }
    return err;
}

/* Open path again and identify it. A path that is gone means the file we
 * opened is gone: -ESTALE. The descriptor is closed on failure. */
static int open_and_identify(const char *path, smmap_os_fd *fd,
                             smmap_os_stat *st)
{
    int err = smmap__os.open_ro(path, fd);
    if (err != 0)
        return err == -ENOENT ? -ESTALE : err;
    err = smmap__os.identify(*fd, st);
    if (err != 0)
        (void)smmap__os.close(*fd);
    return err;
}

/* Open e's path and check that it still names e's file: -ESTALE when it
 * names another file or none. */
static int reopen_same(smmap_entry *e, smmap_os_fd *out, smmap_os_stat *st)
{
    int err = open_and_identify(e->path, out, st);
    if (err == 0 && !same_file(e, st)) {
        (void)smmap__os.close(*out);
        err = -ESTALE;
    }
    return err;
}

int smmap__entry_reopen(smmap_entry *e, uint64_t need, smmap_os_fd *out,
                        uint64_t *seen)
{
    smmap_os_stat st;
    smmap_os_fd fd;
    int err;

    if (e->path == NULL)
        return -EBADF;
    err = reopen_same(e, &fd, &st);
    if (err != 0)
        return err;
    err = smmap__entry_check_size(e, &st, need, seen);
    if (err != 0) {
        (void)smmap__os.close(fd);
        return err;
    }
    *out = fd;
    return 0;
}

static char *copy_path(const char *path)
{
    size_t len = strlen(path) + 1;
    char *copy = smmap__os.malloc(len);
    if (copy != NULL)
        memcpy(copy, path, len);
    return copy;
}

/*
 * Join fd (already fstat'ed) to its entry, creating the entry if the file is
 * new to the manager; the handle f is filled and linked. Takes ownership of
 * fd, path, and the spare allocations, freeing what is not used.
 */
static int attach(smmap_manager *m, smmap_file *f, smmap_os_fd fd,
                  const smmap_os_stat *st, char *entry_path, int retried)
{
    smmap_entry *e, *spare = NULL;
    smmap_entry **spare_buckets = NULL;
    size_t spare_count = 0;

    spare = smmap__os.malloc(sizeof(*spare));
    if (spare == NULL) {
        (void)smmap__os.close(fd);
        smmap__os.free(entry_path);
        return -ENOMEM;
    }
    /* Only ever accessed atomically (helgrind cannot tell). */
    SMMAP__HG_ATOMIC(&spare->hints, sizeof(spare->hints));
    smmap__mutex_lock(&m->lock);
    if (m->free_pending) {
        /* smmap_manager_free was called: no new handle keeps it alive. */
        smmap__mutex_unlock(&m->lock);
        (void)smmap__os.close(fd);
        smmap__os.free(spare);
        smmap__os.free(entry_path);
        return -EINVAL;
    }
    if (m->stats.files + 1 > m->nbuckets) {
        spare_count = m->nbuckets * 2;
        smmap__mutex_unlock(&m->lock);
        spare_buckets = smmap__os.malloc(spare_count * sizeof(*spare_buckets));
        smmap__mutex_lock(&m->lock);
        if (spare_count > m->nbuckets) {
            hash_grow(m, spare_buckets, spare_count);
            spare_buckets = NULL;
        }
    }
    if (retried)
        m->stats.retries++;
    e = hash_find(m, st);
    if (e != NULL && st->size > e->seen_end) {
        /* Truncated, then written past that end again: the old entry
         * lives on for its handles, out of the table, and what is opened
         * from now on is another entry. */
        smmap__entry_unhash(m, e);
        e = NULL;
    }
    /* A size below what another handle has is no proof of a truncation
     * here: that handle's stat may be newer than this one, taken before
     * the lock, of a file that only grows. The handles larger than the
     * file see it at their next window, from a stat newer than their
     * size. */
    if (e == NULL) {
        e = spare;
        spare = NULL;
        memset(e, 0, sizeof(*e));
        e->manager = m;
        e->dev = st->dev;
        e->ino = st->ino;
        e->gen = st->gen;
        e->mtime_ns = st->mtime_ns;
        e->max_size = st->size;
        e->seen_end = UINT64_MAX;
        e->advice = (uint8_t)m->opt.advice;
        e->path = entry_path;
        entry_path = NULL;
        e->fd = SMMAP_OS_NO_FD;
        hash_insert(m, e);
        list_insert(m, e);
        m->stats.files++;
    } else if (st->size > e->max_size) {
        /* Grown since: this handle's windows may reach further. What the
         * earlier handles accept does not change. */
        e->max_size = st->size;
    }
    if (e->path == NULL && entry_path != NULL) {
        /* Opened by descriptor first: now it can be reopened by path. */
        e->path = entry_path;
        entry_path = NULL;
    }
    if (e->fd == SMMAP_OS_NO_FD) {
        e->fd = fd;
        fd = SMMAP_OS_NO_FD;
        m->stats.open_fds++;
    }
    f->manager = m;
    f->entry = e;
    f->size = st->size;
    f->prev = NULL;
    f->next = e->handle_list;
    if (e->handle_list)
        e->handle_list->prev = f;
    e->handle_list = f;
    e->handles++;
    if (f->from_fd)
        e->fd_handles++;
    m->handles++;
    fd_lru_touch(m, e);
    smmap__fd_trim(m, m->opt.max_open_files);
    smmap__mutex_unlock(&m->lock);

    if (fd != SMMAP_OS_NO_FD)
        (void)smmap__os.close(fd);
    smmap__os.free(spare);
    smmap__os.free(spare_buckets);
    smmap__os.free(entry_path);
    return 0;
}

static int check_kind(const smmap_os_stat *st)
{
    if (st->kind == SMMAP_OS_DIRECTORY)
        return -EISDIR;
    if (st->kind != SMMAP_OS_REGULAR)
        return -EINVAL;
    return 0;
}

/* Common tail of both opens: stat, check, allocate the handle, attach. */
static int open_common(smmap_manager *m, smmap_os_fd fd, const char *path,
                       int retried, smmap_file **out)
{
    smmap_os_stat st;
    smmap_file *f = NULL;
    char *entry_path = NULL;
    int err = smmap__os.identify(fd, &st);

    if (err == 0)
        err = check_kind(&st);
    if (err == 0) {
        f = smmap__os.malloc(sizeof(*f));
        if (f == NULL)
            err = -ENOMEM;
    }
    if (err == 0) {
        memset(f, 0, sizeof(*f));
        f->from_fd = path == NULL;
        if (path != NULL) {
            f->path = copy_path(path);
            entry_path = copy_path(path);
            if (f->path == NULL || entry_path == NULL)
                err = -ENOMEM;
        }
    }
    if (err != 0) {
        (void)smmap__os.close(fd);
        if (f != NULL)
            smmap__os.free(f->path);
        smmap__os.free(f);
        smmap__os.free(entry_path);
        return err;
    }
    err = attach(m, f, fd, &st, entry_path, retried);
    if (err != 0) {
        smmap__os.free(f->path);
        smmap__os.free(f);
        return err;
    }
    *out = f;
    return 0;
}

int smmap_file_open(smmap_manager *m, const char *path, smmap_file **out)
{
    smmap_os_fd fd;
    int err, retried = 0;

    if (out != NULL)
        *out = NULL;
    if (m == NULL || path == NULL || out == NULL)
        return -EINVAL;
    if (path[0] == '\0')
        return -ENOENT;
    err = open_path(m, path, &fd, &retried);
    if (err != 0)
        return err;
    return open_common(m, fd, path, retried, out);
}

int smmap_file_open_fd(smmap_manager *m, int fd, smmap_file **out)
{
    smmap_os_fd copy;
    int err, retried = 0;

    if (out != NULL)
        *out = NULL;
    if (m == NULL || out == NULL)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    err = smmap__os.dup_fd(fd, &copy);
    if (err == -EMFILE || err == -ENFILE) {
        smmap__manager_relieve(m);
        err = smmap__os.dup_fd(fd, &copy);
        retried = err == 0;
    }
    if (err != 0)
        return err;
    return open_common(m, copy, NULL, retried, out);
}

void smmap_file_close(smmap_file *f)
{
    smmap_manager *m;
    smmap_entry *e;
    smmap_region *chain = NULL;
    int free_manager = 0, free_entry = 0;

    if (f == NULL)
        return;
    m = f->manager;
    e = f->entry;
    smmap__mutex_lock(&m->lock);
    if (f->prev)
        f->prev->next = f->next;
    else
        e->handle_list = f->next;
    if (f->next)
        f->next->prev = f->prev;
    if (f->from_fd)
        e->fd_handles--;
    m->handles--;
    if (--e->handles == 0) {
        /* Cursors must be released before their file is closed; a region
         * still pinned here is the caller's bug, unmapped all the same. */
        assert(e->fd_busy == 0);
        while (e->tree != NULL)
            smmap__region_detach(m, e->tree, &chain);
        while (e->transients != NULL)
            smmap__region_detach(m, e->transients, &chain);
        if (e->fd != SMMAP_OS_NO_FD)
            smmap__entry_close_fd(m, e);
        smmap__entry_unhash(m, e);
        list_remove(m, e);
        m->stats.files--;
        free_entry = 1;
    } else {
        smmap__fd_lru_update(m, e);
        smmap__fd_trim(m, m->opt.max_open_files);
    }
    free_manager = m->free_pending && m->handles == 0;
    smmap__mutex_unlock(&m->lock);

    smmap__region_unmap_chain(m, chain);
    if (free_entry) {
        smmap__index_destroy(e);
        smmap__os.free(e->path);
        smmap__os.free(e);
    }
    smmap__os.free(f->path);
    smmap__os.free(f);
    if (free_manager)
        smmap__manager_destroy(m);
}

uint64_t smmap_file_size(const smmap_file *f)
{
    return f != NULL ? smmap__file_size(f) : 0;
}

/* e's file as it is on disk now: through its path when asked and it has
 * one (the path must still name e's file: -ESTALE otherwise), else through
 * its descriptor when open (the descriptor is e's file). The mtime is the
 * caller's to compare. */
static int stat_now(smmap_manager *m, smmap_entry *e, int via_path,
                    smmap_os_stat *st)
{
    smmap_os_fd fd;
    int err;

    smmap__mutex_lock(&m->lock);
    fd = via_path && e->path != NULL ? SMMAP_OS_NO_FD : e->fd;
    if (fd != SMMAP_OS_NO_FD) {
        /* Held busy, it cannot be closed under the fstat. */
        e->fd_busy++;
        smmap__fd_lru_update(m, e);
    }
    smmap__mutex_unlock(&m->lock);
    if (fd == SMMAP_OS_NO_FD) {
        if (e->path == NULL) /* set once, freed with the entry */
            return -EBADF;
        err = reopen_same(e, &fd, st);
        if (err == 0)
            (void)smmap__os.close(fd);
        return err;
    }
    err = smmap__os.fstat(fd, st);
    smmap__mutex_lock(&m->lock);
    e->fd_busy--;
    smmap__fd_lru_update(m, e);
    smmap__fd_trim(m, m->opt.max_open_files);
    smmap__mutex_unlock(&m->lock);
    return err;
}

int smmap__entry_probe_size(smmap_manager *m, smmap_entry *e, uint64_t *size)
{
    smmap_os_stat st;
    int err = stat_now(m, e, 0, &st);
    if (err == 0)
        *size = st.size;
    return err;
}

/*
 * The handle's size becomes the file's size now if that is larger. A
 * handle opened by path looks the file up by that path, so that a
 * replacement is reported; one opened from a descriptor asks the
 * descriptor. Sizes only grow: a stat older than another thread's refresh
 * may find less than the handle has now, and is no truncation; only a
 * size below what the handle had before this call began is one.
 */
int smmap_file_refresh(smmap_file *f)
{
    smmap_manager *m;
    smmap_entry *e;
    smmap_os_stat st;
    uint64_t before;
    int err;

    if (f == NULL)
        return -EINVAL;
    m = f->manager;
    e = f->entry;
    before = smmap__file_size(f);
    /* A handle from a descriptor asks the descriptor (which stays open for
     * it), even when a handle opened by path gave the entry a path. */
    err = stat_now(m, e, !f->from_fd, &st);
    if (err == 0 && smmap__entry_mtime_differs(e, &st))
        err = -ESTALE;
    smmap__mutex_lock(&m->lock);
    if (err == 0 && st.size < before) {
        smmap__entry_saw_end(e, st.size);
        err = -ESTALE;
    }
    if (err == 0 && st.size > e->seen_end)
        err = -ESTALE; /* truncated and written again: another version */
    if (err == 0 && st.size > smmap__file_size(f)) {
        smmap__store_relaxed(&f->size, st.size);
        if (st.size > e->max_size)
            e->max_size = st.size;
    }
    smmap__mutex_unlock(&m->lock);
    return err;
}

int smmap_file_advise(smmap_file *f, int advice)
{
    smmap_manager *m;
    smmap_entry *e;
    smmap_region *stack[96], *r;
    int depth = 0;

    if (f == NULL || advice < SMMAP_ADVICE_NORMAL ||
        advice > SMMAP_ADVICE_WILLNEED)
        return -EINVAL;
    m = f->manager;
    e = f->entry;
    smmap__mutex_lock(&m->lock);
    e->advice = (uint8_t)advice;
    /* Advise the windows it has now: an in-order walk of its tree (an AVL
     * tree of any size in memory is far shallower than the stack). madvise
     * starts no I/O that it waits for, so it runs under the lock. */
    r = e->tree;
    while (r != NULL || depth > 0) {
        while (r != NULL) {
            stack[depth++] = r;
            r = r->left;
        }
        r = stack[--depth];
        if (!r->heap)
            (void)smmap__os.advise((void *)r->base, r->size, advice);
        r = r->right;
    }
    smmap__mutex_unlock(&m->lock);
    return 0;
}
