#!/bin/sh
# The packages, checked as a user would meet them (as root): the Yocto and Buildroot recipes
# as far as this machine can (scripts/check-recipes.sh); the Debian packages: build all three
# (image/debian/build-debs.sh), lintian with no errors, then the amd64 one installed with dpkg:
# its files in place, `mote --version`, `mote check`, `systemd-analyze verify` of mote.service,
# the man page and completions, one container run by the installed binary; then removed and
# purged, and nothing of it left. A failure purges the package too.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "$0: needs root (dpkg -i)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' mote 2>/dev/null | grep -q "ok installed"; then
  echo "$0: a mote package is installed on this machine already: not touching it" >&2
  exit 1
fi
work=$(mktemp -d)
cleanup() {
  dpkg -P mote >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
fail() { echo "packages: $*" >&2; exit 1; }

# The Yocto layer and the Buildroot tree: what can be checked without building them.
scripts/check-recipes.sh
debs=$(image/debian/build-debs.sh "$work/debs")
for f in $debs; do
  echo "lintian $(basename "$f")"
  lintian --fail-on error --tag-display-limit 0 "$f" 2>&1 | grep -v "root privileges is not recommended" || true
  lintian --fail-on error "$f" >/dev/null 2>&1 || fail "lintian reports errors for $f"
done
amd64=$(echo "$debs" | grep '_amd64\.deb$')
echo "dpkg -i $(basename "$amd64")"
dpkg -i "$amd64" >/dev/null
files=$(dpkg -L mote)
for p in /usr/bin/mote /usr/share/man/man1/mote.1.gz /lib/systemd/system/mote.service \
         /etc/mote/example-workload.json /etc/mote/workloads /etc/mote/keys \
         /usr/share/bash-completion/completions/mote /usr/share/zsh/vendor-completions/_mote \
         /usr/share/fish/vendor_completions.d/mote.fish /usr/share/doc/mote/README.Debian \
         /usr/share/doc/mote/copyright /usr/share/doc/mote/changelog.gz; do
  [ -e "$p" ] || fail "$p is not installed"
done
/usr/bin/mote --version | tee "$work/version"
grep -q "^mote version $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)$" "$work/version" ||
  fail "--version does not print Cargo.toml's version"
grep -q '^features: ' "$work/version" || fail "--version does not print the features"
/usr/bin/mote check >"$work/check" 2>&1 || { cat "$work/check"; fail "mote check failed"; }
echo "mote check: $(wc -l <"$work/check") lines, exit 0"
# The unit as systemd reads it (the binary and man:mote(1) must resolve).
systemd-analyze verify /lib/systemd/system/mote.service
# The page renders without groff warnings, with a section per verb.
MANWIDTH=80 man --warnings -l /usr/share/man/man1/mote.1.gz >"$work/man.txt" 2>"$work/man.err"
[ ! -s "$work/man.err" ] || { cat "$work/man.err"; fail "man reports warnings"; }
for v in $(/usr/bin/mote --help | sed -n '/^Commands:/,$ s/^  \([a-z][a-z0-9-]*\) .*/\1/p'); do
  grep -q "^   mote $v\$" "$work/man.txt" || fail "mote(1) has no section for $v"
done
bash -c '. /usr/share/bash-completion/completions/mote; COMP_WORDS=(mote dep); COMP_CWORD=1; _mote; [ "${COMPREPLY[*]}" = deploy ]' ||
  fail "the bash completion does not complete 'mote dep'"
# One container, from a busybox rootfs, run by the installed binary with a state root of its own.
b="$work/bundle"
mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/dev" "$b/rootfs/sys" "$b/rootfs/tmp"
cp /bin/busybox "$b/rootfs/bin/busybox"
for a in sh echo; do ln -s busybox "$b/rootfs/bin/$a"; done
/usr/bin/mote spec --bundle "$b"
sed -i 's/^\t\t\t"sh"$/\t\t\t"echo", "hello from the installed mote"/' "$b/config.json"
out=$(/usr/bin/mote --root "$work/state" run --bundle "$b" pkgtest)
[ "$out" = "hello from the installed mote" ] || fail "the container printed '$out'"
[ -z "$(ls -A "$work/state" 2>/dev/null)" ] || fail "the container left state: $(ls -A "$work/state")"
echo "container: $out"
# Removed: the conffile stays; purged: nothing of the package is left.
dpkg -r mote >/dev/null
[ ! -e /usr/bin/mote ] || fail "/usr/bin/mote is left after dpkg -r"
[ -e /etc/mote/example-workload.json ] || fail "dpkg -r removed a conffile"
dpkg -P mote >/dev/null
for p in $files; do
  case $p in /.|/etc|/usr|/usr/bin|/usr/share|/usr/share/*/|/lib|/lib/systemd|/lib/systemd/system) continue ;; esac
  if [ -e "$p" ] && ! [ -d "$p" ]; then fail "$p is left after purge"; fi
done
[ ! -e /etc/mote ] || fail "/etc/mote is left after purge: $(ls -A /etc/mote)"
[ ! -e /usr/share/doc/mote ] || fail "/usr/share/doc/mote is left after purge"
if dpkg-query -W -f='${Status}' mote 2>/dev/null | grep -q .; then
  dpkg-query -W -f='${Status}\n' mote | grep -q "not-installed" || fail "dpkg still knows mote: $(dpkg-query -W -f='${Status}' mote)"
fi
echo "packages: built 3, lintian clean of errors, installed, checked, removed and purged"
