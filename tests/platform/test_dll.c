/*
 * test_dll.c - the library as a Windows DLL (libsmmap.dll through its import
 * library, the way a consumer links smmap::smmap): the public functions are
 * exported and work through dllimport, the inline hit path calls into the
 * DLL when it misses, and nothing internal (smmap__*) is exported.
 *
 * Built only on Windows, against smmap_shared alone, so it has its own
 * small checks instead of the harness (which links the static library).
 */
#include "smmap.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK_EQ(actual, expected)                                           \
    do {                                                                     \
        long long a_ = (long long)(actual), e_ = (long long)(expected);      \
        if (a_ != e_) {                                                      \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__,  \
                    __LINE__, #actual, a_, e_);                              \
            failures++;                                                      \
        }                                                                    \
    } while (0)

static unsigned char byte_at(unsigned i)
{
    return (unsigned char)(i * 131u + (i >> 8));
}

int main(void)
{
    char dir[MAX_PATH], path[MAX_PATH + 32];
    HMODULE dll = GetModuleHandleA("libsmmap.dll");
    smmap_manager *m = NULL;
    smmap_file *f = NULL;
    smmap_cursor c;
    smmap_stats s;
    unsigned char buf[8];
    const unsigned char *p;
    FILE *out;
    unsigned i;

    /* Loaded as a DLL, exporting the API and nothing internal. */
    CHECK_EQ(dll != NULL, 1);
    CHECK_EQ(GetProcAddress(dll, "smmap_read") != NULL, 1);
    CHECK_EQ(GetProcAddress(dll, "smmap_manager_release_path") != NULL, 1);
    CHECK_EQ(GetProcAddress(dll, "smmap__os") != NULL, 0);
    CHECK_EQ(GetProcAddress(dll, "smmap__region_acquire") != NULL, 0);

    GetTempPathA(MAX_PATH, dir);
    snprintf(path, sizeof(path), "%ssmmap-dll-%lu.bin", dir,
             (unsigned long)GetCurrentProcessId());
    out = fopen(path, "wb");
    if (out == NULL) {
        perror(path);
        return 2;
    }
    for (i = 0; i < 300000; i++)
        fputc(byte_at(i), out);
    fclose(out);

    CHECK_EQ(smmap_manager_new(&m, NULL), 0);
    CHECK_EQ(smmap_file_open(m, path, &f), 0);
    if (f != NULL) {
        CHECK_EQ(smmap_file_size(f), 300000);
        smmap_cursor_init(&c, f);
        p = smmap_cursor_at(&c, 200000, 4); /* a miss: into the DLL */
        CHECK_EQ(p != NULL, 1);
        if (p != NULL)
            CHECK_EQ(p[3], byte_at(200003));
        p = smmap_cursor_at(&c, 200010, 1); /* a hit: inline */
        CHECK_EQ(p != NULL && *p == byte_at(200010), 1);
        CHECK_EQ(smmap_read(&c, 299996, buf, sizeof(buf)), 4);
        CHECK_EQ(buf[0], byte_at(299996));
        CHECK_EQ(c.begin % 65536, 0);
        CHECK_EQ(smmap_manager_release_path(m, path), -EBUSY);
        smmap_cursor_release(&c);
        CHECK_EQ(smmap_manager_release_path(m, path), 0);
        smmap_manager_stats(m, &s);
        CHECK_EQ(s.regions, 0);
        CHECK_EQ(s.open_fds, 0);
        smmap_file_close(f);
    }
    smmap_manager_free(m);
    CHECK_EQ(strcmp(smmap_strerror(-EBUSY),
                    "a cursor still holds a region of the file"), 0);
    CHECK_EQ(DeleteFileA(path) != 0, 1);

    printf("%d passed, %d failed\n", failures == 0 ? 1 : 0,
           failures == 0 ? 0 : 1);
    return failures == 0 ? 0 : 1;
}
