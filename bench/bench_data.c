/*
 * bench_data.c - the generated data: the directory, the big file and the
 * small files, the page cache (warmed, or dropped for the cold cases), and
 * the raw baselines' access to them (open, whole-file mmap).
 *
 * The raw baselines call open and mmap directly: they are what smmap is
 * measured against.
 */
#include "bench_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char data_dir[4096];
static int made_data_dir;
static int small_files_warm;

void bench_data_dir_make(const char *dir)
{
    made_data_dir = 0;
    small_files_warm = 0;
    if (dir) {
        snprintf(data_dir, sizeof(data_dir), "%s", dir);
        if (mkdir(data_dir, 0755) != 0 && errno != EEXIST)
            bench_die("mkdir %s: %s", data_dir, strerror(errno));
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(data_dir, sizeof(data_dir), "%s/smmap-bench-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(data_dir) == NULL)
            bench_die("mkdtemp %s: %s", data_dir, strerror(errno));
        made_data_dir = 1;
    }
}

const char *bench_data_dir(void)
{
    return data_dir;
}

char *bench_small_path(int i)
{
    char *p = bench_malloc(strlen(data_dir) + 32);
    sprintf(p, "%s/small-%03d.bin", data_dir, i);
    return p;
}

char *bench_big_path(void)
{
    char *p = bench_malloc(strlen(data_dir) + 16);
    sprintf(p, "%s/big.bin", data_dir);
    return p;
}

void bench_data_remove(const bench_config *cfg)
{
    int i;
    char *p;
    if (cfg->keep || !made_data_dir)
        return;
    p = bench_big_path();
    unlink(p);
    free(p);
    for (i = 0; i < cfg->nfiles; i++) {
        p = bench_small_path(i);
        unlink(p);
        free(p);
    }
    rmdir(data_dir);
    made_data_dir = 0;
}

static void fill_random(unsigned char *buf, size_t n)
{
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        uint64_t v = bench_rng();
        memcpy(buf + i, &v, 8);
    }
}

void bench_make_file(const char *path, uint64_t size)
{
    struct stat st;
    unsigned char *buf;
    uint64_t done = 0;
    int fd;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size == size)
        return;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        bench_die("create %s: %s", path, strerror(errno));
    buf = bench_malloc(MIB);
    while (done < size) {
        size_t n = (size_t)(size - done < MIB ? size - done : MIB);
        fill_random(buf, n);
        if (write(fd, buf, n) != (ssize_t)n)
            bench_die("write %s: %s", path, strerror(errno));
        done += n;
    }
    free(buf);
    close(fd);
}

void bench_warm_page_cache(const char *path)
{
    unsigned char *buf = bench_malloc(MIB);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        bench_die("open %s: %s", path, strerror(errno));
    while (read(fd, buf, MIB) > 0)
        ;
    close(fd);
    free(buf);
}

int bench_can_drop_caches(void)
{
    int fd;
    if (geteuid() != 0)
        return 0;
    fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

void bench_drop_caches(void)
{
    int fd;
    sync();
    fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0 || write(fd, "3\n", 2) != 2)
        bench_die("drop_caches: %s", strerror(errno));
    close(fd);
}

const unsigned char *bench_map_whole(int fd, uint64_t size, int populate)
{
    void *p = mmap(NULL, (size_t)size, PROT_READ,
                   MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED)
        bench_die("mmap: %s", strerror(errno));
    return p;
}

int bench_open_ro(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        bench_die("open %s: %s", path, strerror(errno));
    return fd;
}

void bench_files_open(file_set *s, const bench_config *cfg)
{
    int i;
    s->n = cfg->nfiles;
    s->size = cfg->small_size;
    s->paths = bench_malloc(sizeof(char *) * (size_t)s->n);
    s->fds = bench_malloc(sizeof(int) * (size_t)s->n);
    s->bases = bench_malloc(sizeof(char *) * (size_t)s->n);
    for (i = 0; i < s->n; i++) {
        s->paths[i] = bench_small_path(i);
        if (!small_files_warm)
            bench_warm_page_cache(s->paths[i]);
        s->fds[i] = bench_open_ro(s->paths[i]);
        s->bases[i] = bench_map_whole(s->fds[i], s->size, 1);
    }
    small_files_warm = 1;
}

void bench_files_close(file_set *s)
{
    int i;
    for (i = 0; i < s->n; i++) {
        munmap((void *)s->bases[i], (size_t)s->size);
        close(s->fds[i]);
        free(s->paths[i]);
    }
    free(s->paths);
    free(s->fds);
    free(s->bases);
}
