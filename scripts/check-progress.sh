#!/bin/sh
# The progress lines of the long scripts (the qemu guests: image/boot.sh; the benchmarks:
# bench/harness.py, bench/clients.py, bench/supervisor.sh) are drawn only on a terminal.
# Checked here through script(1) (a terminal) and through a pipe (nothing), for the shell helper
# and the Python one, and that each long script uses them. Run by scripts/test.sh (packages).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
fail=0
bad() { echo "check-progress: FAIL $*"; fail=1; }
command -v script >/dev/null || { echo "check-progress: FAIL script(1) is missing (apt-get install bsdutils)"; exit 1; }

sh_demo=". '$top/scripts/progress.sh'; progress 'step 1/2'; progress 'step 2/2'; progress_done; echo end"
py_demo="import sys; sys.path.insert(0, '$top/bench'); from harness import progress, progress_done; progress('step 1/2'); progress('step 2/2'); progress_done(); print('end')"
for kind in sh py; do
	if [ $kind = sh ]; then cmd="sh -c \"$sh_demo\""; else cmd="python3 -c \"$py_demo\""; fi
	# On a terminal: each step drawn over the last (CR, erase line), the line cleared at the end.
	tty_out=$(script -qec "$cmd" /dev/null </dev/null | od -An -c | tr -s ' \n' ' ')
	case "$tty_out" in
		*'\r 033 [ K s t e p 1 / 2 \r 033 [ K s t e p 2 / 2 \r 033 [ K e n d'*) ;;
		*) bad "$kind: on a terminal the progress was not drawn in place: $tty_out" ;;
	esac
	# Into a pipe: only the program's own output.
	pipe_out=$(sh -c "$cmd" 2>&1 | od -An -c | tr -s ' \n' ' ')
	[ "$pipe_out" = " e n d \n " ] || bad "$kind: into a pipe something besides the output was written: $pipe_out"
done
for f in image/boot.sh bench/supervisor.sh; do
	grep -q '^\. .*scripts/progress.sh"' "$top/$f" || bad "$f does not source scripts/progress.sh"
done
for f in bench/harness.py bench/clients.py; do
	grep -q 'progress(' "$top/$f" || bad "$f draws no progress"
done
[ $fail = 0 ] && echo "check-progress: ok (drawn on a terminal, silent into pipes; boot.sh, bench.sh, clients.py, supervisor.sh)"
exit $fail
