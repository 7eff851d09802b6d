/*
 * version.c - what the library learns about a version of a file after
 * opening it: that it was truncated (its seen end). An entry's identity (device, inode, generation) is
 * fixed when it is made; what a handle accepts depends only on that
 * identity, on its own size and on what the file itself was seen to do,
 * never on later opens.
 *
 * A truncation seen by any check (a map, a reopen, a refresh, a short
 * pread, a fault in smmap_read, an open) is recorded as the entry's seen
 * end. From then on no smmap_read returns bytes past it (the rest of the
 * page that holds a new end reads as zeros through a mapping, which would
 * otherwise pass for file bytes), and handles larger than it get no new
 * windows. Later opens join the entry while the file is no larger than
 * that end; one that finds it larger (written again) makes a new entry.
 */
#include "smmap_int.h"

int smmap__entry_check_size(const smmap_entry *e, const smmap_os_stat *st,
                            uint64_t need, uint64_t *seen)
{
    if (smmap__entry_mtime_differs(e, st))
        return -ESTALE;
    if (st->size < need) {
        *seen = st->size;
        return -ESTALE;
    }
    return 0;
}

uint64_t smmap__short_read_end(smmap_os_fd fd, uint64_t at)
{
    smmap_os_stat st;
    if (smmap__os.fstat(fd, &st) == 0 && st.size < at)
        return st.size;
    return at;
}

void smmap__region_mark_past_end(smmap_region *r)
{
    if (r->offset + r->size > r->entry->seen_end)
        smmap__store_relaxed(&r->past_end, (uint8_t)1);
}

static void mark_tree(smmap_region *r)
{
    for (; r != NULL; r = r->right) {
        smmap__region_mark_past_end(r);
        mark_tree(r->left);
    }
}

void smmap__entry_saw_end(smmap_entry *e, uint64_t end)
{
    smmap_region *r;
    if (end >= e->max_size || end >= e->seen_end)
        return;
    smmap__store_relaxed(&e->seen_end, end);
    mark_tree(e->tree);
    for (r = e->transients; r != NULL; r = r->lru_next)
        smmap__region_mark_past_end(r);
}

int smmap__entry_may_map(const smmap_entry *e, const smmap_file *f)
{
    return smmap__file_size(f) > e->seen_end ? -ESTALE : 0;
}
