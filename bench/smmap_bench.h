/*
 * smmap_bench.h - the entry point of the benchmark, shared by the
 * smmap-bench executable and `smmap bench` in the command-line tool.
 */
#ifndef SMMAP_BENCH_H
#define SMMAP_BENCH_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Run the benchmark with command-line arguments (argv[0] is the program
 * name; `smmap-bench --help` lists the rest). Prints the tables to stdout.
 *
 * @return 0 when every workload ran, 2 for a usage error, 1 when a workload
 *         could not run (an error of the library or the system, printed to
 *         stderr). Speed never changes the result: the ratios are reported,
 *         not asserted.
 */
int smmap_bench_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* SMMAP_BENCH_H */
