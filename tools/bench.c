/*
 * bench.c - `smmap bench`: hands its arguments to the benchmark's entry
 * point, smmap_bench_main (bench/smmap_bench.h), when the benchmarks were
 * built (SMMAP_TOOL_HAVE_BENCH). That call is all the tool takes from
 * bench/, and the benchmark takes nothing from the tool.
 */
#include "tool.h"

#include <stdio.h>
#include <string.h>

#ifdef SMMAP_TOOL_HAVE_BENCH
#  include "smmap_bench.h"
#endif

int tool_bench(int argc, char **argv)
{
#ifdef SMMAP_TOOL_HAVE_BENCH
    static char name[] = "smmap bench";
    int status;
    argv[0] = name;
    status = smmap_bench_main(argc, argv);
    if (fflush(stdout) != 0 || ferror(stdout))
        return tool_write_failed();
    return status;
#else
    int i;
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            int status = tool_print_help("bench");
            printf("\nThis smmap was built without them.\n");
            if (status != 0)
                return status;
            return fflush(stdout) == 0 && !ferror(stdout) ? 0
                                                          : tool_write_failed();
        }
    fprintf(stderr, "smmap: bench: benchmarks were not built (configure with "
                    "-DSMMAP_BUILD_BENCH=ON and a bench/ that defines "
                    "smmap_benchlib)\n");
    return TOOL_EXIT_USAGE;
#endif
}
