/*
 * record_shim.c - the recorder's side of the Python binding: wrappers of the
 * library calls that record_rename.h redirects here. Each wrapper writes the
 * call as one line of a trace (format: bench/trace_replay.c) and then makes
 * it, so the trace is the exact sequence of calls the binding made on
 * behalf of gitdb, including the cursors it copies to pin a window while a
 * memoryview of it lives. Compiled into the extension by record_gitdb.py;
 * never part of the library.
 *
 * Only calls on one manager are written: the first one created after
 * smmap_rec_start() (gitdb's own, created at import, is left out). That
 * manager gets SMMAP_ALWAYS_MAP, as every replay does, so the read policy's
 * pressure windows shape neither the recording nor the replay.
 *
 * Ids: a handle id per successful open; a file id per distinct file
 * (device, inode), declared with its size at its first open; a cursor id per
 * cursor address, given at smmap_cursor_init on a recorded handle (a
 * cursor's memory reused by another cursor gets the same id again, which is
 * harmless: the old one was released before its memory was freed).
 */
#include "smmap.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REC_API __attribute__((visibility("default")))
#define TABLE (1u << 16)
#define UNTRACED UINT32_MAX

typedef struct slot {
    const void *key;
    uint32_t id;
} slot;

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *rec_out;
static int rec_on;
static smmap_manager *rec_manager;
static smmap_options rec_options;
static slot cursors[TABLE], handles[TABLE];
static uint32_t next_cursor, next_handle, next_file;
static struct {
    dev_t dev;
    ino_t ino;
} files[4096];
static uint64_t rec_errors, rec_lines;

/* Find the slot of key (open addressing; entries are never removed, only
 * marked UNTRACED). Called with rec_lock held. */
static slot *lookup(slot *t, const void *key, int insert)
{
    uintptr_t h = (uintptr_t)key;
    uint32_t i, n;
    h ^= h >> 17;
    h *= (uintptr_t)0x9e3779b97f4a7c15ull;
    i = (uint32_t)(h >> 7) & (TABLE - 1);
    for (n = 0; n < TABLE; n++, i = (i + 1) & (TABLE - 1)) {
        if (t[i].key == key)
            return &t[i];
        if (t[i].key == NULL) {
            if (!insert)
                return NULL;
            t[i].key = key;
            t[i].id = UNTRACED;
            return &t[i];
        }
    }
    rec_errors++; /* full: counted, so the recording fails */
    return NULL;
}

static uint32_t id_of(slot *t, const void *key)
{
    slot *s = rec_on && key != NULL ? lookup(t, key, 0) : NULL;
    return s != NULL ? s->id : UNTRACED;
}

static void line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(rec_out, fmt, ap);
    va_end(ap);
    rec_lines++;
}

static void note_error(int err)
{
    if (err < 0) {
        rec_errors++;
        fprintf(rec_out, "# error %d (%s) in the recording\n", err,
                smmap_strerror(err));
    }
}

REC_API int smmap_rec_start(const char *path)
{
    int rc = 0;
    pthread_mutex_lock(&rec_lock);
    rec_out = fopen(path, "w");
    if (rec_out == NULL)
        rc = -1;
    else
        rec_on = 1;
    pthread_mutex_unlock(&rec_lock);
    return rc;
}

/* Stop recording, write the "# recorded" line (the manager's options and
 * counters) and close the trace. Returns the number of errors the library
 * gave during the recording (or bookkeeping failures); -1 if no manager was
 * recorded. */
REC_API long long smmap_rec_stop(void)
{
    smmap_stats st;
    long long rc;
    pthread_mutex_lock(&rec_lock);
    if (rec_manager == NULL) {
        rc = -1;
    }
    else {
        smmap_manager_stats(rec_manager, &st);
        fprintf(rec_out,
                "# recorded window_size=%llu max_mapped=%llu max_regions=%u "
                "max_open_files=%u flags=%u maps=%llu reuses=%llu "
                "evictions=%llu unmaps=%llu\n",
                (unsigned long long)rec_options.window_size,
                (unsigned long long)rec_options.max_mapped,
                (unsigned)rec_options.max_regions,
                (unsigned)rec_options.max_open_files,
                (unsigned)rec_options.flags, (unsigned long long)st.maps,
                (unsigned long long)st.reuses,
                (unsigned long long)st.evictions,
                (unsigned long long)st.unmaps);
        rc = (long long)rec_errors;
    }
    rec_on = 0;
    if (rec_out != NULL && fclose(rec_out) != 0)
        rc = rc < 0 ? rc : rc + 1;
    rec_out = NULL;
    pthread_mutex_unlock(&rec_lock);
    return rc;
}

REC_API unsigned long long smmap_rec_lines(void)
{
    return rec_lines;
}

int smmap_rec_manager_new(smmap_manager **out, const smmap_options *o)
{
    int err;
    pthread_mutex_lock(&rec_lock);
    if (rec_on && rec_manager == NULL && out != NULL) {
        smmap_options opt;
        if (o != NULL)
            opt = *o;
        else
            smmap_options_init(&opt);
        opt.flags |= SMMAP_ALWAYS_MAP;
        err = smmap_manager_new(out, &opt);
        if (err == 0) {
            rec_manager = *out;
            rec_options = opt;
        }
    }
    else
        err = smmap_manager_new(out, o);
    pthread_mutex_unlock(&rec_lock);
    return err;
}

size_t smmap_rec_manager_collect(smmap_manager *m)
{
    size_t n;
    pthread_mutex_lock(&rec_lock);
    if (rec_on && m != NULL && m == rec_manager)
        line("K\n");
    n = smmap_manager_collect(m);
    pthread_mutex_unlock(&rec_lock);
    return n;
}

int smmap_rec_manager_release_path(smmap_manager *m, const char *prefix)
{
    int err;
    pthread_mutex_lock(&rec_lock);
    if (rec_on && m != NULL && m == rec_manager) {
        /* not in the trace format: a recording with it is refused */
        fprintf(rec_out, "# release_path is not recorded\n");
        rec_errors++;
    }
    err = smmap_manager_release_path(m, prefix);
    pthread_mutex_unlock(&rec_lock);
    return err;
}

/* Record a new handle of the file with identity st. */
static void new_handle(smmap_file *f, const struct stat *st, const char *name)
{
    slot *s = lookup(handles, f, 1);
    uint32_t fid;
    for (fid = 0; fid < next_file; fid++)
        if (files[fid].dev == st->st_dev && files[fid].ino == st->st_ino)
            break;
    if (fid == next_file) {
        if (next_file == sizeof(files) / sizeof(files[0])) {
            rec_errors++;
            return;
        }
        files[fid].dev = st->st_dev;
        files[fid].ino = st->st_ino;
        next_file++;
        fprintf(rec_out, "# file %u: %s\n", fid, name);
        line("F %u %llu\n", fid, (unsigned long long)smmap_file_size(f));
    }
    if (s == NULL)
        return;
    s->id = next_handle++;
    line("O %u %u\n", s->id, fid);
}

int smmap_rec_file_open(smmap_manager *m, const char *path, smmap_file **out)
{
    int err;
    pthread_mutex_lock(&rec_lock);
    err = smmap_file_open(m, path, out);
    if (rec_on && m != NULL && m == rec_manager) {
        struct stat st;
        const char *base = path != NULL ? strrchr(path, '/') : NULL;
        note_error(err);
        if (err == 0) {
            if (stat(path, &st) == 0)
                new_handle(*out, &st, base != NULL ? base + 1 : path);
            else
                rec_errors++;
        }
    }
    pthread_mutex_unlock(&rec_lock);
    return err;
}

int smmap_rec_file_open_fd(smmap_manager *m, int fd, smmap_file **out)
{
    int err;
    pthread_mutex_lock(&rec_lock);
    err = smmap_file_open_fd(m, fd, out);
    if (rec_on && m != NULL && m == rec_manager) {
        struct stat st;
        note_error(err);
        if (err == 0) {
            if (fstat(fd, &st) == 0)
                new_handle(*out, &st, "(a descriptor)");
            else
                rec_errors++;
        }
    }
    pthread_mutex_unlock(&rec_lock);
    return err;
}

void smmap_rec_file_close(smmap_file *f)
{
    uint32_t h;
    pthread_mutex_lock(&rec_lock);
    h = id_of(handles, f);
    if (h != UNTRACED) {
        line("X %u\n", h);
        lookup(handles, f, 0)->id = UNTRACED;
    }
    smmap_file_close(f);
    pthread_mutex_unlock(&rec_lock);
}

void smmap_rec_cursor_init(smmap_cursor *c, smmap_file *f)
{
    uint32_t h;
    pthread_mutex_lock(&rec_lock);
    h = id_of(handles, f);
    if (h != UNTRACED) {
        slot *s = lookup(cursors, c, 1);
        if (s != NULL) {
            if (s->id == UNTRACED)
                s->id = next_cursor++;
            line("I %u %u\n", s->id, h);
        }
    }
    else if (rec_on && c != NULL) {
        /* a cursor on a file that is not recorded: its moves are not ours
         * now (its address keeps its slot, marked so) */
        slot *s = lookup(cursors, c, 0);
        if (s != NULL)
            s->id = UNTRACED;
    }
    smmap_cursor_init(c, f);
    pthread_mutex_unlock(&rec_lock);
}

/* The cursor's id and its handle's, or UNTRACED in *cid. */
static void ids(const smmap_cursor *c, uint32_t *cid, uint32_t *hid)
{
    *cid = c != NULL ? id_of(cursors, c) : UNTRACED;
    *hid = *cid != UNTRACED ? id_of(handles, c->file) : UNTRACED;
    if (*cid != UNTRACED && *hid == UNTRACED) {
        rec_errors++; /* a recorded cursor on a file we do not know */
        *cid = UNTRACED;
    }
}

int smmap_rec_cursor_use(smmap_cursor *c, uint64_t offset, size_t size)
{
    uint32_t cid, hid;
    int err;
    pthread_mutex_lock(&rec_lock);
    ids(c, &cid, &hid);
    if (cid != UNTRACED)
        line("U %u %u %llu %llu\n", cid, hid, (unsigned long long)offset,
             (unsigned long long)size);
    err = smmap_cursor_use(c, offset, size);
    if (cid != UNTRACED)
        note_error(err);
    pthread_mutex_unlock(&rec_lock);
    return err;
}

int smmap_rec_cursor_use_range(smmap_cursor *c, uint64_t offset, size_t need,
                               size_t want)
{
    uint32_t cid, hid;
    int err;
    pthread_mutex_lock(&rec_lock);
    ids(c, &cid, &hid);
    if (cid != UNTRACED)
        line("G %u %u %llu %llu %llu\n", cid, hid, (unsigned long long)offset,
             (unsigned long long)need, (unsigned long long)want);
    err = smmap_cursor_use_range(c, offset, need, want);
    if (cid != UNTRACED)
        note_error(err);
    pthread_mutex_unlock(&rec_lock);
    return err;
}

void smmap_rec_cursor_release(smmap_cursor *c)
{
    uint32_t cid;
    pthread_mutex_lock(&rec_lock);
    cid = c != NULL ? id_of(cursors, c) : UNTRACED;
    if (cid != UNTRACED)
        line("L %u\n", cid);
    smmap_cursor_release(c);
    pthread_mutex_unlock(&rec_lock);
}

void smmap_rec_cursor_copy(smmap_cursor *dst, const smmap_cursor *src)
{
    uint32_t d, s;
    pthread_mutex_lock(&rec_lock);
    d = dst != NULL ? id_of(cursors, dst) : UNTRACED;
    s = src != NULL ? id_of(cursors, src) : UNTRACED;
    if (d != UNTRACED && s != UNTRACED)
        line("C %u %u\n", d, s);
    else if (rec_on && (d != UNTRACED || s != UNTRACED) &&
             (src == NULL || id_of(handles, src->file) != UNTRACED))
        rec_errors++; /* half of a copy on a recorded file */
    smmap_cursor_copy(dst, src);
    pthread_mutex_unlock(&rec_lock);
}

int64_t smmap_rec_read(smmap_cursor *c, uint64_t offset, void *dst,
                       size_t len)
{
    uint32_t cid, hid;
    int64_t got;
    pthread_mutex_lock(&rec_lock);
    ids(c, &cid, &hid);
    if (cid != UNTRACED)
        line("R %u %u %llu %llu\n", cid, hid, (unsigned long long)offset,
             (unsigned long long)len);
    got = smmap_read(c, offset, dst, len);
    if (cid != UNTRACED && got < 0)
        note_error((int)got);
    pthread_mutex_unlock(&rec_lock);
    return got;
}
