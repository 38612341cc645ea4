#!/bin/sh
# What can be checked here of the Yocto layer (image/yocto/meta-mote) and the Buildroot tree
# (image/buildroot), which this machine cannot build: the shell files parse, the Buildroot
# makefiles parse with make (its cargo infrastructure stubbed), the versions are Cargo.toml's,
# every file the recipes install from the source tree exists, and the layer's crate list is
# Cargo.lock's (image/yocto/gen-crates.sh). Run by scripts/test-packages.sh.
set -eu
cd "$(dirname "$0")/.."
fail() { echo "recipes: $*" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

for f in image/init/mote.sysvinit image/init/mote.openrc image/yocto/gen-crates.sh image/debian/build-debs.sh; do
  sh -n "$f" || fail "$f does not parse as shell"
done

# Buildroot: the external tree's makefiles through make, with the cargo infrastructure empty.
mk=$(mktemp)
trap 'rm -f "$mk"' EXIT
cat >"$mk" <<EOF
BR2_EXTERNAL_MOTE_PATH := $PWD/image/buildroot
cargo-package :=
include $PWD/image/buildroot/external.mk
show:
	@echo "\$(MOTE_VERSION) \$(MOTE_SITE_METHOD) \$(MOTE_SITE)"
EOF
out=$(make -s -f "$mk" show) || fail "image/buildroot's makefiles do not parse"
set -- $out
[ "$1" = "$version" ] || fail "mote.mk's MOTE_VERSION $1 is not Cargo.toml's $version"
[ "$2" = local ] || fail "mote.mk's MOTE_SITE_METHOD is $2"
[ -f "$3/Cargo.toml" ] || fail "mote.mk's MOTE_SITE $3 is not the source tree"
grep -q '^config BR2_PACKAGE_MOTE$' image/buildroot/package/mote/Config.in || fail "Config.in lacks BR2_PACKAGE_MOTE"
grep -q '^name: MOTE$' image/buildroot/external.desc || fail "external.desc's name is not MOTE"
for p in $(grep -o '\$(@D)/[^ ]*' image/buildroot/package/mote/mote.mk | sed 's|^\$(@D)/||'); do
  [ -e "$p" ] || fail "mote.mk installs $p, which is not in the tree"
done

# Yocto: the recipe's version, what it installs from ${S}, the crates.
bb=image/yocto/meta-mote/recipes-containers/mote/mote_$version.bb
[ -f "$bb" ] || fail "no recipe $bb for Cargo.toml's version $version"
grep -q '^LAYERSERIES_COMPAT_mote = ' image/yocto/meta-mote/conf/layer.conf || fail "layer.conf lacks LAYERSERIES_COMPAT"
for p in $(grep -o '\${S}/[^ ]*' "$bb" | sed 's|^\${S}/||'); do
  [ -e "$p" ] || fail "the recipe installs $p, which is not in the tree"
done
inc=image/yocto/meta-mote/recipes-containers/mote/mote-crates.inc
image/yocto/gen-crates.sh | cmp -s - "$inc" || fail "$inc is not Cargo.lock's crate list: run image/yocto/gen-crates.sh > $inc"
n=$(grep -c 'crate://' "$inc")
echo "recipes: shell and make parse, version $version, installed paths exist, $n crates as in Cargo.lock"
