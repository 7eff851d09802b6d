/*
 * main.c - the smmap-bench executable: a thin shell over smmap_bench_main().
 */
#include "smmap_bench.h"

int main(int argc, char **argv)
{
    return smmap_bench_main(argc, argv);
}
