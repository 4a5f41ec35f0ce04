#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Configure and build zramfuse in the source tree.  Extra arguments go to
# configure.
set -eu
cd "$(dirname "$0")/.."
[ -x configure ] || autoreconf -fi
./configure --enable-werror "$@"
make -j"$(nproc)"
