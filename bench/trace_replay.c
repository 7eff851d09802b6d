/*
 * trace_replay.c - replay a recorded or generated trace of cursor operations
 * through one smmap manager and print its hit rate: how good the manager's
 * eviction order is on that access pattern (issue 13: an approximation of
 * LRU must stay within 1 point of exact LRU's hit rate). Uses only the
 * public API (smmap.h). bench/eviction-quality.sh builds it against two
 * libraries and compares them; bench/traces/README.md tells how the traces
 * were made.
 *
 * TRACE FORMAT (text, one operation per line, fields separated by spaces,
 * numbers in decimal; ids are small integers given by the recorder)
 *
 *   F file size           declare a file of size bytes (created here as a
 *                         sparse file; content does not matter to hit rates)
 *   O handle file         smmap_file_open of that file: a new handle
 *   X handle              smmap_file_close
 *   I cursor handle       smmap_cursor_init(cursor, handle)
 *   U cursor handle offset size
 *                         smmap_cursor_use(cursor, offset, size)
 *   G cursor handle offset need want
 *                         smmap_cursor_use_range(cursor, offset, need, want)
 *   A cursor handle offset len
 *                         smmap_cursor_at(cursor, offset, len): a hit inside
 *                         the held window is served inline (no call, not
 *                         counted in the manager's stats), a miss calls
 *                         smmap_cursor_use(cursor, offset, len)
 *   R cursor handle offset len
 *                         smmap_read(cursor, offset, buffer, len)
 *   C dst src             smmap_cursor_copy(dst, src) (dst takes src's handle)
 *   L cursor              smmap_cursor_release
 *   K                     smmap_manager_collect
 *   # ...                 a comment, except:
 *   # replay NAME key=value ...
 *                         a budget to replay the trace under (--all): keys
 *                         window_size, max_mapped, max_regions,
 *                         max_open_files (bytes or counts; omitted keys take
 *                         smmap_options_init's defaults)
 *   # recorded key=value ...
 *                         the options the trace was recorded under (same
 *                         keys) and the recording manager's counters at the
 *                         end (maps, reuses, evictions, unmaps): --verify
 *                         replays under those options and checks that the
 *                         counters come out the same
 *
 * The handle named by U, G, A and R must be the cursor's (from its I or C):
 * a trace that says otherwise is rejected, so a recorder's bookkeeping error
 * cannot pass unnoticed. Every replay sets SMMAP_ALWAYS_MAP, so the read
 * policy's pressure windows and direct reads do not hide the eviction order.
 *
 * OUTPUT: one line per replay,
 *   budget=NAME hit_rate=PCT reuses=N maps=N evictions=N unmaps=N
 *   inline_hits=N ops=N
 * with hit_rate = 100 * reuses / (reuses + maps) from smmap_manager_stats.
 * Any error of the library during a replay is fatal (exit 1): a replay that
 * failed is not a measurement.
 *
 * usage: trace_replay [options] TRACE|-
 *   --all             replay under every "# replay" budget of the trace
 *   --verify          replay under the "# recorded" options and compare the
 *                     counters with the recorded ones (exit 1 if they differ)
 *   --window B --max-mapped B --max-regions N --max-open-files N
 *                     replay once under these options (budget=cli)
 *   --dir DIR         where to create the files (default: a new directory
 *                     under $TMPDIR or /tmp, removed at the end)
 */
#include "smmap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct trace_op {
    char kind;
    uint32_t a, b;     /* cursor, handle or file ids, per kind */
    uint64_t x, y, z;  /* offset and sizes, per kind */
} trace_op;

typedef struct budget {
    char name[64];
    smmap_options o;
    int has_expect;
    uint64_t maps, reuses, evictions, unmaps; /* expected (# recorded) */
} budget;

typedef struct trace {
    trace_op *ops;
    size_t nops, cap;
    uint64_t *file_size; /* by file id */
    uint32_t nfiles, nhandles, ncursors;
    budget *budgets;
    size_t nbudgets;
    budget recorded;
    int has_recorded;
} trace;

static void die(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "trace_replay: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL && n != 0)
        die("out of memory");
    return p;
}

/* Parse "key=value" pairs of a "# replay" or "# recorded" line into b. */
static void parse_budget(char *s, budget *b, size_t line)
{
    char *tok, *save = NULL;
    smmap_options_init(&b->o);
    for (tok = strtok_r(s, " \t\r\n", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        char *eq = strchr(tok, '='), *end;
        unsigned long long v;
        if (eq == NULL)
            die("line %zu: expected key=value, got '%s'", line, tok);
        *eq = '\0';
        errno = 0;
        v = strtoull(eq + 1, &end, 10);
        if (errno != 0 || *end != '\0' || end == eq + 1)
            die("line %zu: bad number '%s'", line, eq + 1);
        if (strcmp(tok, "window_size") == 0)
            b->o.window_size = v;
        else if (strcmp(tok, "max_mapped") == 0)
            b->o.max_mapped = v;
        else if (strcmp(tok, "max_regions") == 0)
            b->o.max_regions = (uint32_t)v;
        else if (strcmp(tok, "max_open_files") == 0)
            b->o.max_open_files = (uint32_t)v;
        else if (strcmp(tok, "maps") == 0)
            b->maps = v, b->has_expect = 1;
        else if (strcmp(tok, "reuses") == 0)
            b->reuses = v, b->has_expect = 1;
        else if (strcmp(tok, "evictions") == 0)
            b->evictions = v, b->has_expect = 1;
        else if (strcmp(tok, "unmaps") == 0)
            b->unmaps = v, b->has_expect = 1;
        else if (strcmp(tok, "flags") != 0) /* flags: informational */
            die("line %zu: unknown key '%s'", line, tok);
    }
}

static uint32_t grow_id(uint32_t id, uint32_t *count)
{
    if (id >= 10000000u)
        die("id %" PRIu32 " too large", id);
    if (id + 1 > *count)
        *count = id + 1;
    return id;
}

static void parse_comment(trace *t, char *s, size_t line)
{
    budget b;
    memset(&b, 0, sizeof(b));
    s += strspn(s, "# \t");
    if (strncmp(s, "replay ", 7) == 0) {
        size_t n;
        s += 7;
        n = strcspn(s, " \t\r\n");
        if (n == 0 || n >= sizeof(b.name))
            die("line %zu: a replay budget needs a name", line);
        memcpy(b.name, s, n);
        parse_budget(s + n, &b, line);
        t->budgets = xrealloc(t->budgets, (t->nbudgets + 1) * sizeof(budget));
        t->budgets[t->nbudgets++] = b;
    }
    else if (strncmp(s, "recorded ", 9) == 0) {
        strcpy(b.name, "recorded");
        parse_budget(s + 9, &b, line);
        t->recorded = b;
        t->has_recorded = 1;
    }
}

static void parse(trace *t, FILE *in)
{
    char buf[4096];
    size_t line = 0;
    memset(t, 0, sizeof(*t));
    while (fgets(buf, sizeof(buf), in) != NULL) {
        trace_op op;
        unsigned long long v[5];
        int n, want;
        char kind;
        line++;
        if (strchr(buf, '\n') == NULL && !feof(in))
            die("line %zu: too long", line);
        if (buf[0] == '#') {
            parse_comment(t, buf, line);
            continue;
        }
        if (buf[0] == '\n' || buf[0] == '\0')
            continue;
        kind = buf[0];
        n = sscanf(buf + 1, "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4]);
        switch (kind) {
        case 'K': want = 0; break;
        case 'X': case 'L': want = 1; break;
        case 'F': case 'O': case 'I': case 'C': want = 2; break;
        case 'U': case 'A': case 'R': want = 4; break;
        case 'G': want = 5; break;
        default: die("line %zu: unknown operation '%c'", line, kind);
        }
        if ((want == 0 && n > 0) || (want > 0 && n != want))
            die("line %zu: '%c' takes %d numbers", line, kind, want);
        memset(&op, 0, sizeof(op));
        op.kind = kind;
        switch (kind) {
        case 'F':
            if (v[0] != t->nfiles)
                die("line %zu: files are declared in order, 0 first", line);
            op.a = grow_id((uint32_t)v[0], &t->nfiles);
            t->file_size = xrealloc(t->file_size,
                                    t->nfiles * sizeof(uint64_t));
            t->file_size[op.a] = v[1];
            continue; /* files are made before the replay, not an op */
        case 'O':
            op.a = grow_id((uint32_t)v[0], &t->nhandles);
            op.b = (uint32_t)v[1];
            if (op.b >= t->nfiles)
                die("line %zu: file %u not declared", line, op.b);
            break;
        case 'X':
            op.a = grow_id((uint32_t)v[0], &t->nhandles);
            break;
        case 'L':
            op.a = grow_id((uint32_t)v[0], &t->ncursors);
            break;
        case 'I':
            op.a = grow_id((uint32_t)v[0], &t->ncursors);
            op.b = grow_id((uint32_t)v[1], &t->nhandles);
            break;
        case 'C':
            op.a = grow_id((uint32_t)v[0], &t->ncursors);
            op.b = grow_id((uint32_t)v[1], &t->ncursors);
            break;
        case 'K':
            break;
        default: /* U A R G */
            op.a = grow_id((uint32_t)v[0], &t->ncursors);
            op.b = grow_id((uint32_t)v[1], &t->nhandles);
            op.x = v[2];
            op.y = v[3];
            op.z = kind == 'G' ? v[4] : 0;
            break;
        }
        if (t->nops == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 4096;
            t->ops = xrealloc(t->ops, t->cap * sizeof(trace_op));
        }
        t->ops[t->nops++] = op;
    }
    if (ferror(in))
        die("read error: %s", strerror(errno));
}

static char *file_path(const char *dir, uint32_t id)
{
    size_t n = strlen(dir) + 32;
    char *p = xrealloc(NULL, n);
    snprintf(p, n, "%s/f%06" PRIu32, dir, id);
    return p;
}

/* The marker at the start of file id: its id, little-endian, as many bytes
 * as the file holds (up to 8). */
static void marker(uint32_t id, unsigned char out[8])
{
    int i;
    for (i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)(id + 1) * 0x9e3779b97f4a7c15ull >>
                                 (8 * i));
}

/* Create every declared file as a sparse file of its size with a marker,
 * and read the markers back through a manager of their own. */
static void make_files(const trace *t, const char *dir)
{
    smmap_manager *m;
    uint32_t i;
    int err;
    for (i = 0; i < t->nfiles; i++) {
        char *p = file_path(dir, i);
        unsigned char mk[8];
        size_t n = t->file_size[i] < 8 ? (size_t)t->file_size[i] : 8;
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            die("%s: %s", p, strerror(errno));
        marker(i, mk);
        if (ftruncate(fd, (off_t)t->file_size[i]) != 0 ||
            pwrite(fd, mk, n, 0) != (ssize_t)n || close(fd) != 0)
            die("%s: %s", p, strerror(errno));
        free(p);
    }
    if ((err = smmap_manager_new(&m, NULL)) != 0)
        die("smmap_manager_new: %s", smmap_strerror(err));
    for (i = 0; i < t->nfiles; i++) {
        char *p = file_path(dir, i);
        smmap_file *f;
        smmap_cursor c;
        unsigned char mk[8], got[8];
        size_t n = t->file_size[i] < 8 ? (size_t)t->file_size[i] : 8;
        if ((err = smmap_file_open(m, p, &f)) != 0)
            die("%s: %s", p, smmap_strerror(err));
        if (smmap_file_size(f) != t->file_size[i])
            die("%s: size %" PRIu64 ", declared %" PRIu64, p,
                smmap_file_size(f), t->file_size[i]);
        smmap_cursor_init(&c, f);
        marker(i, mk);
        if (n > 0 && (smmap_read(&c, 0, got, n) != (int64_t)n ||
                      memcmp(got, mk, n) != 0))
            die("%s: the marker does not read back", p);
        smmap_cursor_release(&c);
        smmap_file_close(f);
        free(p);
    }
    smmap_manager_free(m);
}

typedef struct result {
    smmap_stats st;
    uint64_t inline_hits;
} result;

static void replay(const trace *t, const char *dir, const budget *b,
                   result *r)
{
    smmap_options o = b->o;
    smmap_manager *m;
    smmap_file **handles = xrealloc(NULL, (t->nhandles + 1) * sizeof(void *));
    smmap_cursor *cursors =
        xrealloc(NULL, (t->ncursors + 1) * sizeof(smmap_cursor));
    int64_t *cursor_handle =
        xrealloc(NULL, (t->ncursors + 1) * sizeof(int64_t));
    unsigned char *buf = NULL;
    size_t bufcap = 0, i;
    int err;

    o.flags |= SMMAP_ALWAYS_MAP;
    if ((err = smmap_manager_new(&m, &o)) != 0)
        die("budget %s: smmap_manager_new: %s", b->name, smmap_strerror(err));
    for (i = 0; i < t->nhandles; i++)
        handles[i] = NULL;
    for (i = 0; i < t->ncursors; i++) {
        smmap_cursor_init(&cursors[i], NULL);
        cursor_handle[i] = -1;
    }
    r->inline_hits = 0;
    for (i = 0; i < t->nops; i++) {
        const trace_op *op = &t->ops[i];
        /* only the cursor operations use c; op->a is a cursor id there */
        smmap_cursor *c = op->a < t->ncursors ? &cursors[op->a] : NULL;
        switch (op->kind) {
        case 'O': {
            char *p = file_path(dir, op->b);
            if (handles[op->a] != NULL)
                die("op %zu: handle %u opened twice", i, op->a);
            if ((err = smmap_file_open(m, p, &handles[op->a])) != 0)
                die("op %zu: open %s: %s", i, p, smmap_strerror(err));
            free(p);
            break;
        }
        case 'X':
            if (handles[op->a] == NULL)
                die("op %zu: handle %u is not open", i, op->a);
            smmap_file_close(handles[op->a]);
            handles[op->a] = NULL;
            break;
        case 'I':
            if (handles[op->b] == NULL)
                die("op %zu: cursor %u on handle %u, not open", i, op->a,
                    op->b);
            smmap_cursor_init(c, handles[op->b]);
            cursor_handle[op->a] = op->b;
            break;
        case 'C':
            smmap_cursor_copy(c, &cursors[op->b]);
            cursor_handle[op->a] = cursor_handle[op->b];
            break;
        case 'L':
            smmap_cursor_release(c);
            break;
        case 'K':
            smmap_manager_collect(m);
            break;
        default: /* U G A R: a move of a cursor on its handle */
            if (cursor_handle[op->a] != (int64_t)op->b ||
                handles[op->b] == NULL)
                die("op %zu: cursor %u is not on handle %u (open)", i, op->a,
                    op->b);
            if (op->kind == 'U')
                err = smmap_cursor_use(c, op->x, (size_t)op->y);
            else if (op->kind == 'G')
                err = smmap_cursor_use_range(c, op->x, (size_t)op->y,
                                             (size_t)op->z);
            else if (op->kind == 'A') {
                if (smmap_cursor_includes(c, op->x) && c->data != NULL &&
                    op->y <= c->size - (op->x - c->begin)) {
                    r->inline_hits++;
                    err = 0;
                }
                else
                    err = smmap_cursor_at(c, op->x, (size_t)op->y) == NULL
                              ? c->error
                              : 0;
            }
            else {
                int64_t got;
                if (op->y > bufcap) {
                    bufcap = (size_t)op->y;
                    buf = xrealloc(buf, bufcap);
                }
                got = smmap_read(c, op->x, buf, (size_t)op->y);
                err = got < 0 ? (int)got : 0;
            }
            if (err != 0)
                die("budget %s, op %zu ('%c' cursor %u offset %" PRIu64
                    "): %s",
                    b->name, i, op->kind, op->a, op->x, smmap_strerror(err));
            break;
        }
    }
    smmap_manager_stats(m, &r->st);
    for (i = 0; i < t->ncursors; i++)
        smmap_cursor_release(&cursors[i]);
    for (i = 0; i < t->nhandles; i++)
        smmap_file_close(handles[i]);
    smmap_manager_free(m);
    free(buf);
    free(handles);
    free(cursors);
    free(cursor_handle);
}

static void print_result(const char *name, const result *r, size_t nops)
{
    uint64_t total = r->st.reuses + r->st.maps;
    if (total == 0)
        die("budget %s: no reuse and no map: no hit rate", name);
    printf("budget=%s hit_rate=%.4f reuses=%" PRIu64 " maps=%" PRIu64
           " evictions=%" PRIu64 " unmaps=%" PRIu64 " inline_hits=%" PRIu64
           " ops=%zu\n",
           name, 100.0 * (double)r->st.reuses / (double)total, r->st.reuses,
           r->st.maps, r->st.evictions, r->st.unmaps, r->inline_hits, nops);
    fflush(stdout);
}

static uint64_t num_arg(const char *s, const char *what)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s)
        die("%s: bad number '%s'", what, s);
    return v;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: trace_replay [--all | --verify | --window B "
            "[--max-mapped B] [--max-regions N] [--max-open-files N]] "
            "[--dir DIR] TRACE|-\n");
    exit(2);
}

int main(int argc, char **argv)
{
    trace t;
    budget cli;
    int all = 0, verify = 0, has_cli = 0, i, status = 0;
    const char *path = NULL, *dir = NULL;
    char tmpl[4096];
    FILE *in;
    size_t k;

    memset(&cli, 0, sizeof(cli));
    strcpy(cli.name, "cli");
    smmap_options_init(&cli.o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--all") == 0)
            all = 1;
        else if (strcmp(a, "--verify") == 0)
            verify = 1;
        else if (i + 1 < argc && strcmp(a, "--window") == 0)
            cli.o.window_size = num_arg(argv[++i], a), has_cli = 1;
        else if (i + 1 < argc && strcmp(a, "--max-mapped") == 0)
            cli.o.max_mapped = num_arg(argv[++i], a), has_cli = 1;
        else if (i + 1 < argc && strcmp(a, "--max-regions") == 0)
            cli.o.max_regions = (uint32_t)num_arg(argv[++i], a), has_cli = 1;
        else if (i + 1 < argc && strcmp(a, "--max-open-files") == 0)
            cli.o.max_open_files = (uint32_t)num_arg(argv[++i], a),
            has_cli = 1;
        else if (i + 1 < argc && strcmp(a, "--dir") == 0)
            dir = argv[++i];
        else if (a[0] == '-' && a[1] != '\0')
            usage();
        else if (path == NULL)
            path = a;
        else
            usage();
    }
    if (path == NULL || all + verify + has_cli != 1)
        usage();
    in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (in == NULL)
        die("%s: %s", path, strerror(errno));
    parse(&t, in);
    if (in != stdin)
        fclose(in);
    if (t.nops == 0)
        die("%s: no operations", path);
    if (all && t.nbudgets == 0)
        die("%s: no '# replay' budget", path);
    if (verify && !(t.has_recorded && t.recorded.has_expect))
        die("%s: no '# recorded' line with counters", path);

    if (dir == NULL) {
        const char *tmp = getenv("TMPDIR");
        snprintf(tmpl, sizeof(tmpl), "%s/trace_replay.XXXXXX",
                 tmp != NULL && *tmp ? tmp : "/tmp");
        if (mkdtemp(tmpl) == NULL)
            die("mkdtemp %s: %s", tmpl, strerror(errno));
    }
    else {
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            die("%s: %s", dir, strerror(errno));
        snprintf(tmpl, sizeof(tmpl), "%s", dir);
    }
    make_files(&t, tmpl);

    if (has_cli || verify) {
        result r;
        const budget *b = has_cli ? &cli : &t.recorded;
        replay(&t, tmpl, b, &r);
        print_result(b->name, &r, t.nops);
        if (verify) {
            int same = r.st.maps == b->maps && r.st.reuses == b->reuses &&
                       r.st.evictions == b->evictions &&
                       r.st.unmaps == b->unmaps;
            printf("recorded: maps=%" PRIu64 " reuses=%" PRIu64
                   " evictions=%" PRIu64 " unmaps=%" PRIu64 ": %s\n",
                   b->maps, b->reuses, b->evictions, b->unmaps,
                   same ? "the same" : "DIFFERENT");
            status = same ? 0 : 1;
        }
    }
    else
        for (k = 0; k < t.nbudgets; k++) {
            result r;
            replay(&t, tmpl, &t.budgets[k], &r);
            print_result(t.budgets[k].name, &r, t.nops);
        }

    for (k = 0; k < t.nfiles; k++) {
        char *p = file_path(tmpl, (uint32_t)k);
        unlink(p);
        free(p);
    }
    if (dir == NULL)
        rmdir(tmpl);
    free(t.ops);
    free(t.file_size);
    free(t.budgets);
    return status;
}
