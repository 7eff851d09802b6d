/*
 * stats.c - the manager's statistics, copied under its lock so that every
 * counter is consistent with the others.
 */
#include "smmap_int.h"

#include <string.h>

void smmap_manager_stats(smmap_manager *m, smmap_stats *out)
{
    if (out == NULL)
        return;
    if (m == NULL) {
        memset(out, 0, sizeof(*out));
        return;
    }
    smmap__mutex_lock(&m->lock);
    *out = m->stats;
    /* Reuses are counted on the regions and the hazard slots (see
     * cache.c and hazard.c). */
    out->reuses += smmap__cache_uses(m) + smmap__hazard_uses(m);
    smmap__mutex_unlock(&m->lock);
}
