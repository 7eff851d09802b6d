/*
 * os_guard_posix.c - the SIGBUS guard around smmap_read's copies (POSIX).
 *
 * A file truncated by another process under a mapping makes every access to
 * the lost pages raise SIGBUS. smmap_read copies through a guarded routine
 * instead of memcpy, and the fault becomes -EIO:
 *
 *   - on x86-64 Linux the routine is a few instructions at known addresses
 *     (the kernel's own exception-table technique): the handler sees the
 *     faulting instruction pointer inside it and the fault address inside
 *     the source still to copy, and resumes at a recovery label that returns
 *     the error. Nothing is saved per copy: the hit path is a check and a
 *     copy.
 *   - elsewhere, each copy records its source range and a sigsetjmp buffer
 *     in thread-local storage, and the handler jumps back.
 *
 * Any other SIGBUS or SIGSEGV goes to the handler installed before ours,
 * unchanged; if that was the default action, it is restored and the faulting
 * access runs again, so the process dies exactly as it would without us. The
 * handler is installed once, when a manager maps its first window, with
 * SA_ONSTACK (it runs on the application's alternate stack if it has one)
 * and SA_NODEFER (jumping out leaves the signal unblocked). Applications
 * that own their handlers call smmap_handle_fault() from them instead.
 */
#ifndef _WIN32

/* SA_ONSTACK, SA_NODEFER, si_addr are XSI; REG_RIP is a GNU extension. */
#if defined(__linux__) && defined(__x86_64__)
#define _GNU_SOURCE
#define SMMAP_GUARD_PC 1
#endif
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include "os.h"
#include "smmap.h"
#ifdef SMMAP_GUARD_PC
#include "os_copy_x86_64.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

int64_t smmap__guarded_copy_posix(void *dst, const void *src, size_t len);
void smmap__guard_install_posix(void);

static struct sigaction previous_bus, previous_segv;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

#ifdef SMMAP_GUARD_PC
/*
 * int64_t smmap__guarded_copy_posix(void *dst, const void *src, size_t len):
 * the OS table's guarded_copy itself, len, or -EIO when a fault while
 * loading from src was turned by the handler into a jump to the recovery
 * label. Copies the way a good memcpy does (os_copy_x86_64.h); on the paths
 * other than `rep movsb` rsi and rdx stay the source and the length; `rep
 * movsb` stops on a fault with rsi at the next source byte and rcx bytes
 * left. The handler tells the two apart by the faulting instruction.
 */
_Static_assert(EIO == SMMAP_COPY_EIO, "the recovery label returns -EIO");
extern const char smmap__copy_begin[], smmap__copy_end[],
    smmap__copy_rep_insn[], smmap__copy_fault[];
#define GUARD_LABEL(name) ".globl " name "\n.hidden " name "\n" name ":\n"
__asm__(".text\n"
        ".p2align 4\n"
        ".globl smmap__guarded_copy_posix\n"
        ".hidden smmap__guarded_copy_posix\n"
        ".type smmap__guarded_copy_posix, @function\n"
        "smmap__guarded_copy_posix:\n"
        SMMAP_COPY_BODY("smmap__copy", GUARD_LABEL)
        ".size smmap__guarded_copy_posix, .-smmap__guarded_copy_posix\n");

static int handle(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    greg_t pc, src, left;
    const char *addr = info->si_addr;
    (void)sig;
    if (uc == NULL)
        return 0;
    pc = uc->uc_mcontext.gregs[REG_RIP];
    src = uc->uc_mcontext.gregs[REG_RSI];
    if (pc == (greg_t)smmap__copy_rep_insn)
        left = uc->uc_mcontext.gregs[REG_RCX];
    else if (pc >= (greg_t)smmap__copy_begin && pc < (greg_t)smmap__copy_end)
        left = uc->uc_mcontext.gregs[REG_RDX];
    else
        return 0;
    /* A fault of ours is a load from the source still to copy; one on the
     * destination is the caller's bug and is not ours to hide. */
    if ((greg_t)addr < src || (greg_t)addr >= src + left)
        return 0;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)smmap__copy_fault;
    return 1;
}

#else
typedef struct guard {
    sigjmp_buf env;
    const unsigned char *lo, *hi;
    volatile sig_atomic_t armed;
} guard;

static _Thread_local guard thread_guard;

static int handle(int sig, siginfo_t *info, void *context)
{
    guard *g = &thread_guard;
    const unsigned char *a = info->si_addr;
    (void)sig;
    (void)context;
    if (g->armed && a >= g->lo && a < g->hi) {
        g->armed = 0;
        siglongjmp(g->env, 1);
    }
    return 0;
}

int64_t smmap__guarded_copy_posix(void *dst, const void *src, size_t len)
{
    guard *g = &thread_guard;
    g->lo = src;
    g->hi = (const unsigned char *)src + len;
    if (sigsetjmp(g->env, 0) != 0)
        return -EIO;
    g->armed = 1;
    memcpy(dst, src, len);
    g->armed = 0;
    return (int64_t)len;
}
#endif

SMMAP_API int smmap_handle_fault(int sig, void *siginfo, void *ucontext)
{
    if (siginfo == NULL || (sig != SIGBUS && sig != SIGSEGV))
        return 0;
    return handle(sig, siginfo, ucontext);
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
    if (!handle(sig, info, context))
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

void smmap__guard_install_posix(void)
{
    pthread_once(&install_once, install);
}

#endif /* !_WIN32 */
