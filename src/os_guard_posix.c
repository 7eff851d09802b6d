/*
 * os_guard_posix.c - the SIGBUS guard around smmap_read's copies (POSIX).
 *
 * A file truncated by another process under a mapping makes every access to
 * the lost pages raise SIGBUS. smmap_read copies inside a per-thread guard:
 * the thread records the source range and a jump buffer, and the handler,
 * when the fault address lies in that range, jumps back so the copy returns
 * -EIO. Any other SIGBUS or SIGSEGV (not in a guarded copy, or elsewhere in
 * memory) goes to the handler that was installed before ours, unchanged; if
 * that was the default action, it is restored and the faulting access runs
 * again, so the process dies exactly as it would have without us.
 *
 * The handler is installed once, lazily, with SA_ONSTACK (so it runs on the
 * application's alternate stack if it has one) and SA_NODEFER (so jumping out
 * of it leaves the signal unblocked without saving the mask on every copy).
 * Applications that own their handlers call smmap_handle_fault() instead.
 */
#ifndef _WIN32

/* SA_ONSTACK, SA_NODEFER and si_addr are XSI. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include "os.h"
#include "smmap.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

typedef struct guard {
    sigjmp_buf env;
    const unsigned char *lo, *hi;
    volatile sig_atomic_t armed;
} guard;

static _Thread_local guard thread_guard;
static struct sigaction previous_bus, previous_segv;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

int smmap__guard_handle(void *addr)
{
    guard *g = &thread_guard;
    const unsigned char *a = addr;
    if (g->armed && a >= g->lo && a < g->hi) {
        g->armed = 0;
        siglongjmp(g->env, 1);
    }
    return 0;
}

SMMAP_API int smmap_handle_fault(void *addr)
{
    return smmap__guard_handle(addr);
}

static void chain(int sig, siginfo_t *info, void *context)
{
    struct sigaction *prev = sig == SIGBUS ? &previous_bus : &previous_segv;
    if (prev->sa_flags & SA_SIGINFO) {
        prev->sa_sigaction(sig, info, context);
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
    } else {
        /* A fault cannot be ignored: the access would only repeat. Restore
         * the default action; returning re-runs the access, which then
         * terminates the process as if we had never been installed. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, NULL);
    }
}

static void on_fault(int sig, siginfo_t *info, void *context)
{
    smmap__guard_handle(info->si_addr);
    chain(sig, info, context);
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &previous_bus);
    sigaction(SIGSEGV, &sa, &previous_segv);
}

int smmap__guarded_copy_posix(void *dst, const void *src, size_t len,
                              int install_handler)
{
    guard *g = &thread_guard;
    if (install_handler)
        pthread_once(&install_once, install);
    g->lo = src;
    g->hi = (const unsigned char *)src + len;
    if (sigsetjmp(g->env, 0) != 0)
        return -EIO;
    g->armed = 1;
    memcpy(dst, src, len);
    g->armed = 0;
    return 0;
}

#endif /* !_WIN32 */
