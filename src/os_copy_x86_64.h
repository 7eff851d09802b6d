/*
 * os_copy_x86_64.h - the body of smmap_read's guarded copy on x86-64, as
 * assembler text shared by os_guard_posix.c and os_win32.c.
 *
 * SMMAP_COPY_BODY(prefix, LABEL) expands to the instructions of a copy of
 * rdx bytes from rsi to rdi (System V registers: the Windows entry moves
 * rcx, rdx, r8 there first) that returns 0 in eax, and defines four global
 * labels with LABEL(name), which makes a symbol the way the object format
 * wants (ELF hides it, PE has no hidden): prefix_small_begin and
 * prefix_small_end bracket the paths that keep rsi the source and rdx the
 * length, prefix_rep_insn is the `rep movsb` (rsi the next source byte, rcx
 * the bytes left), and prefix_fault returns 1: a fault handler that finds
 * the faulting instruction in those ranges and the fault address in the
 * source still to copy resumes there.
 *
 * It copies as a good memcpy does, so that random reads still overlap their
 * cache misses: up to 16 bytes with two (possibly overlapping) loads and
 * stores, up to 4 KiB with a loop of 16-byte SSE2 moves and an overlapping
 * tail, `rep movsb` above. Clobbers rax, rcx, rsi, rdi, r8, r9, xmm0.
 */
#ifndef SMMAP_OS_COPY_X86_64_H
#define SMMAP_OS_COPY_X86_64_H

#define SMMAP_COPY_BODY(prefix, LABEL)                                       \
    "    cmpq $4096, %rdx\n"                                                 \
    "    ja 4f\n"                                                            \
    LABEL(prefix "_small_begin")                                             \
    "    cmpq $16, %rdx\n"                                                   \
    "    ja 5f\n"                                                            \
    "    cmpq $8, %rdx\n"                                                    \
    "    jb 1f\n"                                                            \
    "    movq (%rsi), %rax\n"                                                \
    "    movq -8(%rsi,%rdx), %rcx\n"                                         \
    "    movq %rax, (%rdi)\n"                                                \
    "    movq %rcx, -8(%rdi,%rdx)\n"                                         \
    "    jmp 3f\n"                                                           \
    "1:  cmpq $4, %rdx\n"                                                    \
    "    jb 2f\n"                                                            \
    "    movl (%rsi), %eax\n"                                                \
    "    movl -4(%rsi,%rdx), %ecx\n"                                         \
    "    movl %eax, (%rdi)\n"                                                \
    "    movl %ecx, -4(%rdi,%rdx)\n"                                         \
    "    jmp 3f\n"                                                           \
    "2:  testq %rdx, %rdx\n"                                                 \
    "    je 3f\n"                                                            \
    "    movq %rdx, %r8\n"                                                   \
    "    shrq $1, %r8\n"                                                     \
    "    movzbl (%rsi), %eax\n"                                              \
    "    movzbl -1(%rsi,%rdx), %ecx\n"                                       \
    "    movzbl (%rsi,%r8), %r9d\n"                                          \
    "    movb %al, (%rdi)\n"                                                 \
    "    movb %cl, -1(%rdi,%rdx)\n"                                          \
    "    movb %r9b, (%rdi,%r8)\n"                                            \
    "    jmp 3f\n"                                                           \
    "5:  xorl %r8d, %r8d\n"                                                  \
    "6:  movdqu (%rsi,%r8), %xmm0\n"                                         \
    "    movdqu %xmm0, (%rdi,%r8)\n"                                         \
    "    addq $16, %r8\n"                                                    \
    "    leaq 16(%r8), %r9\n"                                                \
    "    cmpq %rdx, %r9\n"                                                   \
    "    jb 6b\n"                                                            \
    "    movdqu -16(%rsi,%rdx), %xmm0\n"                                     \
    "    movdqu %xmm0, -16(%rdi,%rdx)\n"                                     \
    LABEL(prefix "_small_end")                                               \
    "3:  xorl %eax, %eax\n"                                                  \
    "    ret\n"                                                              \
    "4:  movq %rdx, %rcx\n"                                                  \
    LABEL(prefix "_rep_insn")                                                \
    "    rep movsb\n"                                                        \
    "    xorl %eax, %eax\n"                                                  \
    "    ret\n"                                                              \
    LABEL(prefix "_fault")                                                   \
    "    movl $1, %eax\n"                                                    \
    "    ret\n"

#endif /* SMMAP_OS_COPY_X86_64_H */
