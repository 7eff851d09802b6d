/*
 * os_win32.c - the OS layer on Windows: files opened by UTF-8 path through
 * CreateFileW with full sharing, file mappings placed at the 64 KiB
 * allocation granularity, identity from the volume serial number and file
 * index, Windows error codes translated into the errno values smmap.h
 * documents, the guard that turns a fault in smmap_read's copy into -EIO,
 * and locks made of SRWLOCKs.
 *
 * This and os_posix.c are the only files that include <windows.h> or
 * <sys/mman.h>. A native descriptor (smmap_os_fd) is a pointer to a
 * win32_file here (a HANDLE and the volume it lives on, see there); -1,
 * SMMAP_OS_NO_FD, is never such a pointer.
 */
#ifdef _WIN32

/* SRWLOCK and GetFileInformationByHandleEx need Vista. The headers are
 * asked for Windows 8 so that they declare FILE_ID_INFO, which is only a
 * fallback (see stat_by_classes): nothing is imported that Vista lacks. */
#if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0602
#undef _WIN32_WINNT
#define _WIN32_WINNT 0x0602
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "os.h"

#include <errno.h>
#include <io.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include "smmap.h"

/* smmap_mutex reserves one pointer for the lock so that os.h need not
 * include <windows.h>; an SRWLOCK is exactly one pointer. */
_Static_assert(sizeof(SRWLOCK) == sizeof(void *),
               "SRWLOCK must fit smmap_mutex.srw");
_Static_assert(_Alignof(SRWLOCK) <= _Alignof(void *),
               "SRWLOCK must not need more alignment than a pointer");
/* A pointer travels in smmap_os_fd. */
_Static_assert(sizeof(void *) <= sizeof(smmap_os_fd),
               "a pointer must fit smmap_os_fd");

/*
 * An open file: the handle, and the serial number of its volume, taken by
 * the first fstat (which the core makes right after opening) and kept. The
 * serial is the "device" half of the file's identity; asked again later
 * through the handle, Wine derives it from the name the file was opened by
 * and answers 0 once that name was renamed or deleted, while the file is the
 * same (Windows keeps answering the volume's serial). Keeping it makes the
 * identity of an open file stable on both.
 */
typedef struct win32_file {
    HANDLE handle;
    uint64_t volume;
    int volume_known;
} win32_file;

/*
 * The errno value for a Windows error code, as the public header documents
 * them: what the caller can act on (missing, denied, out of resources) keeps
 * its POSIX meaning. A sharing violation (another process opened the file
 * without sharing) is -EACCES, as the C runtime's _open reports it; -EBUSY
 * stays reserved for smmap_manager_release_path's "a cursor holds it".
 */
static int errno_from_win32(DWORD code)
{
    switch (code) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_NET_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_INVALID_NAME:
    /* The file was deleted while open elsewhere; it is gone for new opens. */
    case ERROR_DELETE_PENDING:
        return -ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_NETWORK_ACCESS_DENIED:
        return -EACCES;
    case ERROR_PRIVILEGE_NOT_HELD:
        return -EPERM;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_NO_SYSTEM_RESOURCES:
        return -ENOMEM;
    case ERROR_TOO_MANY_OPEN_FILES:
        return -EMFILE;
    case ERROR_INVALID_HANDLE:
        return -EBADF;
    case ERROR_FILENAME_EXCED_RANGE:
        return -ENAMETOOLONG;
    case ERROR_DIRECTORY:
        return -ENOTDIR;
    case ERROR_CANT_RESOLVE_FILENAME:
        return -ELOOP;
    case ERROR_INVALID_PARAMETER:
    case ERROR_MAPPED_ALIGNMENT:
    case ERROR_NO_UNICODE_TRANSLATION:
    /* CreateFileMapping of an empty file; mmap gives EINVAL for length 0. */
    case ERROR_FILE_INVALID:
        return -EINVAL;
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION:
        return -ENODEV;
    case ERROR_OPERATION_ABORTED:
        return -EINTR;
    case ERROR_ARITHMETIC_OVERFLOW:
    case ERROR_FILE_TOO_LARGE:
        return -EOVERFLOW;
    default:
        return -EIO;
    }
}

static int last_error(void)
{
    return errno_from_win32(GetLastError());
}

static win32_file *as_file(smmap_os_fd fd)
{
    return (win32_file *)fd;
}

static HANDLE as_handle(smmap_os_fd fd)
{
    return as_file(fd)->handle;
}

/* Wrap an open handle; on failure the handle is closed. */
static int wrap_handle(HANDLE h, smmap_os_fd *out)
{
    win32_file *f = malloc(sizeof(*f));
    if (f == NULL) {
        CloseHandle(h);
        return -ENOMEM;
    }
    f->handle = h;
    f->volume = 0;
    f->volume_known = 0;
    *out = (smmap_os_fd)f;
    return 0;
}

/* A UTF-8 path as a new wide string (free with free()); strict, so that a
 * malformed name is refused instead of opening some other file. */
static int utf8_to_wide(const char *path, wchar_t **out)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1,
                                NULL, 0);
    wchar_t *wide;
    if (n <= 0)
        return last_error();
    wide = malloc((size_t)n * sizeof(*wide));
    if (wide == NULL)
        return -ENOMEM;
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, wide,
                            n) != n) {
        int err = last_error();
        free(wide);
        return err;
    }
    *out = wide;
    return 0;
}

/*
 * Full sharing, so that other programs may write, rename and delete the file
 * while smmap holds it (the handle alone never blocks a delete; a mapped
 * view may, which is what smmap_manager_release_path is for).
 * FILE_FLAG_BACKUP_SEMANTICS lets a directory open, so that fstat reports
 * it and the caller gets -EISDIR rather than a bare access denied. The
 * handle is not inheritable (the default security attributes), the
 * counterpart of O_CLOEXEC.
 */
static int win32_open_ro(const char *path, smmap_os_fd *out)
{
    wchar_t *wide = NULL;
    HANDLE h;
    int err = utf8_to_wide(path, &wide);
    if (err != 0)
        return err;
    h = CreateFileW(wide, GENERIC_READ,
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    NULL, OPEN_EXISTING,
                    FILE_ATTRIBUTE_NORMAL | FILE_FLAG_BACKUP_SEMANTICS, NULL);
    err = h == INVALID_HANDLE_VALUE ? last_error() : 0;
    free(wide);
    if (err != 0)
        return err;
    return wrap_handle(h, out);
}

/* fd is a C runtime descriptor; the HANDLE behind it is duplicated, so the
 * caller may close its descriptor at once. */
static int win32_dup_fd(int fd, smmap_os_fd *out)
{
    HANDLE self = GetCurrentProcess(), copy;
    intptr_t h;
    if (fd < 0)
        return -EBADF;
    h = _get_osfhandle(fd);
    if (h == -1 || h == -2) /* -2: a standard stream with no console */
        return -EBADF;
    if (!DuplicateHandle(self, (HANDLE)h, self, &copy, 0, FALSE,
                         DUPLICATE_SAME_ACCESS))
        return last_error();
    return wrap_handle(copy, out);
}

static int win32_close(smmap_os_fd fd)
{
    win32_file *f = as_file(fd);
    int err = CloseHandle(f->handle) ? 0 : last_error();
    free(f);
    return err;
}

/* FILETIME counts 100 ns ticks since 1601; mtime_ns counts from 1970. */
static int64_t unix_ns_from_filetime(FILETIME ft)
{
    const int64_t ticks_1601_to_1970 = 116444736000000000ll;
    int64_t ticks = (int64_t)(((uint64_t)ft.dwHighDateTime << 32) |
                              ft.dwLowDateTime);
    /* Unsigned: any FILETIME wraps instead of overflowing. */
    return (int64_t)(((uint64_t)ticks - (uint64_t)ticks_1601_to_1970) * 100u);
}

/*
 * The same answers as GetFileInformationByHandle, from three queries by
 * information class, for a handle that query refuses: Wine cannot answer
 * its volume half for a handle it made from a Unix descriptor (a program's
 * stdin redirected from a file: ERROR_INVALID_HANDLE), and says volume 0
 * here. FILE_ID_INFO (Windows 8) holds a 128-bit id; its low 64 bits are the
 * NTFS file index, and the high ones (ReFS) are folded in.
 */
static BOOL stat_by_classes(HANDLE h, BY_HANDLE_FILE_INFORMATION *info)
{
    FILE_STANDARD_INFO standard;
    FILE_BASIC_INFO basic;
    FILE_ID_INFO id;
    uint64_t lo, hi;

    if (!GetFileInformationByHandleEx(h, FileStandardInfo, &standard,
                                      sizeof(standard)) ||
        !GetFileInformationByHandleEx(h, FileBasicInfo, &basic,
                                      sizeof(basic)) ||
        !GetFileInformationByHandleEx(h, FileIdInfo, &id, sizeof(id)))
        return FALSE;
    memcpy(&lo, id.FileId.Identifier, 8);
    memcpy(&hi, id.FileId.Identifier + 8, 8);
    lo ^= hi;
    memset(info, 0, sizeof(*info));
    info->dwFileAttributes = basic.FileAttributes;
    if (standard.Directory)
        info->dwFileAttributes |= FILE_ATTRIBUTE_DIRECTORY;
    info->ftLastWriteTime.dwLowDateTime =
        (DWORD)((uint64_t)basic.LastWriteTime.QuadPart & 0xFFFFFFFFu);
    info->ftLastWriteTime.dwHighDateTime =
        (DWORD)((uint64_t)basic.LastWriteTime.QuadPart >> 32);
    info->dwVolumeSerialNumber = (DWORD)id.VolumeSerialNumber;
    info->nFileSizeHigh = (DWORD)((uint64_t)standard.EndOfFile.QuadPart >> 32);
    info->nFileSizeLow =
        (DWORD)((uint64_t)standard.EndOfFile.QuadPart & 0xFFFFFFFFu);
    info->nFileIndexHigh = (DWORD)(lo >> 32);
    info->nFileIndexLow = (DWORD)(lo & 0xFFFFFFFFu);
    return TRUE;
}

static int win32_fstat(smmap_os_fd fd, smmap_os_stat *out)
{
    win32_file *f = as_file(fd);
    HANDLE h = f->handle;
    BY_HANDLE_FILE_INFORMATION info;
    DWORD type;

    SetLastError(NO_ERROR);
    type = GetFileType(h);
    if (type == FILE_TYPE_UNKNOWN && GetLastError() != NO_ERROR)
        return last_error();
    if (type != FILE_TYPE_DISK) {
        /* Pipes and consoles have no file identity; they are refused. */
        out->dev = 0;
        out->ino = 0;
        out->size = 0;
        out->mtime_ns = 0;
        out->gen = 0;
        out->kind = SMMAP_OS_OTHER;
        return 0;
    }
    if (!GetFileInformationByHandle(h, &info)) {
        int err = last_error();
        if (!stat_by_classes(h, &info))
            return err;
    }
    /* (volume serial, file index) is what (st_dev, st_ino) is on POSIX: two
     * paths to one file, hard links included, give the same pair. */
    if (!f->volume_known) {
        f->volume = info.dwVolumeSerialNumber;
        f->volume_known = 1;
    }
    out->dev = f->volume;
    out->ino = ((uint64_t)info.nFileIndexHigh << 32) | info.nFileIndexLow;
    out->mtime_ns = unix_ns_from_filetime(info.ftLastWriteTime);
    /* No generation: the NTFS file index already carries a sequence
     * number that changes when the index is reused (ReFS ids are 128 bits,
     * folded above). The creation time is no generation here: NTFS's
     * tunneling gives a file created under a name just deleted the old
     * file's creation time, any program may set it, and Wine derives it
     * from times that a touch changes. */
    out->gen = 0;
    if (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
        out->kind = SMMAP_OS_DIRECTORY;
        out->size = 0;
        return 0;
    }
    /* The end-of-file GetFileSizeEx would ask for again: the core calls
     * fstat before every new window, so one query is worth saving. */
    out->kind = SMMAP_OS_REGULAR;
    out->size = ((uint64_t)info.nFileSizeHigh << 32) | info.nFileSizeLow;
    return 0;
}

/*
 * A read-only view of [offset, offset + len). The mapping object is closed
 * as soon as the view exists: the view keeps it alive, and unmapping the view
 * then releases everything, so there is no second handle to track. A
 * mapping of the whole current file (maximum size 0) is what a read-only
 * handle may create; the view selects the window.
 */
static int win32_map(smmap_os_fd fd, uint64_t offset, size_t len, void **out)
{
    HANDLE mapping;
    void *view;
    int err = 0;

    if (len == 0)
        return -EINVAL;
    if (offset > UINT64_MAX - len)
        return -EOVERFLOW;
    mapping = CreateFileMappingW(as_handle(fd), NULL, PAGE_READONLY, 0, 0,
                                 NULL);
    if (mapping == NULL)
        return last_error();
    view = MapViewOfFile(mapping, FILE_MAP_READ, (DWORD)(offset >> 32),
                         (DWORD)(offset & 0xFFFFFFFFu), len);
    if (view == NULL)
        err = last_error();
    CloseHandle(mapping);
    if (err != 0)
        return err;
    *out = view;
    return 0;
}

static int win32_unmap(void *addr, size_t len)
{
    (void)len; /* a view is unmapped whole, by its base address */
    return UnmapViewOfFile(addr) ? 0 : last_error();
}

/* ReadFile takes a 32-bit count; a short read is allowed, the caller loops. */
static int64_t win32_pread(smmap_os_fd fd, void *buf, size_t len,
                           uint64_t offset)
{
    OVERLAPPED at;
    DWORD want = len > 0x40000000u ? 0x40000000u : (DWORD)len, got = 0;

    if (offset > (uint64_t)INT64_MAX)
        return -EOVERFLOW;
    ZeroMemory(&at, sizeof(at));
    at.Offset = (DWORD)(offset & 0xFFFFFFFFu);
    at.OffsetHigh = (DWORD)(offset >> 32);
    if (!ReadFile(as_handle(fd), buf, want, &got, &at)) {
        if (GetLastError() == ERROR_HANDLE_EOF)
            return 0;
        return last_error();
    }
    return (int64_t)got;
}

static uint64_t win32_granularity(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwAllocationGranularity != 0 ? si.dwAllocationGranularity
                                           : 65536;
}

/* Windows has no counterpart of vm.max_map_count. */
static uint64_t win32_max_map_count(void)
{
    return 0;
}

/* Handles are limited only by memory (millions); the core's default applies. */
static uint64_t win32_max_open_files(void)
{
    return 0;
}

/* Advice is a hint; Windows has no per-range access pattern hints, and
 * leaves populating to the core (which touches the pages). */
static int win32_advise(void *addr, size_t len, int advice)
{
    (void)addr;
    (void)len;
    return advice == SMMAP_OS_POPULATE ? -EOPNOTSUPP : 0;
}

/*
 * The guard around smmap_read's copies. Windows refuses to shrink a file
 * while a view of it is mapped (ERROR_USER_MAPPED_FILE), but a mapped page
 * can still fail to come in: a network share that went away, a removable or
 * failing disk (EXCEPTION_IN_PAGE_ERROR), or a file truncated behind Windows'
 * back (Wine, by a Unix process: EXCEPTION_ACCESS_VIOLATION). A vectored
 * exception handler, added once when a manager maps its first window, turns
 * such a fault inside a guarded copy into -EIO; every other exception goes
 * on to the application's handlers untouched (EXCEPTION_CONTINUE_SEARCH).
 *
 *   - x86-64: the copy is a routine at known addresses (the technique of
 *     os_guard_posix.c): the handler sees the faulting instruction inside
 *     it and the fault address inside the source still to copy, and resumes
 *     at a recovery label. Nothing is saved per copy.
 *   - elsewhere: each copy records its source range and a jmp_buf in
 *     thread-local storage, and the handler jumps back (unwinding through
 *     the exception dispatcher, as longjmp does on Windows).
 *
 * With SMMAP_NO_SIGNAL_HANDLER nothing is added; an application's own
 * vectored handler may call smmap_handle_fault(0, ExceptionRecord,
 * ContextRecord) first and return EXCEPTION_CONTINUE_EXECUTION when it
 * answers nonzero.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define SMMAP_GUARD_PC 1
#include "os_copy_x86_64.h"
/*
 * int64_t smmap__win_copy_guarded(void *dst, const void *src, size_t len):
 * the OS table's guarded_copy, len, or -EIO when a fault loading from src
 * was turned into a jump to the recovery label. The Windows x64 convention
 * passes rcx, rdx, r8 and has rdi and rsi callee-saved: the entry saves
 * them and moves the arguments to rdi, rsi, rdx for the body
 * (os_copy_x86_64.h, shared with os_guard_posix.c).
 */
int64_t smmap__win_copy_guarded(void *dst, const void *src, size_t len);
_Static_assert(EIO == SMMAP_COPY_EIO, "the recovery label returns -EIO");
extern const char smmap__win_copy_begin[], smmap__win_copy_end[],
    smmap__win_copy_rep_insn[], smmap__win_copy_fault[];
#define GUARD_LABEL(name) ".globl " name "\n" name ":\n"
__asm__(".text\n"
        ".p2align 4\n"
        ".globl smmap__win_copy_guarded\n"
        ".def smmap__win_copy_guarded; .scl 2; .type 32; .endef\n"
        ".seh_proc smmap__win_copy_guarded\n"
        "smmap__win_copy_guarded:\n"
        "    pushq %rdi\n"
        "    .seh_pushreg %rdi\n"
        "    pushq %rsi\n"
        "    .seh_pushreg %rsi\n"
        "    .seh_endprologue\n"
        "    movq %rcx, %rdi\n"
        "    movq %rdx, %rsi\n"
        "    movq %r8, %rdx\n"
        "    call smmap__win_copy_body\n"
        "    popq %rsi\n"
        "    popq %rdi\n"
        "    ret\n"
        ".seh_endproc\n"
        /* A leaf without a frame: needs no unwind data. */
        ".p2align 4\n"
        "smmap__win_copy_body:\n"
        SMMAP_COPY_BODY("smmap__win_copy", GUARD_LABEL));

/* Whether the fault is a load of ours; if so, resume at the recovery label. */
static int handle_exception(EXCEPTION_RECORD *rec, CONTEXT *ctx)
{
    DWORD64 pc = ctx->Rip, src = ctx->Rsi, left, addr;
    if (pc == (DWORD64)smmap__win_copy_rep_insn)
        left = ctx->Rcx;
    else if (pc >= (DWORD64)smmap__win_copy_begin &&
             pc < (DWORD64)smmap__win_copy_end)
        left = ctx->Rdx;
    else
        return 0;
    addr = (DWORD64)rec->ExceptionInformation[1];
    /* A fault on the destination is the caller's bug, not ours to hide. */
    if (addr < src || addr >= src + left)
        return 0;
    ctx->Rip = (DWORD64)smmap__win_copy_fault;
    return 1;
}

#define win32_guarded_copy smmap__win_copy_guarded
#else
typedef struct guard {
    jmp_buf env;
    const unsigned char *lo, *hi;
    volatile LONG armed;
} guard;

static _Thread_local guard thread_guard;

static int handle_exception(EXCEPTION_RECORD *rec, CONTEXT *ctx)
{
    guard *g = &thread_guard;
    const unsigned char *a =
        (const unsigned char *)rec->ExceptionInformation[1];
    (void)ctx;
    if (g->armed && a >= g->lo && a < g->hi) {
        g->armed = 0;
        longjmp(g->env, 1);
    }
    return 0;
}

static int64_t win32_guarded_copy(void *dst, const void *src, size_t len)
{
    guard *g = &thread_guard;
    g->lo = src;
    g->hi = (const unsigned char *)src + len;
    if (setjmp(g->env) != 0)
        return -EIO;
    g->armed = 1;
    memcpy(dst, src, len);
    g->armed = 0;
    return (int64_t)len;
}
#endif

static int is_fault(const EXCEPTION_RECORD *rec)
{
    return (rec->ExceptionCode == EXCEPTION_IN_PAGE_ERROR ||
            rec->ExceptionCode == EXCEPTION_ACCESS_VIOLATION) &&
           rec->NumberParameters >= 2;
}

static LONG CALLBACK on_exception(EXCEPTION_POINTERS *ep)
{
    if (is_fault(ep->ExceptionRecord) &&
        handle_exception(ep->ExceptionRecord, ep->ContextRecord))
        return EXCEPTION_CONTINUE_EXECUTION;
    return EXCEPTION_CONTINUE_SEARCH;
}

static volatile LONG guard_installed;

static void win32_guard_install(void)
{
    if (guard_installed)
        return;
    if (InterlockedCompareExchange(&guard_installed, 1, 0) == 0)
        (void)AddVectoredExceptionHandler(1, on_exception);
}

/* On Windows siginfo is the EXCEPTION_RECORD and ucontext the CONTEXT of a
 * vectored (or SEH filter) handler; sig is ignored. */
SMMAP_API int smmap_handle_fault(int sig, void *siginfo, void *ucontext)
{
    (void)sig;
    if (siginfo == NULL || ucontext == NULL || !is_fault(siginfo))
        return 0;
    return handle_exception(siginfo, ucontext);
}

/* FlushProcessWriteBuffers (Vista on) is the asymmetric barrier: every
 * processor running a thread of the process flushes its write buffer. */
static int win32_barrier_init(void)
{
    return 0;
}

static int win32_barrier(void)
{
    FlushProcessWriteBuffers();
    return 0;
}

static uint64_t win32_clock_ns(void)
{
    LARGE_INTEGER count, freq;
    if (!QueryPerformanceCounter(&count) || !QueryPerformanceFrequency(&freq) ||
        freq.QuadPart <= 0)
        return 0;
    return (uint64_t)(count.QuadPart / freq.QuadPart) * 1000000000u +
           (uint64_t)(count.QuadPart % freq.QuadPart) * 1000000000u /
               (uint64_t)freq.QuadPart;
}

static void win32_yield(void)
{
    (void)SwitchToThread();
}

#define WIN32_OS_TABLE                                                      \
    {                                                                       \
        win32_open_ro, win32_dup_fd, win32_close, win32_fstat, win32_map,   \
            win32_unmap, win32_pread, malloc, free, win32_granularity,      \
            win32_max_map_count, win32_max_open_files, win32_advise,        \
            win32_guarded_copy, win32_guard_install, win32_fstat,           \
            win32_barrier_init, win32_barrier, win32_clock_ns, win32_yield, \
    }

const smmap_os smmap__os_default = WIN32_OS_TABLE;
smmap_os smmap__os = WIN32_OS_TABLE;
const int smmap__os_populate_built = 0;

static PSRWLOCK srw(smmap_mutex *m)
{
    return (PSRWLOCK)(void *)&m->srw;
}

void smmap__at_fork(void (*prepare)(void), void (*parent)(void),
                    void (*child)(void))
{
    (void)prepare;
    (void)parent;
    (void)child;
}

int smmap__mutex_init(smmap_mutex *m)
{
    InitializeSRWLock(srw(m));
    return 0;
}

/* An SRWLOCK holds no resources. */
void smmap__mutex_destroy(smmap_mutex *m)
{
    (void)m;
}

void smmap__mutex_lock(smmap_mutex *m)
{
    AcquireSRWLockExclusive(srw(m));
}

void smmap__mutex_unlock(smmap_mutex *m)
{
    ReleaseSRWLockExclusive(srw(m));
}

#endif /* _WIN32 */
