/*
 * cross_probe - two facts about the system a suite runs on, printed as
 * "key=value" lines for scripts/test-cross.sh, which decides from them
 * which tests that system can check at all:
 *
 *   si_addr=exact|swapped|other  the address a SIGBUS on a map of a
 *       truncated file reports: the faulting address (or its page, as
 *       s390x kernels give), the same 64 bits with their 32-bit halves
 *       exchanged (qemu-user 7.2 delivering a signal to a big-endian
 *       guest), or something else. smmap's guard outside x86-64 Linux
 *       recognizes its own faults by that address.
 *   populate=fails|unsupported|noop|other  madvise(MADV_POPULATE_READ)
 *       over pages of a map that lie past the file's end: -1/EFAULT (a
 *       kernel that populates, 5.14 and later), -1/EINVAL (a kernel
 *       without it; the library then touches the pages itself), 0 (the
 *       advice accepted and ignored: qemu-user takes unknown advice as a
 *       hint), or something else.
 *
 * Exits 0 when it could make both checks, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; musl 1.2.3 does not name it */
#endif

static sigjmp_buf back;
static void *volatile reported;

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    reported = info->si_addr;
    siglongjmp(back, 1);
}

static uint64_t swap_halves(uint64_t a)
{
    return a << 32 | a >> 32;
}

int main(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char path[] = "/tmp/smmap-cross-probe.XXXXXX";
    int fd = mkstemp(path);
    unsigned char *map;
    volatile unsigned char *target;
    struct sigaction sa;
    int ok = 1, r, err;

    if (fd < 0 || ftruncate(fd, 2 * page) != 0) {
        perror("cross_probe: temporary file");
        return 1;
    }
    map = mmap(NULL, (size_t)(2 * page), PROT_READ, MAP_SHARED, fd, 0);
    unlink(path);
    if (map == MAP_FAILED || ftruncate(fd, 0) != 0) {
        perror("cross_probe: map");
        return 1;
    }
    printf("page_size=%ld\n", page);

    errno = 0;
    r = madvise(map, (size_t)(2 * page), MADV_POPULATE_READ);
    err = errno;
    if (r == -1 && err == EFAULT)
        printf("populate=fails\n");
    else if (r == -1 && err == EINVAL)
        printf("populate=unsupported\n");
    else if (r == 0)
        printf("populate=noop\n");
    else
        printf("populate=other (%d, %s)\n", r, strerror(err));

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) != 0) {
        perror("cross_probe: sigaction");
        return 1;
    }
    target = map + page + 123;
    if (sigsetjmp(back, 1) == 0) {
        (void)*target;
        printf("si_addr=other (no SIGBUS reading past the end)\n");
        ok = 0;
    } else {
        uint64_t want = (uint64_t)(uintptr_t)target;
        uint64_t want_page = want & ~(uint64_t)(page - 1);
        uint64_t got = (uint64_t)(uintptr_t)reported;
        const char *kind = "other";
        if (got == want || got == want_page)
            kind = "exact";
        else if (sizeof(void *) == 8 &&
                 (got == swap_halves(want) || got == swap_halves(want_page)))
            kind = "swapped";
        printf("si_addr=%s (fault at %#llx, reported %#llx)\n", kind,
               (unsigned long long)want, (unsigned long long)got);
    }
    return ok ? 0 : 1;
}
