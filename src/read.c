/*
 * read.c - smmap_read: copying reads across as many windows as needed,
 * guarded against truncation, and served by pread under pressure (the read
 * policy in region.c decides).
 */
#include "smmap_int.h"

#include <string.h>

/* A page of the window vanished under the copy: the file was truncated.
 * The fault does not say to what size: ask the file (its descriptor, or
 * its path if that still names the same version), and take 0 when it
 * cannot tell, so that no later read returns bytes past the end. Out of
 * line: inlined, it would make the hit path save registers. */
static SMMAP__NOINLINE int64_t fault(smmap_cursor *c)
{
    smmap_manager *m = c->file->manager;
    smmap_entry *e = c->file->entry;
    uint64_t size = 0;
    if (smmap__entry_probe_size(m, e, &size) != 0)
        size = 0;
    smmap__mutex_lock(&m->lock);
    smmap__entry_saw_end(e, size);
    m->stats.faults++;
    smmap__mutex_unlock(&m->lock);
    return c->error = -EIO;
}

/* Everything but a read inside the window the cursor holds. Kept out of
 * line: inlined, its registers would be saved and restored on every hit. */
static SMMAP__NOINLINE int64_t read_slow(smmap_cursor *c, uint64_t offset,
                                         unsigned char *out, size_t len)
{
    uint64_t fsize, total, done = 0, window;

    if (c->file == NULL || (out == NULL && len > 0))
        return c->error = -EINVAL;
    fsize = smmap__file_size(c->file);
    if (offset >= fsize)
        return 0;
    total = smmap__min_u64(len, fsize - offset);
    /* Bytes past a truncation seen are gone, whatever a window still shows
     * (zeros in the page of the new end, old bytes in a heap window). */
    if (offset + total > smmap__entry_seen_end(c->file->entry))
        return c->error = -EIO;
    window = c->file->manager->opt.window_size;
    while (done < total) {
        uint64_t pos = offset + done, rel = pos - c->begin, chunk;
        if (!(rel < (uint64_t)c->size)) {
            /* Any window holding pos will do: the copy needs no contiguity
             * across windows. A new one is placed for a whole window from
             * pos: not the rest of a huge read (which would map it at once),
             * nor the few bytes asked (placement would grow the window
             * mostly behind pos, where a forward scan never returns). */
            uint64_t want = total - done;
            smmap_os_fd fd;
            int err;
            if (window != 0)
                want = window - pos % c->file->manager->granularity;
            err = smmap__cursor_move(c, pos, 1,
                                     smmap__min_u64(want, fsize - pos), &fd);
            if (err == SMMAP__DIRECT) {
                int64_t got = smmap__read_direct(c, fd, pos, out + done,
                                                 (size_t)(total - done));
                if (got < 0)
                    return c->error = (int)got;
                done += (uint64_t)got;
                continue;
            }
            if (err != 0)
                return err;
            rel = pos - c->begin;
        }
        chunk = smmap__min_u64((uint64_t)c->size - rel, total - done);
        if (smmap__os.guarded_copy(out + done, c->data + rel,
                                   (size_t)chunk) < 0)
            return fault(c);
        c->served++;
        done += chunk;
    }
    return (int64_t)done;
}

int64_t smmap_read(smmap_cursor *c, uint64_t offset, void *dst, size_t len)
{
    uint64_t rel;

    if (c == NULL)
        return -EINVAL;
    /* The hit path: inside the held window (which never extends past the
     * handle's size), one check and one guarded copy, no lock. Random reads
     * from memory are bound by how many of them the core keeps in flight,
     * and every instruction here takes room from them: the copy returns
     * the length, so only c is kept across the call. A window reaching
     * past a truncation seen (past_end) sends every read to the slow path,
     * which checks it against the end. */
    rel = offset - c->begin;
    if (rel < (uint64_t)c->size && (uint64_t)len <= (uint64_t)c->size - rel &&
        dst != NULL && !smmap__load_relaxed(&c->region->past_end)) {
        int64_t got = smmap__os.guarded_copy(dst, c->data + rel, len);
        if (got < 0)
            return fault(c);
        c->served++;
        return got;
    }
    return read_slow(c, offset, dst, len);
}

int smmap_guard_install(void)
{
    smmap__os.guard_install();
    return 0;
}
