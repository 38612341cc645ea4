/* tinytrue: exit(0) and nothing else, no libc. bench.sh runs it as the container payload of a
 * second set of `run`s so that the peak RSS of the runtime tree is the runtime's own, not
 * busybox's (static busybox `true` alone peaks at about 1.3 MiB).
 * Build: gcc -static -nostdlib -Os -o tinytrue tinytrue.c   (x86_64 only) */
void _start(void) { __asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall"); }
