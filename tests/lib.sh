# SPDX-License-Identifier: GPL-2.0-or-later
# Shell helpers for zramfuse's system tests.  Source it, then call zf_init.
#
# Everything a test sets up (mount, loop device, swap, cgroup, daemon) is
# registered here and torn down by an EXIT trap in reverse order, pass or
# fail.  Every step that can block on the FUSE daemon runs under a timeout;
# when one hangs, the FUSE connection is aborted so the machine recovers.
# Processes are stopped only by the PID this file started.

: "${ZRAMFUSE:=${top_builddir:-.}/zramfuse}"
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
# The transport every daemon a test starts uses (-o transport=):
# classic unless the caller says uring (make check-uring, .ci/run).
: "${ZF_TRANSPORT:=classic}"
ZF_TOPT="-otransport=$ZF_TRANSPORT"
ZF_URING_SWITCH=/sys/module/fuse/parameters/enable_uring
ZF_URING_RESTORE=""	# the switch's value to put back, if we changed it
# Its value when the test started: a daemon with transport=auto (every one
# zramfusectl starts) turns it on itself, and the teardown puts it back.
ZF_URING_AT_START=$(cat "$ZF_URING_SWITCH" 2>/dev/null || :)

ZF_MOUNTS=""	# mount points, newest first
ZF_LOOPS=""	# loop devices
ZF_SWAPS=""	# swap devices enabled
ZF_CGROUPS=""	# cgroup directories
ZF_PIDS=""	# daemons we started
ZF_WORK=""	# workloads we started
ZF_TMP=""

zf_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

zf_fail() {
	zf_log "FAIL: $*"
	exit 1
}

zf_skip() {
	zf_log "SKIP: $*"
	exit 77
}

# The fusectl connection number of a FUSE mount = its st_dev minor number.
zf_fuse_conn() {
	_d=$(mountpoint -d "$1" 2>/dev/null) || return 1
	echo "${_d#*:}"
}

# Abort the FUSE connection of mount point $1: every request in flight fails
# and nothing waits on the daemon any more.
zf_fuse_abort() {
	_n=$(zf_fuse_conn "$1") || return 0
	[ -d /sys/fs/fuse/connections ] || return 0
	[ -e /sys/fs/fuse/connections/"$_n" ] ||
		mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null
	if [ -e /sys/fs/fuse/connections/"$_n"/abort ]; then
		zf_log "aborting FUSE connection $_n of $1"
		echo 1 >/sys/fs/fuse/connections/"$_n"/abort
	fi
}

# Is process $1 alive (a zombie, exited but not yet reaped, is not)?
zf_alive() {
	[ -r /proc/"$1"/stat ] &&
		[ "$(cut -d' ' -f3 /proc/"$1"/stat 2>/dev/null)" != Z ]
}

# Describe a process without touching its cmdline (reading the cmdline of a
# process stuck on the FUSE device blocks too).
zf_pstate() {
	for _p in "$@"; do
		for _t in /proc/"$_p"/task/*; do
			[ -r "$_t"/stat ] || continue
			zf_log "pid $_p task ${_t##*/} ($(cat "$_t"/comm 2>/dev/null)):" \
				"state $(cut -d' ' -f3 "$_t"/stat)" \
				"wchan $(cat "$_t"/wchan 2>/dev/null)" \
				"$(awk '{printf "%s<", $2}' "$_t"/stack 2>/dev/null)"
		done
	done
}

# Every task on the machine in uninterruptible sleep (state D), with its
# kernel stack: a hang's other half is often a kernel thread outside the
# test's processes (a loop device's worker, kswapd).  By /proc only.
zf_dstate() {
	for _t in /proc/[0-9]*/task/[0-9]*; do
		# the state follows the comm's closing parenthesis
		_s=$(sed 's/.*) //' "$_t"/stat 2>/dev/null | cut -d' ' -f1)
		[ "$_s" = D ] || continue
		_p=${_t#/proc/}
		zf_log "D task ${_t##*/} of ${_p%%/*} ($(cat "$_t"/comm 2>/dev/null)):" \
			"wchan $(cat "$_t"/wchan 2>/dev/null)" \
			"syscall $(cat "$_t"/syscall 2>/dev/null)" \
			"$(awk '{printf "%s<", $2}' "$_t"/stack 2>/dev/null)"
	done
}

# What a hung run leaves to read: the D tasks, memory cgroup $1's
# figures and the tail of daemon log $2.
zf_hang_report() {
	zf_dstate
	if [ -n "$1" ] && [ -r "$1"/memory.usage_in_bytes ]; then
		zf_log "cgroup $1: usage $(cat "$1"/memory.usage_in_bytes)" \
			"limit $(cat "$1"/memory.limit_in_bytes)" \
			"failcnt $(cat "$1"/memory.failcnt)" \
			"$(tr '\n' ' ' <"$1"/memory.oom_control)"
		zf_log "cgroup $1: $(grep -E '^(cache|rss|swap|dirty|writeback|pgpgin|pgpgout|inactive_anon|active_anon) ' \
			"$1"/memory.stat | tr '\n' ' ')"
	fi
	[ -n "$2" ] && [ -r "$2" ] && tail -n 20 "$2" | sed 's/^/    daemon: /' >&2
	# the daemons' mappings (a thread that holds the mmap lock blocks
	# the reading: into a file, under a timeout)
	for _p in $ZF_PIDS; do
		zf_alive "$_p" || continue
		zf_timeout 5 cat /proc/"$_p"/maps >"$ZF_TMP/maps" 2>/dev/null ||
			{ zf_log "daemon $_p: maps not readable in 5 s"; continue; }
		sed "s/^/    maps $_p: /" "$ZF_TMP/maps" >&2
	done
	return 0
}

# zf_timeout SECS CMD...: run CMD, killing it after SECS seconds.
# Returns CMD's status, or 124 on a timeout.
zf_timeout() {
	_t=$1
	shift
	timeout -k 5 "$_t" "$@"
}

# Run a teardown step that may block on FUSE; on a hang abort every mount
# we made, then try once more.
zf_unhang() {
	zf_timeout 120 "$@" && return 0
	zf_log "teardown step hung or failed: $*"
	zf_pstate $ZF_PIDS
	for _m in $ZF_MOUNTS; do zf_fuse_abort "$_m"; done
	zf_timeout 120 "$@"
}

# Is $1 a mount point (by /proc/self/mounts, which a dead FUSE daemon's
# mount is still in)?
zf_mounted() {
	awk -v m="$1" '$2 == m {f = 1} END {exit !f}' /proc/self/mounts
}

zf_teardown() {
	_rc=$?
	set +e
	trap - EXIT INT TERM HUP
	# Workloads first, so that swapoff has nothing of theirs to read back.
	for _p in $ZF_WORK; do kill -KILL "$_p" 2>/dev/null; done
	for _c in $ZF_CGROUPS; do
		for _p in $(cat "$_c"/cgroup.procs 2>/dev/null); do
			case " $ZF_PIDS " in *" $_p "*) continue ;; esac
			kill -KILL "$_p" 2>/dev/null
		done
	done
	for _p in $ZF_WORK; do
		zf_wait 100 eval '! zf_alive $_p' ||
			zf_pstate "$_p"
	done
	for _s in $ZF_SWAPS; do
		grep -q "^$_s " /proc/swaps && zf_unhang swapoff "$_s"
	done
	for _l in $ZF_LOOPS; do
		losetup "$_l" >/dev/null 2>&1 && zf_unhang losetup -d "$_l"
	done
	for _m in $ZF_MOUNTS; do
		# (not mountpoint(1): it cannot stat the mount of a daemon
		# that died, and such a mount was left behind)
		if zf_mounted "$_m"; then
			zf_unhang umount "$_m" || {
				zf_fuse_abort "$_m"
				umount -l "$_m"
			}
		fi
	done
	for _p in $ZF_PIDS; do
		zf_alive "$_p" || continue
		kill -TERM "$_p" 2>/dev/null
		zf_wait 100 eval '! zf_alive $_p' || kill -KILL "$_p"
	done
	for _c in $ZF_CGROUPS; do
		_i=0
		while ! rmdir "$_c" 2>/dev/null && [ $_i -lt 50 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
	done
	# a caller's own last step (e.g. resetting kernel zram)
	[ -n "${ZF_ATEXIT:-}" ] && eval "$ZF_ATEXIT"
	[ -n "$ZF_URING_RESTORE" ] || ZF_URING_RESTORE=$ZF_URING_AT_START
	if [ -n "$ZF_URING_RESTORE" ] &&
	   [ "$(cat "$ZF_URING_SWITCH" 2>/dev/null)" != "$ZF_URING_RESTORE" ]; then
		echo "$ZF_URING_RESTORE" >"$ZF_URING_SWITCH" ||
			zf_log "could not restore $ZF_URING_SWITCH to $ZF_URING_RESTORE"
	fi
	zf_tsan_check || _rc=1
	[ -n "$ZF_TMP" ] && rm -rf "$ZF_TMP"
	exit $_rc
}

# In a ThreadSanitizer build (mk/tsan.am sets TSAN_OPTIONS) every process
# this test starts writes its reports to $ZF_TMP/tsan.PID: a daemon's
# stderr may be a log that the next mount overwrites, or nothing at all.
# Print them, and fail if there are any.
zf_tsan_check() {
	[ -n "${TSAN_OPTIONS:-}" ] && [ -n "$ZF_TMP" ] || return 0
	_bad=0
	for _f in "$ZF_TMP"/tsan.*; do
		[ -e "$_f" ] || continue
		zf_log "FAIL: ThreadSanitizer report in ${_f##*/}:"
		cat "$_f" >&2
		_bad=1
	done
	return $_bad
}

# Check the facilities, make a scratch directory and install the trap.
zf_init() {
	[ "$(id -u)" = 0 ] || zf_skip "needs root"
	[ -c /dev/fuse ] || zf_skip "no /dev/fuse"
	[ -x "$ZRAMFUSE" ] || zf_fail "daemon not built: $ZRAMFUSE"
	[ "$ZF_TRANSPORT" = uring ] && zf_uring_check
	ZF_TMP=$(mktemp -d "${TMPDIR:-/tmp}/zramfuse-test.XXXXXX")
	if [ -n "${TSAN_OPTIONS:-}" ]; then
		TSAN_OPTIONS="$TSAN_OPTIONS log_path=$ZF_TMP/tsan"
		export TSAN_OPTIONS
	fi
	trap zf_teardown EXIT
	trap 'exit 130' INT TERM HUP
	[ "$ZF_TRANSPORT" = uring ] && zf_uring_on
	return 0
}

# FUSE over io_uring needs the kernel's support (6.14+,
# CONFIG_FUSE_IO_URING): skip without it.
zf_uring_check() {
	[ -e "$ZF_URING_SWITCH" ] ||
		zf_skip "ZF_TRANSPORT=uring: this kernel has no FUSE over io_uring ($ZF_URING_SWITCH missing)"
	[ -w "$ZF_URING_SWITCH" ] || [ "$(cat "$ZF_URING_SWITCH")" = Y ] ||
		zf_skip "ZF_TRANSPORT=uring: fuse's enable_uring switch is off and this test cannot turn it on"
}

# fuse's enable_uring is one global, root-only switch (off by default):
# a uring test turns it on for its own duration, says so, and the EXIT
# trap puts the old value back.  Connections that negotiated io_uring
# keep it when the switch goes off again.
zf_uring_on() {
	_old=$(cat "$ZF_URING_SWITCH")
	[ "$_old" = Y ] && return 0
	echo Y >"$ZF_URING_SWITCH" ||
		zf_skip "ZF_TRANSPORT=uring: cannot turn on $ZF_URING_SWITCH"
	ZF_URING_RESTORE=$_old
	zf_log "turned on $ZF_URING_SWITCH for this test (put back to $_old at exit)"
}

# Wait up to $1 tenths of a second for the command in the rest to succeed.
zf_wait() {
	_n=$1
	shift
	while ! "$@"; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || return 1
		sleep 0.1
	done
}

# The signals the daemon acts on start at their defaults, whatever this
# shell inherited: the daemon keeps a signal it inherited as ignored
# ignored, by design (src/main.c), so a suite run under nohup(1) (SIGHUP
# ignored) or as a shell's background job (SIGINT, SIGQUIT) would find
# them ignored.  A shell cannot undo an ignore it inherited; env(1) can.
if env --default-signal=HUP true 2>/dev/null; then
	ZF_SIGDFL="env --default-signal=HUP,INT,QUIT,TERM"
else
	ZF_SIGDFL=
fi

# zf_mount MNT [ARGS...]: start the daemon in the foreground, in the
# background of this shell, and wait for the mount.  Sets ZF_PID.
zf_mount() {
	_mnt=$1
	shift
	mkdir -p "$_mnt"
	$ZF_SIGDFL "$ZRAMFUSE" -f $ZF_TOPT "$@" "$_mnt" >"$ZF_TMP/daemon.$$.log" 2>&1 &
	ZF_PID=$!
	ZF_PIDS="$ZF_PID $ZF_PIDS"
	ZF_MOUNTS="$_mnt $ZF_MOUNTS"
	if ! zf_wait 100 mountpoint -q "$_mnt"; then
		cat "$ZF_TMP/daemon.$$.log" >&2
		zf_fail "mount of $_mnt did not appear"
	fi
}

# zf_umount MNT: unmount now (as a test step) and wait for the daemon.
zf_umount() {
	zf_unhang umount "$1" || zf_fail "umount $1"
	zf_wait 100 eval '! zf_alive $ZF_PID' ||
		zf_fail "daemon $ZF_PID still running after umount"
}

# zf_loop FILE: attach FILE as swap does it; sets ZF_LOOP to the device.
# (Not "$(zf_loop ...)": registration must happen in this shell.)
zf_loop() {
	ZF_LOOP=$(losetup --direct-io=on --sector-size 4096 -f --show "$1") ||
		zf_fail "losetup $1"
	ZF_LOOPS="$ZF_LOOP $ZF_LOOPS"
	# Block-layer writeback throttling is for disks: on a RAM-backed loop
	# it makes reclaim's swap writes wait on our own device's latency.
	_wbt=/sys/block/${ZF_LOOP#/dev/}/queue/wbt_lat_usec
	[ -w "$_wbt" ] && echo 0 >"$_wbt"
	return 0
}

# Swap is machine-wide: while a test's swap is on, any process under memory
# pressure anywhere may be swapped onto it, and its swapoff must then read
# those pages back.  So tests that swap take a machine-wide lock and run
# one at a time, even when several trees run their tests at once.
zf_swap_lock() {
	[ -n "${ZF_LOCKED:-}" ] && return 0
	exec 9>/run/lock/zramfuse-swap-test.lock
	zf_timeout 1800 flock 9 || zf_fail "waited 30 min for the swap-test lock"
	ZF_LOCKED=1
}

zf_swapon() {
	zf_swap_lock
	mkswap "$1" >/dev/null || zf_fail "mkswap $1"
	ZF_SWAPS="$1 $ZF_SWAPS"
	# The highest priority there is: the cgroup's pages go to the device
	# under test even when the machine has other swap on (a zram, or a
	# run killed before its trap could swapoff), so a test measures and
	# verifies its own device and no other.
	swapon --discard --priority 32767 "$1" || zf_fail "swapon $1"
	_other=$(awk -v d="$1" 'NR > 1 && $1 != d {printf " %s (priority %s)", $1, $5}' /proc/swaps)
	[ -z "$_other" ] || zf_log "other swap on this machine, below ours:$_other"
}

# zf_cgroup NAME LIMIT_BYTES: make a cgroup v1 memory cgroup; sets ZF_CG
# to its path.  (Not "$(zf_cgroup ...)", for the same reason as zf_loop.)
zf_cgroup() {
	ZF_CG=/sys/fs/cgroup/memory/zramfuse-test-$1-$$
	[ -d /sys/fs/cgroup/memory ] || zf_skip "no cgroup v1 memory controller"
	mkdir "$ZF_CG" || zf_fail "mkdir $ZF_CG"
	ZF_CGROUPS="$ZF_CG $ZF_CGROUPS"
	echo "$2" >"$ZF_CG"/memory.limit_in_bytes || zf_fail "limit $ZF_CG"
}

# The value of one /proc/vmstat counter.
zf_vmstat() {
	awk -v k="$1" '$1 == k {print $2}' /proc/vmstat
}

# zf_watch CG STALL_SECS MAX_SECS MNT -- CMD...: run CMD inside cgroup CG
# with a progress file ($ZF_PROGRESS, which CMD must update), in the
# background, and watch it.  Sets ZF_RC to CMD's exit status, 124 when it
# made no progress for STALL_SECS or ran past MAX_SECS (the FUSE connection
# of MNT is then aborted so the machine recovers), and ZF_SECS to the run
# time.  While it runs, ZF_PEAK_ORIG keeps the largest orig_data_size seen
# in MNT/.zram/mm_stat.
zf_watch() {
	_cg=$1 _stall=$2 _max=$3 _wmnt=$4
	shift 5
	ZF_PROGRESS=$ZF_TMP/progress
	: >"$ZF_PROGRESS"
	sh -c 'echo $$ >"$1"/cgroup.procs && shift && exec "$@"' sh "$_cg" "$@" &
	_wpid=$!
	ZF_WORK="$ZF_WORK $_wpid"
	_start=$(date +%s) _last=$_start _seen= ZF_PEAK_ORIG=0 ZF_RC=
	while zf_alive $_wpid; do
		sleep 1
		_now=$(date +%s)
		_p=$(cat "$ZF_PROGRESS" 2>/dev/null)
		if [ "$_p" != "$_seen" ]; then
			_seen=$_p _last=$_now
		fi
		# into a file, not a pipe: a reader stuck on a hung daemon
		# outlives timeout(1) and would hold a pipe, and this loop,
		# open forever
		zf_timeout 5 cut -d' ' -f1 "$_wmnt/.zram/mm_stat" \
			>"$ZF_TMP/watch.mm" 2>/dev/null || :
		_o=$(tr -dc 0-9 <"$ZF_TMP/watch.mm")
		[ -n "$_o" ] && [ "$_o" -gt "$ZF_PEAK_ORIG" ] && ZF_PEAK_ORIG=$_o
		if [ $((_now - _last)) -ge "$_stall" ] ||
		   [ $((_now - _start)) -ge "$_max" ]; then
			zf_log "no progress for $((_now - _last)) s after" \
				"$((_now - _start)) s (progress: $_seen): hung"
			zf_pstate $(echo $_wpid $ZF_PIDS \
				$(cat "$_cg"/cgroup.procs 2>/dev/null) |
				tr ' ' '\n' | sort -u)
			zf_hang_report "$_cg" "$ZF_TMP/daemon.$$.log"
			zf_fuse_abort "$_wmnt"
			kill -KILL $_wpid 2>/dev/null
			wait $_wpid 2>/dev/null
			ZF_RC=124
			break
		fi
	done
	if [ -z "$ZF_RC" ]; then
		wait $_wpid
		ZF_RC=$?
	fi
	ZF_SECS=$(($(date +%s) - _start))
}
