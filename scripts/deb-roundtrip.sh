#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The package's round trip on a real Debian 12 with systemd as PID 1, in a
# virtual machine (qemu, software emulation where there is no KVM), so
# that nothing of it touches this machine's own loop devices and swap:
#
#   scripts/deb-roundtrip.sh [DEB]      (default: scripts/deb.sh builds it)
#
# Boot 1: a list of every path under /etc, /usr and /var (and the sums of
# /etc's files); apt install ./zramfuse_*.deb; the package started and
# enabled nothing; the example configuration to /etc/zramfuse.conf;
# systemctl enable --now zramfuse-swap@zram0; swap on through it; the
# daemon in the unit's cgroup with oom_score_adj -1000 and the unit's
# memory.swap.max 0; a program in a 64 MiB memory cgroup pushes pages to
# it; reboot.
# Boot 2: the swap came up at boot (the daemon checked again, and again
# with CAP_SYS_RESOURCE out of the unit's bounding set); apt purge
# zramfuse; no swap, loop
# device, mount or daemon left; the same lists again, compared.
#
# The guest's root is debootstrapped once (linux-image-amd64, fuse3 and
# liburing2 included: the package's dependencies are there before the
# first list) into $ZF_VM_DIR (default /var/tmp/zramfuse-vm) and reused;
# each run boots a fresh copy of it.  Its serial console, with the
# guest's report, goes to $ZF_VM_DIR/console.log; the report is printed.
# Needs root, debootstrap, qemu-system-x86, e2fsprogs; about 3-4 minutes
# with the root cached on a 2-core machine without KVM.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
vm=${ZF_VM_DIR:-/var/tmp/zramfuse-vm}
log() { echo "deb-roundtrip: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "needs root"; exit 1; }
if [ $# -ge 1 ]; then
	deb=$(realpath "$1")
else
	mkdir -p "$vm/out"
	deb=$(scripts/deb.sh -o "$vm/out")
fi
[ -f "$deb" ] || { log "no $deb"; exit 1; }
scripts/install-deps.sh debootstrap qemu-system-x86 e2fsprogs
mkdir -p "$vm"

# --- the guest's root, once --------------------------------------------
if [ ! -f "$vm/base.img" ]; then
	log "debootstrap bookworm into $vm/root (once)"
	rm -rf "$vm/root"
	debootstrap --include=linux-image-amd64,fuse3,liburing2,libfuse3-3 \
		bookworm "$vm/root" http://deb.debian.org/debian >"$vm/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$vm/debootstrap.log" >&2; exit 1; }
	echo 'zf-guest' >"$vm/root/etc/hostname"
	printf '/dev/vda / ext4 defaults 0 1\n' >"$vm/root/etc/fstab"
	# no password, no login needed: the test runs as a unit
	cp "$vm/root/boot"/vmlinuz-* "$vm/vmlinuz"
	cp "$vm/root/boot"/initrd.img-* "$vm/initrd.img"
	rm -f "$vm/base.img.tmp"
	mkfs.ext4 -q -F -L root -d "$vm/root" "$vm/base.img.tmp" 4G
	mv "$vm/base.img.tmp" "$vm/base.img"
	rm -rf "$vm/root"
fi

# --- this run's disk: the base, the .deb and the test ------------------
rm -rf "$vm/run" && mkdir -p "$vm/run/root/zf" "$vm/run/etc/systemd/system/multi-user.target.wants"
cp "$deb" "$vm/run/root/zf/"
cat >"$vm/run/root/zf/test.sh" <<'EOF'
#!/bin/sh
# The guest's side of scripts/deb-roundtrip.sh; its output is the report.
set -u
cd /root/zf
say() { printf '\n### %s\n' "$*"; }
run() { printf '# %s\n' "$*"; "$@"; printf '(exit status %s)\n' "$?"; }
fail() { printf 'ROUNDTRIP FAIL: %s\n' "$*"; systemctl poweroff; exit 1; }
# every path under /etc /usr /var, and the sums of /etc's regular files
snapshot() {
	find /etc /usr /var -xdev | sort >"$1.paths"
	find /etc -xdev -type f -exec md5sum {} + | sort -k2 >"$1.etcsums"
}
swaps() { tail -n +2 /proc/swaps; }
# The daemon under systemd: in the unit's cgroup, oom_score_adj -1000
# (the unit's OOMScoreAdjust=), the unit's memory.swap.max 0.
daemon_safety() {
	pid=
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = zramfuse ] && pid=${p#/proc/}
	done
	[ -n "$pid" ] || fail "no daemon running"
	cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
	run cat "/proc/$pid/cgroup" "/proc/$pid/oom_score_adj" "/sys/fs/cgroup$cg/memory.swap.max"
	run systemctl show -p OOMScoreAdjust -p ManagedOOMPreference -p MemorySwapMax zramfuse-swap@zram0.service
	run sh -c 'journalctl -b --no-pager -o cat | grep -E "oom_score_adj|IO_FLUSHER|memory locked"'
	case $cg in
	*/zramfuse-swap@zram0.service) ;;
	*) fail "the daemon is not in the unit's cgroup: $cg" ;;
	esac
	[ "$(cat "/proc/$pid/oom_score_adj")" = -1000 ] ||
		fail "the daemon's oom_score_adj is $(cat "/proc/$pid/oom_score_adj"), not -1000"
	[ "$(cat "/sys/fs/cgroup$cg/memory.swap.max")" = 0 ] ||
		fail "the unit's memory.swap.max is not 0"
	echo "daemon $pid: in the unit's cgroup, oom_score_adj -1000, memory.swap.max 0"
}
if [ ! -f stage2 ]; then
	say "boot 1: $(uname -sr), systemd $(systemctl --version | head -n 1 | cut -d' ' -f2), $(systemctl is-system-running)"
	snapshot before
	say "apt install ./$(basename /root/zf/*.deb)"
	run apt-get install -y ./zramfuse_*.deb
	say "what the package holds"
	run dpkg -L zramfuse
	say "the package started and enabled nothing"
	run systemctl is-enabled zramfuse-swap@zram0.service
	run systemctl is-active zramfuse-swap@zram0.service
	[ -z "$(swaps)" ] || fail "swap on after the install: $(swaps)"
	grep -q zramfuse /proc/mounts && fail "a zramfuse mount after the install"
	echo "no swap, no zramfuse mount"
	say "enable --now with the example configuration"
	run cp /usr/share/doc/zramfuse/examples/zramfuse.conf.example /etc/zramfuse.conf
	run systemctl enable --now zramfuse-swap@zram0.service
	run systemctl --no-pager status zramfuse-swap@zram0.service
	run cat /proc/swaps
	swaps | grep -q '^/dev/loop' || fail "no swap on a loop device after enable --now"
	run zramfusectl
	say "the daemon's swap safety under systemd"
	daemon_safety
	say "a program in a 64 MiB memory cgroup holds 256 MiB: it swaps"
	out0=$(awk '$1 == "pswpout" { print $2 }' /proc/vmstat)
	# tail keeps a line whole, and this one (text, compressible) is 256 MiB
	cg=/sys/fs/cgroup/zf-load
	mkdir "$cg" && echo 64M >"$cg/memory.max" || fail "no memory cgroup"
	run sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" -c "$3"' sh "$cg" sh \
		"yes 'a line of text for the round trip, 0123456789' | tr -d '\\n' | head -c 256M | tail -n 1 | wc -c"
	rmdir "$cg"
	out1=$(awk '$1 == "pswpout" { print $2 }' /proc/vmstat)
	echo "pages swapped out: $((out1 - out0))"
	[ $((out1 - out0)) -gt 1000 ] || fail "nothing was swapped out"
	run cat /run/zramfuse-zram0/.zram/mm_stat
	run zramfusectl
	touch stage2
	say "reboot"
	systemctl reboot
	exit 0
fi
say "boot 2: $(systemctl is-system-running)"
say "boot 1's shutdown: the unit's stop, and the kernel on loop devices"
run journalctl -b -1 --no-pager -o short-monotonic -u zramfuse-swap@zram0.service
run sh -c 'journalctl -b -1 -k --no-pager -o short-monotonic | grep -E "loop|I/O error|swap" | tail -n 20'
say "boot 2: the swap came up at boot"
run systemctl is-active zramfuse-swap@zram0.service
run journalctl -b --no-pager -o cat -u zramfuse-swap@zram0.service
run cat /proc/swaps
swaps | grep -q '^/dev/loop' || fail "the swap did not come up at boot"
run zramfusectl
say "boot 2: the daemon's swap safety under systemd"
daemon_safety
say "boot 2: without CAP_SYS_RESOURCE the daemon cannot set -1000 itself: systemd does"
# a runtime drop-in (under /run, outside the lists compared at the end)
dropin=/run/systemd/system/zramfuse-swap@zram0.service.d
mkdir -p "$dropin"
printf '[Service]\nCapabilityBoundingSet=~CAP_SYS_RESOURCE\n' >"$dropin/nocap.conf"
run systemctl daemon-reload
run systemctl restart zramfuse-swap@zram0.service
daemon_safety
run grep CapBnd "/proc/$pid/status"
journalctl -b --no-pager -o cat | grep -q 'PR_SET_IO_FLUSHER: Operation not permitted' ||
	fail "the daemon had CAP_SYS_RESOURCE after all"
echo "the daemon lacks CAP_SYS_RESOURCE (it says so) and has oom_score_adj -1000"
rm -r "$dropin"
run systemctl daemon-reload
say "apt purge zramfuse"
run apt-get purge -y zramfuse
say "nothing left running"
run cat /proc/swaps
[ -z "$(swaps)" ] || fail "swap left on: $(swaps)"
run losetup -a
[ -z "$(losetup -a)" ] || fail "a loop device left"
grep -q zramfuse /proc/mounts && fail "a zramfuse mount left: $(grep zramfuse /proc/mounts)"
for p in /proc/[0-9]*; do
	[ "$(cat "$p/comm" 2>/dev/null)" = zramfuse ] && fail "a daemon left: ${p#/proc/}"
done
run systemctl list-units --all --no-pager 'zramfuse*'
systemctl list-units --all --no-legend 'zramfuse*' | grep -q . &&
	fail "systemd still knows a zramfuse unit"
run ls -d /run/zramfuse /run/zramfuse-zram0
say "the paths under /etc /usr /var and /etc's sums, before the install and after the purge"
snapshot after
# what changes on any Debian system between two boots and an apt run
churn='^/var/(log|tmp|backups|cache/(apt|man|debconf|ldconfig)|lib/apt/(extended_states|lists|periodic)|lib/systemd/(random-seed|timers|catalog)|lib/(ucf|man-db|debconf))(/|$)|^/var/lib/dpkg/[a-z]+-old$'
diff before.paths after.paths >paths.diff
echo "paths added or removed: $(grep -c '^[<>]' paths.diff)"
cat paths.diff
grep '^[<>]' paths.diff | sed 's/^[<>] //' | grep -Ev "$churn" >paths.left || :
echo "of them outside $churn: $(wc -l <paths.left)"
cat paths.left
diff before.etcsums after.etcsums >etc.diff
echo "files of /etc changed: $(grep -c '^[<>]' etc.diff)"
cat etc.diff
if [ -s paths.left ] || [ -s etc.diff ]; then
	fail "the purge left something behind (above)"
fi
echo 'ROUNDTRIP PASS'
systemctl poweroff
EOF
chmod 755 "$vm/run/root/zf/test.sh"
cat >"$vm/run/etc/systemd/system/zf-roundtrip.service" <<'EOF'
[Unit]
Description=zramfuse package round trip
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/root/zf/test.sh
StandardOutput=journal+console
StandardError=journal+console
[Install]
WantedBy=multi-user.target
EOF
ln -s ../zf-roundtrip.service "$vm/run/etc/systemd/system/multi-user.target.wants/zf-roundtrip.service"
cp --sparse=always "$vm/base.img" "$vm/run.img"
# e2fsprogs writes the files in without mounting (no loop device here)
( cd "$vm/run" && find . -mindepth 1 | sed 's|^\./||' ) | while read -r p; do
	if [ -L "$vm/run/$p" ]; then
		echo "symlink /$p $(readlink "$vm/run/$p")"
	elif [ -d "$vm/run/$p" ]; then
		echo "mkdir /$p"
	else
		echo "write $vm/run/$p /$p"
		echo "set_inode_field /$p mode 0100$(stat -c %a "$vm/run/$p")"
	fi
done >"$vm/debugfs.cmds"
debugfs -w -f "$vm/debugfs.cmds" "$vm/run.img" >"$vm/debugfs.log" 2>&1

# --- boot it ----------------------------------------------------------
accel=tcg,thread=multi
[ -w /dev/kvm ] && accel=kvm
log "booting Debian 12 ($accel); console: $vm/console.log"
start=$(date +%s)
timeout 1500 qemu-system-x86_64 -accel "$accel" -cpu max -smp 2 -m 1536 \
	-kernel "$vm/vmlinuz" -initrd "$vm/initrd.img" \
	-append "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=0" \
	-drive "file=$vm/run.img,format=raw,if=virtio" -nic none \
	-nographic -serial "file:$vm/console.log" -monitor none </dev/null >/dev/null 2>&1 || :
log "the guest ran $(( $(date +%s) - start )) s"
# the report: the test's lines without the console's prefix, the kernel's
# own lines (a reboot, an I/O error) kept; the login prompt and escapes out
tr -d '\r' <"$vm/console.log" | sed -n '/### boot 1/,$p' |
	sed 's/^.*test\.sh\[[0-9]*\]: //; s/\x1b[^a-zA-Z]*[a-zA-Z]//g; s/^c//' |
	grep -v '^Debian GNU/Linux\|^$\|(Reading database \.\.\. [0-9]' || :
grep -q 'ROUNDTRIP PASS' "$vm/console.log"
