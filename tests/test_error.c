/*
 * test_error.c - smmap_strerror: a text for every code the library returns,
 * for either sign, and something for codes it does not know.
 */
#include "test.h"

#include <limits.h>

static void test_error__every_documented_code_has_text(void)
{
    static const int codes[] = {EINVAL, ENOENT, EISDIR, EACCES, EBADF,
                                ERANGE, ENOMEM, EMFILE, ENFILE, EBUSY,
                                ESTALE, EIO, EINTR, ENODEV};
    size_t i;
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *neg = smmap_strerror(-codes[i]);
        CHECK(neg != NULL);
        CHECK(strcmp(neg, "unknown error") != 0);
        CHECK(strcmp(neg, smmap_strerror(codes[i])) == 0);
    }
    CHECK(strcmp(smmap_strerror(0), "success") == 0);
    CHECK(strcmp(smmap_strerror(-ERANGE),
                 "offset out of range (at or past the end of the file)") == 0);
    CHECK(strcmp(smmap_strerror(-ESTALE),
                 "the file changed on disk (replaced, truncated or removed)") ==
          0);
}

static void test_error__unknown_codes(void)
{
    CHECK(strcmp(smmap_strerror(-99999), "unknown error") == 0);
    CHECK(strcmp(smmap_strerror(INT_MIN), "unknown error") == 0);
    CHECK(strcmp(smmap_strerror(INT_MAX), "unknown error") == 0);
}

static const test_case tests[] = {
    TEST_ENTRY(test_error__every_documented_code_has_text),
    TEST_ENTRY(test_error__unknown_codes),
};

TEST_MAIN(tests)
