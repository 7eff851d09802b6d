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
 * handler is installed when a manager maps its first window, with
 * SA_ONSTACK (it runs on the application's alternate stack if it has one)
 * and SA_NODEFER (jumping out leaves the signal unblocked). Applications
 * that own their handlers call smmap_handle_fault() from them instead.
 *
 * A handler installed after ours (Python's faulthandler, a test runner's)
 * would see our faults first, and most re-raise them, which loses the
 * faulting context: each new window, and smmap_guard_install(), puts ours
 * back in front, passing other faults to the one found there. That one
 * passes what it does not own to its own previous handler, which is ours
 * again (directly, or by restoring it and raising the signal): a fault
 * that comes back to us while we pass it on goes on to the handler that
 * was in place before our first install, where we stood when the other
 * was installed. So the order is the one the application made, and two
 * libraries that both put themselves in front never pass a fault round a
 * cycle. (When we are not the handler installed, the one in front called
 * us: the same.)
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
#include <unistd.h>
#ifdef SMMAP_GUARD_PC
#include <ucontext.h> /* the fault's registers; OpenBSD has no such header */
#endif

int64_t smmap__guarded_copy_posix(void *dst, const void *src, size_t len);
void smmap__guard_install_posix(void);

/* The handlers to chain to, per signal, in two slots: an install writes
 * the slot not in use, then publishes it, so a handler running meanwhile
 * reads a whole one. original: the one in place at our first install. */
static struct sigaction previous[2][2], original[2];
static int original_known[2];
static volatile sig_atomic_t previous_slot[2];
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

static int signal_index(int sig)
{
    return sig == SIGBUS ? 0 : 1;
}

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

/*
 * Each thread's guard, and the handler's way to it. The handler runs for
 * every SIGBUS and SIGSEGV of every thread, also of threads that never
 * copied: it must not be a thread's first access to thread_guard, which,
 * when the library is dlopen'ed (the Python extension), is dynamic TLS
 * that __tls_get_addr allocates on a thread's first access (and may
 * reallocate the thread's vector when later dlopens added modules): malloc
 * in a signal handler. So the handler reads only current_guard, a pointer
 * in static TLS (the initial-exec model: a fixed offset from the thread
 * pointer, reserved at thread creation or taken from glibc's static TLS
 * surplus at dlopen, never allocated on access). It is NULL in a thread
 * that never copied, whose faults are then not ours; a copy sets it to the
 * thread's guard before arming it (volatile: the store is not moved past
 * the arming), outside the handler, which is where the thread's first
 * access to thread_guard happens. (Mach-O has no
 * initial-exec model: there the pointer is an ordinary thread-local, which
 * dyld allocates on first access, and a fault in a thread that never
 * copied can still be that first access.)
 */
#if defined(__GNUC__) && defined(__ELF__)
#define SMMAP_TLS_INITIAL_EXEC __attribute__((tls_model("initial-exec")))
#else
#define SMMAP_TLS_INITIAL_EXEC
#endif
static _Thread_local guard thread_guard;
static _Thread_local guard *volatile current_guard SMMAP_TLS_INITIAL_EXEC;

/* The page size, taken at install (sysconf is not async-signal-safe):
 * some kernels (s390x) report a fault's address rounded down to its page,
 * so the source's first page counts from its start. */
static uintptr_t page_mask = ~(uintptr_t)4095;

static int handle(int sig, siginfo_t *info, void *context)
{
    guard *g = current_guard; /* never thread_guard itself: see above */
    uintptr_t a = (uintptr_t)info->si_addr;
    (void)sig;
    (void)context;
    if (g != NULL && g->armed && a >= ((uintptr_t)g->lo & page_mask) &&
        a < (uintptr_t)g->hi) {
        g->armed = 0;
        siglongjmp(g->env, 1);
    }
    return 0;
}

int64_t smmap__guarded_copy_posix(void *dst, const void *src, size_t len)
{
    guard *g = &thread_guard; /* the thread's first access, if it is one */
    current_guard = g;
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

/* A fault cannot be ignored: the access would only repeat. Restore the
 * default action; returning re-runs the access, which then terminates the
 * process as if we had never been installed. */
static void restore_default(int sig)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
}

/*
 * The threads passing a fault on to the handler in front of where we
 * stood, with the fault's siginfo: a fault that comes back while passing
 * it on (the same siginfo, or the signal raised again by this process)
 * goes on to the original handler instead. A fixed table of thread ids
 * with compare-and-swap, since the handler may not allocate nor touch
 * thread-local storage (which may allocate in a dlopen'ed library). An
 * entry left by a handler that jumped out instead of returning is taken
 * over by the thread's next fault. A thread that finds no free entry
 * passes its fault on all the same.
 */
#define CHAINING_SLOTS 64
static uintptr_t chaining[CHAINING_SLOTS];
static siginfo_t *volatile chaining_info[CHAINING_SLOTS];

static uintptr_t thread_id(void)
{
    pthread_t self = pthread_self();
    uintptr_t id = 0;
    memcpy(&id, &self, sizeof(self) < sizeof(id) ? sizeof(self) : sizeof(id));
    return id != 0 ? id : 1;
}

/* This thread's entry, or a free one claimed for it; -1 if none. */
static int chaining_entry(uintptr_t me, int *found)
{
    int i;
    *found = 0;
    for (i = 0; i < CHAINING_SLOTS; i++)
        if (__atomic_load_n(&chaining[i], __ATOMIC_ACQUIRE) == me) {
            *found = 1;
            return i;
        }
    for (i = 0; i < CHAINING_SLOTS; i++) {
        uintptr_t zero = 0;
        if (__atomic_compare_exchange_n(&chaining[i], &zero, me, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return i;
    }
    return -1;
}

/* kill(), raise() and sigqueue() by this process (si_code <= 0). */
static int raised_here(const siginfo_t *info)
{
    return info->si_code <= 0 && info->si_pid == getpid();
}

static void call_handler(const struct sigaction *h, int sig, siginfo_t *info,
                         void *context)
{
    if (h->sa_flags & SA_SIGINFO)
        h->sa_sigaction(sig, info, context);
    else if (h->sa_handler != SIG_DFL && h->sa_handler != SIG_IGN)
        h->sa_handler(sig);
    else
        restore_default(sig);
}

static int is_ours(const struct sigaction *sa);

static void chain(int sig, siginfo_t *info, void *context)
{
    int k = signal_index(sig), found;
    int slot = chaining_entry(thread_id(), &found);
    struct sigaction installed;

    if ((found && (chaining_info[slot] == info || raised_here(info))) ||
        (sigaction(sig, NULL, &installed) == 0 && !is_ours(&installed))) {
        /* Back from the handler in front, or called by one in front of
         * us: on to where we stood. */
        if (slot >= 0 && !found)
            __atomic_store_n(&chaining[slot], (uintptr_t)0, __ATOMIC_RELEASE);
        call_handler(&original[k], sig, info, context);
        return;
    }
    if (slot >= 0)
        chaining_info[slot] = info;
    call_handler(&previous[k][previous_slot[k]], sig, info, context);
    if (slot >= 0) {
        chaining_info[slot] = NULL;
        __atomic_store_n(&chaining[slot], (uintptr_t)0, __ATOMIC_RELEASE);
    }
}

static void on_fault(int sig, siginfo_t *info, void *context)
{
    if (!handle(sig, info, context))
        chain(sig, info, context);
}

static int is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_fault;
}

/* Put ours in front for sig unless it is there; the handler found is the
 * one to chain to. */
static void install_for(int sig)
{
    int k = signal_index(sig), next = !previous_slot[k];
    struct sigaction sa, current;
    if (sigaction(sig, NULL, &current) != 0 || is_ours(&current))
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, &previous[k][next]) != 0)
        return;
    if (is_ours(&previous[k][next]))
        return; /* another thread installed ours meanwhile */
    if (!original_known[k]) {
        original[k] = previous[k][next];
        original_known[k] = 1;
    }
    previous_slot[k] = next;
}

/* Called at every new window: two sigaction queries when ours is in
 * front, which a map (fstat, mmap, page faults) dwarfs. */
static void install_lock_take(void)
{
    pthread_mutex_lock(&install_lock);
}

static void install_lock_give(void)
{
    pthread_mutex_unlock(&install_lock);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* A child forked while another thread installs must not find the lock
 * taken forever. */
static void register_at_fork(void)
{
    (void)pthread_atfork(install_lock_take, install_lock_give,
                         install_lock_give);
}

#if defined(__GNUC__) || defined(__clang__)
/* Registered when the library is loaded, before any thread can hold the
 * lock: registered lazily, at the first window, a fork in another thread
 * could run between glibc's prepare handlers and the fork itself while
 * this thread registers and takes the lock, and the child would inherit it
 * taken (seen under qemu, about one run in ten of test_version's forks). */
__attribute__((constructor)) static void register_at_fork_at_load(void)
{
    pthread_once(&fork_once, register_at_fork);
}
#endif

void smmap__guard_install_posix(void)
{
    pthread_once(&fork_once, register_at_fork);
    pthread_mutex_lock(&install_lock);
#ifndef SMMAP_GUARD_PC
    {
        long page = sysconf(_SC_PAGESIZE);
        if (page > 0)
            page_mask = ~(uintptr_t)(page - 1);
    }
#endif
    install_for(SIGBUS);
    install_for(SIGSEGV);
    pthread_mutex_unlock(&install_lock);
}

#endif /* !_WIN32 */
