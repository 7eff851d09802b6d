/*
 * test_large_file.c - the reason smmap exists: a 6 GiB file read by a
 * process whose address space cannot map it whole.
 *
 * A sparse 6 GiB file holds known bytes past 4 GiB, past 5 GiB and at its
 * end, zeros elsewhere. In a 32-bit process the test shows that the file
 * cannot be mapped whole, that smmap's default (sliding) options read the
 * right bytes while staying inside the 32-bit budget, and that the static
 * mode refuses the file with a clean -ENOMEM. In a 64-bit process the same
 * tests run and assert what a 64-bit build must do instead (the whole-file
 * map works): every assertion is chosen per build, none is skipped.
 */
#include "test.h"
#include "os.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <winioctl.h>
#include <direct.h>
#include <fcntl.h>
#include <io.h>
#define rmdir _rmdir
#else
#include <fcntl.h>
#include <unistd.h>
#endif

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)

static const uint64_t file_size = 6 * GIB;
/* Runs of known bytes: past 4 GiB and 5 GiB at offsets no window boundary
 * or page would align with, and the last bytes of the file. */
static const uint64_t known_at[3] = {4 * GIB + 12345, 5 * GIB + 54321,
                                     6 * GIB - 4096};
#define KNOWN_LEN 4096u

static int is_32bit(void)
{
    return sizeof(void *) == 4;
}

/*
 * Create the sparse file with the platform's own calls: on Windows the file
 * must be marked sparse before it is extended, or NTFS writes 6 GiB of
 * zeros. Returns 0 or -1 (with a message).
 */
static int write_sparse(const char *path)
{
    unsigned char run[KNOWN_LEN];
    size_t i, k;
#ifdef _WIN32
    DWORD got;
    LARGE_INTEGER end;
    HANDLE h = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                           CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "CreateFile(%s): error %lu\n", path, GetLastError());
        return -1;
    }
    /* Not every file system supports sparse files (FAT does not); the file
     * is then simply written out. */
    (void)DeviceIoControl(h, FSCTL_SET_SPARSE, NULL, 0, NULL, 0, &got, NULL);
    end.QuadPart = (LONGLONG)file_size;
    if (!SetFilePointerEx(h, end, NULL, FILE_BEGIN) || !SetEndOfFile(h)) {
        fprintf(stderr, "SetEndOfFile: error %lu\n", GetLastError());
        CloseHandle(h);
        return -1;
    }
    for (k = 0; k < 3; k++) {
        OVERLAPPED at;
        for (i = 0; i < KNOWN_LEN; i++)
            run[i] = pattern_byte(known_at[k] + i);
        memset(&at, 0, sizeof(at));
        at.Offset = (DWORD)(known_at[k] & 0xFFFFFFFFu);
        at.OffsetHigh = (DWORD)(known_at[k] >> 32);
        if (!WriteFile(h, run, KNOWN_LEN, &got, &at) || got != KNOWN_LEN) {
            fprintf(stderr, "WriteFile: error %lu\n", GetLastError());
            CloseHandle(h);
            return -1;
        }
    }
    CloseHandle(h);
    return 0;
#else
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        return -1;
    }
    if (ftruncate(fd, (off_t)file_size) != 0) {
        perror("ftruncate");
        close(fd);
        return -1;
    }
    for (k = 0; k < 3; k++) {
        for (i = 0; i < KNOWN_LEN; i++)
            run[i] = pattern_byte(known_at[k] + i);
        if (pwrite(fd, run, KNOWN_LEN, (off_t)known_at[k]) != KNOWN_LEN) {
            perror("pwrite");
            close(fd);
            return -1;
        }
    }
    close(fd);
    return 0;
#endif
}

/* The byte the sparse file holds at off. */
static unsigned char expected_byte(uint64_t off)
{
    size_t k;
    for (k = 0; k < 3; k++)
        if (off >= known_at[k] && off - known_at[k] < KNOWN_LEN)
            return pattern_byte(off);
    return 0;
}

/* Made once in main() and shared by every test (see there). */
static char big_file[700];

static const char *big_path(void)
{
    return big_file;
}

/*
 * The operating system itself, through the library's OS table: in a 32-bit
 * process a 6 GiB length cannot even be passed to mmap (size_t), and the
 * largest length that can (4 GiB less one granule) is refused for want of
 * address space. In a 64-bit process the whole file maps.
 */
static void test_platform__whole_file_map_needs_64bit(void)
{
    smmap_os_fd fd = SMMAP_OS_NO_FD;
    smmap_os_stat st;
    uint64_t g = smmap__os.granularity();
    void *base = NULL;
    int err;

    REQUIRE_EQ(smmap__os.open_ro(big_path(), &fd), 0);
    REQUIRE_EQ(smmap__os.fstat(fd, &st), 0);
    CHECK_EQ(st.size, file_size);
    if (is_32bit()) {
        size_t largest = SIZE_MAX - (size_t)(g - 1);
        CHECK(file_size > (uint64_t)SIZE_MAX);
        err = smmap__os.map(fd, 0, largest, &base);
        printf("32-bit: a whole-file map of %llu bytes cannot be asked for "
               "(size_t holds at most %llu); mapping %llu bytes at 0 gives "
               "%d (%s)\n",
               (unsigned long long)file_size, (unsigned long long)SIZE_MAX,
               (unsigned long long)largest, err, smmap_strerror(err));
        CHECK_EQ(err, -ENOMEM);
        if (err == 0)
            (void)smmap__os.unmap(base, largest);
    } else {
        err = smmap__os.map(fd, 0, (size_t)file_size, &base);
        printf("64-bit: mapping the whole %llu-byte file gives %d\n",
               (unsigned long long)file_size, err);
        CHECK_EQ(err, 0);
        if (err == 0) {
            const unsigned char *p = base;
            CHECK_EQ(p[known_at[1]], pattern_byte(known_at[1]));
            CHECK_EQ(p[file_size - 1], pattern_byte(file_size - 1));
            CHECK_EQ(smmap__os.unmap(base, (size_t)file_size), 0);
        }
    }
    CHECK_EQ(smmap__os.close(fd), 0);
}

/* The defaults are the 32-bit ones in a 32-bit process (smmap.h). */
static void test_platform__defaults_follow_pointer_size(void)
{
    smmap_options o;
    smmap_options_init(&o);
    if (is_32bit()) {
        CHECK_EQ(o.window_size, 64 * MIB);
        CHECK_EQ(o.max_mapped, 1 * GIB);
    } else {
        CHECK_EQ(o.window_size, 1 * GIB);
        CHECK_EQ(o.max_mapped, 8 * GIB);
    }
}

/*
 * Default options: bytes past 4 GiB and 5 GiB and at the end read right
 * through smmap_read and smmap_cursor_at, and the windows that serve them
 * are default-sized windows, not the file.
 */
static void test_platform__sliding_reads_past_4gib(void)
{
    smmap_manager *m = NULL;
    smmap_file *f = NULL;
    smmap_cursor c;
    smmap_options o;
    smmap_stats s;
    unsigned char buf[KNOWN_LEN];
    const unsigned char *p;
    size_t k;

    smmap_options_init(&o);
    REQUIRE_EQ(smmap_manager_new(&m, NULL), 0);
    REQUIRE_EQ(smmap_file_open(m, big_path(), &f), 0);
    CHECK_EQ(smmap_file_size(f), file_size);
    smmap_cursor_init(&c, f);

    for (k = 0; k < 3; k++) {
        memset(buf, 0xEE, sizeof(buf));
        CHECK_EQ(smmap_read(&c, known_at[k], buf, KNOWN_LEN), KNOWN_LEN);
        CHECK(pattern_matches(buf, known_at[k], KNOWN_LEN));
        CHECK(c.size <= o.window_size);
        CHECK(c.begin <= known_at[k] && known_at[k] - c.begin < c.size);
        printf("read %u bytes at %llu: window [%llu, +%llu), first byte "
               "0x%02x (expected 0x%02x)\n",
               KNOWN_LEN, (unsigned long long)known_at[k],
               (unsigned long long)c.begin, (unsigned long long)c.size,
               buf[0], pattern_byte(known_at[k]));
    }
    /* The inline path, and a hole just before the 5 GiB run. */
    p = smmap_cursor_at(&c, known_at[1] + 100, 8);
    REQUIRE_EQ(p != NULL, 1);
    CHECK(pattern_matches(p, known_at[1] + 100, 8));
    p = smmap_cursor_at(&c, known_at[1] - 1, 1);
    REQUIRE_EQ(p != NULL, 1);
    CHECK_EQ(*p, 0);
    /* The last byte, and the first one past it. */
    CHECK_EQ(smmap_read(&c, file_size - 1, buf, 10), 1);
    CHECK_EQ(buf[0], pattern_byte(file_size - 1));
    CHECK_EQ(smmap_read(&c, file_size, buf, 10), 0);
    CHECK_EQ(smmap_cursor_use(&c, file_size, 1), -ERANGE);

    smmap_manager_stats(m, &s);
    CHECK(s.mapped_bytes <= o.max_mapped);
    CHECK(s.peak_mapped_bytes <= o.max_mapped);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/*
 * One byte every 64 MiB across the whole file with the default options: in
 * a 32-bit process that is six times the mapped-bytes budget, so windows
 * are evicted, and the budget holds at every moment (peak).
 */
/* One byte every 64 MiB of the 6 GiB file, then the known runs again,
 * through one cursor under the default options plus flags. */
static int sweep(uint32_t flags, smmap_options *o, smmap_stats *s)
{
    smmap_manager *m = NULL;
    smmap_file *f = NULL;
    smmap_cursor c;
    uint64_t off, reads = 0, wrong = 0;
    size_t k;

    smmap_options_init(o);
    o->flags |= flags;
    if (smmap_manager_new(&m, o) != 0 || smmap_file_open(m, big_path(), &f) != 0) {
        CHECK(!"manager or file");
        smmap_manager_free(m);
        return 0;
    }
    smmap_cursor_init(&c, f);
    for (off = 7; off < file_size; off += 64 * MIB) {
        const unsigned char *p = smmap_cursor_at(&c, off, 1);
        if (p == NULL || *p != expected_byte(off))
            wrong++;
        reads++;
    }
    /* And each known run once more, after all that eviction. */
    for (k = 0; k < 3; k++) {
        const unsigned char *p = smmap_cursor_at(&c, known_at[k], KNOWN_LEN);
        CHECK(p != NULL && pattern_matches(p, known_at[k], KNOWN_LEN));
    }
    smmap_manager_stats(m, s);
    printf("sweep%s: %llu reads, window %llu, budget %llu: maps %llu, unmaps "
           "%llu, evictions %llu, read windows %llu, regions %u, mapped %llu, "
           "peak mapped %llu\n", flags & SMMAP_ALWAYS_MAP ? " (always map)" : "",
           (unsigned long long)reads, (unsigned long long)o->window_size,
           (unsigned long long)o->max_mapped, (unsigned long long)s->maps,
           (unsigned long long)s->unmaps, (unsigned long long)s->evictions,
           (unsigned long long)s->read_windows, s->regions,
           (unsigned long long)s->mapped_bytes,
           (unsigned long long)s->peak_mapped_bytes);
    CHECK_EQ(reads, 96);
    CHECK_EQ(wrong, 0);
    CHECK(s->peak_mapped_bytes <= o->max_mapped);
    CHECK(s->mapped_bytes <= o->max_mapped);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
    return 1;
}

/* Default options: right bytes within the budget. In 32 bits each 64 MiB
 * window would serve one read, so the read policy serves most of these
 * misses with small read windows (pread) rather than map and evict 64 MiB
 * each time; in 64 bits 1 GiB windows under 8 GiB never evict. */
static void test_platform__sweep_stays_within_budget(void)
{
    smmap_options o;
    smmap_stats s;
    if (!sweep(0, &o, &s))
        return;
    CHECK_EQ(s.unmaps, s.evictions);
    if (is_32bit()) {
        /* 99 reads: each mapped or filled at most one window, and not
         * every one mapped (with SMMAP_ALWAYS_MAP all 98 misses map). */
        CHECK(s.read_windows > 0);
        CHECK(s.maps + s.read_windows <= 99);
        CHECK(s.maps < 96);
    } else {
        CHECK_EQ(s.evictions, 0);
        CHECK_EQ(s.read_windows, 0);
        CHECK_EQ(s.regions, 6);
        CHECK_EQ(s.peak_mapped_bytes, file_size);
    }
}

/* Every window mapped (SMMAP_ALWAYS_MAP): mapping and eviction under the
 * budget, counted exactly. */
static void test_platform__sweep_mapping_every_window(void)
{
    smmap_options o;
    smmap_stats s;
    if (!sweep(SMMAP_ALWAYS_MAP, &o, &s))
        return;
    CHECK_EQ(s.read_windows, 0);
    /* Nothing else unmaps here: every unmap was an eviction. */
    CHECK_EQ(s.unmaps, s.evictions);
    CHECK_EQ(s.maps - s.unmaps, s.regions);
    if (is_32bit()) {
        /* 6 GiB through a 1 GiB budget: at least 5 GiB were evicted. */
        CHECK(s.evictions * o.window_size >= 5 * GIB);
        CHECK(s.peak_mapped_bytes > o.max_mapped - o.window_size);
    } else {
        CHECK_EQ(s.evictions, 0);
        CHECK_EQ(s.regions, 6);
        CHECK_EQ(s.peak_mapped_bytes, file_size);
    }
}

/*
 * Static mode maps files whole. A 32-bit process gets a clean -ENOMEM, a
 * cursor left not valid and no budget kept; a 64-bit process gets the whole
 * file. A hard 1 GiB budget refuses the file on every build.
 */
static void test_platform__static_mode_whole_file(void)
{
    smmap_manager *m = NULL;
    smmap_file *f = NULL;
    smmap_cursor c;
    smmap_options o;
    smmap_stats s;
    unsigned char byte = 0xEE;
    int err;

    smmap_options_init(&o);
    o.window_size = 0;
    REQUIRE_EQ(smmap_manager_new(&m, &o), 0);
    REQUIRE_EQ(smmap_file_open(m, big_path(), &f), 0);
    smmap_cursor_init(&c, f);
    err = smmap_cursor_use(&c, known_at[1], 1);
    printf("static mode, %d-bit: smmap_cursor_use at %llu gives %d (%s)\n",
           (int)(sizeof(void *) * 8), (unsigned long long)known_at[1], err,
           smmap_strerror(err));
    smmap_manager_stats(m, &s);
    if (is_32bit()) {
        CHECK_EQ(err, -ENOMEM);
        CHECK_EQ(c.error, -ENOMEM);
        CHECK(c.data == NULL);
        CHECK_EQ(s.regions, 0);
        CHECK_EQ(s.mapped_bytes, 0);
        CHECK_EQ(s.maps, 0);
        CHECK_EQ(smmap_read(&c, known_at[1], &byte, 1), -ENOMEM);
    } else {
        CHECK_EQ(err, 0);
        CHECK_EQ(c.begin, 0);
        CHECK_EQ(c.size, file_size);
        CHECK_EQ(s.regions, 1);
        CHECK_EQ(s.mapped_bytes, file_size);
        if (err == 0)
            CHECK_EQ(c.data[known_at[1]], pattern_byte(known_at[1]));
        CHECK_EQ(smmap_read(&c, known_at[2], &byte, 1), 1);
        CHECK_EQ(byte, pattern_byte(known_at[2]));
    }
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);

    /* A hard budget smaller than the file: -ENOMEM everywhere. */
    smmap_options_init(&o);
    o.window_size = 0;
    o.max_mapped = 1 * GIB;
    o.flags = SMMAP_HARD_LIMITS;
    REQUIRE_EQ(smmap_manager_new(&m, &o), 0);
    REQUIRE_EQ(smmap_file_open(m, big_path(), &f), 0);
    smmap_cursor_init(&c, f);
    CHECK_EQ(smmap_cursor_use(&c, 0, 1), -ENOMEM);
    CHECK(c.data == NULL);
    smmap_manager_stats(m, &s);
    CHECK_EQ(s.regions, 0);
    CHECK_EQ(s.mapped_bytes, 0);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* The descriptor path has 64-bit sizes and offsets too (fstat through a
 * duplicated descriptor, or the HANDLE behind a C runtime descriptor). */
static void test_platform__open_fd_past_4gib(void)
{
    smmap_manager *m = NULL;
    smmap_file *f = NULL;
    smmap_cursor c;
    unsigned char buf[KNOWN_LEN];
    int fd;

#ifdef _WIN32
    fd = _open(big_path(), _O_RDONLY | _O_BINARY);
#else
    fd = open(big_path(), O_RDONLY);
#endif
    REQUIRE_EQ(fd >= 0, 1);
    REQUIRE_EQ(smmap_manager_new(&m, NULL), 0);
    CHECK_EQ(smmap_file_open_fd(m, fd, &f), 0);
#ifdef _WIN32
    CHECK_EQ(_close(fd), 0);
#else
    CHECK_EQ(close(fd), 0);
#endif
    if (f != NULL) {
        CHECK_EQ(smmap_file_size(f), file_size);
        smmap_cursor_init(&c, f);
        CHECK_EQ(smmap_read(&c, known_at[1], buf, KNOWN_LEN), KNOWN_LEN);
        CHECK(pattern_matches(buf, known_at[1], KNOWN_LEN));
        CHECK(c.size <= 1 * GIB);
        smmap_cursor_release(&c);
        smmap_file_close(f);
    }
    smmap_manager_free(m);
}

static const test_case tests[] = {
    TEST_ENTRY(test_platform__defaults_follow_pointer_size),
    TEST_ENTRY(test_platform__whole_file_map_needs_64bit),
    TEST_ENTRY(test_platform__sliding_reads_past_4gib),
    TEST_ENTRY(test_platform__sweep_stays_within_budget),
    TEST_ENTRY(test_platform__sweep_mapping_every_window),
    TEST_ENTRY(test_platform__static_mode_whole_file),
    TEST_ENTRY(test_platform__open_fd_past_4gib),
};

/*
 * The harness gives each test a fresh directory; the 6 GiB file is made once,
 * in a directory of its own that the harness forgets (its rmdir fails while
 * the file is there), shared by every test, and removed with its directory
 * at exit.
 */
int main(int argc, char **argv)
{
    char dir[700];
    int rc;
    test_current = "setup";
    snprintf(big_file, sizeof(big_file), "%s", fixture_path("six-gib.bin"));
    snprintf(dir, sizeof(dir), "%s", fixture_dir());
    if (write_sparse(big_file) != 0)
        return 2;
    rc = test_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
    if (remove(big_file) != 0 || rmdir(dir) != 0) {
        perror("cleanup");
        rc = 1;
    }
    return rc;
}
