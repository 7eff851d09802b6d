/*
 * stat_report.c - the report of `smmap stat`: one "name value" line per
 * option, per result and per field of the manager's statistics, or the same
 * as one JSON object (--json). Both forms come from the same tables, so a
 * field is in both or in neither.
 */
#include "tool.h"

#include <inttypes.h>
#include <stdio.h>

/* Every field of smmap_stats, in smmap.h's order: X(name, is_bytes).
 * Bytes get a human size beside them in the text form. */
#define STATS_FIELDS(X) \
    X(mapped_bytes, 1) X(peak_mapped_bytes, 1) \
    X(regions, 0) X(peak_regions, 0) \
    X(files, 0) X(files_mapped, 0) X(open_fds, 0) \
    X(maps, 0) X(unmaps, 0) X(evictions, 0) X(reuses, 0) X(retries, 0) \
    X(fd_closes, 0) X(fd_reopens, 0) \
    X(direct_reads, 0) X(files_no_mmap, 0) X(read_windows, 0) X(faults, 0)

/* MB/s, MB = 10^6 bytes; negative when the clock saw no time pass. */
static double throughput(const tool_stat_result *r)
{
    return r->elapsed_seconds > 0
               ? (double)r->bytes_read / 1e6 / r->elapsed_seconds
               : -1.0;
}

void tool_stat_report_text(const tool_stat_result *r)
{
    const tool_options *t = r->t;
    double mbs = throughput(r);

    tool_print_bytes("window_size", t->manager.window_size);
    tool_print_bytes("max_mapped", t->manager.max_mapped);
    tool_print_count("max_regions", t->manager.max_regions);
    tool_print_count("max_open_files", t->manager.max_open_files);
    tool_print_count("hard_limits",
                     (t->manager.flags & SMMAP_HARD_LIMITS) ? 1 : 0);
    tool_print_count("always_map",
                     (t->manager.flags & SMMAP_ALWAYS_MAP) ? 1 : 0);
    printf("mode %s\n", t->static_mode ? "static" : "sliding");
    printf("order %s\n", t->random_given ? "random" : "sequential");
    if (t->random_given) {
        tool_print_count("random_reads", t->random_reads);
        tool_print_count("seed", t->seed);
    }
    tool_print_bytes("read_length", t->length);
    tool_print_count("files_read", r->files_read);
    tool_print_count("streamed_files", r->streamed_files);
    tool_print_count("reads", r->reads);
    tool_print_bytes("bytes_read", r->bytes_read);
    printf("fnv1a64 %016" PRIx64 "\n", r->hash);
    if (t->verify)
        tool_print_count("verify_mismatches", r->mismatches);
#define TEXT_FIELD(name, is_bytes) \
    if (is_bytes) \
        tool_print_bytes(#name, (uint64_t)r->stats.name); \
    else \
        tool_print_count(#name, (uint64_t)r->stats.name);
    STATS_FIELDS(TEXT_FIELD)
#undef TEXT_FIELD
    printf("elapsed_seconds %.6f\n", r->elapsed_seconds);
    if (mbs >= 0)
        printf("throughput_mb_s %.1f\n", mbs);
    else
        printf("throughput_mb_s unmeasured\n");
    tool_print_count("interrupted", r->interrupted ? 1 : 0);
}

void tool_stat_report_json(const tool_stat_result *r)
{
    const tool_options *t = r->t;
    double mbs = throughput(r);
    const char *sep = "";

    /* Numbers are exact decimal integers (up to 2^64 - 1: a reader that
     * keeps integers exact, as Python's json does, gets every bit). */
    printf("{\"command\": \"stat\", \"version\": \"%s\",\n",
           SMMAP_VERSION_STRING);
    printf(" \"options\": {\"window_size\": %" PRIu64
           ", \"max_mapped\": %" PRIu64 ", \"max_regions\": %" PRIu32
           ", \"max_open_files\": %" PRIu32 ",\n",
           t->manager.window_size, t->manager.max_mapped,
           t->manager.max_regions, t->manager.max_open_files);
    printf("  \"hard_limits\": %s, \"always_map\": %s, \"mode\": \"%s\", "
           "\"order\": \"%s\",\n",
           (t->manager.flags & SMMAP_HARD_LIMITS) ? "true" : "false",
           (t->manager.flags & SMMAP_ALWAYS_MAP) ? "true" : "false",
           t->static_mode ? "static" : "sliding",
           t->random_given ? "random" : "sequential");
    if (t->random_given)
        printf("  \"random_reads\": %" PRIu64 ", \"seed\": %" PRIu64 ",\n",
               t->random_reads, t->seed);
    else
        printf("  \"random_reads\": null, \"seed\": null,\n");
    printf("  \"read_length\": %" PRIu64 ", \"verify\": %s, "
           "\"files_given\": %d},\n",
           t->length, t->verify ? "true" : "false", t->nfiles);
    printf(" \"files_read\": %" PRIu64 ", \"streamed_files\": %" PRIu64
           ", \"reads\": %" PRIu64 ", \"bytes_read\": %" PRIu64
           ", \"fnv1a64\": \"%016" PRIx64 "\",\n",
           r->files_read, r->streamed_files, r->reads, r->bytes_read,
           r->hash);
    if (t->verify)
        printf(" \"verify_mismatches\": %" PRIu64 ",\n", r->mismatches);
    else
        printf(" \"verify_mismatches\": null,\n");
    printf(" \"stats\": {");
#define JSON_FIELD(name, is_bytes) \
    printf("%s\"" #name "\": %" PRIu64, sep, (uint64_t)r->stats.name); \
    sep = ", ";
    STATS_FIELDS(JSON_FIELD)
#undef JSON_FIELD
    printf("},\n");
    printf(" \"elapsed_seconds\": %.6f, ", r->elapsed_seconds);
    if (mbs >= 0)
        printf("\"throughput_mb_s\": %.3f,\n", mbs);
    else
        printf("\"throughput_mb_s\": null,\n");
    printf(" \"interrupted\": %s}\n", r->interrupted ? "true" : "false");
}
