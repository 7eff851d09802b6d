/*
 * read.c - smmap_read: copying reads across as many windows as needed.
 */
#include "smmap_int.h"

#include <string.h>

/* A page of the window vanished under the copy: the file was truncated.
 * Mark it changed so no new window of it is mapped. */
static void fault(smmap_cursor *c)
{
    smmap_manager *m = c->file->manager;
    smmap__mutex_lock(&m->lock);
    c->file->entry->changed = 1;
    m->stats.faults++;
    smmap__mutex_unlock(&m->lock);
}

int64_t smmap_read(smmap_cursor *c, uint64_t offset, void *dst, size_t len)
{
    unsigned char *out = dst;
    uint64_t fsize, total, done = 0, window;
    int install;

    if (c == NULL)
        return -EINVAL;
    if (c->file == NULL || (dst == NULL && len > 0))
        return c->error = -EINVAL;
    fsize = c->file->size;
    if (offset >= fsize)
        return 0;
    total = smmap__min_u64(len, fsize - offset);
    window = c->file->manager->opt.window_size;
    install = !(c->file->manager->opt.flags & SMMAP_NO_SIGNAL_HANDLER);
    while (done < total) {
        uint64_t pos = offset + done, rel = pos - c->begin, chunk;
        if (!(rel < (uint64_t)c->size)) {
            /* Any window holding pos will do: the copy needs no contiguity
             * across windows. A new one is placed for a whole window of
             * what is left (not the rest of a huge read, which would map it
             * at once, nor one byte, which would place it mostly behind). */
            uint64_t want = total - done;
            int err;
            if (window != 0 && want > window)
                want = window;
            err = smmap__cursor_move(c, pos, 1, want, 1);
            if (err == SMMAP__DIRECT) {
                int64_t got = smmap__read_direct(c->file, pos, out + done,
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
        if (c->region->heap) {
            memcpy(out + done, c->data + rel, (size_t)chunk);
        } else if (smmap__os.guarded_copy(out + done, c->data + rel,
                                          (size_t)chunk, install) != 0) {
            fault(c);
            return c->error = -EIO;
        }
        c->served++;
        done += chunk;
    }
    return (int64_t)done;
}
