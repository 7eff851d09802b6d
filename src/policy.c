/*
 * policy.c - the read policy: when a miss should be served with one pread
 * (smmap_read: into the caller's buffer; a cursor: into a small heap
 * window, see acquire_pressure_window in region.c) rather than map a
 * window.
 *
 * Mapping a window costs a map, page faults and an unmap: about as much as
 * eight preads here. It pays when the cursor that mapped it goes on reading
 * from it: a forward scan reads a window many times before moving on;
 * uniform random reads under a small budget read it once. So each new
 * window reports, when its first cursor leaves it, how many reads that
 * cursor made from it, and the manager keeps a moving average (weight 1/8)
 * of those counts. While the average is below 8 and a new window would have
 * to evict one (a window that fits costs one map, once), a miss of
 * smmap_read is served by one pread, a cursor's by a pressure window.
 * Every so often a miss still maps a window (explores), so the average
 * follows a change of access pattern:
 * explorations that serve fewer than 8 reads double the interval (32 up to
 * 1024 misses, jittered so as not to alias with a periodic pattern); one
 * that serves 8 or more brings it back to 32.
 *
 * A cursor that moves on to bytes touching the window it leaves is scanning:
 * the window is credited with twice the threshold, as its reads in place
 * through smmap_cursor_at are not counted (the inline hit path counts
 * nothing). From a pressure window (see region.c), a move within
 * window_size of it counts the same: a mapped window would have served it.
 * A window that no cursor scans through and that smmap_read did not read 8
 * times is judged not to have paid, whatever smmap_cursor_at read in it:
 * under pressure such a cursor gets pressure windows, and an exploration
 * now and then.
 *
 * The count is taken over the first hold only, not the window's lifetime:
 * a lifetime grows as the policy maps less, which would make rare windows
 * look useful and the policy oscillate.
 *
 * Everything here runs with the manager lock held.
 */
#include "smmap_int.h"

#define MIN_READS 8
#define EXPLORE_MIN 32
#define EXPLORE_MAX 1024

void smmap__policy_init(smmap_manager *m)
{
    /* Optimistic until windows tell otherwise: map, as a manager should. */
    m->yield_x16 = 64 * 16;
    m->explore_every = EXPLORE_MIN;
}

void smmap__policy_left(smmap_manager *m, smmap_region *r)
{
    uint64_t sample, served;
    if (!smmap__load_relaxed(&r->first_hold))
        return;
    smmap__store_relaxed(&r->first_hold, (uint8_t)0);
    served = smmap__load_relaxed(&r->served);
    sample = smmap__min_u64(served, 1u << 20) * 16;
    m->yield_x16 = (uint32_t)((m->yield_x16 * 7ull + sample) / 8);
    /* Pressure windows feed the average only: the exploration interval
     * follows the windows that explorations mapped. */
    if (r->transient)
        return;
    if (served >= MIN_READS)
        m->explore_every = EXPLORE_MIN;
    else if (m->yield_x16 < MIN_READS * 16 && m->explore_every < EXPLORE_MAX)
        m->explore_every *= 2;
}

void smmap__policy_scanned(smmap_region *r)
{
    /* Twice the threshold, so that scans alone lift the average above it. */
    smmap__region_credit(r, 2 * MIN_READS);
}

int smmap__policy_prefer_direct(smmap_manager *m, uint64_t window)
{
    if (m->yield_x16 >= MIN_READS * 16 || (m->opt.flags & SMMAP_ALWAYS_MAP)) {
        m->pressure = 0;
        return 0;
    }
    /* A window that fits without evicting costs one map, once. But once
     * misses are served by pread, room that appears is what a pressure
     * window's eviction or a departure left: mapping into it would evict
     * again at the next pressure window (a map on every other miss). With
     * nothing cached (the LRU empty: after a collect, or every window held)
     * a window is mapped if it leaves room for the next pressure window
     * (at most half a window) beside it, so that keeping it evicts nothing
     * at the next miss either; not with a budget of one window, where the
     * pressure window has just evicted the last one. */
    if (!m->pressure && smmap__budget_fits(m, window, 1))
        return 0;
    if (!smmap__cache_has_unused(m) &&
        smmap__budget_fits(m, window + window / 2, 2))
        return 0;
    m->pressure = 1;
    if (++m->misses < m->explore_every)
        return 1;
    m->jitter = m->jitter * 1103515245u + 12345u;
    m->misses = (m->jitter >> 16) % (m->explore_every / 2);
    return 0;
}
