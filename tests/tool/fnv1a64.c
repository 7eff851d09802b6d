/*
 * fnv1a64.c - prints the 64-bit FNV-1a hash of standard input as 16 hex
 * digits: the independent reference for the fnv1a64 line of `smmap stat`,
 * fed by plain cat/tail/head in test_tool.sh.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#ifdef _WIN32
#  include <fcntl.h>
#  include <io.h>
#endif

int main(void)
{
    uint64_t hash = UINT64_C(0xcbf29ce484222325);
    unsigned char buf[1 << 16];
    size_t n, i;

#ifdef _WIN32
    _setmode(_fileno(stdin), _O_BINARY);
#endif
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
        for (i = 0; i < n; i++) {
            hash ^= buf[i];
            hash *= UINT64_C(0x100000001b3);
        }
    if (ferror(stdin))
        return 1;
    printf("%016" PRIx64 "\n", hash);
    return 0;
}
