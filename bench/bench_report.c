/*
 * bench_report.c - what the benchmark prints: the labels (sizes and modes,
 * computed from what runs), the tables of cases, the targets with their
 * verdicts, and the header and footer of a run (machine, load average).
 * Everything goes to stdout, which smmap_bench_main makes line-buffered.
 */
#include "bench_int.h"

#include <inttypes.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

void bench_fmt_size(char *out, size_t outsize, uint64_t v)
{
    if (v >= GIB && v % GIB == 0)
        snprintf(out, outsize, "%" PRIu64 " GiB", v / GIB);
    else if (v >= MIB && v % MIB == 0)
        snprintf(out, outsize, "%" PRIu64 " MiB", v / MIB);
    else if (v >= KIB && v % KIB == 0)
        snprintf(out, outsize, "%" PRIu64 " KiB", v / KIB);
    else
        snprintf(out, outsize, "%" PRIu64 " bytes", v);
}

void bench_fmt_mode(char *out, size_t outsize, uint64_t window)
{
    char size[32];
    if (window == 0) {
        snprintf(out, outsize, "static");
        return;
    }
    bench_fmt_size(size, sizeof(size), window);
    snprintf(out, outsize, "sliding %s%s", size,
             window == bench_default_window() ? " (default)" : "");
}

static const bcase *find_baseline(const bcase *cases, int n, int mmap)
{
    int i;
    for (i = 0; i < n; i++)
        if (mmap ? cases[i].is_mmap : cases[i].is_pread)
            return &cases[i];
    return NULL;
}

static void fmt_ns(char *out, size_t outsize, double ns)
{
    if (ns >= 100)
        snprintf(out, outsize, "%.0f", ns);
    else if (ns >= 10)
        snprintf(out, outsize, "%.1f", ns);
    else
        snprintf(out, outsize, "%.2f", ns);
}

/* The stats columns: what the manager did during the timed repetitions. */
static void fmt_stats(char *out, size_t outsize, const bcase *c)
{
    double total_ops = (double)c->ops * (double)c->nsamples;
    size_t len;
    if (c->manager == NULL) {
        snprintf(out, outsize, "%s", "");
        return;
    }
    snprintf(out, outsize, "maps/op %.3f, evictions/op %.3f, regions %u",
             (double)c->maps / total_ops, (double)c->evictions / total_ops,
             c->regions);
    len = strlen(out);
    if (c->fd_reopens)
        len += (size_t)snprintf(out + len, outsize - len,
                                ", fd reopens/op %.3f",
                                (double)c->fd_reopens / total_ops);
    if (c->direct_reads && len < outsize)
        len += (size_t)snprintf(out + len, outsize - len,
                                ", direct reads/op %.3f",
                                (double)c->direct_reads / total_ops);
    if (c->read_windows && len < outsize)
        snprintf(out + len, outsize - len, ", read windows/op %.3f",
                 (double)c->read_windows / total_ops);
}

void bench_print_table(const char *title, const bcase *cases, int n,
                       const char *unit)
{
    const bcase *mm = find_baseline(cases, n, 1);
    const bcase *pr = find_baseline(cases, n, 0);
    int i;
    printf("\n### %s\n\n", title);
    printf("| strategy | mode | %s | x mmap | x pread | ops x reps | manager "
           "activity |\n",
           unit);
    printf("|---|---|---:|---:|---:|---:|---|\n");
    for (i = 0; i < n; i++) {
        const bcase *c = &cases[i];
        char ns[32], xm[32] = "", xp[32] = "", st[200];
        fmt_ns(ns, sizeof(ns), c->ns);
        if (mm)
            snprintf(xm, sizeof(xm), "%.2f", c->ns / mm->ns);
        if (pr)
            snprintf(xp, sizeof(xp), "%.3f", c->ns / pr->ns);
        fmt_stats(st, sizeof(st), c);
        printf("| %s | %s | %s | %s | %s | %zu x %d | %s |\n", c->strategy,
               c->mode, ns, xm, xp, c->ops, c->nsamples, st);
    }
}

/* ---- targets ------------------------------------------------------------ */

#define MAX_TARGETS 64
static struct target {
    char text[256];
    double ratio, limit;
    int at_least; /* ratio must be >= limit (a speed-up) */
} targets[MAX_TARGETS];
static int ntargets;

void bench_target(const char *text, double ratio, double limit, int at_least)
{
    struct target *t;
    if (ntargets == MAX_TARGETS)
        bench_die("more than %d targets", MAX_TARGETS);
    t = &targets[ntargets++];
    snprintf(t->text, sizeof(t->text), "%s", text);
    t->ratio = ratio;
    t->limit = limit;
    t->at_least = at_least;
}

void bench_print_targets(void)
{
    int i;
    printf("\n### Targets (ratios of this run)\n\n");
    printf("| target | limit | measured | verdict |\n|---|---:|---:|---|\n");
    for (i = 0; i < ntargets; i++) {
        const struct target *t = &targets[i];
        int met = t->at_least ? t->ratio >= t->limit : t->ratio <= t->limit;
        printf("| %s | %s%.2f | %.3f | %s |\n", t->text,
               t->at_least ? ">= " : "<= ", t->limit, t->ratio,
               met ? "met" : "MISSED");
    }
    ntargets = 0;
}

/* ---- header and footer -------------------------------------------------- */

void bench_print_load(const char *when)
{
    char buf[128] = "unknown";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fgets(buf, sizeof(buf), f) == NULL)
            strcpy(buf, "unknown");
        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
    }
    printf("- %s (1, 5, 15 min, runnable/total, last pid): %s\n", when, buf);
}

void bench_print_machine(const bench_config *cfg)
{
    struct utsname u;
    char line[256], model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');
                if (p) {
                    snprintf(model, sizeof(model), "%s", p + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        fclose(f);
    }
    uname(&u);
    printf("## smmap benchmarks (%s mode)\n\n", cfg->quick ? "quick" : "full");
    printf("- machine: %s, %ld CPUs, %s %s %s\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, u.machine);
    printf("- smmap %s; data in %s; %d repetitions per case, median; one "
           "repetition ~%.2f s\n",
           SMMAP_VERSION_STRING, bench_data_dir(), cfg->reps, cfg->target_s);
    printf("- warm: the data was read once before (page cache), and every "
           "map was touched once (page tables); timed by the CPU time of the "
           "benchmark thread (user + system), so time slices taken by other "
           "processes do not count; cold cases by the wall clock\n");
    bench_print_load("load average at start");
}
