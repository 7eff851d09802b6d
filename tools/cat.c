/*
 * cat.c - `smmap cat`: writes [offset, offset + length) of each file to
 * stdout, straight from the mapped windows (no copy in between: write(2)
 * from the window, so that a page a truncation removed meanwhile is the
 * kernel's EFAULT, reported for that file, not a SIGBUS in a copy), or,
 * for a file whose size does not describe its bytes (files.c), from plain
 * reads of it as a stream.
 */
#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest request handed to smmap_cursor_use in static mode: the whole
 * file is mapped anyway, this only keeps the size_t cast honest on 32-bit. */
#define STATIC_CHUNK ((uint64_t)1 << 30)

/* Bytes per read(2) of a streamed file. */
#define STREAM_CHUNK ((size_t)64 * 1024)

/*
 * Stream one file with plain reads: skip the first t->offset bytes, write
 * at most t->length (when given), as tail -c +N | head -c M would.
 *
 * @return 0, 1 for a file error (reported, go on), or -1 for a write error
 */
static int cat_stream(const tool_options *t, const char *path)
{
    unsigned char *buf;
    uint64_t skip = t->offset, left = t->length;
    int fd, status = 0;

    fd = tool_plain_open(path);
    if (fd < 0) {
        tool_file_error(path, -errno);
        return 1;
    }
    buf = malloc(STREAM_CHUNK);
    if (buf == NULL) {
        tool_plain_close(fd);
        tool_file_error(path, -ENOMEM);
        return 1;
    }
    while (!t->length_given || left > 0) {
        size_t want = STREAM_CHUNK, have;
        int64_t n;
        /* Ask for no more than is still to skip, then to write, so that a
         * -n of a character device (/dev/zero) stops reading there. */
        if (skip > 0 && skip < want)
            want = (size_t)skip;
        else if (skip == 0 && t->length_given && left < want)
            want = (size_t)left;
        n = tool_plain_read(fd, buf, want, NULL);
        if (n < 0) {
            tool_file_error(path, (int)n);
            status = 1;
            break;
        }
        if (n == 0)
            break;
        have = (size_t)n;
        if (skip > 0) {
            skip -= have; /* want <= skip */
            continue;
        }
        if (fwrite(buf, 1, have, stdout) != have) {
            status = -1;
            break;
        }
        left -= have;
    }
    free(buf);
    tool_plain_close(fd);
    return status;
}

/* @return 0, 1 for a file error (reported, go on), or -1 for a write
 *         error (reported, stop: the output is broken) */
static int cat_file(smmap_manager *m, const tool_options *t, const char *path)
{
    smmap_file *f = NULL;
    smmap_cursor c;
    uint64_t size, pos, start, end, step;
    int err, status = 0, from_stdin = strcmp(path, "-") == 0;

    err = tool_open_file(m, path, &f);
    if (tool_stream_reason(path, err, f) != NULL) {
        smmap_file_close(f);
        return cat_stream(t, path);
    }
    if (err != 0) {
        tool_open_error(path, err);
        return 1;
    }
    size = smmap_file_size(f);
    pos = t->offset;
    if (from_stdin) {
        /* Standard input's bytes begin at its position, as cat reads
         * them (`{ head -c 5 >/dev/null; smmap cat -; } <file`); the
         * position is left after the last byte written, as head -c
         * leaves it. */
        int64_t at = tool_plain_tell(0);
        if (at > 0)
            pos = t->offset > UINT64_MAX - (uint64_t)at
                      ? UINT64_MAX : (uint64_t)at + t->offset;
    }
    start = pos;
    end = size;
    if (pos < size && t->length_given && t->length < size - pos)
        end = pos + t->length;
    /* Want a whole window at a time: asking for less lets the library
     * place the window partly behind pos, where nothing is left to write.
     * Need one byte only: a window already mapped that holds pos serves,
     * and a window the system refuses (address space: ulimit -v) is
     * mapped again as small as that. */
    step = t->manager.window_size != 0 ? t->manager.window_size : STATIC_CHUNK;
    if (step > SIZE_MAX)
        step = SIZE_MAX;
    smmap_cursor_init(&c, f);
    /* What stdio holds (a streamed file's bytes) goes out first. */
    if (fflush(stdout) != 0) {
        smmap_file_close(f);
        return -1;
    }
    while (pos < end) {
        uint64_t want = end - pos, have;
        if (want > step)
            want = step;
        err = smmap_cursor_use_range(&c, pos, 1, (size_t)want);
        if (err != 0) {
            tool_file_error(path, err);
            status = 1;
            break;
        }
        /* Write all the window holds from pos, not only what was asked. */
        have = c.begin + c.size - pos;
        if (have > end - pos)
            have = end - pos;
        err = tool_plain_write_stdout(c.data + (size_t)(pos - c.begin),
                                      (size_t)have);
        if (err == -EFAULT) {
            /* the window lost pages: the file was truncated meanwhile */
            tool_file_error(path, -EIO);
            status = 1;
            break;
        }
        if (err != 0) {
            errno = -err;
            status = -1;
            break;
        }
        pos += have;
    }
    if (from_stdin && pos > start)
        (void)tool_plain_seek(0, pos);
    smmap_cursor_release(&c);
    smmap_file_close(f);
    return status;
}

int tool_cat(const tool_options *t)
{
    smmap_manager *m;
    int i, status, failed = 0;

    status = tool_create_manager(t, &m);
    if (status != 0)
        return status;
    for (i = 0; i < t->nfiles; i++) {
        int r = cat_file(m, t, t->files[i]);
        if (r < 0) {
            smmap_manager_free(m);
            return tool_write_failed();
        }
        failed |= r;
    }
    smmap_manager_free(m);
    if (fflush(stdout) != 0 || ferror(stdout))
        return tool_write_failed();
    return failed ? TOOL_EXIT_FILE_ERROR : 0;
}
