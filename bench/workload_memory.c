/*
 * workload_memory.c - workload 7: the memory the library keeps per file and
 * per region, counted by bench_memory.c over the small files, with its two
 * targets.
 */
#include "bench_int.h"

void bench_workload_memory(const bench_config *cfg)
{
    file_set s;
    double per_region, per_file;
    bench_files_open(&s, cfg);
    bench_check(bench_memory_measure((const char *const *)s.paths, s.n, s.size,
                                     &per_region, &per_file, stdout),
                "memory measurement");
    bench_target("Memory: bytes per region", per_region, 128, 0);
    bench_target("Memory: bytes per file, without its path", per_file, 256, 0);
    bench_files_close(&s);
}
