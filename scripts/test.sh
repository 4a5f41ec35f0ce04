#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Fresh Debian 12, as root: install the dependencies, build, run the tests.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
make check
