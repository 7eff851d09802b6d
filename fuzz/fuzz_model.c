/*
 * fuzz_model.c - a libFuzzer target: the input bytes are decoded into
 * options and an operation sequence, run against the library and the
 * reference model of tests/model (the same engine as the randomized test).
 * Any mismatch, leak or crash aborts, so libFuzzer keeps the input.
 *
 * Layout: 8 bytes of options, then 12 bytes per operation:
 *   kind, a, b, file, offset mode, 4 offset bytes, length mode, 2 length
 *   bytes. Offsets and lengths are decoded relative to the file and window
 *   (page edges, EOF, region-sized lengths, UINT64_MAX, SIZE_MAX), so that
 *   short inputs reach the interesting cases. Byte 6 of the options also
 *   asks for version files (issue 12: bits 1-2 how many, bit 3
 *   SMMAP_CHECK_MTIME), which the version operations (touch, append,
 *   rewrite, truncate, replace, refresh, refresh race) change on disk.
 *
 * Build and run: fuzz/run.sh (CMake project in this folder).
 */
#include "model_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static model_pool pool;
static int pool_ready;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void remove_pool(void)
{
    model_pool_destroy(&pool);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Eight files: the sizes that matter (0, 1, a page, a page plus one,
     * two pages minus one, two of several MiB, sparse past 4 GiB). */
    if (model_pool_create(&pool, 8, 777, 1) != 0) {
        fprintf(stderr, "fuzz_model: could not create the test files\n");
        abort();
    }
    pool_ready = 1;
    atexit(remove_pool);
    return 0;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    int i;
    for (i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void decode_config(const uint8_t *p, model_config *cfg)
{
    uint64_t g = pool.page;
    unsigned i;
    memset(cfg, 0, sizeof(*cfg));
    smmap_options_init(&cfg->opt);
    if (p[0] % 4 == 0) {
        cfg->opt.window_size = 0;
        cfg->opt.max_mapped = g * (1 + p[1] % 64);
    } else {
        uint64_t w = g * (1 + p[0] % 4);
        cfg->opt.window_size = p[2] & 1 ? w - (p[2] >> 1) : w;
        cfg->opt.max_mapped = w * (1 + p[1] % 4) + g * (p[3] % 3) + (p[3] >> 7);
    }
    cfg->opt.max_regions = 1 + p[4] % 8;
    cfg->opt.max_open_files = 1 + p[5] % 4;
    cfg->opt.flags = p[6] & 1 ? SMMAP_HARD_LIMITS : 0;
    cfg->nfiles = 1 + p[7] % pool.count;
    for (i = 0; i < cfg->nfiles; i++)
        cfg->files[i] = (uint8_t)((i + p[7] / 8) % pool.count);
    cfg->nversions = (p[6] >> 1) % (MODEL_MAX_VFILES + 1);
    cfg->version_seed = le(p + 4, 4);
#ifdef SMMAP_CHECK_MTIME
    if (cfg->nversions > 0 && (p[6] & 8))
        cfg->opt.flags |= SMMAP_CHECK_MTIME;
#endif
}

static uint64_t decode_offset(uint8_t mode, uint64_t v, uint64_t fsize,
                              uint64_t g)
{
    switch (mode % 8) {
    case 0:
    case 1:
        return fsize ? v % fsize : 0;
    case 2:
        return g * (v % (fsize / g + 2)) + (v >> 30) - 1;
    case 3:
        return fsize - 1 - v % 4;
    case 4:
        return fsize + v % 3;
    case 5:
        return UINT64_MAX - v % 4;
    case 6:
        return (4ull << 30) - 2 * g + v % (4 * g);
    default:
        return v % (8 * g);
    }
}

static uint64_t decode_length(uint8_t mode, uint64_t v, uint64_t window)
{
    switch (mode % 8) {
    case 0:
        return 0;
    case 1:
        return 1 + v % 16;
    case 2:
    case 3:
        return 1 + v % (2 * window + 4096);
    case 4:
        return window;
    case 5:
        return window + 1;
    case 6:
        return mode & 8 ? SIZE_MAX : (uint64_t)SIZE_MAX - v % 3;
    default:
        return v;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    model_config cfg;
    model_run *r;
    size_t pos;
    int err, ops = 0;

    if (!pool_ready || size < 8)
        return 0;
    decode_config(data, &cfg);
    r = model_run_start(&pool, &cfg, &err);
    if (r == NULL) {
        fprintf(stderr, "fuzz_model: manager_new gave %d\n", err);
        abort();
    }
    for (pos = 8; pos + 12 <= size && ops < 256; pos += 12, ops++) {
        const uint8_t *p = data + pos;
        model_op op;
        uint64_t window = cfg.opt.window_size ? cfg.opt.window_size
                                               : 4 * pool.page;
        const mcursor *c = &r->cursors[p[1] % MODEL_CURSOR_SLOTS];
        uint64_t fsize;
        memset(&op, 0, sizeof(op));
        op.kind = (uint8_t)(p[0] % OP_KIND_COUNT);
        op.a = p[1];
        op.b = p[2];
        op.file = p[3];
        /* Offsets are decoded against the size the cursor's handle knows
         * when it has one, otherwise against the op's file as it is now. */
        fsize = c->handle >= 0 ? r->handles[c->handle].size
                               : model__fid_size(r, model__op_fid(r, op.file));
        op.off = decode_offset(p[4], le(p + 5, 4), fsize, pool.page);
        op.len = decode_length(p[9], le(p + 10, 2), window);
        if (op.kind == OP_USE_RANGE)
            op.need = decode_length((uint8_t)(p[2] >> 3), le(p + 10, 2) >> 3,
                                    window);
        if (op.kind == OP_CURSOR_INIT)
            op.b = (uint8_t)(p[2] % (MODEL_HANDLE_SLOTS + 1));
        if (model_run_step(r, &op)) {
            char text[200];
            model_format_op(&op, text, sizeof(text));
            fprintf(stderr, "fuzz_model: mismatch at operation %d (%s): %s\n",
                    ops, text, model_run_message(r));
            abort();
        }
    }
    if (model_run_finish(r)) {
        fprintf(stderr, "fuzz_model: at the end: %s\n",
                model_run_message(NULL));
        abort();
    }
    return 0;
}
