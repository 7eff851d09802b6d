/*
 * test_hostile.c - hostile files: truncation under readers (SIGBUS turned
 * into -EIO), signals that are not ours reaching the application, files
 * rewritten, replaced and deleted under handles, refresh, the read backend
 * (by flag and when mmap is refused), and access advice.
 *
 * Each test runs in its own process (ctest passes its name), because the
 * signal handler is process-wide and installed once.
 */
#include "test.h"
#include "os.h"

#include <errno.h>
#ifndef _WIN32
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

#define MIB (1024u * 1024u)

#ifndef _WIN32
/* --- truncation by another process while 4 threads read ----------------- */

enum { READERS = 4, READ_LEN = 256 };

typedef struct reader {
    pthread_t thread;
    smmap_file *file;
    unsigned seed;
    volatile int *phase; /* 0 before, 1 during, 2 after the truncation */
    long kept_ok, kept_bad, lost_eio, lost_estale, lost_ok_before, lost_bad;
} reader;

static void *read_loop(void *arg)
{
    reader *r = arg;
    smmap_cursor c;
    unsigned char buf[READ_LEN];
    int after_rounds = 0;

    smmap_cursor_init(&c, r->file);
    while (after_rounds < 4000) {
        int phase = *r->phase;
        uint64_t off;
        int64_t n;
        r->seed = r->seed * 1103515245u + 12345u;
        off = (uint64_t)(r->seed >> 4) % (64 * MIB - READ_LEN);
        n = smmap_read(&c, off, buf, READ_LEN);
        if (off + READ_LEN <= 32 * MIB) {
            /* The kept range: always the right bytes. */
            if (n == READ_LEN && pattern_matches(buf, off, READ_LEN)) {
                r->kept_ok++;
            } else {
                r->kept_bad++;
                fprintf(stderr, "kept-range read at %llu: %lld (%s)\n",
                        (unsigned long long)off, (long long)n,
                        n < 0 ? smmap_strerror((int)n) : "wrong bytes");
            }
        } else if (off >= 32 * MIB) {
            if (n == -EIO)
                r->lost_eio++;
            else if (n == -ESTALE)
                r->lost_estale++;
            else if (phase < 2 && n == READ_LEN &&
                     pattern_matches(buf, off, READ_LEN))
                r->lost_ok_before++; /* read before the truncation landed */
            else
                r->lost_bad++;
        }
        if (phase == 2)
            after_rounds++;
    }
    smmap_cursor_release(&c);
    return NULL;
}

static void test_hostile__truncation_under_readers(void)
{
    const char *path = fixture_file("big", 64 * MIB);
    smmap_manager *m = test_manager(MIB, 128 * MIB, 1000, 8, 0);
    smmap_file *f = test_open(m, path);
    volatile int phase = 0;
    reader r[READERS];
    smmap_cursor warm;
    static unsigned char chunk[MIB];
    uint64_t off;
    pid_t child;
    int status, i;
    long kept_ok = 0, eio = 0;
    smmap_stats s;

    /* Map every window first: the kept range is then served by windows that
     * stay valid, the lost range by windows whose pages disappear. */
    smmap_cursor_init(&warm, f);
    for (off = 0; off < 64 * MIB; off += MIB)
        REQUIRE_EQ(smmap_read(&warm, off, chunk, MIB), MIB);
    smmap_cursor_release(&warm);
    CHECK_EQ(test_stats(m).regions, 64);

    for (i = 0; i < READERS; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].file = f;
        r[i].seed = 1234u + (unsigned)i;
        r[i].phase = &phase;
        REQUIRE_EQ(pthread_create(&r[i].thread, NULL, read_loop, &r[i]), 0);
    }
    {
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    phase = 1;
    child = fork();
    if (child == 0)
        _exit(truncate(path, 32 * MIB) == 0 ? 0 : 1);
    REQUIRE_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    phase = 2;
    for (i = 0; i < READERS; i++) {
        pthread_join(r[i].thread, NULL);
        CHECK_EQ(r[i].kept_bad, 0);
        CHECK_EQ(r[i].lost_bad, 0);
        kept_ok += r[i].kept_ok;
        eio += r[i].lost_eio;
    }
    CHECK(kept_ok > 1000);
    CHECK(eio > 0);
    s = test_stats(m);
    /* The first faults tell the truncation; reads after it are refused
     * (-EIO) without touching the lost pages. */
    CHECK(s.faults >= 1 && s.faults <= (uint64_t)eio);
    printf("truncation: %ld kept-range reads right, %ld lost-range reads "
           "-EIO, %llu faults caught\n",
           kept_ok, eio, (unsigned long long)s.faults);
    /* The file is marked changed: a window not yet mapped is refused. */
    smmap_manager_collect(m);
    smmap_cursor_init(&warm, f);
    CHECK_EQ(smmap_read(&warm, 0, chunk, 16), -ESTALE);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* --- a SIGBUS that is not ours reaches the application's handler ---------- */

static sigjmp_buf app_env;
static volatile void *app_fault_addr;
static volatile int app_calls;

static void app_handler(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    app_calls++;
    app_fault_addr = info->si_addr;
    siglongjmp(app_env, 1);
}

/* Install an application's handler for sig, as applications do: with
 * siginfo, and callable again from within itself (it may longjmp out). */
static void install_app_handler(int sig,
                                void (*action)(int, siginfo_t *, void *))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = action;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* The system's page: what a truncation loses and what a fault's address is
 * rounded to, whatever the library aligns its windows to. */
static uint64_t system_page(void)
{
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (uint64_t)page : 4096;
}

static int same_page(const void *a, const void *b)
{
    uintptr_t mask = ~(uintptr_t)(system_page() - 1);
    return ((uintptr_t)a & mask) == ((uintptr_t)b & mask);
}

/* Map a page of a file through the OS table, truncate the file, and touch
 * the page: a SIGBUS at an address no smmap_read is copying. */
static void foreign_fault(const char *path, volatile const unsigned char **at)
{
    smmap_os_fd fd;
    void *base;
    volatile unsigned char sink;
    if (smmap__os.open_ro(path, &fd) != 0 ||
        smmap__os.map(fd, 0, 4096, &base) != 0) {
        test_failures++;
        return;
    }
    if (truncate(path, 0) != 0) {
        /* The page is still there: touching it proves nothing. */
        fprintf(stderr, "truncate %s: %s\n", path, strerror(errno));
        test_failures++;
    } else {
        *at = base;
        if (sigsetjmp(app_env, 1) == 0)
            sink = **at;
        (void)sink;
    }
    smmap__os.unmap(base, 4096);
    smmap__os.close(fd);
}

/* Sized by the system's page: windows of 16 pages (64 KiB with 4 KiB pages,
 * at least a granule), the file cut at a page boundary inside its fifth
 * window, which a cursor holds. */
static void test_hostile__foreign_sigbus_reaches_application(void)
{
    const uint64_t page = system_page();
    const uint64_t granule = test_granularity();
    const uint64_t window = 16 * page > granule ? 16 * page : granule;
    const uint64_t cut = 4 * window + 10 * page, mid = cut - 3104;
    const char *path = fixture_file("data", 16 * window);
    const char *other = fixture_file("other", 8192);
    smmap_manager *m = test_manager(window, 128 * window, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    unsigned char buf[64];
    static unsigned char big[8192];
    volatile const unsigned char *at = NULL;

    install_app_handler(SIGBUS, app_handler); /* before smmap's */
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_read(&c, 100, buf, 64), 64); /* installs smmap's */
    CHECK(pattern_matches(buf, 100, 64));

    foreign_fault(other, &at);
    CHECK_EQ(app_calls, 1);
    /* Some kernels (s390x) report the address rounded down to its page. */
    CHECK(same_page((const void *)app_fault_addr, (const void *)at));

    /* raise() carries no address of ours either. */
    if (sigsetjmp(app_env, 1) == 0)
        raise(SIGBUS);
    CHECK_EQ(app_calls, 2);

    /* And smmap's own faults still become -EIO, without the application
     * seeing them. */
    REQUIRE_EQ(smmap_read(&c, mid, buf, 64), 64);
    /* Copies that start in bytes still there and run into a lost page (the
     * window [4 * window, 5 * window) stays held): the fault is past the
     * start. */
    REQUIRE_EQ(truncate(path, (off_t)cut), 0);
    CHECK_EQ(smmap_read(&c, cut - 8, buf, 16), -EIO); /* second load */
    CHECK_EQ(test_stats(m).faults, 1);
    /* The fault told the new end: reads past it are refused without a
     * fault, reads before it still served (every size of guarded copy
     * under a real fault is test_os's). */
    CHECK_EQ(smmap_read(&c, cut - 100, big, 4000), -EIO);
    CHECK_EQ(smmap_read(&c, cut - 100, big, 8192), -EIO);
    CHECK_EQ(smmap_read(&c, cut - 100, buf, 64), 64);
    CHECK(pattern_matches(buf, cut - 100, 64));
    CHECK_EQ(test_stats(m).faults, 1);
    REQUIRE_EQ(truncate(path, (off_t)window), 0);
    CHECK_EQ(smmap_read(&c, mid, buf, 64), -EIO); /* a fault again */
    CHECK_EQ(smmap_read(&c, mid + 1, buf, 3), -EIO);
    CHECK_EQ(smmap_read(&c, mid + 5, big, sizeof(big)), -EIO);
    CHECK_EQ(app_calls, 2);
    CHECK_EQ(test_stats(m).faults, 2);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* A thread that never made a guarded copy takes a fault that is not
 * smmap's: the guard has no state for that thread (and makes none in the
 * handler, where a dlopen'ed library's first thread-local access may
 * allocate), and the application's handler sees the fault, once. */
static void *foreign_fault_thread(void *other)
{
    volatile const unsigned char *at = NULL;
    foreign_fault(other, &at);
    return NULL;
}

static void test_hostile__foreign_sigbus_in_thread_that_never_copied(void)
{
    const char *path = fixture_file("data", 1 * MIB);
    const char *other = fixture_file("other", 8192);
    smmap_manager *m = test_manager(65536, 8 * MIB, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    unsigned char buf[64];
    pthread_t thread;

    install_app_handler(SIGBUS, app_handler); /* before smmap's */
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_read(&c, 100, buf, 64), 64); /* installs smmap's */
    REQUIRE_EQ(pthread_create(&thread, NULL, foreign_fault_thread,
                              (void *)other),
               0);
    REQUIRE_EQ(pthread_join(thread, NULL), 0);
    CHECK_EQ(app_calls, 1);
    CHECK_EQ(test_stats(m).faults, 0);
    /* and this thread's own copies are still guarded */
    REQUIRE_EQ(smmap_read(&c, 300000, buf, 64), 64);
    REQUIRE_EQ(truncate(path, 65536), 0);
    CHECK_EQ(smmap_read(&c, 300000, buf, 64), -EIO);
    CHECK_EQ(test_stats(m).faults, 1);
    CHECK_EQ(app_calls, 1);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* --- a fault on the destination is the caller's, not smmap's -------------- */

static void app_segv_handler(int sig, siginfo_t *info, void *context)
{
    (void)context;
    app_calls += sig == SIGSEGV;
    app_fault_addr = info->si_addr;
    siglongjmp(app_env, 1);
}

/* smmap_read into memory the caller cannot write faults inside the guarded
 * copy, but not on its source: smmap must not turn that into -EIO (it would
 * hide the caller's bug); the application's SIGSEGV handler sees it. */
static void test_hostile__destination_fault_is_not_hidden(void)
{
    const char *path = fixture_file("data", 1 * MIB);
    smmap_manager *m = test_manager(65536, 8 * MIB, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    unsigned char buf[64];
    void *readonly = NULL;
    smmap_os_fd fd;
    size_t i;
    static const size_t lens[] = {8, 64, 8192};

    install_app_handler(SIGSEGV, app_segv_handler);

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_read(&c, 100, buf, 64), 64); /* installs smmap's */
    /* A read-only page: a map of the file itself. */
    REQUIRE_EQ(smmap__os.open_ro(path, &fd), 0);
    REQUIRE_EQ(smmap__os.map(fd, 0, 16384, &readonly), 0);
    for (i = 0; i < 3; i++) {
        volatile int64_t got = 1;
        app_fault_addr = NULL;
        if (sigsetjmp(app_env, 1) == 0)
            got = smmap_read(&c, 1000, readonly, lens[i]);
        CHECK_EQ(got, 1); /* the read did not return: the handler jumped */
        /* on the destination (which byte first depends on the copy path) */
        CHECK((const unsigned char *)app_fault_addr >=
                  (const unsigned char *)readonly &&
              (const unsigned char *)app_fault_addr <
                  (const unsigned char *)readonly + lens[i]);
    }
    CHECK_EQ(app_calls, 3);
    CHECK_EQ(test_stats(m).faults, 0);
    smmap__os.unmap(readonly, 16384);
    smmap__os.close(fd);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* --- a foreign SIGBUS after one of ours, to a plain handler -------------- */

static volatile int plain_calls;

static void plain_handler(int sig)
{
    plain_calls += sig == SIGBUS;
    siglongjmp(app_env, 1);
}

/* The application's handler was installed without SA_SIGINFO: smmap chains
 * to it as sa_handler. One fault of smmap's own is recovered first, so the
 * guard is known to be disarmed again afterwards. */
static void test_hostile__foreign_sigbus_reaches_plain_handler(void)
{
    const char *path = fixture_file("data", 1 * MIB);
    const char *other = fixture_file("other", 8192);
    smmap_manager *m = test_manager(65536, 8 * MIB, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    unsigned char buf[64];
    volatile const unsigned char *at = NULL;
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = plain_handler;
    sa.sa_flags = SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_read(&c, 200000, buf, 64), 64);
    REQUIRE_EQ(truncate(path, 65536), 0);
    CHECK_EQ(smmap_read(&c, 200000, buf, 64), -EIO);
    CHECK_EQ(plain_calls, 0);

    /* A foreign fault after smmap recovered one of its own: the guard is
     * disarmed again, so the fault is the application's. */
    foreign_fault(other, &at);
    CHECK_EQ(plain_calls, 1);
    if (sigsetjmp(app_env, 1) == 0)
        raise(SIGBUS);
    CHECK_EQ(plain_calls, 2);
    CHECK_EQ(test_stats(m).faults, 1);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* The usual way for a handler to pass on a fault it does not own: restore
 * the default action and return, so that the access repeats and kills. */
static void restore_default_and_return(int sig, siginfo_t *info, void *context)
{
    struct sigaction dfl;
    (void)info;
    (void)context;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
}

enum { NO_HANDLER, IDIOM_HANDLER, SMMAP_HANDLER };

/* A child that maps a page of `other`, truncates it and touches the page,
 * with no handler, with restore_default_and_return, or with smmap's handler
 * installed (by a read) over SIG_DFL; returns its wait status. */
static int foreign_fault_in_child(const char *path, const char *other,
                                  int handler)
{
    int status = 0;
    pid_t child = fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        smmap_os_fd fd;
        void *base;
        struct rlimit no_core = {0, 0};
        (void)setrlimit(RLIMIT_CORE, &no_core); /* the death is expected */
        signal(SIGBUS, SIG_DFL);
        if (handler == IDIOM_HANDLER) {
            install_app_handler(SIGBUS, restore_default_and_return);
        } else if (handler == SMMAP_HANDLER) {
            smmap_manager *m = test_manager(65536, 8 * MIB, 100, 8, 0);
            smmap_file *f = test_open(m, path);
            smmap_cursor c;
            unsigned char buf[64];
            smmap_cursor_init(&c, f);
            if (smmap_read(&c, 100, buf, 64) != 64) /* installs smmap's */
                _exit(3);
        }
        if (smmap__os.open_ro(other, &fd) != 0 ||
            smmap__os.map(fd, 0, 4096, &base) != 0)
            _exit(4);
        if (truncate(other, 0) != 0)
            _exit(6); /* no lost page to touch */
        (void)*(volatile const unsigned char *)base;
        _exit(5); /* survived a fault that was not smmap's */
    }
    if (waitpid(child, &status, 0) != child)
        return -1;
    return status;
}

static int death_signal(int status)
{
    return WIFSIGNALED(status) ? WTERMSIG(status) : -WEXITSTATUS(status);
}

/* --- handlers installed after smmap's (issue 12, case 9) ------------------ */

/* Like Python's faulthandler: report, put the previous handler back and
 * raise the signal again, which loses where the fault happened. */
static struct sigaction late_previous;
static int report_fd = -1;

static void report(char c)
{
    if (write(report_fd, &c, 1) != 1)
        _exit(9);
}

static void reraising_handler(int sig)
{
    report('L');
    sigaction(sig, &late_previous, NULL);
    raise(sig);
}

/* Like another library that puts itself in front as smmap does: passes
 * what it does not own to its previous handler by a direct call. */
static void chaining_handler(int sig, siginfo_t *info, void *context)
{
    report('C');
    if (late_previous.sa_flags & SA_SIGINFO)
        late_previous.sa_sigaction(sig, info, context);
    else if (late_previous.sa_handler != SIG_DFL &&
             late_previous.sa_handler != SIG_IGN)
        late_previous.sa_handler(sig);
}

enum { LATE_REINSTALL_CALL, LATE_NEW_WINDOW, LATE_CHAINING_LIBRARY };

/* In a child: windows mapped, then a handler installed after smmap's;
 * smmap's put back in front (by smmap_guard_install or by a new window);
 * a read of a truncated page must give -EIO ('E' reported), then a fault
 * that is nobody's goes through the late handler once and kills. Returns
 * what the child reported, its wait status in *status. */
static const char *late_handler_child(int how, int *status)
{
    static char seen[64];
    const char *path = fixture_file(how == LATE_NEW_WINDOW ? "b" : "a", MIB);
    const char *other = fixture_file(how == LATE_NEW_WINDOW ? "ob" : "oa",
                                     8192);
    int fds[2];
    ssize_t n, got = 0;
    pid_t child;

    memset(seen, 0, sizeof(seen));
    if (pipe(fds) != 0)
        return "pipe";
    child = fork();
    if (child == 0) {
        smmap_manager *m = test_manager(65536, 8 * MIB, 100, 8, 0);
        smmap_file *f = test_open(m, path);
        smmap_cursor c;
        unsigned char buf[64];
        struct sigaction sa;
        volatile const unsigned char *at = NULL;
        struct rlimit no_core = {0, 0};

        (void)setrlimit(RLIMIT_CORE, &no_core);
        close(fds[0]);
        report_fd = fds[1];
        signal(SIGBUS, SIG_DFL);
        smmap_cursor_init(&c, f);
        if (smmap_read(&c, 100, buf, 64) != 64 ||
            smmap_read(&c, 300000, buf, 64) != 64)
            _exit(3);
        memset(&sa, 0, sizeof(sa));
        sigemptyset(&sa.sa_mask);
        if (how == LATE_CHAINING_LIBRARY) {
            sa.sa_sigaction = chaining_handler;
            sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        } else {
            sa.sa_handler = reraising_handler;
            sa.sa_flags = SA_NODEFER;
        }
        sigaction(SIGBUS, &sa, &late_previous);
        if (how == LATE_NEW_WINDOW) {
            if (smmap_read(&c, 700000, buf, 64) != 64)
                _exit(4);
        } else if (smmap_guard_install() != 0) {
            _exit(5);
        }
        if (how == LATE_CHAINING_LIBRARY) {
            /* The other library notices and goes in front again. */
            sigaction(SIGBUS, &sa, &late_previous);
        }
        if (truncate(path, 65536) != 0)
            _exit(6);
        report(smmap_read(&c, 300000, buf, 64) == -EIO ? 'E' : 'X');
        smmap_cursor_release(&c);
        {
            smmap_os_fd fd;
            void *base;
            if (smmap__os.open_ro(other, &fd) != 0 ||
                smmap__os.map(fd, 0, 4096, &base) != 0 ||
                truncate(other, 0) != 0)
                _exit(7);
            at = base;
            (void)*at;
        }
        _exit(8); /* survived a fault that was nobody's */
    }
    close(fds[1]);
    while (got < (ssize_t)sizeof(seen) - 1 &&
           (n = read(fds[0], seen + got, sizeof(seen) - 1 - (size_t)got)) > 0)
        got += n;
    close(fds[0]);
    if (waitpid(child, status, 0) != child)
        return "waitpid";
    return seen;
}

/* The death expected of a foreign fault: SIGBUS, as a child that restores
 * the default action and returns dies (valgrind, which emulates signals,
 * makes such a repeated access SIGSEGV, with or without smmap). */
static void check_late_handler(int how, const char *expected)
{
    int status = 0, death;
    const char *seen = late_handler_child(how, &status);
    death = death_signal(foreign_fault_in_child(
        fixture_file("base", MIB), fixture_file("obase", 8192),
        IDIOM_HANDLER));
    CHECK(strcmp(seen, expected) == 0);
    if (strcmp(seen, expected) != 0)
        fprintf(stderr, "reported \"%s\", expected \"%s\"\n", seen, expected);
    CHECK(death == SIGBUS || death == SIGSEGV);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == death);
    if (!WIFSIGNALED(status))
        fprintf(stderr, "child exited %d\n", WEXITSTATUS(status));
}

/* faulthandler.enable() after the first window, then smmap_guard_install():
 * the read of a lost page is -EIO again; a foreign fault reaches the late
 * handler once ('L') and the process dies of SIGBUS. */
static void test_hostile__late_handler_then_guard_install(void)
{
    check_late_handler(LATE_REINSTALL_CALL, "EL");
}

/* The same, put back in front by the next window the library maps. */
static void test_hostile__late_handler_then_new_window(void)
{
    check_late_handler(LATE_NEW_WINDOW, "EL");
}

/* Another library that also puts itself back in front, and passes what it
 * does not own to smmap's: it sees each fault once ('C'), smmap's own
 * become -EIO, and a foreign one kills, never going round the cycle. */
static void test_hostile__handler_cycle_is_cut(void)
{
    check_late_handler(LATE_CHAINING_LIBRARY, "CEC");
}

/* With no handler before smmap's (SIG_DFL), a fault that is not smmap's
 * terminates the process as it does without the library: SIGBUS, exactly
 * like a handler that restores the default action and returns. (Under
 * valgrind, which emulates signals, such a repeated access dies by SIGSEGV
 * with or without smmap: hence the comparison with that idiom.) */
static void test_hostile__foreign_sigbus_default_terminates(void)
{
    const char *path = fixture_file("data", 1 * MIB);
    int none = foreign_fault_in_child(path, fixture_file("o1", 8192),
                                      NO_HANDLER);
    int idiom = foreign_fault_in_child(path, fixture_file("o2", 8192),
                                       IDIOM_HANDLER);
    int with = foreign_fault_in_child(path, fixture_file("o3", 8192),
                                      SMMAP_HANDLER);
    CHECK_EQ(death_signal(none), SIGBUS);
    CHECK_EQ(death_signal(with), death_signal(idiom));
    CHECK_EQ(WIFSIGNALED(with), 1);
}

/* --- SMMAP_NO_SIGNAL_HANDLER: the application's handler delegates --------- */

static volatile int wrong_signal_claimed;

static void delegating_handler(int sig, siginfo_t *info, void *context)
{
    /* A real fault of a guarded copy, presented as another signal or
     * without its siginfo, is not claimed: only SIGBUS and SIGSEGV are. */
    if (smmap_handle_fault(SIGUSR1, info, context) != 0 ||
        smmap_handle_fault(sig, NULL, context) != 0)
        wrong_signal_claimed++;
    if (smmap_handle_fault(sig, info, context))
        return; /* ours: smmap_read returns -EIO */
    app_calls++;
    siglongjmp(app_env, 1);
}

static void test_hostile__application_owns_the_handler(void)
{
    const char *path = fixture_file("data", 1 * MIB);
    smmap_manager *m =
        test_manager(65536, 8 * MIB, 100, 8, SMMAP_NO_SIGNAL_HANDLER);
    smmap_file *f = test_open(m, path);
    smmap_cursor c;
    unsigned char buf[64];
    struct sigaction current;

    install_app_handler(SIGBUS, delegating_handler);

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_read(&c, 500000, buf, 64), 64);
    /* smmap installed nothing: the handler is still the application's. */
    sigaction(SIGBUS, NULL, &current);
    CHECK(current.sa_sigaction == delegating_handler);
    REQUIRE_EQ(truncate(path, 4096), 0);
    CHECK_EQ(smmap_read(&c, 500000, buf, 64), -EIO);
    CHECK_EQ(app_calls, 0);
    CHECK_EQ(wrong_signal_claimed, 0);
    CHECK_EQ(test_stats(m).faults, 1);
    {
        siginfo_t info;
        memset(&info, 0, sizeof(info));
        info.si_addr = buf;
        /* Not a fault of a guarded copy (no context, or not in the copy). */
        CHECK_EQ(smmap_handle_fault(SIGBUS, &info, NULL), 0);
        CHECK_EQ(smmap_handle_fault(SIGINT, &info, NULL), 0);
        CHECK_EQ(smmap_handle_fault(SIGBUS, NULL, NULL), 0);
    }
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* --- rewritten, replaced, deleted ----------------------------------------- */

static void set_mtime(const char *path, long seconds)
{
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = seconds;
    times[0].tv_nsec = times[1].tv_nsec = 0;
    if (utimensat(AT_FDCWD, path, times, 0) != 0)
        test_failures++;
}

static void rewrite_in_place(const char *path, unsigned char fill)
{
    FILE *fp = fopen(path, "r+b");
    unsigned char buf[4096];
    long i;
    memset(buf, fill, sizeof(buf));
    for (i = 0; fp != NULL && i < 64; i++)
        fwrite(buf, 1, sizeof(buf), fp);
    if (fp != NULL)
        fclose(fp);
}

/* Open path in m, map its first window through c, then rewrite the file
 * in place with 0xEE bytes and move its mtime on. */
static smmap_file *open_then_rewrite(smmap_manager *m, const char *path,
                                     smmap_cursor *c)
{
    smmap_file *f;
    unsigned char buf[32];
    set_mtime(path, 1000000000);
    f = test_open(m, path);
    smmap_cursor_init(c, f);
    CHECK_EQ(smmap_read(c, 100, buf, 32), 32);
    CHECK(pattern_matches(buf, 100, 32));
    rewrite_in_place(path, 0xEE);
    set_mtime(path, 1000000001);
    return f;
}

/* A rewrite in place is the same version (shared memory): its new bytes
 * show through the windows mapped and the new ones alike, as for git. */
static void test_hostile__rewrite_in_place(void)
{
    const char *path = fixture_file("data", 64 * 4096);
    smmap_manager *m = test_manager(65536, 8 * MIB, 100, 8, 0);
    smmap_file *f;
    smmap_cursor c;
    unsigned char buf[32], ee[32];

    memset(ee, 0xEE, sizeof(ee));
    f = open_then_rewrite(m, path, &c);
    CHECK_EQ(smmap_read(&c, 200000, buf, 32), 32); /* a new window */
    CHECK(memcmp(buf, ee, 32) == 0);
    CHECK_EQ(smmap_read(&c, 65536 - 16, buf, 32), 32); /* across two */
    CHECK(memcmp(buf, ee, 32) == 0);
    CHECK_EQ(smmap_read(&c, 100, buf, 32), 32); /* the first window */
    CHECK(memcmp(buf, ee, 32) == 0);
    CHECK_EQ(test_stats(m).maps, 3);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* With SMMAP_CHECK_MTIME a change of mtime is a new version: windows not
 * yet mapped are refused, never the new bytes; a later open is another
 * entry, and does not make the earlier handle accept the change. */
static void test_hostile__check_mtime_makes_rewrite_stale(void)
{
    const char *path = fixture_file("data", 64 * 4096);
    smmap_manager *m = test_manager(65536, 8 * MIB, 100, 8,
                                    SMMAP_CHECK_MTIME);
    smmap_file *f, *later;
    smmap_cursor c, d;
    unsigned char buf[32], ee[32];

    memset(ee, 0xEE, sizeof(ee));
    f = open_then_rewrite(m, path, &c);
    /* A window not yet mapped: refused, never the new bytes. */
    CHECK_EQ(smmap_read(&c, 200000, buf, 32), -ESTALE);
    /* A read across a mapped window and a new one: refused as a whole. */
    CHECK_EQ(smmap_read(&c, 65536 - 16, buf, 32), -ESTALE);
    CHECK_EQ(test_stats(m).maps, 1);
    later = test_open(m, path);
    CHECK_EQ(test_stats(m).files, 2);
    smmap_cursor_init(&d, later);
    CHECK_EQ(smmap_read(&d, 200000, buf, 32), 32);
    CHECK(memcmp(buf, ee, 32) == 0);
    CHECK_EQ(smmap_read(&c, 200000, buf, 32), -ESTALE);
    smmap_cursor_release(&d);
    smmap_cursor_release(&c);
    smmap_file_close(later);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* Mappings and descriptors of deleted files in the fixture's directory,
 * which the process may not be alone to hold deleted files of (ctest's log
 * is one it inherits). The directory is matched by its own name, unique
 * (mkdtemp), since TMPDIR may spell its parent otherwise than the kernel. */
static void count_deleted(int *maps, int *fds)
{
    const char *name = strrchr(fixture_dir(), '/');
    char line[1024];
    FILE *fp;
    int fd;

    name = name != NULL ? name + 1 : fixture_dir();
    *maps = *fds = 0;
    fp = fopen("/proc/self/maps", "r");
    while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
        *maps += strstr(line, "(deleted)") != NULL &&
                 strstr(line, name) != NULL;
    if (fp != NULL)
        fclose(fp);
    for (fd = 0; fd < 1024; fd++) {
        char proc[64], target[1024];
        ssize_t n;
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        n = readlink(proc, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        *fds += strstr(target, "(deleted)") != NULL &&
                strstr(target, name) != NULL;
    }
}

static void test_hostile__rename_over_and_delete(void)
{
    const char *path = fixture_file("pack", 64 * 4096);
    const char *other = fixture_file("idx", 100);
    smmap_manager *m = test_manager(65536, 8 * MIB, 100, 1, 0);
    smmap_file *f = test_open(m, path), *g;
    smmap_cursor c;
    unsigned char buf[32];
    int deleted_fds = 0, deleted_maps = 0;

    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_read(&c, 100, buf, 32), 32);
    CHECK_EQ(test_stats(m).open_fds, 1);
    /* Renamed over while its descriptor is open: the old bytes, always. */
    fixture_replace(path, 64 * 4096, 0x77);
    REQUIRE_EQ(smmap_read(&c, 200000, buf, 32), 32);
    CHECK(pattern_matches(buf, 200000, 32));
    /* Its descriptor closed (budget 1) and the path now another file:
     * -ESTALE, never the new file's bytes. */
    g = test_open(m, other);
    CHECK_EQ(test_stats(m).open_fds, 1);
    CHECK_EQ(smmap_read(&c, 100000, buf, 32), -ESTALE);
    /* Deleted: what is mapped still reads; release_path lets it all go. */
    REQUIRE_EQ(smmap_read(&c, 200010, buf, 16), 16);
    CHECK(pattern_matches(buf, 200010, 16));
    REQUIRE_EQ(unlink(path), 0);
    REQUIRE_EQ(smmap_read(&c, 100, buf, 16), 16);
    CHECK(pattern_matches(buf, 100, 16));
    /* The scan sees what is still held: the windows of the deleted file
     * (its descriptor went with the budget of one). */
    count_deleted(&deleted_maps, &deleted_fds);
    CHECK(deleted_maps > 0);
    CHECK_EQ(deleted_fds, 0);
    smmap_cursor_release(&c);
    CHECK_EQ(smmap_manager_release_path(m, path), 0);
    CHECK_EQ(test_stats(m).regions, 0);
    /* Nothing of the deleted file is held: no descriptor, no mapping, so
     * its disk space is returned. */
    count_deleted(&deleted_maps, &deleted_fds);
    CHECK_EQ(deleted_maps, 0);
    CHECK_EQ(deleted_fds, 0);
    CHECK_EQ(smmap_cursor_use(&c, 0, 1), -ESTALE);
    smmap_file_close(f);
    smmap_file_close(g);
    smmap_manager_free(m);
}
#endif /* !_WIN32 */

/* --- refresh ---------------------------------------------------------------- */

static void append(const char *path, const char *text)
{
    FILE *fp = fopen(path, "ab");
    if (fp == NULL) {
        test_failures++;
        return;
    }
    fputs(text, fp);
    fclose(fp);
}

static void test_hostile__refresh_takes_growth(void)
{
    const char *path = fixture_file("log", 70000);
    smmap_manager *m = test_manager(65536, 8 * MIB, 100, 8, 0);
    smmap_file *f = test_open(m, path);
    smmap_cursor held, c;
    unsigned char buf[8];

    smmap_cursor_init(&held, f);
    smmap_cursor_init(&c, f);
    REQUIRE_EQ(smmap_cursor_use(&held, 10, 10), 0);
    /* Unchanged: nothing to take, nothing refused. */
    CHECK_EQ(smmap_file_refresh(f), 0);
    CHECK_EQ(smmap_file_size(f), 70000);
    append(path, "appended");
    CHECK_EQ(smmap_file_size(f), 70000);
    CHECK_EQ(smmap_file_refresh(f), 0);
    CHECK_EQ(smmap_file_size(f), 70008);
    REQUIRE_EQ(smmap_read(&c, 70000, buf, 8), 8);
    CHECK(memcmp(buf, "appended", 8) == 0);
    /* The live cursor was not disturbed. */
    CHECK(pattern_matches(held.data + (10 - held.begin), 10, 10));
    CHECK_EQ(smmap_file_refresh(NULL), -EINVAL);
    smmap_cursor_release(&held);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static void test_hostile__refresh_refuses_shrunk_or_replaced(void)
{
    const char *path = fixture_file("a", 70000);
    smmap_manager *m = test_manager(65536, 8 * MIB, 100, 8, 0);
    smmap_file *f = test_open(m, path);

    fixture_replace(path, 80000, 0x11); /* bigger, but another file */
    CHECK_EQ(smmap_file_refresh(f), -ESTALE);
    CHECK_EQ(smmap_file_size(f), 70000);
    smmap_file_close(f);
    f = test_open(m, path);
    fixture_replace(path, 10, 0x22);
    CHECK_EQ(smmap_file_refresh(f), -ESTALE);
    smmap_file_close(f);
    smmap_manager_free(m);
}

/* --- the read backend -------------------------------------------------------- */

static void read_everything(smmap_manager *m, smmap_file *f, uint64_t size,
                            uint64_t budget)
{
    smmap_cursor c;
    unsigned char buf[5000];
    uint64_t off;
    smmap_cursor_init(&c, f);
    for (off = 0; off < size; off += sizeof(buf)) {
        int64_t want = (int64_t)(size - off < sizeof(buf) ? size - off
                                                          : sizeof(buf));
        REQUIRE_EQ(smmap_read(&c, off, buf, sizeof(buf)), want);
        CHECK(pattern_matches(buf, off, (size_t)want));
        CHECK(test_stats(m).mapped_bytes <= budget);
    }
    smmap_cursor_release(&c);
}

static void test_hostile__no_mmap_backend(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m =
        test_manager(g, 3 * g, 100, 8, SMMAP_NO_MMAP | SMMAP_ALWAYS_MAP);
    smmap_file *f = test_open(m, fixture_file("data", 40 * g + 17));
    smmap_stats s;

    read_everything(m, f, 40 * g + 17, 3 * g);
    s = test_stats(m);
    CHECK_EQ(s.maps, 0);
    CHECK_EQ(s.unmaps, 0);
    CHECK_EQ(s.read_windows, 41);
    CHECK_EQ(s.files_no_mmap, 1);
    CHECK_EQ(s.regions, 3);
    CHECK_EQ(s.evictions, 38);
    smmap_file_close(f);
    CHECK_EQ(test_stats(m).regions, 0);
    smmap_manager_free(m);
}

static int enodev_map(smmap_os_fd fd, uint64_t off, size_t len, void **out)
{
    (void)fd;
    (void)off;
    (void)len;
    (void)out;
    return -ENODEV;
}

static void test_hostile__mmap_refused_switches_to_reads(void)
{
    uint64_t g = test_granularity();
    smmap_manager *m = test_manager(2 * g, 6 * g, 100, 8, SMMAP_ALWAYS_MAP);
    smmap_file *a = test_open(m, fixture_file("a", 20 * g));
    smmap_file *b = test_open(m, fixture_file("b", 20 * g));
    smmap_stats s;

    smmap__os.map = enodev_map;
    read_everything(m, a, 20 * g, 6 * g);
    s = test_stats(m);
    CHECK_EQ(s.files_no_mmap, 1);
    CHECK_EQ(s.read_windows, 10);
    CHECK_EQ(s.maps, 0);
    smmap__os.map = smmap__os_default.map;
    /* b still maps; a stays on the read backend. */
    read_everything(m, b, 20 * g, 6 * g);
    read_everything(m, a, 20 * g, 6 * g);
    s = test_stats(m);
    CHECK_EQ(s.maps, 10);
    CHECK_EQ(s.read_windows, 20);
    CHECK_EQ(s.files_no_mmap, 1);
    smmap_file_close(a);
    smmap_file_close(b);
    smmap_manager_free(m);
}

/* --- advice -------------------------------------------------------------- */

static int advice_calls[SMMAP_OS_POPULATE + 1];
static int counting_advise(void *addr, size_t len, int advice)
{
    advice_calls[advice]++;
    return smmap__os_default.advise(addr, len, advice);
}

static void test_hostile__advice_and_populate(void)
{
    uint64_t g = test_granularity();
    smmap_options o;
    smmap_manager *m;
    smmap_file *f;
    smmap_cursor a, b;

    smmap_options_init(&o);
    o.window_size = g;
    o.max_mapped = 100 * g;
    o.flags = SMMAP_POPULATE;
    o.advice = SMMAP_ADVICE_RANDOM;
    REQUIRE_EQ(smmap_manager_new(&m, &o), 0);
    f = test_open(m, fixture_file("data", 10 * g));
    smmap__os.advise = counting_advise;
    smmap_cursor_init(&a, f);
    smmap_cursor_init(&b, f);
    REQUIRE_EQ(smmap_cursor_use(&a, 0, 1), 0);
    REQUIRE_EQ(smmap_cursor_use(&b, 5 * g, 1), 0);
    CHECK_EQ(advice_calls[SMMAP_ADVICE_RANDOM], 2);
    CHECK_EQ(advice_calls[SMMAP_OS_POPULATE], 2);
    CHECK_EQ(smmap_file_advise(f, SMMAP_ADVICE_SEQUENTIAL), 0);
    CHECK_EQ(advice_calls[SMMAP_ADVICE_SEQUENTIAL], 2);
    CHECK_EQ(smmap_file_advise(f, SMMAP_ADVICE_WILLNEED), 0);
    CHECK_EQ(advice_calls[SMMAP_ADVICE_WILLNEED], 2);
    /* both ends of the range are valid advice */
    CHECK_EQ(smmap_file_advise(f, SMMAP_ADVICE_NORMAL), 0);
    CHECK_EQ(advice_calls[SMMAP_ADVICE_NORMAL], 2);
    CHECK_EQ(smmap_file_advise(f, 4), -EINVAL);
    CHECK_EQ(smmap_file_advise(f, -1), -EINVAL);
    CHECK_EQ(smmap_file_advise(NULL, 0), -EINVAL);
    CHECK(pattern_matches(b.data, b.begin, b.size));
    smmap__os.advise = smmap__os_default.advise;
    o.advice = 4;
    {
        smmap_manager *refused = NULL;
        CHECK_EQ(smmap_manager_new(&refused, &o), -EINVAL);
        CHECK(refused == NULL);
    }
    smmap_cursor_release(&a);
    smmap_cursor_release(&b);
    smmap_file_close(f);
    smmap_manager_free(m);
}

static const test_case tests[] = {
#ifndef _WIN32
    /* POSIX only: fork, signals, truncate, /proc. Windows refuses to
     * truncate a mapped file, which os_win32.c relies on instead. */
    TEST_ENTRY(test_hostile__truncation_under_readers),
    TEST_ENTRY(test_hostile__foreign_sigbus_reaches_application),
    TEST_ENTRY(test_hostile__foreign_sigbus_in_thread_that_never_copied),
    TEST_ENTRY(test_hostile__application_owns_the_handler),
    TEST_ENTRY(test_hostile__foreign_sigbus_reaches_plain_handler),
    TEST_ENTRY(test_hostile__foreign_sigbus_default_terminates),
    TEST_ENTRY(test_hostile__late_handler_then_guard_install),
    TEST_ENTRY(test_hostile__late_handler_then_new_window),
    TEST_ENTRY(test_hostile__handler_cycle_is_cut),
    TEST_ENTRY(test_hostile__destination_fault_is_not_hidden),
    TEST_ENTRY(test_hostile__rewrite_in_place),
    TEST_ENTRY(test_hostile__check_mtime_makes_rewrite_stale),
    TEST_ENTRY(test_hostile__rename_over_and_delete),
#endif
    TEST_ENTRY(test_hostile__refresh_takes_growth),
    TEST_ENTRY(test_hostile__refresh_refuses_shrunk_or_replaced),
    TEST_ENTRY(test_hostile__no_mmap_backend),
    TEST_ENTRY(test_hostile__mmap_refused_switches_to_reads),
    TEST_ENTRY(test_hostile__advice_and_populate),
};

TEST_MAIN(tests)
