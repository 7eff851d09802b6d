/*
 * manager.c - Manager (one smmap_manager, its options and its list of
 * live cursors) and File (one lazily opened smmap_file of a manager, the
 * values of the Python manager's _fdict).
 */
#include "csmmap.h"

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
    if (csm_arg_u64(vals[0], names[0], (unsigned long long)(SIZE_MAX / 2), &window) < 0 ||
        csm_arg_u64(vals[1], names[1], ULLONG_MAX, &max_mapped) < 0 ||
        csm_arg_u64(vals[2], names[2], ULLONG_MAX, &max_regions) < 0 ||
        csm_arg_u64(vals[3], names[3], ULLONG_MAX, &max_files) < 0)
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
        csm_set_error(err, NULL);
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
    PyObject *bytes = NULL, *snapshot;
    const char *prefix;
    size_t plen;
    WindowCursorObject *w;
    smmap_stats before, after;
    Py_ssize_t i;
    int err;

    if (!PyUnicode_FSConverter(arg, &bytes))
        return NULL;
    prefix = PyBytes_AS_STRING(bytes);
    plen = (size_t)PyBytes_GET_SIZE(bytes);
    /* The cursors first, each with a reference of its own: a path's
     * __fspath__ (below) may run any code, which may drop or unlink a
     * cursor of the manager's list. (Appending runs no Python code.) */
    snapshot = PyList_New(0);
    if (snapshot == NULL) {
        Py_DECREF(bytes);
        return NULL;
    }
    for (w = self->cursors; w != NULL; w = w->next)
        if (PyList_Append(snapshot, (PyObject *)w) < 0) {
            Py_DECREF(snapshot);
            Py_DECREF(bytes);
            return NULL;
        }
    for (i = 0; i < PyList_GET_SIZE(snapshot); i++) {
        PyObject *p, *pb = NULL;
        int match;
        w = (WindowCursorObject *)PyList_GET_ITEM(snapshot, i);
        p = w->file != NULL ? w->file->path_or_fd : NULL;
        if (w->busy || p == NULL || PyLong_Check(p))
            continue;
        Py_INCREF(p);
        if (!PyUnicode_FSConverter(p, &pb)) {
            Py_DECREF(p);
            PyErr_Clear();
            continue;
        }
        Py_DECREF(p);
        match = (size_t)PyBytes_GET_SIZE(pb) >= plen &&
                memcmp(PyBytes_AS_STRING(pb), prefix, plen) == 0;
        Py_DECREF(pb);
        /* the conversion may have moved it in another thread's hands */
        if (match && !w->busy)
            csm_cursor_release(w);
    }
    Py_DECREF(snapshot);
    smmap_manager_stats(self->m, &before);
    err = smmap_manager_release_path(self->m, prefix);
    Py_DECREF(bytes);
    if (err == -EBUSY)
        return PyLong_FromLong(0);
    if (err != 0)
        return csm_set_error(err, arg);
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

PyTypeObject csm_ManagerType = {
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

static int file_init(FileObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"manager", "path_or_fd", NULL};
    PyObject *mgr, *pof;
    if (self->mgr != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "File already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O", names, &csm_ManagerType, &mgr,
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
int csm_file_open(FileObject *self)
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
        int overflow = 0;
        long fd = PyLong_AsLongAndOverflow(self->path_or_fd, &overflow);
        if (fd == -1 && overflow == 0 && PyErr_Occurred())
            return -1;
        if (overflow != 0 || fd < INT_MIN || fd > INT_MAX) {
            PyErr_Format(PyExc_ValueError,
                         "smmap: file descriptor %R is out of range",
                         self->path_or_fd);
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
        if (err == -EINVAL) {
            /* the library maps regular files only (a pipe, a FIFO, a socket
             * or a device such as /dev/zero has no size to map): say so,
             * rather than "invalid argument" */
            PyObject *exc = Py_BuildValue(
                "(isO)", EINVAL, "not a regular file (smmap maps only regular files)",
                self->path_or_fd);
            if (exc != NULL) {
                PyErr_SetObject(PyExc_OSError, exc);
                Py_DECREF(exc);
            }
        } else if (err == -ENOENT || err == -EACCES || err == -EISDIR || err == -EBADF)
            csm_set_error(err, self->path_or_fd);
        else
            csm_set_error(err, NULL);
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
    if (csm_file_open(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(self->size);
}

static PyObject *file_users(FileObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromSsize_t(self->users);
}

/* A RegionMap pinning the file bytes [ofs, ofs + size) (clipped to EOF). */
static PyObject *file_map_range(FileObject *self, PyObject *args)
{
    PyObject *ofs_arg, *size_arg;
    unsigned long long ofs, size;
    /* MapRegion's arguments: a negative one is a ValueError naming it
     * (the "K" format took -1 modulo 2**64: the whole file) */
    if (!PyArg_ParseTuple(args, "OO", &ofs_arg, &size_arg) ||
        csm_arg_u64(ofs_arg, "ofs", ULLONG_MAX, &ofs) < 0 ||
        csm_arg_u64(size_arg, "size", ULLONG_MAX, &size) < 0)
        return NULL;
    if (csm_file_open(self) < 0)
        return NULL;
    return csm_regionmap_from_range(self, NULL, ofs, size);
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
    if (self->mgr == NULL) {
        PyErr_SetString(PyExc_ValueError, "File not initialized");
        return NULL;
    }
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

PyTypeObject csm_FileType = {
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
