#!/bin/sh
# mote(1) from the binary's own help: `mote --help` and `mote VERB --help` for every verb (and
# `mote deploy SUB --help`), which argh prints from the same definitions the parser uses, so
# the page cannot drift from the command line. Writes roff to stdout.
#   scripts/manpage.sh [MOTE_BINARY]   (default: target/x86_64-unknown-linux-musl/release/mote)
set -eu
cd "$(dirname "$0")/.."
bin=${1:-target/x86_64-unknown-linux-musl/release/mote}
[ -x "$bin" ] || { echo "manpage.sh: $bin is not an executable (build it: scripts/build.sh x86_64-unknown-linux-musl)" >&2; exit 2; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
# Reproducible: the date of the last commit, else SOURCE_DATE_EPOCH, else today.
date=$(git log -1 --format=%cs 2>/dev/null || true)
[ -n "$date" ] || date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)

# The names under "Commands:" in a help text.
commands() { sed -n '/^Commands:/,$p' | sed -n 's/^  \([a-z][a-z0-9-]*\) .*/\1/p'; }

# One help text as roff: the usage line, the description, then each section's entries.
# Entries are "  NAME  text" with continuation lines indented past the name column.
to_roff() {
  awk '
    function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); if (s ~ /^[.'"'"']/) s = "\\&" s; return s }
    NR == 1 && /^Usage: / { sub(/^Usage: /, ""); print ".PP"; print ".B " esc($0); next }
    /^[A-Z][A-Za-z ]*:$/ { section = $0; sub(/:$/, "", section); print ".PP"; print "\\fI" esc(section) "\\fR"; next }
    /^$/ { next }
    /^  [^ ]/ && section != "" {
      line = substr($0, 3)
      name = line; text = ""
      if (match(line, /  +/)) { name = substr(line, 1, RSTART - 1); text = substr(line, RSTART + RLENGTH) }
      print ".TP"; print "\\fB" esc(name) "\\fR"
      if (text != "") print esc(text)
      next
    }
    /^   +/ && section != "" { sub(/^ +/, ""); print esc($0); next }
    { print ".PP"; print esc($0) }
  '
}

cat <<EOF
.TH MOTE 1 "$date" "mote $version" "User Commands"
.SH NAME
mote \\- a small OCI container runtime and workload supervisor for edge Linux boards
.SH SYNOPSIS
.B mote
[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]
.SH DESCRIPTION
mote runs OCI bundles with runc's command line, so podman (through conmon), containerd's runc
shim and CRI\\-O can use it as they use runc; \\fBmote supervise\\fR runs a directory of workloads
with restart policies, health checks, logs and a hardware watchdog, and \\fBmote deploy\\fR
stages, activates, commits and rolls back workload revisions delivered over the air.
Options may come before or after the container id; \\fB\\-\\-flag=value\\fR, \\fB\\-\\-flag value\\fR
and Go\\-style \\fB\\-flag\\fR are all accepted.
.SH GLOBAL OPTIONS
EOF
"$bin" --help | sed '/^Commands:/,$d' | to_roff
echo ".SH COMMANDS"
for c in $("$bin" --help | commands); do
  printf '.SS "mote %s"\n' "$c"
  "$bin" "$c" --help | to_roff
  if [ "$c" = deploy ]; then
    for s in $("$bin" deploy --help | commands); do
      printf '.SS "mote deploy %s"\n' "$s"
      "$bin" deploy "$s" --help | to_roff
    done
  fi
done
cat <<'EOF'
.SH EXIT STATUS
0 success; 1 the operation failed (a system call, a container in the wrong state, a container
that does not exist); 2 a bad command line or container id; 3 a bad input file (config.json, a
workload file, an OTA source: the error names the field); 4 a feature mote does not have.
\fBmote run\fR and \fBmote exec\fR return the process's exit code (128+N for a signal).
\fBmote deploy\fR adds 5 (rolled back) and 6 (the wait ended first).
.SH FILES
.TP
.I /run/mote
the state of containers (\fB\-\-root\fR)
.TP
.I /etc/mote/workloads
the workload files \fBmote supervise\fR runs (one JSON file per workload)
.TP
.I /etc/mote/keys
public keys (OpenSSL PEM, ed25519) that \fBmote deploy stage\fR accepts signatures from
.TP
.I /var/lib/mote
the revision store of \fBmote deploy\fR
.SH SEE ALSO
.BR runc (8),
.BR crun (1),
.BR podman (1),
.BR systemd.service (5)
.PP
/usr/share/doc/mote/README.md
EOF
