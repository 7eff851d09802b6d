/*
 * errors.c - errors and argument conversion: library error codes to
 * OSError, the stale-file rule of a path whose handle gave -ESTALE, the
 * busy-cursor check, and Python ints to sizes and offsets (ValueError or
 * TypeError naming the argument, never a value wrapped modulo 2**64). Also
 * the guard refresh every type calls where a user starts using windows.
 */
#include "csmmap.h"

PyObject *csm_set_error(int err, PyObject *filename)
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
PyObject *csm_file_error(FileObject *file, PyObject *manager, int err)
{
    /* A descriptor the library has duplicated and keeps open gives -EBADF
     * only when it is not open for reading (O_WRONLY; O_PATH too): smmap
     * 5.0's mmap raised PermissionError (EACCES) for O_WRONLY, so say that. */
    if (err == -EBADF && file != NULL && file->f != NULL &&
        file->path_or_fd != NULL && PyLong_Check(file->path_or_fd))
        err = -EACCES;
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
    return csm_set_error(err, NULL);
}

int csm_check_idle(WindowCursorObject *w)
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
void csm_guard_refresh(void)
{
    (void)smmap_guard_install();
}

/* v as a Python int (operator.index), or NULL with a TypeError naming the
 * argument: "'float' object cannot be interpreted as an integer" does not
 * say which of three arguments was the float. */
PyObject *csm_arg_index(PyObject *v, const char *name)
{
    PyObject *num = PyNumber_Index(v);
    if (num == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "smmap: %s must be an int, not %.100s",
                     name, Py_TYPE(v)->tp_name);
    }
    return num;
}

/* A size, offset or count argument: an int in [0, max]; anything else is a
 * ValueError naming the argument, never a value wrapped modulo 2**64 (as
 * the "K" format did: window_size=2**64 became 0, the static mode). */
int csm_arg_u64(PyObject *v, const char *name, unsigned long long max,
                unsigned long long *out)
{
    PyObject *num;
    unsigned long long u = 0;
    long long sv;
    int overflow = 0, bad = 0;
    if (v == NULL)
        return 0;
    num = csm_arg_index(v, name);
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

/* Parse up to three integer arguments named in names, with defaults. */
int csm_parse_u64_args(PyObject *const *args, Py_ssize_t nargs,
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
        if (csm_arg_u64(vals[j], names[j], ULLONG_MAX, &out[j]) < 0)
            return -1;
    return 0;
}
