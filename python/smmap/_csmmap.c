/*
 * _csmmap.c - the C half of the drop-in `smmap` package: Python types over
 * libsmmap (include/smmap.h), doing the work on every hot path.
 *
 * Types:
 *   Manager    owns one smmap_manager and the list of live cursors (for
 *              smmap's client_count() and forced removal).
 *   File       a lazily opened smmap_file for one path or descriptor; the
 *              manager's `_fdict` values (smmap's MapRegionList role).
 *              A path-opened File that gives -ESTALE (its path names
 *              another file now) is marked stale and dropped from the
 *              manager's cache (file_error), so that the next make_cursor()
 *              of the path opens the file there now. Cursors, maps and
 *              buffers hold strong references to their File, so a dropped
 *              one lives (and its smmap_file stays open) until the last of
 *              them goes: nothing is closed under them.
 *   WindowCursor  smmap.mman.WindowCursor: one smmap_cursor plus smmap's
 *              view (offset and size the caller asked for).
 *   RegionMap  what map() and buffer() export: it holds its own pinned copy
 *              of a cursor, so a region with a live memoryview is never
 *              unmapped (no "BufferError: cannot close exported pointers
 *              exist", GitPython #2065). Indexing gives ints, slicing bytes,
 *              like the mmap object smmap returns.
 *   SlidingWindowMapBuffer  smmap.buf's type, indexing relative to its start.
 *
 * Indexes and slices of a RegionMap or a buffer are copies made by
 * smmap_read, guarded: a page that a truncation removed gives OSError(EIO).
 * The buffer protocol (buffer(), memoryview(map())) exports raw memory,
 * which nothing can guard: there a lost page is SIGBUS, as for an mmap.
 *
 * Python's GIL guards the Python-side state (lists, caches, counters); the
 * library's lock guards the rest. Only slow paths run without the GIL (a
 * cursor move, a file's first open, a whole-file map(), a read across
 * windows: they may mmap, open or copy much); the cursor is marked busy
 * meanwhile and any other use of it raises RuntimeError instead of reading
 * a window that is being replaced. Deallocators touch no module state, so objects
 * finalized at interpreter shutdown are safe.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "smmap.h"

#include <limits.h>
#include <string.h>

typedef struct WindowCursorObject WindowCursorObject;

typedef struct {
    PyObject_HEAD
    smmap_manager *m;
    uint64_t window;      /* smmap's window_size: clamps requests; 0 static */
    uint64_t max_mapped;  /* the budget, for map()'s whole-file decision */
    WindowCursorObject *cursors; /* live associated cursors, not owned */
} ManagerObject;

typedef struct {
    PyObject_HEAD
    ManagerObject *mgr;   /* strong */
    smmap_file *f;        /* NULL until first needed (smmap opens lazily) */
    PyObject *path_or_fd; /* as given, so path_or_fd() returns it (`is`) */
    PyObject *ident;      /* free slot for the Python side (fd identity) */
    uint64_t size;
    Py_ssize_t users;     /* cursors and exporters using this handle */
    int stale;            /* a path-opened handle gave -ESTALE: its path now
                           * names another file (or this one shrank); the
                           * manager's cache no longer hands it out */
} FileObject;

typedef struct {
    PyObject_HEAD
    FileObject *file;     /* strong: the handle must outlive the pin */
    smmap_cursor c;       /* a pinned copy; data == NULL once closed */
    size_t view_ofs, view_len; /* the bytes len/index/buffer see, in c.data */
    size_t next_ofs, next_len; /* one-shot sub-view for the next export */
    int has_next;
    int closed;
    Py_ssize_t exports;
} RegionMapObject;

struct WindowCursorObject {
    PyObject_HEAD
    PyObject *manager;    /* the Python manager (smmap's _manager) */
    FileObject *file;     /* NULL when not associated */
    smmap_cursor c;
    uint64_t ofs, size;   /* smmap's view: first byte and length */
    RegionMapObject *buf_exp; /* exporter for buffer(), pins c's region */
    RegionMapObject *map_exp; /* cached map() */
    int busy;
    WindowCursorObject *prev, *next; /* in file->mgr->cursors */
};

typedef struct {
    PyObject_HEAD
    WindowCursorObject *cur; /* NULL for None */
    uint64_t start;
    Py_ssize_t size;
} BufferObject;

static PyTypeObject ManagerType, FileType, RegionMapType, WindowCursorType,
    BufferType;

/* ---------------------------------------------------------------- errors */

static PyObject *set_error(int err, PyObject *filename)
{
    int e = err < 0 ? -err : err;
    PyObject *args;
    if (e == ENOMEM && filename == NULL)
        return PyErr_Format(PyExc_MemoryError, "smmap: %s", smmap_strerror(err));
    if (filename != NULL)
        args = Py_BuildValue("(isO)", e, smmap_strerror(err), filename);
    else
        args = Py_BuildValue("(is)", e, smmap_strerror(err));
    if (args != NULL) {
        PyErr_SetObject(PyExc_OSError, args);
        Py_DECREF(args);
    }
    return NULL;
}

/*
 * An error of the library on file's behalf. -ESTALE from a path-opened
 * handle means the path names another file now (replaced, removed) or the
 * file shrank below the handle: that handle can map no new window of the
 * path again. Mark it stale and ask the Python manager that owns the cache
 * (a cursor's manager; NULL when there is none at hand) to forget it, so
 * that the next make_cursor() of the path opens the file there now;
 * make_cursor() also skips a stale File it still finds. The handle itself
 * is untouched: its users keep it (and read what its windows hold, or get
 * -ESTALE) until the last one goes. A handle opened from a descriptor
 * keeps its own duplicate, so it is never replaced under its number and is
 * left as it is. Raises the OSError for err; returns NULL.
 */
static PyObject *file_error(FileObject *file, PyObject *manager, int err)
{
    if (err == -ESTALE && file != NULL && file->path_or_fd != NULL &&
        !PyLong_Check(file->path_or_fd)) {
        file->stale = 1;
        if (manager != NULL && manager != Py_None) {
            /* the cache is the Python manager's business: a failure to
             * forget (an odd manager object) leaves the lazy check */
            PyObject *res = PyObject_CallMethod(manager, "_forget_stale_file",
                                                "O", (PyObject *)file);
            if (res == NULL)
                PyErr_Clear();
            Py_XDECREF(res);
        }
    }
    return set_error(err, NULL);
}

static int check_idle(WindowCursorObject *w)
{
    if (w->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "smmap: a WindowCursor is being moved by another thread; "
                        "give each thread its own cursor");
        return -1;
    }
    return 0;
}

/*
 * The bytes [off, off + len) of the window a cursor holds, copied with
 * smmap_read's hit path: a guarded copy that never moves the cursor. A page
 * that a truncation removed under the map gives OSError(EIO) instead of
 * SIGBUS (issue 12, case 8). The caller checks that the range lies in the
 * window (held_has); the GIL stays held, as for the raw copies it replaces,
 * so no other thread can release the cursor meanwhile.
 */
static int held_has(const smmap_cursor *c, uint64_t off, uint64_t len)
{
    uint64_t rel = off - c->begin;
    return c->data != NULL && rel < (uint64_t)c->size &&
           len <= (uint64_t)c->size - rel;
}

static int held_read(smmap_cursor *c, uint64_t off, void *dst, size_t len)
{
    int64_t got;
    if (len == 0)
        return 0;
    if (!held_has(c, off, len)) {
        /* smmap_read would move the cursor: never for a pinned one */
        PyErr_SetString(PyExc_SystemError, "smmap: read outside the held window");
        return -1;
    }
    got = smmap_read(c, off, dst, len);
    if (got < 0) {
        set_error((int)got, NULL);
        return -1;
    }
    if ((uint64_t)got != (uint64_t)len) {
        PyErr_Format(PyExc_SystemError,
                     "smmap: short read inside a held window (%lld of %zu bytes)",
                     (long long)got, len);
        return -1;
    }
    return 0;
}

/*
 * Put smmap's SIGBUS/SIGSEGV handler back in front of one installed after
 * it (faulthandler.enable(), a test runner's), which would otherwise turn a
 * fault in a guarded read into a fatal error (issue 12, case 9). Two
 * system calls (about 350 ns): done where a Python user starts using
 * windows (a cursor created or copied, use_region moving the cursor, a
 * buffer created or beginning access, map() of a whole file), never on a
 * hit nor when a buffer's index or slice moves its cursor (that tripled
 * the cost of a far index). The library itself does it whenever it maps a
 * window; _csmmap.guard_install() does it on demand.
 */
static void guard_refresh(void)
{
    (void)smmap_guard_install();
}

/* --------------------------------------------------------------- Manager */

/* A size, offset or count argument: an int in [0, max]; anything else is a
 * ValueError naming the argument, never a value wrapped modulo 2**64 (as
 * the "K" format did: window_size=2**64 became 0, the static mode). */
static int arg_u64(PyObject *v, const char *name, unsigned long long max,
                   unsigned long long *out)
{
    PyObject *num;
    unsigned long long u = 0;
    long long sv;
    int overflow = 0, bad = 0;
    if (v == NULL)
        return 0;
    num = PyNumber_Index(v);
    if (num == NULL)
        return -1;
    sv = PyLong_AsLongLongAndOverflow(num, &overflow);
    if (sv == -1 && overflow == 0 && PyErr_Occurred()) {
        Py_DECREF(num);
        return -1;
    }
    if (overflow < 0 || (overflow == 0 && sv < 0)) {
        PyErr_Format(PyExc_ValueError, "smmap: %s=%R must not be negative", name, num);
        bad = 1;
    } else {
        u = PyLong_AsUnsignedLongLong(num);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
                Py_DECREF(num);
                return -1;
            }
            PyErr_Clear();
            bad = 1;
        } else if (u > max) {
            bad = 1;
        }
        if (bad)
            PyErr_Format(PyExc_ValueError, "smmap: %s=%R is too large (at most %llu)",
                         name, num, max);
    }
    Py_DECREF(num);
    if (bad)
        return -1;
    *out = u;
    return 0;
}

static int manager_init(ManagerObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"window_size", "max_mapped", "max_regions",
                            "max_open_files", NULL};
    PyObject *vals[4] = {NULL, NULL, NULL, NULL};
    unsigned long long window = 0, max_mapped = 0, max_regions = 0,
                       max_files = 0;
    smmap_options o;
    int err;

    if (self->m != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Manager already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO", names, &vals[0],
                                     &vals[1], &vals[2], &vals[3]))
        return -1;
    /* A window is one mapping: at most half the address space, the
     * library's bound (beyond it -EINVAL; issue 12: 2**63 hung). */
    if (arg_u64(vals[0], names[0], (unsigned long long)(SIZE_MAX / 2), &window) < 0 ||
        arg_u64(vals[1], names[1], ULLONG_MAX, &max_mapped) < 0 ||
        arg_u64(vals[2], names[2], ULLONG_MAX, &max_regions) < 0 ||
        arg_u64(vals[3], names[3], ULLONG_MAX, &max_files) < 0)
        return -1;
    smmap_options_init(&o);
    o.window_size = window;
    /* smmap accepts a budget below the window; the library does not: the
     * budget is soft, so raising it to one window changes nothing else. */
    o.max_mapped = max_mapped;
    if (window != 0 && o.max_mapped < window)
        o.max_mapped = window;
    if (o.max_mapped == 0)
        o.max_mapped = 1;
    if (max_regions != 0)
        o.max_regions = max_regions > UINT32_MAX ? UINT32_MAX : (uint32_t)max_regions;
    if (max_files != 0)
        o.max_open_files = max_files > UINT32_MAX ? UINT32_MAX : (uint32_t)max_files;
    err = smmap_manager_new(&self->m, &o);
    if (err != 0) {
        if (err == -EINVAL) {
            PyErr_Format(PyExc_ValueError,
                         "smmap: invalid manager options (%s): window_size=%llu, "
                         "max_mapped=%llu, max_regions=%u, max_open_files=%u",
                         smmap_strerror(err), window,
                         (unsigned long long)o.max_mapped,
                         (unsigned)o.max_regions, (unsigned)o.max_open_files);
            return -1;
        }
        set_error(err, NULL);
        return -1;
    }
    self->window = window;
    self->max_mapped = o.max_mapped;
    return 0;
}

static void manager_dealloc(ManagerObject *self)
{
    /* Files hold a reference to us, so none is open here; free is final. */
    smmap_manager_free(self->m);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *manager_stats(ManagerObject *self, PyObject *unused)
{
    smmap_stats s;
    (void)unused;
    smmap_manager_stats(self->m, &s);
    return Py_BuildValue(
        "{sKsKsIsIsIsIsIsKsKsKsKsKsKsKsIsKsKsK}", "mapped_bytes",
        (unsigned long long)s.mapped_bytes, "peak_mapped_bytes",
        (unsigned long long)s.peak_mapped_bytes, "regions", (unsigned)s.regions,
        "peak_regions", (unsigned)s.peak_regions, "files", (unsigned)s.files,
        "files_mapped", (unsigned)s.files_mapped, "open_fds",
        (unsigned)s.open_fds, "maps", (unsigned long long)s.maps, "unmaps",
        (unsigned long long)s.unmaps, "evictions",
        (unsigned long long)s.evictions, "reuses", (unsigned long long)s.reuses,
        "retries", (unsigned long long)s.retries, "fd_closes",
        (unsigned long long)s.fd_closes, "fd_reopens",
        (unsigned long long)s.fd_reopens, "files_no_mmap",
        (unsigned)s.files_no_mmap, "read_windows",
        (unsigned long long)s.read_windows, "faults",
        (unsigned long long)s.faults, "direct_reads",
        (unsigned long long)s.direct_reads);
}

/* The three counters smmap's manager methods report, in one call. */
static PyObject *manager_counts(ManagerObject *self, PyObject *unused)
{
    smmap_stats s;
    (void)unused;
    smmap_manager_stats(self->m, &s);
    return Py_BuildValue("(KII)", (unsigned long long)s.mapped_bytes,
                         (unsigned)s.regions, (unsigned)s.files_mapped);
}

static PyObject *manager_collect(ManagerObject *self, PyObject *unused)
{
    size_t n;
    (void)unused;
    n = smmap_manager_collect(self->m);
    return PyLong_FromSize_t(n);
}

static void cursor_release(WindowCursorObject *w);
static int cursor_ensure_open(WindowCursorObject *w);

/*
 * smmap's force_map_handle_removal_win: invalidate every idle cursor of a
 * file whose path starts with prefix, then unmap and close what belongs to
 * those files through the library, which keeps its lists and counters
 * right. Regions pinned by a live exported buffer stay (unmapping them would
 * crash whoever reads the buffer); then nothing is released (-EBUSY) and the
 * call returns 0. Returns the number of regions unmapped.
 */
static PyObject *manager_release_path(ManagerObject *self, PyObject *arg)
{
    PyObject *bytes = NULL;
    const char *prefix;
    size_t plen;
    WindowCursorObject *w;
    smmap_stats before, after;
    int err;

    if (!PyUnicode_FSConverter(arg, &bytes))
        return NULL;
    prefix = PyBytes_AS_STRING(bytes);
    plen = (size_t)PyBytes_GET_SIZE(bytes);
    for (w = self->cursors; w != NULL; w = w->next) {
        PyObject *p = w->file != NULL ? w->file->path_or_fd : NULL;
        PyObject *pb = NULL;
        if (w->busy || p == NULL || PyLong_Check(p))
            continue;
        if (!PyUnicode_FSConverter(p, &pb)) {
            PyErr_Clear();
            continue;
        }
        if ((size_t)PyBytes_GET_SIZE(pb) >= plen &&
            memcmp(PyBytes_AS_STRING(pb), prefix, plen) == 0)
            cursor_release(w);
        Py_DECREF(pb);
    }
    smmap_manager_stats(self->m, &before);
    err = smmap_manager_release_path(self->m, prefix);
    Py_DECREF(bytes);
    if (err == -EBUSY)
        return PyLong_FromLong(0);
    if (err != 0)
        return set_error(err, arg);
    smmap_manager_stats(self->m, &after);
    return PyLong_FromUnsignedLong(before.regions - after.regions);
}

static PyObject *manager_get_window(ManagerObject *self, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLongLong(self->window);
}

static PyMethodDef manager_methods[] = {
    {"stats", (PyCFunction)manager_stats, METH_NOARGS,
     "All counters of the library (smmap_stats) as a dict."},
    {"counts", (PyCFunction)manager_counts, METH_NOARGS,
     "(mapped_bytes, regions, files_mapped)."},
    {"collect", (PyCFunction)manager_collect, METH_NOARGS,
     "Unmap every region no cursor or buffer holds; returns how many."},
    {"release_path", (PyCFunction)manager_release_path, METH_O,
     "Invalidate cursors of files under a path prefix and unmap their regions."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef manager_getset[] = {
    {"window", (getter)manager_get_window, NULL, "clamp window size", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ManagerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "smmap._csmmap.Manager",
    .tp_basicsize = sizeof(ManagerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Manager(window_size, max_mapped, max_regions=0, max_open_files=0)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)manager_init,
    .tp_dealloc = (destructor)manager_dealloc,
    .tp_methods = manager_methods,
    .tp_getset = manager_getset,
};

/* ------------------------------------------------------------------ File */

static int file_init(FileObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"manager", "path_or_fd", NULL};
    PyObject *mgr, *pof;
    if (self->mgr != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "File already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O", names, &ManagerType, &mgr,
                                     &pof))
        return -1;
    Py_INCREF(mgr);
    self->mgr = (ManagerObject *)mgr;
    Py_INCREF(pof);
    self->path_or_fd = pof;
    Py_INCREF(Py_None);
    self->ident = Py_None;
    return 0;
}

/* Open the handle on first need, as smmap stats and opens at first use. */
static int file_open(FileObject *self)
{
    smmap_file *f = NULL;
    int err;
    if (self->f != NULL)
        return 0;
    if (self->mgr == NULL) {
        PyErr_SetString(PyExc_ValueError, "File not initialized");
        return -1;
    }
    if (PyLong_Check(self->path_or_fd)) {
        long fd = PyLong_AsLong(self->path_or_fd);
        if (fd == -1 && PyErr_Occurred())
            return -1;
        if (fd < INT_MIN || fd > INT_MAX) {
            PyErr_SetString(PyExc_OverflowError, "file descriptor out of range");
            return -1;
        }
        err = smmap_file_open_fd(self->mgr->m, (int)fd, &f);
    } else {
        PyObject *bytes = NULL;
        if (!PyUnicode_FSConverter(self->path_or_fd, &bytes))
            return -1;
        Py_BEGIN_ALLOW_THREADS
        err = smmap_file_open(self->mgr->m, PyBytes_AS_STRING(bytes), &f);
        Py_END_ALLOW_THREADS
        Py_DECREF(bytes);
    }
    if (err != 0) {
        if (err == -ENOENT || err == -EACCES || err == -EISDIR || err == -EBADF)
            set_error(err, self->path_or_fd);
        else
            set_error(err, NULL);
        return -1;
    }
    /* Another thread may have opened it while we were without the GIL. */
    if (self->f != NULL) {
        smmap_file_close(f);
        return 0;
    }
    self->f = f;
    self->size = smmap_file_size(f);
    return 0;
}

static void file_dealloc(FileObject *self)
{
    /* Every cursor and exporter holds a reference: none is left here. */
    smmap_file_close(self->f);
    Py_XDECREF(self->path_or_fd);
    Py_XDECREF(self->ident);
    Py_XDECREF(self->mgr);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *file_path_or_fd(FileObject *self, PyObject *unused)
{
    (void)unused;
    if (self->path_or_fd == NULL)
        Py_RETURN_NONE;
    Py_INCREF(self->path_or_fd);
    return self->path_or_fd;
}

static PyObject *file_file_size(FileObject *self, PyObject *unused)
{
    (void)unused;
    if (file_open(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(self->size);
}

static PyObject *file_users(FileObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromSsize_t(self->users);
}

static PyObject *regionmap_from_range(FileObject *file, PyObject *manager,
                                      uint64_t ofs, uint64_t size);

/* A RegionMap pinning the file bytes [ofs, ofs + size) (clipped to EOF). */
static PyObject *file_map_range(FileObject *self, PyObject *args)
{
    unsigned long long ofs, size;
    if (!PyArg_ParseTuple(args, "KK", &ofs, &size))
        return NULL;
    if (file_open(self) < 0)
        return NULL;
    return regionmap_from_range(self, NULL, ofs, size);
}

/* smmap's client_count() of the region at address addr: 1 for the manager
 * plus each cursor of the manager holding it. */
static PyObject *file_region_clients(FileObject *self, PyObject *arg)
{
    unsigned long long addr = PyLong_AsUnsignedLongLong(arg);
    WindowCursorObject *w;
    long n = 1;
    if (addr == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    for (w = self->mgr->cursors; w != NULL; w = w->next)
        if (!w->busy && w->c.data != NULL &&
            (unsigned long long)(uintptr_t)w->c.data == addr)
            n++;
    return PyLong_FromLong(n);
}

static PyMethodDef file_methods[] = {
    {"path_or_fd", (PyCFunction)file_path_or_fd, METH_NOARGS, NULL},
    {"file_size", (PyCFunction)file_file_size, METH_NOARGS, NULL},
    {"users", (PyCFunction)file_users, METH_NOARGS,
     "cursors and exported maps using this handle"},
    {"region_clients", (PyCFunction)file_region_clients, METH_O,
     "client_count() of the region at an address"},
    {"map_range", (PyCFunction)file_map_range, METH_VARARGS,
     "map_range(ofs, size) -> RegionMap of those bytes"},
    {NULL, NULL, 0, NULL}};

static PyMemberDef file_members[] = {
    {"ident", T_OBJECT, offsetof(FileObject, ident), 0, "free for the caller"},
    {"stale", T_INT, offsetof(FileObject, stale), READONLY,
     "1 once the path-opened handle gave ESTALE (the path names another file)"},
    {"manager", T_OBJECT, offsetof(FileObject, mgr), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyTypeObject FileType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "smmap._csmmap.File",
    .tp_basicsize = sizeof(FileObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "File(manager, path_or_fd): one file of a manager",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)file_init,
    .tp_dealloc = (destructor)file_dealloc,
    .tp_methods = file_methods,
    .tp_members = file_members,
};

/* ------------------------------------------------------------- RegionMap */

static RegionMapObject *regionmap_alloc(FileObject *file)
{
    RegionMapObject *r = PyObject_New(RegionMapObject, &RegionMapType);
    if (r == NULL)
        return NULL;
    Py_INCREF(file);
    r->file = file;
    file->users++;
    smmap_cursor_init(&r->c, file->f);
    r->view_ofs = r->view_len = 0;
    r->next_ofs = r->next_len = 0;
    r->has_next = 0;
    r->closed = 0;
    r->exports = 0;
    return r;
}

static PyObject *regionmap_from_range(FileObject *file, PyObject *manager,
                                      uint64_t ofs, uint64_t size)
{
    RegionMapObject *r;
    uint64_t n;
    int err;
    if (ofs >= file->size)
        return PyErr_Format(PyExc_ValueError,
                            "offset %llu is at or past the end of the file (%llu)",
                            (unsigned long long)ofs,
                            (unsigned long long)file->size);
    n = file->size - ofs;
    if (size < n)
        n = size;
    if (n > (uint64_t)PY_SSIZE_T_MAX)
        return PyErr_NoMemory();
    r = regionmap_alloc(file);
    if (r == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    guard_refresh();
    err = smmap_cursor_use(&r->c, ofs, (size_t)n);
    Py_END_ALLOW_THREADS
    if (err != 0) {
        /* r holds a reference to file: drop it only after file_error */
        file_error(file, manager, err);
        Py_DECREF(r);
        return NULL;
    }
    r->view_ofs = (size_t)(ofs - r->c.begin);
    r->view_len = (size_t)n;
    return (PyObject *)r;
}

static void regionmap_dealloc(RegionMapObject *self)
{
    smmap_cursor_release(&self->c);
    if (self->file != NULL) {
        self->file->users--;
        Py_DECREF(self->file);
    }
    PyObject_Free(self);
}

static int regionmap_check(RegionMapObject *self)
{
    if (self->closed) {
        PyErr_SetString(PyExc_ValueError, "mmap closed or invalid");
        return -1;
    }
    return 0;
}

static int regionmap_getbuffer(RegionMapObject *self, Py_buffer *view,
                               int flags)
{
    size_t ofs = self->view_ofs, len = self->view_len;
    if (self->has_next) {
        ofs = self->next_ofs;
        len = self->next_len;
        self->has_next = 0;
    }
    if (regionmap_check(self) < 0) {
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self,
                          (void *)(self->c.data + ofs), (Py_ssize_t)len, 1,
                          flags) < 0)
        return -1;
    self->exports++;
    return 0;
}

static void regionmap_releasebuffer(RegionMapObject *self, Py_buffer *view)
{
    (void)view;
    /* A close() with views alive waits for the last one. */
    if (--self->exports == 0 && self->closed)
        smmap_cursor_release(&self->c);
}

static Py_ssize_t regionmap_len(RegionMapObject *self)
{
    if (regionmap_check(self) < 0)
        return -1;
    return (Py_ssize_t)self->view_len;
}

/* Every step-th of n bytes from file offset off, through a cursor whose
 * window holds them all: guarded copies, one covering copy when the step is
 * small, else one byte at a time (m[::4096] need not copy the window). */
static PyObject *held_gather(smmap_cursor *c, uint64_t off, Py_ssize_t n,
                             Py_ssize_t step)
{
    PyObject *out, *whole;
    Py_ssize_t k, astep = step > 0 ? step : -step, span;
    uint64_t lo;
    char *dst;
    const char *src;
    out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL || n == 0)
        return out;
    dst = PyBytes_AS_STRING(out);
    if (astep > 16) {
        for (k = 0; k < n; k++)
            if (held_read(c, off + (uint64_t)(k * step), dst + k, 1) < 0) {
                Py_DECREF(out);
                return NULL;
            }
        return out;
    }
    span = (n - 1) * astep + 1;
    lo = step > 0 ? off : off - (uint64_t)((n - 1) * astep);
    whole = PyBytes_FromStringAndSize(NULL, span);
    if (whole == NULL || held_read(c, lo, PyBytes_AS_STRING(whole), (size_t)span) < 0) {
        Py_XDECREF(whole);
        Py_DECREF(out);
        return NULL;
    }
    src = PyBytes_AS_STRING(whole) + (off - lo);
    for (k = 0; k < n; k++)
        dst[k] = src[k * step];
    Py_DECREF(whole);
    return out;
}

/* m[i] and m[a:b:c] copy, through the guarded read (a truncated file gives
 * OSError(EIO)); only the buffer protocol (memoryview, struct.unpack_from)
 * reads the map's raw memory. */
static PyObject *regionmap_subscript(RegionMapObject *self, PyObject *key)
{
    uint64_t base;
    Py_ssize_t len;
    if (regionmap_check(self) < 0)
        return NULL;
    base = self->c.begin + self->view_ofs;
    len = (Py_ssize_t)self->view_len;
    if (PyIndex_Check(key)) {
        unsigned char b;
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            return NULL;
        if (i < 0)
            i += len;
        if (i < 0 || i >= len) {
            PyErr_SetString(PyExc_IndexError, "mmap index out of range");
            return NULL;
        }
        if (held_read(&self->c, base + (uint64_t)i, &b, 1) < 0)
            return NULL;
        return PyLong_FromLong(b);
    }
    if (PySlice_Check(key)) {
        Py_ssize_t start, stop, step, n;
        if (PySlice_Unpack(key, &start, &stop, &step) < 0)
            return NULL;
        n = PySlice_AdjustIndices(len, &start, &stop, step);
        return held_gather(&self->c, base + (uint64_t)start, n, step);
    }
    return PyErr_Format(PyExc_TypeError, "mmap indices must be integers or slices, not %.200s",
                        Py_TYPE(key)->tp_name);
}

static PyObject *regionmap_close(RegionMapObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->closed) {
        self->closed = 1;
        if (self->exports == 0)
            smmap_cursor_release(&self->c);
    }
    Py_RETURN_NONE;
}

static PyObject *regionmap_get_closed(RegionMapObject *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(self->closed);
}

static PyObject *regionmap_get_offset(RegionMapObject *self, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLongLong(self->c.begin + self->view_ofs);
}

static PyObject *regionmap_get_exports(RegionMapObject *self, void *unused)
{
    (void)unused;
    return PyLong_FromSsize_t(self->exports);
}

static PyObject *regionmap_repr(RegionMapObject *self)
{
    return PyUnicode_FromFormat("<smmap region map offset=%llu size=%zu%s>",
                                (unsigned long long)(self->c.begin + self->view_ofs),
                                self->view_len, self->closed ? " closed" : "");
}

static PyMethodDef regionmap_methods[] = {
    {"close", (PyCFunction)regionmap_close, METH_NOARGS,
     "Unpin the region (after the last exported view is released)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef regionmap_getset[] = {
    {"closed", (getter)regionmap_get_closed, NULL, NULL, NULL},
    {"offset", (getter)regionmap_get_offset, NULL, "file offset of [0]", NULL},
    {"exports", (getter)regionmap_get_exports, NULL, "live buffer views", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMappingMethods regionmap_as_mapping = {
    (lenfunc)regionmap_len, (binaryfunc)regionmap_subscript, NULL};

static PySequenceMethods regionmap_as_sequence = {
    .sq_length = (lenfunc)regionmap_len,
};

static PyBufferProcs regionmap_as_buffer = {
    (getbufferproc)regionmap_getbuffer,
    (releasebufferproc)regionmap_releasebuffer};

static PyTypeObject RegionMapType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "smmap._csmmap.RegionMap",
    .tp_basicsize = sizeof(RegionMapObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Read-only bytes of a pinned region (len, [i], [a:b] -> bytes, "
              "buffer protocol), as smmap's mmap objects",
    .tp_dealloc = (destructor)regionmap_dealloc,
    .tp_repr = (reprfunc)regionmap_repr,
    .tp_as_mapping = &regionmap_as_mapping,
    .tp_as_sequence = &regionmap_as_sequence,
    .tp_as_buffer = &regionmap_as_buffer,
    .tp_methods = regionmap_methods,
    .tp_getset = regionmap_getset,
};

/* ---------------------------------------------------------- WindowCursor */

static void cursor_link(WindowCursorObject *w)
{
    ManagerObject *m = w->file->mgr;
    w->prev = NULL;
    w->next = m->cursors;
    if (m->cursors != NULL)
        m->cursors->prev = w;
    m->cursors = w;
    w->file->users++;
}

static void cursor_unlink(WindowCursorObject *w)
{
    ManagerObject *m = w->file->mgr;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        m->cursors = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->file->users--;
}

/* Forget the exporters of the window the cursor is leaving; those with live
 * views keep their own pin. */
static void cursor_drop_exports(WindowCursorObject *w)
{
    Py_CLEAR(w->buf_exp);
    Py_CLEAR(w->map_exp);
}

static void cursor_release(WindowCursorObject *w)
{
    cursor_drop_exports(w);
    smmap_cursor_release(&w->c);
}

/* Associate with file (NULL: none), dropping what the cursor held. */
static void cursor_set_file(WindowCursorObject *w, FileObject *file)
{
    cursor_release(w);
    if (w->file != NULL) {
        cursor_unlink(w);
        Py_CLEAR(w->file);
    }
    if (file != NULL) {
        Py_INCREF(file);
        w->file = file;
        cursor_link(w);
    }
    smmap_cursor_init(&w->c, file != NULL ? file->f : NULL);
}

/* The slow path of every move: may map or open, so runs without the GIL.
 * The cursor ends up on a region holding [off, off + need) contiguously; a
 * new one is placed for [off, off + want). refresh: put the guard back in
 * front first (use_region, not a buffer's own moves between windows). */
static int cursor_move(WindowCursorObject *w, uint64_t off, uint64_t need,
                       uint64_t want, int refresh)
{
    int err;
    if (cursor_ensure_open(w) < 0)
        return -1;
    if (want > (uint64_t)SIZE_MAX)
        want = SIZE_MAX;
    if (need > want)
        need = want;
    cursor_drop_exports(w);
    w->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    if (refresh)
        guard_refresh();
#ifdef SMMAP_HAVE_CURSOR_USE_RANGE
    err = smmap_cursor_use_range(&w->c, off, (size_t)need, (size_t)want);
#else
    /* without it, a region is reused only if it holds the whole request */
    (void)need;
    err = smmap_cursor_use(&w->c, off, (size_t)want);
#endif
    Py_END_ALLOW_THREADS
    w->busy = 0;
    if (err != 0) {
        file_error(w->file, w->manager, err);
        return -1;
    }
    return 0;
}

/* Open the cursor's file on first use. Opening runs without the GIL, so
 * the cursor is busy meanwhile: another thread must not initialize it again
 * while this one has moved on to using it. */
static int cursor_ensure_open(WindowCursorObject *w)
{
    int rc = 0;
    if (w->file == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "smmap: cursor is not associated with a file");
        return -1;
    }
    if (w->c.file != NULL)
        return 0;
    if (check_idle(w) < 0)
        return -1;
    if (w->file->f == NULL) {
        w->busy = 1;
        rc = file_open(w->file);
        w->busy = 0;
    }
    if (rc == 0 && w->c.file == NULL)
        smmap_cursor_init(&w->c, w->file->f);
    return rc;
}

/*
 * smmap's use_region: clamp the request to the window, release and stay
 * invalid for an offset at or past EOF. The held window is kept when it
 * contains offset and at least `need` bytes from it (smmap kept it whenever
 * it contained offset, so a caller could get a few bytes where it asked for
 * a window: gitdb then decompressed a truncated stream). A new window always
 * holds the whole clamped request contiguously.
 * Returns 1 valid, 0 invalid (EOF), -1 error.
 */
static int cursor_use_need(WindowCursorObject *w, uint64_t offset,
                           uint64_t size, uint64_t need, int refresh)
{
    uint64_t fsize, win, n, rel;
    if (check_idle(w) < 0 || cursor_ensure_open(w) < 0)
        return -1;
    fsize = w->file->size;
    win = w->file->mgr->window;
    if (size == 0 || size > fsize)
        size = fsize;
    if (win != 0 && size > win)
        size = win;
    if (offset >= fsize) {
        cursor_release(w);
        return 0;
    }
    n = fsize - offset;
    if (size < n)
        n = size;
    if (need > n)
        need = n;
    if (need == 0)
        need = 1;
    rel = offset - w->c.begin;
    if (!(w->c.data != NULL && rel < w->c.size && need <= w->c.size - rel)) {
        if (cursor_move(w, offset, need, n, refresh) < 0)
            return -1;
        rel = offset - w->c.begin;
    }
    w->ofs = offset;
    w->size = w->c.size - rel;
    if (size < w->size)
        w->size = size;
    return 1;
}

/* use_region's rule: keep the held window if it has half a window (or the
 * whole request) from offset, so that sequential reads move the window only
 * every half window, yet a request up to half a window is never cut short. */
static int cursor_use(WindowCursorObject *w, uint64_t offset, uint64_t size,
                      int refresh)
{
    uint64_t win = w->file != NULL ? w->file->mgr->window : 0;
    return cursor_use_need(w, offset, size, win != 0 ? win / 2 : UINT64_MAX,
                           refresh);
}

static int cursor_init(WindowCursorObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"manager", "regions", NULL};
    PyObject *manager = Py_None, *regions = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO", names, &manager, &regions))
        return -1;
    if (regions != Py_None && !PyObject_TypeCheck(regions, &FileType)) {
        PyErr_SetString(PyExc_TypeError,
                        "regions must be a File from the manager's make_cursor()");
        return -1;
    }
    if (check_idle(self) < 0)
        return -1;
    cursor_set_file(self, regions == Py_None ? NULL : (FileObject *)regions);
    Py_INCREF(manager);
    Py_XSETREF(self->manager, manager);
    self->ofs = self->size = 0;
    if (regions != Py_None)
        guard_refresh();
    return 0;
}

static int cursor_traverse(WindowCursorObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->manager);
    return 0;
}

static int cursor_clear(WindowCursorObject *self)
{
    if (self->busy)
        return 0;
    cursor_set_file(self, NULL);
    Py_CLEAR(self->manager);
    return 0;
}

static void cursor_dealloc(WindowCursorObject *self)
{
    PyObject_GC_UnTrack(self);
    cursor_set_file(self, NULL);
    Py_CLEAR(self->manager);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Parse up to three integer arguments named in names, with defaults. */
static int parse_u64_args(PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames, const char *const *names,
                          int count, unsigned long long *out)
{
    PyObject *vals[3] = {NULL, NULL, NULL};
    Py_ssize_t i, nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    int j;
    if (nargs > count) {
        PyErr_Format(PyExc_TypeError, "takes at most %d arguments (%zd given)",
                     count, nargs);
        return -1;
    }
    for (i = 0; i < nargs; i++)
        vals[i] = args[i];
    for (i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        for (j = 0; j < count; j++)
            if (PyUnicode_CompareWithASCIIString(k, names[j]) == 0)
                break;
        if (j == count || vals[j] != NULL) {
            PyErr_Format(PyExc_TypeError, "unexpected or repeated argument '%U'", k);
            return -1;
        }
        vals[j] = args[nargs + i];
    }
    for (j = 0; j < count; j++)
        if (arg_u64(vals[j], names[j], ULLONG_MAX, &out[j]) < 0)
            return -1;
    return 0;
}

static PyObject *cursor_use_region(WindowCursorObject *self,
                                   PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    static const char *const names[] = {"offset", "size", "flags"};
    unsigned long long v[3] = {0, 0, 0};
    int fast = kwnames == NULL && nargs <= 2;
    if (fast) {
        /* the hot path: use_region(ofs) or use_region(ofs, size) */
        if (nargs >= 1) {
            v[0] = PyLong_AsUnsignedLongLong(args[0]);
            if (v[0] == (unsigned long long)-1 && PyErr_Occurred())
                fast = 0;
        }
        if (fast && nargs == 2) {
            v[1] = PyLong_AsUnsignedLongLong(args[1]);
            if (v[1] == (unsigned long long)-1 && PyErr_Occurred())
                fast = 0;
        }
        if (!fast) {
            /* not an int in [0, 2**64): parse again for the error naming
             * the argument (a negative or huge int is a ValueError) */
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return NULL;
            PyErr_Clear();
        }
    }
    if (!fast && parse_u64_args(args, nargs, kwnames, names, 3, v) < 0)
        return NULL;
    /* flags were os.open flags in smmap; the library opens O_RDONLY|O_CLOEXEC */
    if (cursor_use(self, v[0], v[1], 1) < 0)
        return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *cursor_unuse_region(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (check_idle(self) < 0)
        return NULL;
    cursor_release(self);
    Py_RETURN_NONE;
}

static int cursor_check_valid(WindowCursorObject *self)
{
    if (check_idle(self) < 0)
        return -1;
    if (self->c.data == NULL) {
        PyErr_SetString(PyExc_ValueError, "smmap: cursor is not valid (no region in use)");
        return -1;
    }
    return 0;
}

/* A RegionMap pinning the cursor's region (a copy of the cursor). */
static RegionMapObject *cursor_pin_copy(WindowCursorObject *self)
{
    RegionMapObject *r = regionmap_alloc(self->file);
    if (r == NULL)
        return NULL;
    smmap_cursor_copy(&r->c, &self->c);
    r->view_ofs = 0;
    r->view_len = r->c.size;
    return r;
}

/* A memoryview of the cursor's bytes. The exporter pins the region; its
 * one-shot sub-view makes the view start at the cursor's offset without a
 * second view object. */
static PyObject *cursor_buffer(WindowCursorObject *self, PyObject *unused)
{
    RegionMapObject *r;
    (void)unused;
    if (cursor_check_valid(self) < 0)
        return NULL;
    r = self->buf_exp;
    if (r == NULL) {
        r = cursor_pin_copy(self);
        if (r == NULL)
            return NULL;
        self->buf_exp = r;
    }
    r->next_ofs = (size_t)(self->ofs - self->c.begin);
    r->next_len = (size_t)self->size;
    r->has_next = 1;
    return PyMemoryView_FromObject((PyObject *)r);
}

/*
 * smmap's map(): the bytes from the region's first byte. When the rest of
 * the file fits in half the memory budget it is mapped as one region to the
 * end of the file, so an index larger than the window is mapped whole
 * (gitdb #6) and windows still fit beside it; otherwise (or if that mapping
 * fails) it is the cursor's region.
 */
static PyObject *cursor_map(WindowCursorObject *self, PyObject *unused)
{
    RegionMapObject *r;
    (void)unused;
    if (cursor_check_valid(self) < 0)
        return NULL;
    r = self->map_exp;
    if (r == NULL) {
        uint64_t rest = self->file->size - self->c.begin;
        r = NULL;
        if (rest > self->c.size && rest <= self->file->mgr->max_mapped / 2 &&
            rest <= (uint64_t)PY_SSIZE_T_MAX) {
            /* maps without the GIL: keep other threads off this cursor */
            self->busy = 1;
            r = (RegionMapObject *)regionmap_from_range(self->file, self->manager,
                                                         self->c.begin, rest);
            self->busy = 0;
            if (r == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_MemoryError) &&
                    !PyErr_ExceptionMatches(PyExc_OSError))
                    return NULL;
                PyErr_Clear();
            }
        }
        if (r == NULL) {
            r = cursor_pin_copy(self);
            if (r == NULL)
                return NULL;
        }
        self->map_exp = r;
    }
    Py_INCREF(r);
    return (PyObject *)r;
}

static PyObject *cursor_is_valid(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(self->c.data != NULL);
}

static PyObject *cursor_is_associated(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(self->file != NULL);
}

static PyObject *cursor_ofs_begin(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (cursor_check_valid(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(self->ofs);
}

static PyObject *cursor_ofs_end(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (cursor_check_valid(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(self->ofs + self->size);
}

static PyObject *cursor_size(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLongLong(self->size);
}

static PyObject *cursor_includes_ofs(WindowCursorObject *self, PyObject *arg)
{
    long long ofs = PyLong_AsLongLong(arg);
    if (ofs == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return NULL;
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    if (cursor_check_valid(self) < 0)
        return NULL;
    return PyBool_FromLong(ofs >= 0 && (uint64_t)ofs - self->ofs < self->size);
}

static PyObject *cursor_file_size(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (cursor_ensure_open(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(self->file->size);
}

static PyObject *cursor_path_or_fd(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (self->file == NULL) {
        PyErr_SetString(PyExc_ValueError, "smmap: cursor is not associated with a file");
        return NULL;
    }
    Py_INCREF(self->file->path_or_fd);
    return self->file->path_or_fd;
}

static PyObject *cursor_path(WindowCursorObject *self, PyObject *unused)
{
    PyObject *p = cursor_path_or_fd(self, unused);
    if (p != NULL && PyLong_Check(p)) {
        Py_DECREF(p);
        PyErr_SetString(PyExc_ValueError,
                        "Path queried although mapping was applied to a file descriptor");
        return NULL;
    }
    return p;
}

static PyObject *cursor_fd(WindowCursorObject *self, PyObject *unused)
{
    PyObject *p = cursor_path_or_fd(self, unused);
    if (p != NULL && PyUnicode_Check(p)) {
        Py_DECREF(p);
        PyErr_SetString(PyExc_ValueError,
                        "File descriptor queried although mapping was generated from path");
        return NULL;
    }
    return p;
}

static PyObject *cursor_destroy(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (check_idle(self) < 0)
        return NULL;
    cursor_release(self);
    Py_RETURN_NONE;
}

static PyObject *cursor_copy_from(WindowCursorObject *self, PyObject *rhs)
{
    WindowCursorObject *r;
    if (!PyObject_TypeCheck(rhs, &WindowCursorType)) {
        PyErr_SetString(PyExc_TypeError, "can only copy from a WindowCursor");
        return NULL;
    }
    r = (WindowCursorObject *)rhs;
    if (r == self)
        Py_RETURN_NONE;
    if (check_idle(self) < 0 || check_idle(r) < 0)
        return NULL;
    /* Share the file handle (smmap built a new MapRegionList from the old
     * one, whose path_or_fd was then the list: copies could not map). */
    if (self->file != r->file)
        cursor_set_file(self, r->file);
    else
        cursor_release(self);
    if (r->c.file != NULL) {
        if (self->c.file == NULL)
            smmap_cursor_init(&self->c, r->c.file);
        smmap_cursor_copy(&self->c, &r->c);
    }
    Py_INCREF(r->manager);
    Py_XSETREF(self->manager, r->manager);
    self->ofs = r->ofs;
    self->size = r->size;
    if (self->file != NULL)
        guard_refresh();
    Py_RETURN_NONE;
}

static PyObject *cursor_copy(WindowCursorObject *self, PyObject *unused)
{
    PyObject *cpy, *res;
    (void)unused;
    cpy = PyObject_CallNoArgs((PyObject *)Py_TYPE(self));
    if (cpy == NULL)
        return NULL;
    res = cursor_copy_from((WindowCursorObject *)cpy, (PyObject *)self);
    if (res == NULL) {
        Py_DECREF(cpy);
        return NULL;
    }
    Py_DECREF(res);
    return cpy;
}

static PyObject *cursor_assign(WindowCursorObject *self, PyObject *rhs)
{
    return cursor_copy_from(self, rhs);
}

static PyObject *cursor_enter(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *cursor_exit(WindowCursorObject *self, PyObject *args)
{
    (void)args;
    return cursor_destroy(self, NULL);
}

/* (address, begin, size) of the held region, or None: a region's identity
 * for MapRegion objects (a pinned mapping's address is unique). */
static PyObject *cursor_region_key(WindowCursorObject *self, PyObject *unused)
{
    (void)unused;
    if (cursor_check_valid(self) < 0) {
        if (self->busy)
            return NULL;
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(KKn)", (unsigned long long)(uintptr_t)self->c.data,
                         (unsigned long long)self->c.begin, (Py_ssize_t)self->c.size);
}

static PyMethodDef cursor_methods[] = {
    {"use_region", (PyCFunction)(void (*)(void))cursor_use_region,
     METH_FASTCALL | METH_KEYWORDS,
     "use_region(offset=0, size=0, flags=0) -> self; invalid past EOF"},
    {"unuse_region", (PyCFunction)cursor_unuse_region, METH_NOARGS, NULL},
    {"buffer", (PyCFunction)cursor_buffer, METH_NOARGS,
     "memoryview of the cursor's bytes; pins the region while alive"},
    {"map", (PyCFunction)cursor_map, METH_NOARGS,
     "the region's bytes from its first byte (to EOF when it fits the budget)"},
    {"is_valid", (PyCFunction)cursor_is_valid, METH_NOARGS, NULL},
    {"is_associated", (PyCFunction)cursor_is_associated, METH_NOARGS, NULL},
    {"ofs_begin", (PyCFunction)cursor_ofs_begin, METH_NOARGS, NULL},
    {"ofs_end", (PyCFunction)cursor_ofs_end, METH_NOARGS, NULL},
    {"size", (PyCFunction)cursor_size, METH_NOARGS, NULL},
    {"includes_ofs", (PyCFunction)cursor_includes_ofs, METH_O, NULL},
    {"file_size", (PyCFunction)cursor_file_size, METH_NOARGS, NULL},
    {"path_or_fd", (PyCFunction)cursor_path_or_fd, METH_NOARGS, NULL},
    {"path", (PyCFunction)cursor_path, METH_NOARGS, NULL},
    {"fd", (PyCFunction)cursor_fd, METH_NOARGS, NULL},
    {"_destroy", (PyCFunction)cursor_destroy, METH_NOARGS, NULL},
    {"_copy_from", (PyCFunction)cursor_copy_from, METH_O, NULL},
    {"__copy__", (PyCFunction)cursor_copy, METH_NOARGS, NULL},
    {"assign", (PyCFunction)cursor_assign, METH_O, NULL},
    {"__enter__", (PyCFunction)cursor_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)cursor_exit, METH_VARARGS, NULL},
    {"_region_key", (PyCFunction)cursor_region_key, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyMemberDef cursor_members[] = {
    {"_manager", T_OBJECT, offsetof(WindowCursorObject, manager), READONLY, NULL},
    {"_rlist", T_OBJECT, offsetof(WindowCursorObject, file), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyTypeObject WindowCursorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "smmap._csmmap.WindowCursor",
    .tp_basicsize = sizeof(WindowCursorObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A cursor into one file of a manager (smmap's WindowCursor)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)cursor_init,
    .tp_dealloc = (destructor)cursor_dealloc,
    .tp_traverse = (traverseproc)cursor_traverse,
    .tp_clear = (inquiry)cursor_clear,
    .tp_methods = cursor_methods,
    .tp_members = cursor_members,
};

/* ------------------------------------------------ SlidingWindowMapBuffer */

static int buffer_begin(BufferObject *self, PyObject *cursor,
                        unsigned long long offset, unsigned long long size)
{
    int res;
    uint64_t fsize;
    if (cursor != NULL && cursor != Py_None) {
        if (!PyObject_TypeCheck(cursor, &WindowCursorType)) {
            PyErr_SetString(PyExc_TypeError, "cursor must be a smmap WindowCursor");
            return -1;
        }
        Py_INCREF(cursor);
        Py_XSETREF(self->cur, (WindowCursorObject *)cursor);
    }
    if (self->cur == NULL || self->cur->file == NULL)
        return 0;
    guard_refresh();
    res = cursor_use(self->cur, offset, size, 0);
    if (res <= 0)
        return res;
    fsize = self->cur->file->size;
    if (size > fsize)
        size = fsize - offset;
    if (size > (unsigned long long)PY_SSIZE_T_MAX)
        size = PY_SSIZE_T_MAX;
    self->start = offset;
    self->size = (Py_ssize_t)size;
    return 1;
}

static int buffer_parse(PyObject *args, PyObject *kw, PyObject **cursor,
                        unsigned long long *offset, unsigned long long *size)
{
    static char *names[] = {"cursor", "offset", "size", "flags", NULL};
    PyObject *ofs = NULL, *sz = NULL;
    int flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOOi", names, cursor, &ofs, &sz,
                                     &flags))
        return -1;
    if (arg_u64(ofs, "offset", ULLONG_MAX, offset) < 0 ||
        arg_u64(sz, "size", ULLONG_MAX, size) < 0)
        return -1;
    return 0;
}

static int buffer_init(BufferObject *self, PyObject *args, PyObject *kw)
{
    PyObject *cursor = Py_None;
    unsigned long long offset = 0, size = PY_SSIZE_T_MAX;
    int res;
    if (buffer_parse(args, kw, &cursor, &offset, &size) < 0)
        return -1;
    if (cursor != Py_None && !PyObject_TypeCheck(cursor, &WindowCursorType)) {
        PyErr_SetString(PyExc_TypeError, "cursor must be a smmap WindowCursor");
        return -1;
    }
    Py_XINCREF(cursor == Py_None ? NULL : cursor);
    Py_XSETREF(self->cur, cursor == Py_None ? NULL : (WindowCursorObject *)cursor);
    self->size = 0;
    self->start = 0;
    if (cursor == Py_None)
        return 0;
    res = buffer_begin(self, NULL, offset, size);
    if (res < 0)
        return -1;
    if (res == 0) {
        PyErr_SetString(PyExc_ValueError,
                        "Failed to allocate the buffer - probably the given offset is out of bounds");
        return -1;
    }
    return 0;
}

static void buffer_end(BufferObject *self)
{
    self->size = 0;
    if (self->cur != NULL && !self->cur->busy)
        cursor_release(self->cur);
}

static int buffer_traverse(BufferObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->cur);
    return 0;
}

static int buffer_clear(BufferObject *self)
{
    buffer_end(self);
    Py_CLEAR(self->cur);
    return 0;
}

static void buffer_dealloc(BufferObject *self)
{
    PyObject_GC_UnTrack(self);
    buffer_end(self);
    Py_CLEAR(self->cur);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *buffer_begin_access(BufferObject *self, PyObject *args,
                                     PyObject *kw)
{
    PyObject *cursor = Py_None;
    unsigned long long offset = 0, size = PY_SSIZE_T_MAX;
    int res;
    if (buffer_parse(args, kw, &cursor, &offset, &size) < 0)
        return NULL;
    res = buffer_begin(self, cursor, offset, size);
    if (res < 0)
        return NULL;
    return PyBool_FromLong(res);
}

static PyObject *buffer_end_access(BufferObject *self, PyObject *unused)
{
    (void)unused;
    if (self->cur != NULL && check_idle(self->cur) < 0)
        return NULL;
    buffer_end(self);
    Py_RETURN_NONE;
}

static PyObject *buffer_cursor(BufferObject *self, PyObject *unused)
{
    (void)unused;
    if (self->cur == NULL)
        Py_RETURN_NONE;
    Py_INCREF(self->cur);
    return (PyObject *)self->cur;
}

static Py_ssize_t buffer_len(BufferObject *self)
{
    return self->size;
}

/* Move the buffer's cursor to hold file offset off (smmap's use_region(i, 1)). */
static int buffer_reach(BufferObject *self, uint64_t off)
{
    WindowCursorObject *w = self->cur;
    /* a whole window placed from off, of which one byte is needed */
    int res = cursor_use_need(w, off, 0, 1, 0);
    if (res == 0)
        PyErr_SetString(PyExc_IndexError, "SlidingWindowMapBuffer index past the end of the file");
    return res <= 0 ? -1 : 0;
}

static PyObject *buffer_item(BufferObject *self, Py_ssize_t i)
{
    WindowCursorObject *w = self->cur;
    uint64_t off;
    unsigned char b;
    if (i < 0)
        i += self->size;
    if (i < 0 || i >= self->size || w == NULL) {
        PyErr_SetString(PyExc_IndexError, "SlidingWindowMapBuffer index out of range");
        return NULL;
    }
    if (check_idle(w) < 0)
        return NULL;
    off = self->start + (uint64_t)i;
    if (!held_has(&w->c, off, 1) && buffer_reach(self, off) < 0)
        return NULL;
    if (held_read(&w->c, off, &b, 1) < 0)
        return NULL;
    return PyLong_FromLong(b);
}

/* The bytes [a, b) relative to the start, across windows. */
static PyObject *buffer_range(BufferObject *self, Py_ssize_t a, Py_ssize_t b)
{
    WindowCursorObject *w = self->cur;
    uint64_t off, fsize;
    Py_ssize_t n = b - a;
    PyObject *out;
    int64_t got;
    if (n <= 0 || w == NULL)
        return PyBytes_FromStringAndSize(NULL, 0);
    if (check_idle(w) < 0 || cursor_ensure_open(w) < 0)
        return NULL;
    off = self->start + (uint64_t)a;
    fsize = w->file->size;
    if (off >= fsize)
        return PyBytes_FromStringAndSize(NULL, 0);
    if ((uint64_t)n > fsize - off)
        n = (Py_ssize_t)(fsize - off);
    out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL)
        return NULL;
    if (held_has(&w->c, off, (uint64_t)n)) {
        /* the hit: a guarded copy from the held window */
        if (held_read(&w->c, off, PyBytes_AS_STRING(out), (size_t)n) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        return out;
    }
    cursor_drop_exports(w);
    w->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    got = smmap_read(&w->c, off, PyBytes_AS_STRING(out), (size_t)n);
    Py_END_ALLOW_THREADS
    w->busy = 0;
    if (got < 0) {
        Py_DECREF(out);
        return file_error(w->file, w->manager, (int)got);
    }
    /* the cursor now holds the last window read: describe it as smmap would */
    if (w->c.data != NULL) {
        w->ofs = w->c.begin;
        w->size = w->c.size;
    }
    if (got != n && _PyBytes_Resize(&out, (Py_ssize_t)got) < 0)
        return NULL;
    return out;
}

static PyObject *buffer_subscript(BufferObject *self, PyObject *key)
{
    if (PyIndex_Check(key)) {
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            return NULL;
        return buffer_item(self, i);
    }
    if (PySlice_Check(key)) {
        Py_ssize_t start, stop, step, n;
        PyObject *whole, *res;
        if (PySlice_Unpack(key, &start, &stop, &step) < 0)
            return NULL;
        n = PySlice_AdjustIndices(self->size, &start, &stop, step);
        if (step == 1)
            return buffer_range(self, start, start + n);
        if (n == 0)
            return PyBytes_FromStringAndSize(NULL, 0);
        {
            /* rare: read the covering range, then pick every step-th byte */
            Py_ssize_t lo = step > 0 ? start : start + (n - 1) * step, k;
            Py_ssize_t first = start - lo;
            const char *src;
            char *dst;
            whole = buffer_range(self, lo, lo + (n - 1) * (step > 0 ? step : -step) + 1);
            if (whole == NULL)
                return NULL;
            if (PyBytes_GET_SIZE(whole) < (n - 1) * (step > 0 ? step : -step) + 1) {
                Py_DECREF(whole);
                PyErr_SetString(PyExc_IndexError, "SlidingWindowMapBuffer slice past the end of the file");
                return NULL;
            }
            res = PyBytes_FromStringAndSize(NULL, n);
            if (res == NULL) {
                Py_DECREF(whole);
                return NULL;
            }
            src = PyBytes_AS_STRING(whole);
            dst = PyBytes_AS_STRING(res);
            for (k = 0; k < n; k++)
                dst[k] = src[first + k * step];
            Py_DECREF(whole);
            return res;
        }
    }
    return PyErr_Format(PyExc_TypeError,
                        "SlidingWindowMapBuffer indices must be integers or slices, not %.200s",
                        Py_TYPE(key)->tp_name);
}

/* smmap's __getslice__(i, j): negative indices from the end. */
static PyObject *buffer_getslice(BufferObject *self, PyObject *args)
{
    Py_ssize_t i, j;
    if (!PyArg_ParseTuple(args, "nn", &i, &j))
        return NULL;
    if (i < 0)
        i += self->size;
    if (j < 0)
        j += self->size;
    if (i < 0)
        i = 0;
    if (j > self->size)
        j = self->size;
    return buffer_range(self, i, j);
}

static PyObject *buffer_enter(BufferObject *self, PyObject *unused)
{
    (void)unused;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *buffer_exit(BufferObject *self, PyObject *args)
{
    (void)args;
    return buffer_end_access(self, NULL);
}

static PyMethodDef buffer_methods[] = {
    {"begin_access", (PyCFunction)(void (*)(void))buffer_begin_access,
     METH_VARARGS | METH_KEYWORDS,
     "begin_access(cursor=None, offset=0, size=sys.maxsize, flags=0) -> bool"},
    {"end_access", (PyCFunction)buffer_end_access, METH_NOARGS, NULL},
    {"cursor", (PyCFunction)buffer_cursor, METH_NOARGS, NULL},
    {"__getslice__", (PyCFunction)buffer_getslice, METH_VARARGS, NULL},
    {"__enter__", (PyCFunction)buffer_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)buffer_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyMemberDef buffer_members[] = {
    {"_c", T_OBJECT, offsetof(BufferObject, cur), READONLY, NULL},
    {"_size", T_PYSSIZET, offsetof(BufferObject, size), READONLY, NULL},
    {"_offset", T_ULONGLONG, offsetof(BufferObject, start), READONLY,
     "file offset of index 0"},
    {NULL, 0, 0, 0, NULL}};

static PyMappingMethods buffer_as_mapping = {
    (lenfunc)buffer_len, (binaryfunc)buffer_subscript, NULL};

static PySequenceMethods buffer_as_sequence = {
    .sq_length = (lenfunc)buffer_len,
    .sq_item = (ssizeargfunc)buffer_item,
};

static PyTypeObject BufferType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "smmap.buf.SlidingWindowMapBuffer",
    .tp_basicsize = sizeof(BufferObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Byte access to a file through a cursor, relative to a start offset",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)buffer_init,
    .tp_dealloc = (destructor)buffer_dealloc,
    .tp_traverse = (traverseproc)buffer_traverse,
    .tp_clear = (inquiry)buffer_clear,
    .tp_as_mapping = &buffer_as_mapping,
    .tp_as_sequence = &buffer_as_sequence,
    .tp_methods = buffer_methods,
    .tp_members = buffer_members,
};

/* ---------------------------------------------------------------- module */

static PyObject *mod_options_default(PyObject *self, PyObject *unused)
{
    smmap_options o;
    (void)self;
    (void)unused;
    smmap_options_init(&o);
    return Py_BuildValue("{sKsKsIsI}", "window_size",
                         (unsigned long long)o.window_size, "max_mapped",
                         (unsigned long long)o.max_mapped, "max_regions",
                         (unsigned)o.max_regions, "max_open_files",
                         (unsigned)o.max_open_files);
}

static PyObject *mod_guard_install(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    guard_refresh();
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"options_default", mod_options_default, METH_NOARGS,
     "The library's default options (smmap_options_init)."},
    {"guard_install", mod_guard_install, METH_NOARGS,
     "Put smmap's SIGBUS/SIGSEGV handler back in front of one installed "
     "after it (e.g. by faulthandler.enable()), so that slices and indexes "
     "of a truncated file keep raising OSError(EIO) (smmap_guard_install)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "smmap._csmmap",
    "The C extension of the smmap package, over libsmmap.", -1, module_methods,
    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__csmmap(void)
{
    PyObject *m;
    PyTypeObject *types[] = {&ManagerType, &FileType, &RegionMapType,
                             &WindowCursorType, &BufferType};
    const char *names[] = {"Manager", "File", "RegionMap", "WindowCursor",
                           "SlidingWindowMapBuffer"};
    size_t i;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (PyType_Ready(types[i]) < 0)
            return NULL;
    m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        Py_INCREF(types[i]);
        if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) < 0) {
            Py_DECREF(types[i]);
            Py_DECREF(m);
            return NULL;
        }
    }
    if (PyModule_AddStringConstant(m, "LIBRARY_VERSION", SMMAP_VERSION_STRING) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
