#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what zramfuse needs to build, test and run on Debian 12 (as root).
# Idempotent and non-interactive.
#
#   scripts/install-deps.sh [PACKAGE...]
#
# With packages named, those alone (what scripts/deb.sh and
# scripts/deb-roundtrip.sh need besides).
set -eu
# The last line is what the tests and benchmarks run: mandoc (the man page
# test), mkswap/swapon/setpriv/fallocate (util-linux), losetup (mount),
# modprobe (kmod), pgrep (procps), python3 (tests/fs_helper.py), fio (the
# concurrent-writer check in tests/fs_basic.sh; bench/suite.sh).  libtsan2
# is the ThreadSanitizer runtime for configure --enable-tsan (gcc-12 pulls
# it in today; named so that the TSan build does not rest on that).
# libsmartcols-dev: zramfusectl's tables and JSON (util-linux's library,
# what zramctl prints with); systemd: systemd.pc for the unit directory
# and systemd-analyze, which lints the unit in tests/ctl_unit.sh.
# liburing-dev: the FUSE-over-io_uring transport (transport=uring).
# gnuplot-nox: the benchmark suite's charts (bench/suite.sh).
# dpkg-dev, debhelper, lintian: the Debian package (scripts/deb.sh) and
# its check in CI.
pkgs="build-essential autoconf automake libtool pkg-config
      libfuse3-dev fuse3 liburing-dev liblz4-dev libzstd-dev libtsan2
      libsmartcols-dev mandoc util-linux mount kmod procps python3 fio
      systemd gnuplot-nox dpkg-dev debhelper lintian"
[ $# -eq 0 ] || pkgs=$*
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
