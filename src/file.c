/*
 * file.c - file handles and the entries they share: opening by path or
 * descriptor, identity (device, inode), the table of entries, and the
 * descriptor cache (LRU of idle descriptors, closed to stay within
 * max_open_files and reopened on demand with an identity check).
 */
#include "smmap_int.h"

#include <string.h>

static size_t hash_index(const smmap_manager *m, uint64_t dev, uint64_t ino)
{
    uint64_t h = ino * 0x9E3779B97F4A7C15ull ^ dev * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (size_t)(h & (m->nbuckets - 1));
}

static smmap_entry *hash_find(smmap_manager *m, uint64_t dev, uint64_t ino)
{
    smmap_entry *e = m->buckets[hash_index(m, dev, ino)];
    while (e != NULL && (e->dev != dev || e->ino != ino))
        e = e->hash_next;
    return e;
}

static void hash_insert(smmap_manager *m, smmap_entry *e)
{
    size_t i = hash_index(m, e->dev, e->ino);
    e->hash_next = m->buckets[i];
    m->buckets[i] = e;
}

static void hash_remove(smmap_manager *m, smmap_entry *e)
{
    smmap_entry **p = &m->buckets[hash_index(m, e->dev, e->ino)];
    while (*p != e)
        p = &(*p)->hash_next;
    *p = e->hash_next;
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

void smmap__fd_lru_update(smmap_manager *m, smmap_entry *e)
{
    int want = e->fd != SMMAP_OS_NO_FD && e->fd_busy == 0 && closable(e);
    if (e->in_fd_lru) {
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
    }
    if (want) {
        e->fd_prev = m->fd_tail;
        e->fd_next = NULL;
        if (m->fd_tail)
            m->fd_tail->fd_next = e;
        else
            m->fd_head = e;
        m->fd_tail = e;
        e->in_fd_lru = 1;
    }
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

int smmap__entry_reopen(smmap_entry *e, smmap_os_fd *out)
{
    smmap_os_stat st;
    smmap_os_fd fd;
    int err;

    if (e->path == NULL)
        return -EBADF;
    err = smmap__os.open_ro(e->path, &fd);
    if (err != 0)
        return err == -ENOENT ? -ESTALE : err;
    err = smmap__os.fstat(fd, &st);
    if (err == 0 && (st.dev != e->dev || st.ino != e->ino ||
                     st.kind != SMMAP_OS_REGULAR || st.size < e->size))
        err = -ESTALE;
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
    smmap__mutex_lock(&m->lock);
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
    e = hash_find(m, st->dev, st->ino);
    if (e == NULL) {
        e = spare;
        spare = NULL;
        memset(e, 0, sizeof(*e));
        e->manager = m;
        e->dev = st->dev;
        e->ino = st->ino;
        e->size = st->size;
        e->path = entry_path;
        entry_path = NULL;
        e->fd = SMMAP_OS_NO_FD;
        hash_insert(m, e);
        m->stats.files++;
    }
    if (st->size > e->size)
        e->size = st->size;
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
    smmap__fd_lru_update(m, e);
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
    int err = smmap__os.fstat(fd, &st);

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
    int err;

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
    }
    if (err != 0)
        return err;
    return open_common(m, copy, NULL, 0, out);
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
        assert(e->npinned == 0 && e->fd_busy == 0);
        while (e->tree != NULL)
            smmap__region_detach(m, e->tree, &chain);
        if (e->fd != SMMAP_OS_NO_FD)
            smmap__entry_close_fd(m, e);
        hash_remove(m, e);
        m->stats.files--;
        free_entry = 1;
    } else {
        smmap__fd_lru_update(m, e);
    }
    free_manager = m->free_pending && m->handles == 0;
    smmap__mutex_unlock(&m->lock);

    smmap__region_unmap_chain(chain);
    if (free_entry) {
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
    return f != NULL ? f->size : 0;
}
