/*
 * smmap_bench.h - the entry point of the benchmark. The smmap-bench
 * executable (main.c) is a thin shell over it; any program may link
 * smmap_benchlib and call it with its own argv.
 */
#ifndef SMMAP_BENCH_H
#define SMMAP_BENCH_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Run the benchmark with command-line arguments: argv[0] is the program
 * name, used in the usage text and in messages ("NAME: ..."; its directory
 * is left out); `--help` lists the rest. Prints the tables to stdout, which
 * it makes line-buffered (so call it before writing anything to stdout);
 * errors and usage errors go to stderr.
 *
 * Not reentrant: one call at a time per process.
 *
 * @return 0 when every workload ran (or after --help), 2 for a usage error
 *         (an unknown option, a missing or malformed value), 1 when a
 *         workload could not run (an error of the library or the system,
 *         printed to stderr). Speed never changes the result: the ratios
 *         are reported, not asserted.
 */
int smmap_bench_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* SMMAP_BENCH_H */
