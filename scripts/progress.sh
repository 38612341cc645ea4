# Progress for long shell steps, sourced by image/boot.sh and bench/supervisor.sh:
#   progress MSG   rewrites one line in place on stderr, only when stderr is a terminal
#   progress_done  clears that line
# Into a pipe or a file (CI, logs) both print nothing: logs keep only the step lines.
progress() { [ -t 2 ] && printf '\r\033[K%s' "$*" >&2; return 0; }
progress_done() { [ -t 2 ] && printf '\r\033[K' >&2; return 0; }
