/*
 * os_copy_x86_64.h - the body of smmap_read's guarded copy on x86-64, as
 * assembler text shared by os_guard_posix.c and os_win32.c.
 *
 * SMMAP_COPY_BODY(prefix, LABEL) expands to the instructions of a copy of
 * rdx bytes from rsi to rdi (System V registers: the Windows entry moves
 * rcx, rdx, r8 there first) that returns the length in rax (the caller
 * keeps nothing across the call to return it), and defines four global
 * labels with LABEL(name), which makes a symbol the way the object format
 * wants (ELF hides it, PE has no hidden): prefix_begin and prefix_end
 * bracket the paths that keep rsi the source and rdx the length,
 * prefix_rep_insn is the `rep movsb` (rsi the next source byte, rcx the
 * bytes left), and prefix_fault returns -EIO: a fault handler that finds
 * the faulting instruction in those ranges and the fault address in the
 * source still to copy resumes there.
 *
 * It copies as a good memcpy does, so that random reads still overlap their
 * cache misses, and in as few instructions as it can, because each one takes
 * room in the core's reorder window that the next reads' misses would use:
 * up to 64 bytes with two or four possibly overlapping loads and stores of
 * the largest width that fits (no loop, no branch taken for 8 to 16 bytes);
 * above, the last 64 bytes first, then the rest with a loop of 64 bytes per
 * turn up to 4 KiB and `rep movsb` beyond (the loop scans 64 KiB chunks
 * about 10% slower). A truncation loses the end of a file, so a copy that
 * touches a lost page faults on its first loads, the tail's: also under
 * valgrind, which emulates `rep movsb` without faulting on its last byte.
 * Clobbers rax, rcx, rsi, rdi, r8, r9, xmm0-xmm3, all of them volatile in
 * both calling conventions.
 */
#ifndef SMMAP_OS_COPY_X86_64_H
#define SMMAP_OS_COPY_X86_64_H

/* The recovery label returns -EIO; the includer checks EIO is 5. */
#define SMMAP_COPY_EIO 5

#define SMMAP_COPY_BODY(prefix, LABEL)                                       \
    LABEL(prefix "_begin")                                                   \
    "    cmpq $16, %rdx\n"                                                   \
    "    ja 5f\n"                                                            \
    "    cmpq $8, %rdx\n"                                                    \
    "    jb 1f\n"                                                            \
    "    movq (%rsi), %rax\n"                                                \
    "    movq -8(%rsi,%rdx), %rcx\n"                                         \
    "    movq %rax, (%rdi)\n"                                                \
    "    movq %rcx, -8(%rdi,%rdx)\n"                                         \
    "3:  movq %rdx, %rax\n"                                                  \
    "    ret\n"                                                              \
    "1:  cmpq $4, %rdx\n"                                                    \
    "    jb 2f\n"                                                            \
    "    movl (%rsi), %eax\n"                                                \
    "    movl -4(%rsi,%rdx), %ecx\n"                                         \
    "    movl %eax, (%rdi)\n"                                                \
    "    movl %ecx, -4(%rdi,%rdx)\n"                                         \
    "    jmp 3b\n"                                                           \
    "2:  testq %rdx, %rdx\n"                                                 \
    "    je 3b\n"                                                            \
    "    movq %rdx, %r8\n"                                                   \
    "    shrq $1, %r8\n"                                                     \
    "    movzbl (%rsi), %eax\n"                                              \
    "    movzbl -1(%rsi,%rdx), %ecx\n"                                       \
    "    movzbl (%rsi,%r8), %r9d\n"                                          \
    "    movb %al, (%rdi)\n"                                                 \
    "    movb %cl, -1(%rdi,%rdx)\n"                                          \
    "    movb %r9b, (%rdi,%r8)\n"                                            \
    "    jmp 3b\n"                                                           \
    "5:  cmpq $32, %rdx\n"                                                   \
    "    ja 6f\n"                                                            \
    "    movdqu (%rsi), %xmm0\n"                                             \
    "    movdqu -16(%rsi,%rdx), %xmm1\n"                                     \
    "    movdqu %xmm0, (%rdi)\n"                                             \
    "    movdqu %xmm1, -16(%rdi,%rdx)\n"                                     \
    "    movq %rdx, %rax\n"                                                  \
    "    ret\n"                                                              \
    "6:  cmpq $64, %rdx\n"                                                   \
    "    ja 7f\n"                                                            \
    "    movdqu (%rsi), %xmm0\n"                                             \
    "    movdqu 16(%rsi), %xmm1\n"                                           \
    "    movdqu -32(%rsi,%rdx), %xmm2\n"                                     \
    "    movdqu -16(%rsi,%rdx), %xmm3\n"                                     \
    "    movdqu %xmm0, (%rdi)\n"                                             \
    "    movdqu %xmm1, 16(%rdi)\n"                                           \
    "    movdqu %xmm2, -32(%rdi,%rdx)\n"                                     \
    "    movdqu %xmm3, -16(%rdi,%rdx)\n"                                     \
    "    movq %rdx, %rax\n"                                                  \
    "    ret\n"                                                              \
    "7:  movdqu -64(%rsi,%rdx), %xmm0\n"                                     \
    "    movdqu -48(%rsi,%rdx), %xmm1\n"                                     \
    "    movdqu -32(%rsi,%rdx), %xmm2\n"                                     \
    "    movdqu -16(%rsi,%rdx), %xmm3\n"                                     \
    "    movdqu %xmm0, -64(%rdi,%rdx)\n"                                     \
    "    movdqu %xmm1, -48(%rdi,%rdx)\n"                                     \
    "    movdqu %xmm2, -32(%rdi,%rdx)\n"                                     \
    "    movdqu %xmm3, -16(%rdi,%rdx)\n"                                     \
    "    cmpq $4096, %rdx\n"                                                 \
    "    ja 4f\n"                                                            \
    "    xorl %r8d, %r8d\n"                                                  \
    "8:  movdqu (%rsi,%r8), %xmm0\n"                                         \
    "    movdqu 16(%rsi,%r8), %xmm1\n"                                       \
    "    movdqu 32(%rsi,%r8), %xmm2\n"                                       \
    "    movdqu 48(%rsi,%r8), %xmm3\n"                                       \
    "    movdqu %xmm0, (%rdi,%r8)\n"                                         \
    "    movdqu %xmm1, 16(%rdi,%r8)\n"                                       \
    "    movdqu %xmm2, 32(%rdi,%r8)\n"                                       \
    "    movdqu %xmm3, 48(%rdi,%r8)\n"                                       \
    "    addq $64, %r8\n"                                                    \
    "    leaq 64(%r8), %r9\n"                                                \
    "    cmpq %rdx, %r9\n"                                                   \
    "    jb 8b\n"                                                            \
    "    jmp 3b\n"                                                           \
    LABEL(prefix "_end")                                                     \
    "4:  movq %rdx, %rax\n"                                                  \
    "    leaq -64(%rdx), %rcx\n"                                             \
    LABEL(prefix "_rep_insn")                                                \
    "    rep movsb\n"                                                        \
    "    ret\n"                                                              \
    LABEL(prefix "_fault")                                                   \
    "    movq $-5, %rax\n"                                                   \
    "    ret\n"

#endif /* SMMAP_OS_COPY_X86_64_H */
