/*
 * test_delete_rename.c - the Windows problem GitPython, JGit and libgit2
 * users report: a pack file that the reader has mapped cannot be deleted
 * (git gc, repack) until the reader lets go. smmap opens files with full
 * sharing (FILE_SHARE_DELETE), so an open descriptor never blocks a delete
 * or a rename; a mapped view can, and smmap_manager_release_path() is how a
 * caller lets go of the views and descriptors of files under a path.
 *
 * Every test runs on every platform. What the platforms do differently
 * while a view is mapped is asserted per platform:
 *   - POSIX: unlink succeeds at once and the mapped bytes stay readable;
 *   - Windows: DeleteFile of a file with a mapped view fails with
 *     ERROR_ACCESS_DENIED;
 *   - Wine (the Windows suite's runner): DeleteFile succeeds but is deferred
 *     until the view is unmapped, so the name stays until release_path.
 */
#include "test.h"
#include "os.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <sys/stat.h>
#endif

enum platform { ON_POSIX, ON_WINDOWS, ON_WINE };

static enum platform platform(void)
{
#ifdef _WIN32
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    /* Wine's ntdll exports its version; Windows' does not. */
    if (ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL)
        return ON_WINE;
    return ON_WINDOWS;
#else
    return ON_POSIX;
#endif
}

static int exists(const char *path)
{
#ifdef _WIN32
    return GetFileAttributesA(path) != INVALID_FILE_ATTRIBUTES;
#else
    struct stat st;
    return stat(path, &st) == 0;
#endif
}

/* Delete a file; returns 0 or the platform's error code (GetLastError on
 * Windows, errno on POSIX). */
static long delete_file(const char *path)
{
#ifdef _WIN32
    return DeleteFileA(path) ? 0 : (long)GetLastError();
#else
    return remove(path) == 0 ? 0 : (long)errno;
#endif
}

static long rename_file(const char *from, const char *to)
{
#ifdef _WIN32
    return MoveFileA(from, to) ? 0 : (long)GetLastError();
#else
    return rename(from, to) == 0 ? 0 : (long)errno;
#endif
}

/* A directory prefix that matches the fixture's files. */
static const char *dir_prefix(void)
{
    return fixture_dir();
}

/*
 * A window was used and released (still cached, descriptor open):
 * release_path unmaps and closes, then the file deletes on every platform,
 * and the handle reports -ESTALE instead of reading another file.
 */
static void test_platform__release_path_then_delete(void)
{
    const char *path = fixture_file("pack-1.pack", 300000);
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    smmap_stats s;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&c, 100000, 10), 0);
    CHECK(pattern_matches(c.data + (100000 - c.begin), 100000, 10));
    smmap_cursor_release(&c);
    s = test_stats(m);
    CHECK_EQ(s.regions, 1);
    CHECK_EQ(s.open_fds, 1);

    CHECK_EQ(smmap_manager_release_path(m, dir_prefix()), 0);
    s = test_stats(m);
    CHECK_EQ(s.regions, 0);
    CHECK_EQ(s.mapped_bytes, 0);
    CHECK_EQ(s.open_fds, 0);
    CHECK_EQ(s.files, 1);

    CHECK_EQ(delete_file(path), 0);
    CHECK_EQ(exists(path), 0);
    /* The handle outlives its file: a new window cannot be had. */
    CHECK_EQ(smmap_cursor_use(&c, 0, 10), -ESTALE);
    CHECK(c.data == NULL);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/*
 * After release_path the file renames; the handle cannot find it under its
 * old name (-ESTALE), and once it is back under that name the same file
 * (same identity) is read again.
 */
static void test_platform__release_path_then_rename(void)
{
    const char *path = fixture_file("pack-2.pack", 300000);
    const char *moved = fixture_path("pack-2.old");
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    smmap_stats s;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&c, 0, 10), 0);
    smmap_cursor_release(&c);
    CHECK_EQ(smmap_manager_release_path(m, path), 0);

    CHECK_EQ(rename_file(path, moved), 0);
    CHECK_EQ(exists(path), 0);
    CHECK_EQ(exists(moved), 1);
    CHECK_EQ(smmap_cursor_use(&c, 0, 10), -ESTALE);

    CHECK_EQ(rename_file(moved, path), 0);
    REQUIRE_EQ(smmap_cursor_use(&c, 200000, 10), 0);
    CHECK(pattern_matches(c.data + (200000 - c.begin), 200000, 10));
    s = test_stats(m);
    CHECK_EQ(s.fd_reopens, 1);
    CHECK_EQ(s.open_fds, 1);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/*
 * While a cursor pins a region, release_path is -EBUSY and touches nothing
 * (the other file under the prefix keeps its region too). Deleting the file
 * meanwhile does what the platform does (see the top of this file); after
 * the cursor lets go and release_path succeeds, the name is gone everywhere.
 */
static void test_platform__pinned_region_blocks_release(void)
{
    const char *path = fixture_file("pack-3.pack", 300000);
    const char *other = fixture_file("pack-4.pack", 300000);
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 8, 0);
    smmap_file *f = test_open(m, path), *g = test_open(m, other);
    smmap_cursor c, d;
    smmap_stats s;
    long err;

    smmap_cursor_init(&c, f);
    smmap_cursor_init(&d, g);
    REQUIRE_EQ(smmap_cursor_use(&c, 150000, 16), 0);
    REQUIRE_EQ(smmap_cursor_use(&d, 0, 16), 0);
    smmap_cursor_release(&d);

    CHECK_EQ(smmap_manager_release_path(m, dir_prefix()), -EBUSY);
    CHECK_EQ(smmap_manager_release_path(m, path), -EBUSY);
    s = test_stats(m);
    CHECK_EQ(s.regions, 2);
    CHECK_EQ(s.open_fds, 2);
    CHECK_EQ(s.unmaps, 0);

    err = delete_file(path);
    switch (platform()) {
    case ON_POSIX:
        CHECK_EQ(err, 0);
        CHECK_EQ(exists(path), 0);
        break;
    case ON_WINE:
        CHECK_EQ(err, 0);
        CHECK_EQ(exists(path), 1); /* deferred until the view goes */
        break;
    case ON_WINDOWS:
#ifdef _WIN32
        CHECK_EQ(err, ERROR_ACCESS_DENIED);
#endif
        CHECK_EQ(exists(path), 1);
        break;
    }
    /* Whatever the name did, the pinned bytes are the file's. */
    CHECK(pattern_matches(c.data + (150000 - c.begin), 150000, 16));

    smmap_cursor_release(&c);
    CHECK_EQ(smmap_manager_release_path(m, dir_prefix()), 0);
    s = test_stats(m);
    CHECK_EQ(s.regions, 0);
    CHECK_EQ(s.open_fds, 0);
    if (platform() == ON_WINDOWS)
        CHECK_EQ(delete_file(path), 0);
    CHECK_EQ(exists(path), 0);

    smmap_file_close(f);
    smmap_file_close(g);
    smmap_manager_free(m);
}

/*
 * Full sharing: with smmap holding the file open (descriptor, no view), the
 * file deletes and renames without any release, on every platform. The
 * open descriptor keeps the old file: a window still reads its bytes (its
 * identity is checked before each new window, and stays the same through
 * the rename: under Wine too, see win32_file in os_win32.c).
 */
static void test_platform__open_descriptor_never_blocks(void)
{
    const char *path = fixture_file("pack-5.pack", 300000);
    const char *moved = fixture_path("pack-5.moved");
    smmap_manager *m = test_manager(65536, 1 << 24, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    smmap_stats s;

    s = test_stats(m);
    CHECK_EQ(s.open_fds, 1);
    CHECK_EQ(s.regions, 0);
    CHECK_EQ(rename_file(path, moved), 0);
    CHECK_EQ(exists(path), 0);
    CHECK_EQ(delete_file(moved), 0);

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&c, 250000, 16), 0);
    CHECK(pattern_matches(c.data + (250000 - c.begin), 250000, 16));
    smmap_cursor_release(&c);
    /* The handle was opened by path: release_path matches the old name. */
    CHECK_EQ(smmap_manager_release_path(m, path), 0);
    CHECK_EQ(exists(moved), 0);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static const test_case tests[] = {
    TEST_ENTRY(test_platform__release_path_then_delete),
    TEST_ENTRY(test_platform__release_path_then_rename),
    TEST_ENTRY(test_platform__pinned_region_blocks_release),
    TEST_ENTRY(test_platform__open_descriptor_never_blocks),
};

TEST_MAIN(tests)
