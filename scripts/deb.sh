#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build zramfuse's Debian package, as root on Debian 12, and print the
# .deb's path:
#
#   scripts/deb.sh [-o DIR] [--check]
#
# It installs what the build needs (debian/control's Build-Depends),
# copies the files git tracks, as they are in the work tree, to a
# directory of their own (so that the tree's own build, if any, is left
# alone: configure refuses a second build of a configured tree), runs
# dpkg-buildpackage -us -uc -b there, and moves the results to DIR
# (default: the directory above the tree, where dpkg-buildpackage puts
# them).  The build's log goes to DIR/zramfuse_VERSION_ARCH.build; its
# end is printed when it fails.
#
# --check then checks the package: dpkg -c lists every file it must hold
# and nothing under /usr/local or /etc, the unit runs /usr/bin/zramfusectl,
# Depends names fuse3, libfuse3 and mount, and lintian reports no error and no
# warning (overrides, each with its reason, are in
# debian/zramfuse.lintian-overrides).
set -eu
cd "$(dirname "$0")/.."
top=$PWD
out=$(dirname "$top") check=no
while [ $# -gt 0 ]; do
	case $1 in
	-o) out=$2; shift ;;
	--check) check=yes ;;
	*) echo "usage: $0 [-o DIR] [--check]" >&2; exit 2 ;;
	esac
	shift
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
log() { echo "deb.sh: $*" >&2; }

# what builds and checks a package, then the Build-Depends
if [ $check = yes ]; then
	scripts/install-deps.sh dpkg-dev debhelper git lintian >&2
else
	scripts/install-deps.sh dpkg-dev debhelper git >&2
fi
if ! dpkg-checkbuilddeps >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get build-dep -y -qq --no-install-recommends "$top" >&2
fi

# one version: configure.ac's, which the changelog must name
version=$(sed -n 's/^AC_INIT(\[zramfuse\], *\[\([^]]*\)\].*/\1/p' configure.ac)
deb_version=$(dpkg-parsechangelog -S Version)
if [ "$version" != "$deb_version" ]; then
	log "configure.ac says $version, debian/changelog $deb_version: add a changelog entry for $version"
	exit 1
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
base=zramfuse_${version}_$arch
deb=$out/$base.deb

[ -d .git ] || [ -f .git ] || { log "$top is not a git checkout: the files to package are the ones git tracks"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zramfuse-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
src=$tmp/zramfuse-$version
mkdir "$src"
# a tracked file deleted in the work tree is left out (--ignore-failed-read)
git ls-files -z | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$src"
[ -f "$src/debian/rules" ] || { log "debian/ is not tracked by git"; exit 1; }

log "building $base.deb (log: $out/$base.build)"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/$base.build" 2>&1; then
	tail -n 60 "$out/$base.build" >&2
	log "dpkg-buildpackage failed: $out/$base.build"
	exit 1
fi
for f in "$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes; do
	[ -e "$f" ] && mv -f "$f" "$out/"
done
[ -f "$deb" ] || { log "no $deb after the build"; exit 1; }

if [ $check = yes ]; then
	bad=0
	dpkg -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/files"
	for f in /usr/bin/zramfuse /usr/bin/zramfusectl \
	    /usr/share/man/man8/zramfuse.8.gz /usr/share/man/man8/zramfusectl.8.gz \
	    /lib/systemd/system/zramfuse-swap@.service \
	    /usr/share/doc/zramfuse/examples/zramfuse.conf.example \
	    /usr/share/doc/zramfuse/README.Debian /usr/share/doc/zramfuse/copyright \
	    /usr/share/bash-completion/completions/zramfusectl; do
		grep -qx "$f" "$tmp/files" || { log "FAIL: $f is not in the package"; bad=1; }
	done
	if grep -E '^/(usr/local|etc)/' "$tmp/files" >&2; then
		log "FAIL: files under /usr/local or /etc (above)"
		bad=1
	fi
	dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./lib/systemd/system/zramfuse-swap@.service |
		grep -qx 'ExecStart=/usr/bin/zramfusectl setup %i' ||
		{ log "FAIL: the unit does not run /usr/bin/zramfusectl"; bad=1; }
	depends=$(dpkg-deb -f "$deb" Depends)
	case "$depends" in
	*fuse3*libfuse3-3*|*libfuse3-3*fuse3*) ;;
	*) log "FAIL: Depends lacks fuse3 or libfuse3-3: $depends"; bad=1 ;;
	esac
	# zramfusectl runs mount, losetup and swapon (Debian 12's mount
	# package, not essential) and mkswap (util-linux, essential)
	case ", $depends," in
	*", mount,"*) ;;
	*) log "FAIL: Depends lacks mount (losetup, swapon): $depends"; bad=1 ;;
	esac
	log "$(wc -l <"$tmp/files") paths in the package; Depends: $depends"
	# lintian: no error, no warning (info and pedantic are printed)
	if ! lintian --fail-on error,warning --display-info "$out/${base}.changes" >&2; then
		log "FAIL: lintian"
		bad=1
	fi
	[ $bad = 0 ] || exit 1
	log "the package's contents and lintian: clean"
fi
echo "$deb"
