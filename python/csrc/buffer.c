/*
 * buffer.c - SlidingWindowMapBuffer: byte access to a file through a
 * cursor, indexes and slices relative to its start offset, across windows.
 *
 * Every call that moves or reads through the cursor holds its own
 * reference to it: the move may run Python code (a path's __fspath__ on
 * the file's first open) or let another thread run (without the GIL), and
 * either may give the buffer another cursor, dropping the buffer's
 * reference to this one.
 */
#include "csmmap.h"

static int buffer_begin(BufferObject *self, PyObject *cursor,
                        unsigned long long offset, unsigned long long size)
{
    WindowCursorObject *w;
    int res;
    uint64_t fsize;
    if (cursor != NULL && cursor != Py_None) {
        if (!PyObject_TypeCheck(cursor, &csm_WindowCursorType)) {
            PyErr_SetString(PyExc_TypeError, "cursor must be a smmap WindowCursor");
            return -1;
        }
        Py_INCREF(cursor);
        Py_XSETREF(self->cur, (WindowCursorObject *)cursor);
    }
    w = self->cur;
    if (w == NULL || w->file == NULL)
        return 0;
    csm_guard_refresh();
    Py_INCREF(w);
    res = csm_cursor_use(w, offset, size, 0);
    fsize = res > 0 && w->file != NULL ? w->file->size : 0;
    Py_DECREF(w);
    if (res <= 0)
        return res;
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
    if (csm_arg_u64(ofs, "offset", ULLONG_MAX, offset) < 0 ||
        csm_arg_u64(sz, "size", ULLONG_MAX, size) < 0)
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
    if (cursor != Py_None && !PyObject_TypeCheck(cursor, &csm_WindowCursorType)) {
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
        csm_cursor_release(self->cur);
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
    if (self->cur != NULL && csm_check_idle(self->cur) < 0)
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

/* Move the cursor to hold file offset off (smmap's use_region(i, 1)). */
static int buffer_reach(WindowCursorObject *w, uint64_t off)
{
    /* a whole window placed from off, of which one byte is needed */
    int res = csm_cursor_use_need(w, off, 0, 1, 0);
    if (res == 0)
        PyErr_SetString(PyExc_IndexError, "SlidingWindowMapBuffer index past the end of the file");
    return res <= 0 ? -1 : 0;
}

static PyObject *buffer_item(BufferObject *self, Py_ssize_t i)
{
    WindowCursorObject *w = self->cur;
    uint64_t off;
    unsigned char b;
    int ok;
    if (i < 0)
        i += self->size;
    if (i < 0 || i >= self->size || w == NULL) {
        PyErr_SetString(PyExc_IndexError, "SlidingWindowMapBuffer index out of range");
        return NULL;
    }
    if (csm_check_idle(w) < 0)
        return NULL;
    off = self->start + (uint64_t)i;
    Py_INCREF(w);
    ok = (csm_held_has(&w->c, off, 1) || buffer_reach(w, off) == 0) &&
         csm_held_read(&w->c, off, &b, 1) == 0;
    Py_DECREF(w);
    return ok ? PyLong_FromLong(b) : NULL;
}

/* The n bytes at file offset off through w, across windows. */
static PyObject *cursor_range(WindowCursorObject *w, uint64_t off,
                              Py_ssize_t n)
{
    uint64_t fsize;
    PyObject *out;
    int64_t got;
    if (csm_check_idle(w) < 0 || csm_cursor_ensure_open(w) < 0)
        return NULL;
    fsize = w->file->size;
    if (off >= fsize)
        return PyBytes_FromStringAndSize(NULL, 0);
    if ((uint64_t)n > fsize - off)
        n = (Py_ssize_t)(fsize - off);
    out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL)
        return NULL;
    if (csm_held_has(&w->c, off, (uint64_t)n)) {
        /* the hit: a guarded copy from the held window */
        if (csm_held_read(&w->c, off, PyBytes_AS_STRING(out), (size_t)n) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        return out;
    }
    csm_cursor_drop_exports(w);
    w->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    got = smmap_read(&w->c, off, PyBytes_AS_STRING(out), (size_t)n);
    Py_END_ALLOW_THREADS
    w->busy = 0;
    if (got < 0) {
        Py_DECREF(out);
        return csm_file_error(w->file, w->manager, (int)got);
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

/* The bytes [a, b) relative to the start, across windows. */
static PyObject *buffer_range(BufferObject *self, Py_ssize_t a, Py_ssize_t b)
{
    WindowCursorObject *w = self->cur;
    PyObject *out;
    if (b - a <= 0 || w == NULL)
        return PyBytes_FromStringAndSize(NULL, 0);
    Py_INCREF(w);
    out = cursor_range(w, self->start + (uint64_t)a, b - a);
    Py_DECREF(w);
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
    PyObject *iv, *jv, *num;
    Py_ssize_t i, j;
    if (!PyArg_ParseTuple(args, "OO", &iv, &jv))
        return NULL;
    /* ints beyond Py_ssize_t clamp, as the bounds of a slice do */
    if ((num = csm_arg_index(iv, "i")) == NULL)
        return NULL;
    i = PyNumber_AsSsize_t(num, NULL);
    Py_DECREF(num);
    if ((num = csm_arg_index(jv, "j")) == NULL)
        return NULL;
    j = PyNumber_AsSsize_t(num, NULL);
    Py_DECREF(num);
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

/*
 * The state a subclass adds (its __dict__ and __slots__), carried to cpy as
 * copy.copy does for any object: __getstate__ (object's, from Python 3.11,
 * gives the dict, or (dict, slots)), then cpy.__setstate__(state) when the
 * subclass has one, else the dict updated and each slot set. Before 3.11,
 * the dict alone.
 */
static int copy_state(PyObject *self, PyObject *cpy)
{
    PyObject *state, *dictstate, *slotstate = NULL, *dict;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    int err = 0;

    if (PyObject_HasAttrString(self, "__getstate__"))
        state = PyObject_CallMethod(self, "__getstate__", NULL);
    else if (Py_TYPE(self)->tp_dictoffset != 0)
        state = PyObject_GenericGetDict(self, NULL);
    else {
        Py_INCREF(Py_None);
        state = Py_None;
    }
    if (state == NULL)
        return -1;
    if (state == Py_None) {
        Py_DECREF(state);
        return 0;
    }
    if (PyObject_HasAttrString(cpy, "__setstate__")) {
        PyObject *r = PyObject_CallMethod(cpy, "__setstate__", "O", state);
        Py_DECREF(state);
        Py_XDECREF(r);
        return r == NULL ? -1 : 0;
    }
    dictstate = state;
    if (PyTuple_Check(state) && PyTuple_GET_SIZE(state) == 2) {
        dictstate = PyTuple_GET_ITEM(state, 0);
        slotstate = PyTuple_GET_ITEM(state, 1);
    }
    if (dictstate != Py_None) {
        dict = PyObject_GetAttrString(cpy, "__dict__");
        err = dict == NULL || PyDict_Update(dict, dictstate) < 0;
        Py_XDECREF(dict);
    }
    if (!err && slotstate != NULL && slotstate != Py_None) {
        if (!PyDict_Check(slotstate)) {
            PyErr_SetString(PyExc_TypeError, "slot state is not a dict");
            err = 1;
        }
        while (!err && PyDict_Next(slotstate, &pos, &key, &value))
            err = PyObject_SetAttr(cpy, key, value) < 0;
    }
    Py_DECREF(state);
    return err ? -1 : 0;
}

/*
 * copy.copy(buf): smmap 5.0's buffer was copied as any Python object, so
 * the copy shares the cursor (the same object) and starts at the same
 * offset with the same length, and a subclass's __dict__ and __slots__ are
 * copied too (copy_state). Reading through either moves the shared cursor,
 * and end_access() of either releases its window (the other's next read
 * maps it again). copy.deepcopy stays a TypeError, as in smmap 5.0: a
 * cursor cannot be deep-copied.
 */
static PyObject *buffer_copy(BufferObject *self, PyObject *unused)
{
    PyTypeObject *type = Py_TYPE(self);
    BufferObject *cpy;
    (void)unused;
    cpy = (BufferObject *)type->tp_alloc(type, 0);
    if (cpy == NULL)
        return NULL;
    Py_XINCREF(self->cur);
    cpy->cur = self->cur;
    cpy->start = self->start;
    cpy->size = self->size;
    if (type != &csm_BufferType &&
        copy_state((PyObject *)self, (PyObject *)cpy) < 0) {
        Py_DECREF(cpy);
        return NULL;
    }
    if (cpy->cur != NULL)
        csm_guard_refresh();
    return (PyObject *)cpy;
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
    {"__copy__", (PyCFunction)buffer_copy, METH_NOARGS,
     "copy.copy(buf): a buffer sharing this one's cursor, start and length"},
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

PyTypeObject csm_BufferType = {
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
