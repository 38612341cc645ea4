/* spawn: run one command and print what the kernel accounted for it.
 *
 * Used by bench.sh (compiled into its temp dir, statically with musl-gcc when available).
 * A tiny static launcher matters: a child's ru_maxrss can never read below the RSS of the
 * process it was forked/vforked from, and a fork from Python or bash costs the child ~1 ms
 * of copy-on-write faults. posix_spawn from this ~30 KB process keeps both floors negligible.
 *
 *   spawn [-n NSFILE] [-l LOGFILE] [-t SECONDS] -- CMD [ARG...]
 *
 * -n NSFILE  setns() into this mount namespace (e.g. /proc/PID/ns/mnt) BEFORE the clock starts,
 *            so the cost of switching is not charged to CMD.
 * -l LOGFILE CMD's stdout and stderr are appended to LOGFILE (default /dev/null); stdin is /dev/null.
 * -t SECONDS kill CMD (its pid only, SIGKILL) if it has not exited after SECONDS; rc is then 137.
 *
 * Prints one line on stdout:  rc wall_ns user_us sys_us maxrss_kb
 * rc is the exit code, or 128+N if CMD was killed by signal N, or 127 if it could not start.
 * user/sys/maxrss come from wait4(): CMD and every descendant CMD itself waited for, exactly
 * what GNU time's %U %S %M report, at microsecond resolution. It does NOT make itself a
 * subreaper: orphans of CMD go to the caller's subreaper (bench.sh's harness).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void on_alarm(int sig) { (void)sig; }

int main(int argc, char **argv) {
    const char *ns = NULL, *log = "/dev/null";
    unsigned timeout = 0;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            ns = argv[++i];
        else if (!strcmp(argv[i], "-l") && i + 1 < argc)
            log = argv[++i];
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            timeout = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else
            break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: spawn [-n NSFILE] [-l LOGFILE] [-t SECONDS] -- CMD [ARG...]\n");
        return 2;
    }
    if (ns) {
        int fd = open(ns, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNS) != 0) {
            fprintf(stderr, "spawn: setns %s: %s\n", ns, strerror(errno));
            return 2;
        }
        close(fd);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);

    struct timespec t0, t1;
    pid_t pid;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int err = posix_spawnp(&pid, argv[i], &fa, NULL, argv + i, environ);
    if (err) {
        fprintf(stderr, "spawn: %s: %s\n", argv[i], strerror(err));
        printf("127 0 0 0 0\n");
        return 0;
    }
    if (timeout) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm; /* no SA_RESTART: wait4 returns EINTR */
        sigaction(SIGALRM, &sa, NULL);
        alarm(timeout);
    }
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0) {
        if (errno == EINTR) {
            fprintf(stderr, "spawn: %s: timed out after %u s, killing pid %d\n", argv[i], timeout, (int)pid);
            kill(pid, SIGKILL);
            continue;
        }
        fprintf(stderr, "spawn: wait4: %s\n", strerror(errno));
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long wall = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    printf("%d %lld %lld %lld %ld\n", rc, wall,
           (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
           (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec, ru.ru_maxrss);
    return 0;
}
