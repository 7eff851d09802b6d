/*
 * fixture.c - the harness behind test.h: runs the tests of one file, each
 * in a fresh temporary directory of files with known contents, and cleans up.
 * Portable C (stdio) plus the few calls that create and remove directories.
 */
#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64
#include "test.h"
#include "os.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <direct.h>
#include <io.h>
#include <process.h>
#define fseek64 _fseeki64
#else
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#define fseek64 fseeko
#endif

int test_failures;
const char *test_current = "";

#define MAX_FILES 64
static char dir[512];
static char *created[MAX_FILES];
static size_t ncreated;

static void remember(const char *path)
{
    size_t i;
    for (i = 0; i < ncreated; i++)
        if (strcmp(created[i], path) == 0)
            return;
    if (ncreated < MAX_FILES) {
        created[ncreated] = malloc(strlen(path) + 1);
        strcpy(created[ncreated++], path);
    }
}

const char *fixture_dir(void)
{
    static unsigned serial;
    if (dir[0] != '\0')
        return dir;
#ifdef _WIN32
    {
        const char *base = getenv("TEMP") ? getenv("TEMP") : ".";
        do
            snprintf(dir, sizeof(dir), "%s\\smmap-test-%d-%u", base,
                     _getpid(), serial++);
        while (_mkdir(dir) != 0);
    }
#else
    {
        const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(dir, sizeof(dir), "%s/smmap-test-XXXXXX", base);
        if (mkdtemp(dir) == NULL) {
            perror("mkdtemp");
            exit(2);
        }
        (void)serial;
    }
#endif
    return dir;
}

const char *fixture_path(const char *name)
{
    static char ring[16][640];
    static unsigned next;
    char *p = ring[next++ % 16];
#ifdef _WIN32
    snprintf(p, 640, "%s\\%s", fixture_dir(), name);
#else
    snprintf(p, 640, "%s/%s", fixture_dir(), name);
#endif
    return p;
}

static FILE *create(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    remember(path);
    return f;
}

static void write_pattern(FILE *f, uint64_t off, uint64_t len)
{
    unsigned char buf[65536];
    while (len > 0) {
        size_t i, n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
        for (i = 0; i < n; i++)
            buf[i] = pattern_byte(off + i);
        if (fwrite(buf, 1, n, f) != n) {
            perror("fwrite");
            exit(2);
        }
        off += n;
        len -= n;
    }
}

const char *fixture_file(const char *name, uint64_t size)
{
    const char *path = fixture_path(name);
    FILE *f = create(path);
    write_pattern(f, 0, size);
    fclose(f);
    return path;
}

const char *fixture_sparse(const char *name, uint64_t size,
                           const uint64_t *offsets, size_t n, size_t len)
{
    const char *path = fixture_path(name);
    FILE *f = create(path);
    size_t i;
    for (i = 0; i < n; i++) {
        if (fseek64(f, (int64_t)offsets[i], SEEK_SET) != 0) {
            perror("fseek");
            exit(2);
        }
        write_pattern(f, offsets[i], len);
    }
    if (size > 0) {
        unsigned char last = 0;
        if (fseek64(f, (int64_t)(size - 1), SEEK_SET) != 0 ||
            fwrite(&last, 1, 1, f) != 1) {
            perror("extend");
            exit(2);
        }
    }
    fclose(f);
    return path;
}

void fixture_replace(const char *path, uint64_t size, unsigned char fill)
{
    char tmp[700];
    FILE *f;
    unsigned char buf[4096];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    f = create(tmp);
    memset(buf, fill, sizeof(buf));
    while (size > 0) {
        size_t n = size < sizeof(buf) ? (size_t)size : sizeof(buf);
        if (fwrite(buf, 1, n, f) != n)
            exit(2);
        size -= n;
    }
    fclose(f);
#ifdef _WIN32
    /* Windows neither unlinks nor renames over a file that is open (smmap
     * may hold it): move the old file aside (its sharing allows that), then
     * the new one in. The old name goes when its last handle does. */
    {
        char aside[720];
        snprintf(aside, sizeof(aside), "%s.replaced", path);
        if (!MoveFileExA(path, aside, MOVEFILE_REPLACE_EXISTING) ||
            !MoveFileA(tmp, path)) {
            fprintf(stderr, "replace %s: error %lu\n", path,
                    (unsigned long)GetLastError());
            exit(2);
        }
        remember(aside);
        (void)DeleteFileA(aside);
    }
#else
    if (rename(tmp, path) != 0) {
        perror("rename");
        exit(2);
    }
#endif
}

int pattern_matches(const unsigned char *buf, uint64_t off, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++)
        if (buf[i] != pattern_byte(off + i))
            return 0;
    return 1;
}

int fixture_read(const char *path, uint64_t off, void *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    if (f == NULL)
        return -1;
    if (fseek64(f, (int64_t)off, SEEK_SET) != 0) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, len, f);
    fclose(f);
    return (int)n;
}

uint64_t test_granularity(void)
{
    return smmap__os.granularity();
}

smmap_manager *test_manager(uint64_t window, uint64_t max_mapped,
                            uint32_t max_regions, uint32_t max_files,
                            uint32_t flags)
{
    smmap_options o;
    smmap_manager *m = NULL;
    int err;
    smmap_options_init(&o);
    o.window_size = window;
    o.max_mapped = max_mapped;
    o.max_regions = max_regions;
    o.max_open_files = max_files;
    o.flags = flags;
    err = smmap_manager_new(&m, &o);
    if (err != 0) {
        fprintf(stderr, "%s: smmap_manager_new: %s\n", test_current,
                smmap_strerror(err));
        exit(2);
    }
    return m;
}

void test_map_windows(smmap_file *f, unsigned n)
{
    uint64_t g = test_granularity();
    smmap_cursor c;
    unsigned k;
    smmap_cursor_init(&c, f);
    for (k = 0; k < n; k++)
        REQUIRE_EQ(smmap_cursor_at(&c, (uint64_t)k * g, 1) != NULL, 1);
    smmap_cursor_release(&c);
}

smmap_file *test_open(smmap_manager *m, const char *path)
{
    smmap_file *f = NULL;
    int err = smmap_file_open(m, path, &f);
    if (err != 0) {
        fprintf(stderr, "%s: smmap_file_open(%s): %s\n", test_current, path,
                smmap_strerror(err));
        exit(2);
    }
    return f;
}

smmap_stats test_stats(smmap_manager *m)
{
    smmap_stats s;
    smmap_manager_stats(m, &s);
    return s;
}

static void cleanup(void)
{
    size_t i;
    for (i = 0; i < ncreated; i++) {
        remove(created[i]);
        free(created[i]);
    }
    ncreated = 0;
    if (dir[0] != '\0') {
#ifdef _WIN32
        _rmdir(dir);
#else
        rmdir(dir);
#endif
        dir[0] = '\0';
    }
}

int test_run(const test_case *tests, size_t count, int argc, char **argv)
{
    size_t i, passed = 0, failed = 0;
    for (i = 0; i < count; i++) {
        int before = test_failures;
        if (argc > 1 && strstr(tests[i].name, argv[1]) == NULL)
            continue;
        test_current = tests[i].name;
        tests[i].fn();
        cleanup();
        if (test_failures == before) {
            passed++;
        } else {
            failed++;
            fprintf(stderr, "FAIL %s\n", tests[i].name);
        }
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

/* The system limits, read here without the OS layer where the platform
 * allows, so that a test of the library's defaults (and of the OS layer's
 * own readers) does not check a function against itself. */
uint64_t test_system_max_map_count(void)
{
#ifdef __linux__
    unsigned long long count = 0;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu", &count) != 1)
        count = 0;
    fclose(f);
    return count;
#else
    return smmap__os_default.max_map_count();
#endif
}

uint64_t test_system_max_open_files(void)
{
#ifndef _WIN32
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    return (uint64_t)rl.rlim_cur;
#else
    return smmap__os_default.max_open_files();
#endif
}
