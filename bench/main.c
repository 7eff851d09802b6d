/*
 * main.c - the smmap-bench executable: a thin shell over smmap_bench_main()
 * that also reports a failed write of the tables (a full disk) as exit 1.
 */
#include "smmap_bench.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    int status = smmap_bench_main(argc, argv);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "smmap-bench: writing the output failed\n");
        return 1;
    }
    return status;
}
