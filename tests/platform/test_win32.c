/*
 * test_win32.c - what only Windows has: UTF-8 paths converted to wide
 * strings, case-insensitive names and hard links as one identity (volume
 * serial and file index), sharing violations, C runtime descriptors behind
 * smmap_file_open_fd, the errno values Windows errors become, empty files,
 * ReadFile at an offset, files that cannot shrink while mapped, the guard
 * that turns a fault in smmap_read's copy into -EIO, and the SRWLOCK behind
 * smmap_mutex.
 *
 * Built only on Windows (tests/platform/CMakeLists.txt); the behaviours
 * every platform shares are tested in the other files of this folder.
 */
#include "test.h"
#include "os.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <fcntl.h>
#include <io.h>
#include <wchar.h>

/* Not <sys/stat.h> for READ_WRITE_MODE: mingw's defines a macro fstat
 * (_fstat64), which would rename the OS table's fstat entry in this file. */
#define READ_WRITE_MODE 0600

#define G 65536ull

/* "δοκιμή-файл.bin" in UTF-8, and the same name as UTF-16. */
static const char utf8_name[] =
    "\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae-"
    "\xd1\x84\xd0\xb0\xd0\xb9\xd0\xbb.bin";
static const wchar_t wide_name[] = L"\x03b4\x03bf\x03ba\x03b9\x03bc\x03ae-"
                                   L"\x0444\x0430\x0439\x043b.bin";

static void wide_path(wchar_t *out, size_t cap, const wchar_t *name)
{
    wchar_t dir[512];
    MultiByteToWideChar(CP_UTF8, 0, fixture_dir(), -1, dir, 512);
    swprintf(out, cap, L"%ls\\%ls", dir, name);
}

static void test_platform__utf8_path_opens_wide_name(void)
{
    wchar_t wpath[700];
    char path[700];
    unsigned char buf[64];
    FILE *out;
    smmap_manager *m;
    smmap_file *f = NULL;
    smmap_cursor c;
    size_t i;

    wide_path(wpath, 700, wide_name);
    out = _wfopen(wpath, L"wb");
    REQUIRE_EQ(out != NULL, 1);
    for (i = 0; i < 200000; i++)
        fputc(pattern_byte(i), out);
    fclose(out);
    snprintf(path, sizeof(path), "%s\\%s", fixture_dir(), utf8_name);

    m = test_manager(G, 16 * G, 100, 8, 0);
    CHECK_EQ(smmap_file_open(m, path, &f), 0);
    if (f != NULL) {
        CHECK_EQ(smmap_file_size(f), 200000);
        smmap_cursor_init(&c, f);
        CHECK_EQ(smmap_read(&c, 150000, buf, sizeof(buf)), sizeof(buf));
        CHECK(pattern_matches(buf, 150000, sizeof(buf)));
        smmap_cursor_release(&c);
        /* release_path compares the UTF-8 bytes the caller gave. */
        CHECK_EQ(smmap_manager_release_path(m, path), 0);
        CHECK_EQ(test_stats(m).open_fds, 0);
        smmap_file_close(f);
    }
    smmap_manager_free(m);
    CHECK_EQ(_wremove(wpath), 0);
}

/* Bytes that are not UTF-8 name no file: refused, not guessed at. */
static void test_platform__invalid_utf8_is_einval(void)
{
    char path[700];
    smmap_manager *m = test_manager(G, 16 * G, 100, 8, 0);
    smmap_file *f = (smmap_file *)&f;
    snprintf(path, sizeof(path), "%s\\bad-\xff\xfe.bin", fixture_dir());
    CHECK_EQ(smmap_file_open(m, path, &f), -EINVAL);
    CHECK(f == NULL);
    smmap_manager_free(m);
}

/* Upper case, forward slashes, a hard link: one file, one entry. */
static void test_platform__spellings_share_identity(void)
{
    const char *path = fixture_file("pack.idx", 100000);
    char upper[700], slashes[700];
    const char *link = fixture_path("link.idx");
    smmap_manager *m = test_manager(G, 16 * G, 100, 8, 0);
    smmap_file *f[4] = {NULL, NULL, NULL, NULL};
    smmap_os_fd fd;
    smmap_os_stat st;
    size_t i;

    snprintf(upper, sizeof(upper), "%s\\PACK.IDX", fixture_dir());
    snprintf(slashes, sizeof(slashes), "%s/pack.idx", fixture_dir());
    REQUIRE_EQ(CreateHardLinkA(link, path, NULL) != 0, 1);

    CHECK_EQ(smmap_file_open(m, path, &f[0]), 0);
    CHECK_EQ(smmap_file_open(m, upper, &f[1]), 0);
    CHECK_EQ(smmap_file_open(m, slashes, &f[2]), 0);
    CHECK_EQ(smmap_file_open(m, link, &f[3]), 0);
    CHECK_EQ(test_stats(m).files, 1);
    CHECK_EQ(test_stats(m).open_fds, 1);

    REQUIRE_EQ(smmap__os.open_ro(path, &fd), 0);
    CHECK_EQ(smmap__os.fstat(fd, &st), 0);
    CHECK_EQ(st.kind, SMMAP_OS_REGULAR);
    CHECK_EQ(st.size, 100000);
    CHECK(st.ino != 0);
    /* Written within the last day, in nanoseconds since 1970. */
    CHECK(st.mtime_ns > (int64_t)1600000000 * 1000000000);
    CHECK_EQ(smmap__os.close(fd), 0);

    for (i = 0; i < 4; i++)
        smmap_file_close(f[i]);
    smmap_manager_free(m);
    CHECK_EQ(DeleteFileA(link) != 0, 1);
}

static void test_platform__open_errors_map_to_errno(void)
{
    smmap_manager *m = test_manager(G, 16 * G, 100, 8, 0);
    const char *path = fixture_file("locked.bin", 1000);
    char missing_dir[700];
    smmap_file *f = NULL;
    HANDLE exclusive;

    CHECK_EQ(smmap_file_open(m, fixture_path("missing.bin"), &f), -ENOENT);
    snprintf(missing_dir, sizeof(missing_dir), "%s\\no-such-dir\\x.bin",
             fixture_dir());
    CHECK_EQ(smmap_file_open(m, missing_dir, &f), -ENOENT);
    CHECK_EQ(smmap_file_open(m, fixture_dir(), &f), -EISDIR);

    /* Another opener that shares nothing: a sharing violation is -EACCES. */
    exclusive = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                            OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    REQUIRE_EQ(exclusive != INVALID_HANDLE_VALUE, 1);
    CHECK_EQ(smmap_file_open(m, path, &f), -EACCES);
    CloseHandle(exclusive);
    CHECK_EQ(smmap_file_open(m, path, &f), 0);
    smmap_file_close(f);

    CHECK_EQ(test_stats(m).files, 0);
    smmap_manager_free(m);
}

/* A C runtime descriptor: its HANDLE is duplicated, so the caller may close
 * it at once; a write-only one opens but cannot be mapped (as on POSIX). */
static void test_platform__crt_descriptor(void)
{
    const char *path = fixture_file("fd.bin", 200000);
    const char *wo_path = fixture_path("write-only.bin");
    smmap_manager *m = test_manager(G, 16 * G, 100, 8, 0);
    smmap_file *f = NULL;
    smmap_cursor c;
    int fd;

    fd = _open(path, _O_RDONLY | _O_BINARY);
    REQUIRE_EQ(fd >= 0, 1);
    CHECK_EQ(smmap_file_open_fd(m, fd, &f), 0);
    CHECK_EQ(_close(fd), 0);
    REQUIRE_EQ(f != NULL, 1);
    CHECK_EQ(smmap_file_size(f), 200000);
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&c, 2 * G + 5, 10), 0);
    CHECK_EQ(c.begin % G, 0);
    CHECK(pattern_matches(c.data + (2 * G + 5 - c.begin), 2 * G + 5, 10));
    smmap_cursor_release(&c);
    smmap_file_close(f);

    CHECK_EQ(smmap_file_open_fd(m, 9999, &f), -EBADF);
    CHECK_EQ(smmap_file_open_fd(m, -1, &f), -EBADF);

    fd = _open(wo_path, _O_CREAT | _O_WRONLY | _O_BINARY, READ_WRITE_MODE);
    REQUIRE_EQ(fd >= 0, 1);
    CHECK_EQ(_write(fd, "hello", 5), 5);
    CHECK_EQ(smmap_file_open_fd(m, fd, &f), 0);
    CHECK_EQ(_close(fd), 0);
    if (f != NULL) {
        CHECK_EQ(smmap_file_size(f), 5);
        smmap_cursor_init(&c, f);
        CHECK_EQ(smmap_cursor_use(&c, 0, 5), -EACCES);
        smmap_file_close(f);
    }
    CHECK_EQ(test_stats(m).regions, 0);
    smmap_manager_free(m);
    CHECK_EQ(remove(wo_path), 0);
}

/* An empty file opens with size 0 and is never mapped; the OS layer itself
 * refuses a view of it (CreateFileMapping cannot map 0 bytes). */
static void test_platform__empty_file_never_mapped(void)
{
    const char *path = fixture_file("empty.bin", 0);
    smmap_manager *m = test_manager(G, 16 * G, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    smmap_os_fd fd;
    void *base = NULL;
    unsigned char byte;

    CHECK_EQ(smmap_file_size(f), 0);
    smmap_cursor_init(&c, f);
    CHECK_EQ(smmap_cursor_use(&c, 0, 0), -ERANGE);
    CHECK_EQ(smmap_read(&c, 0, &byte, 1), 0);
    CHECK_EQ(test_stats(m).maps, 0);
    smmap_file_close(f);
    smmap_manager_free(m);

    REQUIRE_EQ(smmap__os.open_ro(path, &fd), 0);
    CHECK_EQ(smmap__os.map(fd, 0, 4096, &base), -EINVAL);
    CHECK_EQ(smmap__os.map(fd, 0, 0, &base), -EINVAL);
    CHECK_EQ(smmap__os.close(fd), 0);
}

/* pread is ReadFile at an OVERLAPPED offset: exact bytes, 0 at the end. */
static void test_platform__pread_at_offset(void)
{
    const char *path = fixture_file("pread.bin", 5 * G + 3);
    unsigned char buf[100];
    smmap_os_fd fd;

    REQUIRE_EQ(smmap__os.open_ro(path, &fd), 0);
    CHECK_EQ(smmap__os.pread(fd, buf, 100, 4 * G + 17), 100);
    CHECK(pattern_matches(buf, 4 * G + 17, 100));
    CHECK_EQ(smmap__os.pread(fd, buf, 100, 5 * G), 3);
    CHECK(pattern_matches(buf, 5 * G, 3));
    CHECK_EQ(smmap__os.pread(fd, buf, 100, 5 * G + 3), 0);
    CHECK_EQ(smmap__os.pread(fd, buf, 100, 100 * G), 0);
    CHECK_EQ(smmap__os.close(fd), 0);
}

/*
 * What smmap.h promises Windows users instead of SIGBUS: while a view of a
 * file is mapped (held by a cursor, or only cached), another writer cannot
 * shrink it (ERROR_USER_MAPPED_FILE), so mapped bytes never vanish. After
 * release_path the truncation goes through, and the handle then refuses new
 * windows (-ESTALE: the file shrank) instead of reading past the new end.
 */
static void test_platform__truncate_refused_while_mapped(void)
{
    const char *path = fixture_file("shrink.bin", 300000);
    smmap_manager *m = test_manager(G, 16 * G, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    unsigned char buf[16];
    HANDLE writer;
    LARGE_INTEGER at;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&c, 200000, 16), 0);
    writer = CreateFileA(path, GENERIC_WRITE,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    REQUIRE_EQ(writer != INVALID_HANDLE_VALUE, 1);
    at.QuadPart = 1000;
    CHECK_EQ(SetFilePointerEx(writer, at, NULL, FILE_BEGIN) != 0, 1);

    /* Pinned. */
    CHECK_EQ(SetEndOfFile(writer), 0);
    CHECK_EQ(GetLastError(), ERROR_USER_MAPPED_FILE);
    CHECK(pattern_matches(c.data + (200000 - c.begin), 200000, 16));
    /* Released but cached: still mapped, still refused. */
    smmap_cursor_release(&c);
    CHECK_EQ(test_stats(m).regions, 1);
    CHECK_EQ(SetEndOfFile(writer), 0);
    CHECK_EQ(GetLastError(), ERROR_USER_MAPPED_FILE);
    CHECK_EQ(smmap_read(&c, 200000, buf, sizeof(buf)), sizeof(buf));
    CHECK(pattern_matches(buf, 200000, sizeof(buf)));
    smmap_cursor_release(&c);

    /* Let go: the file shrinks, and the handle says so. */
    CHECK_EQ(smmap_manager_release_path(m, path), 0);
    CHECK_EQ(SetEndOfFile(writer), 1);
    CloseHandle(writer);
    CHECK_EQ(smmap_cursor_use(&c, 0, 16), -ESTALE);
    CHECK_EQ(test_stats(m).regions, 0);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/*
 * The guard of smmap_read's copies (see os_win32.c): a fault loading from
 * the source of a guarded copy is -EIO, on every copy path (2, 4, 8, 16 and
 * 64 bytes wide, the 64-byte loop, rep movsb, a copy straddling into the
 * bad page); good memory copies exactly; and a fault outside a guarded copy
 * still reaches the application's own handler, once.
 */
static volatile LONG app_handler_calls;
static unsigned char *noaccess_page;

static LONG CALLBACK app_handler(EXCEPTION_POINTERS *ep)
{
    const unsigned char *a =
        (const unsigned char *)ep->ExceptionRecord->ExceptionInformation[1];
    DWORD old;
    if (ep->ExceptionRecord->ExceptionCode == EXCEPTION_ACCESS_VIOLATION &&
        a >= noaccess_page && a < noaccess_page + 4096) {
        InterlockedIncrement(&app_handler_calls);
        VirtualProtect(noaccess_page, 4096, PAGE_READONLY, &old);
        return EXCEPTION_CONTINUE_EXECUTION;
    }
    return EXCEPTION_CONTINUE_SEARCH;
}

static void test_platform__guarded_copy_turns_faults_into_eio(void)
{
    static const size_t sizes[] = {1,  3,  7,  8,  15, 16,  17,   24,  32,
                                   33, 48, 63, 64, 65, 100, 4096, 5000};
    unsigned char *mem, dst[3 * 4096];
    size_t i;
    DWORD old;
    PVOID app;
    volatile unsigned char touched;

    mem = VirtualAlloc(NULL, 3 * 4096, MEM_COMMIT | MEM_RESERVE,
                       PAGE_READWRITE);
    REQUIRE_EQ(mem != NULL, 1);
    for (i = 0; i < 2 * 4096; i++)
        mem[i] = pattern_byte(i);
    REQUIRE_EQ(VirtualProtect(mem + 2 * 4096, 4096, PAGE_NOACCESS, &old), 1);
    smmap__os.guard_install();

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(dst, 0xEE, sizeof(dst));
        CHECK_EQ(smmap__os.guarded_copy(dst, mem + 5, sizes[i]),
                 (int64_t)sizes[i]);
        CHECK(pattern_matches(dst, 5, sizes[i]));
        CHECK_EQ(dst[sizes[i]], 0xEE);
        /* Wholly in the bad page, and straddling into it. */
        CHECK_EQ(smmap__os.guarded_copy(dst, mem + 2 * 4096, sizes[i]),
                 -EIO);
        if (sizes[i] > 1)
            CHECK_EQ(smmap__os.guarded_copy(dst, mem + 2 * 4096 - 1,
                                            sizes[i]),
                     -EIO);
    }
    /* rep movsb over 8 KiB of good memory ending in the bad page. */
    CHECK_EQ(smmap__os.guarded_copy(dst, mem + 100, 2 * 4096), -EIO);

    /* Not a guarded copy: the application's handler gets it. */
    noaccess_page = mem + 2 * 4096;
    app = AddVectoredExceptionHandler(0, app_handler);
    REQUIRE_EQ(app != NULL, 1);
    touched = noaccess_page[10];
    (void)touched;
    CHECK_EQ(app_handler_calls, 1);
    RemoveVectoredExceptionHandler(app);

    /* The record of a fault that is not in a copy is not ours either. */
    CHECK_EQ(smmap_handle_fault(0, NULL, NULL), 0);
    VirtualFree(mem, 0, MEM_RELEASE);
}

/* Wine's kernel32 export: the Unix name of a path, on the process heap. */
typedef char *(CDECL *unix_name_fn)(LPCWSTR);

/*
 * A mapped file shrunk behind the cursor's back. Windows refuses the
 * truncation (ERROR_USER_MAPPED_FILE) and the bytes stay readable. Under
 * Wine a Unix process can still truncate it: the next smmap_read of the lost
 * page returns -EIO instead of crashing, counts a fault, and the file gives
 * no new windows (-ESTALE).
 */
static void test_platform__read_after_truncation_behind_windows(void)
{
    const char *path = fixture_file("behind.bin", 300000);
    smmap_manager *m = test_manager(4 * G, 16 * G, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    unsigned char buf[16];
    HMODULE kernel32 = GetModuleHandleA("kernel32.dll");
    unix_name_fn unix_name =
        (unix_name_fn)(void (*)(void))GetProcAddress(kernel32,
                                                     "wine_get_unix_file_name");

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_read(&c, 10, buf, sizeof(buf)), sizeof(buf));
    REQUIRE_EQ(c.begin, 0);
    REQUIRE_EQ(c.size, 4 * G); /* bytes [0, 262144): 200000 is inside */
    if (unix_name == NULL) {
        /* Windows: the file cannot shrink under the view. */
        HANDLE w = CreateFileA(path, GENERIC_WRITE, FILE_SHARE_READ |
                               FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                               OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
        LARGE_INTEGER at;
        REQUIRE_EQ(w != INVALID_HANDLE_VALUE, 1);
        at.QuadPart = 1000;
        SetFilePointerEx(w, at, NULL, FILE_BEGIN);
        CHECK_EQ(SetEndOfFile(w), 0);
        CHECK_EQ(GetLastError(), ERROR_USER_MAPPED_FILE);
        CloseHandle(w);
        CHECK_EQ(smmap_read(&c, 200000, buf, sizeof(buf)), sizeof(buf));
        CHECK(pattern_matches(buf, 200000, sizeof(buf)));
    } else {
        /* Wine: truncate(1) on the Unix file, behind Windows' back. */
        wchar_t wpath[700];
        char *unix_path, cmd[1200];
        STARTUPINFOA si;
        PROCESS_INFORMATION pi;
        int tries;
        smmap_stats s;

        MultiByteToWideChar(CP_UTF8, 0, path, -1, wpath, 700);
        unix_path = unix_name(wpath);
        REQUIRE_EQ(unix_path != NULL, 1);
        snprintf(cmd, sizeof(cmd), "/usr/bin/truncate -s 1000 %s", unix_path);
        HeapFree(GetProcessHeap(), 0, unix_path);
        memset(&si, 0, sizeof(si));
        si.cb = sizeof(si);
        REQUIRE_EQ(CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL,
                                  &si, &pi) != 0,
                   1);
        /* Wine gives no waitable handle for a Unix program: wait for the
         * size to change instead (30 s at most). */
        for (tries = 0; tries < 3000; tries++) {
            WIN32_FILE_ATTRIBUTE_DATA attr;
            if (GetFileAttributesExA(path, GetFileExInfoStandard, &attr) &&
                attr.nFileSizeHigh == 0 && attr.nFileSizeLow == 1000)
                break;
            Sleep(10);
        }
        REQUIRE_EQ(tries < 3000, 1);

        CHECK_EQ(smmap_read(&c, 200000, buf, sizeof(buf)), -EIO);
        CHECK_EQ(c.error, -EIO);
        s = test_stats(m);
        CHECK_EQ(s.faults, 1);
        /* Bytes before the new end are still there; past it, reads are
         * refused (the fault told the end), and the handle, larger than
         * the file now, gets no new window. */
        CHECK_EQ(smmap_read(&c, 10, buf, sizeof(buf)), sizeof(buf));
        CHECK(pattern_matches(buf, 10, sizeof(buf)));
        CHECK_EQ(smmap_read(&c, 290000, buf, sizeof(buf)), -EIO);
        CHECK_EQ(smmap_cursor_use(&c, 500, 10), 0);
        CHECK_EQ(smmap_cursor_use(&c, 290000, 10), -ESTALE);
    }
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* The SRWLOCK behind smmap_mutex excludes: two threads, no lost update. */
static smmap_mutex counter_lock;
static volatile long counter;

static DWORD WINAPI add_many(LPVOID arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 200000; i++) {
        smmap__mutex_lock(&counter_lock);
        counter = counter + 1;
        smmap__mutex_unlock(&counter_lock);
    }
    return 0;
}

static void test_platform__srwlock_mutex(void)
{
    HANDLE t[2];
    int i;
    REQUIRE_EQ(smmap__mutex_init(&counter_lock), 0);
    counter = 0;
    for (i = 0; i < 2; i++) {
        t[i] = CreateThread(NULL, 0, add_many, NULL, 0, NULL);
        REQUIRE_EQ(t[i] != NULL, 1);
    }
    WaitForMultipleObjects(2, t, TRUE, INFINITE);
    for (i = 0; i < 2; i++)
        CloseHandle(t[i]);
    CHECK_EQ(counter, 400000);
    smmap__mutex_destroy(&counter_lock);
}

static const test_case tests[] = {
    TEST_ENTRY(test_platform__utf8_path_opens_wide_name),
    TEST_ENTRY(test_platform__invalid_utf8_is_einval),
    TEST_ENTRY(test_platform__spellings_share_identity),
    TEST_ENTRY(test_platform__open_errors_map_to_errno),
    TEST_ENTRY(test_platform__crt_descriptor),
    TEST_ENTRY(test_platform__empty_file_never_mapped),
    TEST_ENTRY(test_platform__pread_at_offset),
    TEST_ENTRY(test_platform__truncate_refused_while_mapped),
    TEST_ENTRY(test_platform__guarded_copy_turns_faults_into_eio),
    TEST_ENTRY(test_platform__read_after_truncation_behind_windows),
    TEST_ENTRY(test_platform__srwlock_mutex),
};

TEST_MAIN(tests)
