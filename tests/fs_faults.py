# SPDX-License-Identifier: GPL-2.0-or-later
"""fs_faults: the checks of tests/fs_faults.sh that need system calls the
shell has no tool for - times set with utimensat(), I/O at the edges of a
file and of the store, writes against mem_limit.

    python3 fs_faults.py CHECK ARGS...

Each check prints what it did and exits 0, or prints the failure and exits 1.
"""
import ctypes
import errno
import mmap
import os
import subprocess
import sys
import time

PAGE = 4096
STORE_MAX = 1 << 47     # STORE_MAX_BYTES: the largest file
libc = ctypes.CDLL(None, use_errno=True)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_int64), ("tv_nsec", ctypes.c_long)]


AT_FDCWD = -100

# (seconds, nanoseconds): around 1970, before it with a fraction, around
# the 2262 overflow of int64 nanoseconds, 2300, and far beyond both ways
TIMES = [
    (0, 0), (1, 1), (-1, 1), (-1, 999999999),
    (-315619200, 250000000),            # 1960-01-01 00:00:00.25
    (10413792000, 500000000),           # 2300-01-01 00:00:00.5
    (9223372036, 854775807),            # the last int64 ns
    (9223372036, 854775808),            # the first beyond
    (-9223372037, 145224192),           # the first int64 ns (INT64_MIN)
    (-9223372037, 145224191),           # the last before it
    (1 << 40, 123456789), (-(1 << 40), 987654321),
    (1 << 62, 5), (-(1 << 62), 999999999),
]


def stat_times(path):
    st = os.stat(path)
    return (divmod(st.st_atime_ns, 10**9), divmod(st.st_mtime_ns, 10**9))


def times(path, ref):
    """Every time in TIMES, as atime and as mtime (each with a different
    one as the other), round-trips through setattr/getattr exactly as it
    does on the reference filesystem (tmpfs): the same values, which for
    all of TIMES are the values set."""
    for p in (path, ref):
        with open(p, "wb") as f:
            f.write(b"x")
    n = 0
    for k, (s, ns) in enumerate(TIMES):
        other = TIMES[(k + 3) % len(TIMES)]
        for a, m in ((s, ns), other), (other, (s, ns)):
            ts = (Timespec * 2)(Timespec(*a), Timespec(*m))
            got = []
            for p in (path, ref):
                rc = libc.utimensat(AT_FDCWD, p.encode(), ts, 0)
                check(rc == 0, "utimensat(%s, %s, %s): %s" % (
                    p, a, m, os.strerror(ctypes.get_errno())))
                got.append(stat_times(p))
            check(got[0] == got[1], "atime %s, mtime %s read back as %s, on tmpfs as %s"
                  % (a, m, got[0], got[1]))
            check(got[0] == (a, m), "atime %s, mtime %s read back as %s"
                  % (a, m, got[0]))
            n += 1
    # a write after a far time brings the mtime back to now
    os.utime(path, ns=((1 << 62) * 10**9 // 10**9, (1 << 62)))
    before = time.time_ns()
    with open(path, "r+b") as f:
        f.write(b"y")
    m = os.stat(path).st_mtime_ns
    check(before - 10**9 <= m <= time.time_ns() + 10**9,
          "mtime %d after a write, now is about %d" % (m, before))
    print("times: %d atime/mtime pairs round-trip exactly, as on tmpfs "
          "(1960.25, 2300.5, around 2262 and +-2^62 s)" % n)


def aligned(n):
    return mmap.mmap(-1, max(n, PAGE))


def err_of(fn, *args):
    try:
        return fn(*args)
    except OSError as e:
        return errno.errorcode[e.errno]
    except OverflowError:
        return "OverflowError"


def fallocate(fd, mode, off, length):
    rc = libc.fallocate(fd, mode, ctypes.c_int64(off), ctypes.c_int64(length))
    return 0 if rc == 0 else errno.errorcode[ctypes.get_errno()]


def edges(path, ref):
    """Reads and writes at and past the end, of length 0, at the store's
    limit 2^47 and near 2^63: each gives what it gives on tmpfs, except
    where the limit differs (tmpfs's is 2^63 - 1), where it gives what
    the kernel gives at a local filesystem's limit: EFBIG at or past it,
    a short write across it."""
    results = {}
    for p in (path, ref):
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        r = []
        try:
            os.pwrite(fd, b"a" * 10000, 0)
            r.append(("read at EOF", err_of(os.pread, fd, 100, 10000)))
            r.append(("read past EOF", err_of(os.pread, fd, 100, 20000)))
            r.append(("read across EOF", err_of(os.pread, fd, 100, 9950)))
            r.append(("read of 0 at 0", err_of(os.pread, fd, 0, 0)))
            r.append(("read of 0 past EOF", err_of(os.pread, fd, 0, 1 << 40)))
            r.append(("write of 0 at 0", err_of(os.pwrite, fd, b"", 0)))
            r.append(("write of 0 past EOF", err_of(os.pwrite, fd, b"", 50000)))
            r.append(("size after writes of 0", os.fstat(fd).st_size))
            r.append(("write past EOF", err_of(os.pwrite, fd, b"b" * 100, 30000)))
            r.append(("size after it", os.fstat(fd).st_size))
            r.append(("the gap", os.pread(fd, 20000, 10000) == bytes(20000)))
            r.append(("the write", os.pread(fd, 200, 30000)))
            r.append(("read at 2^47", err_of(os.pread, fd, 100, STORE_MAX)))
            r.append(("read near 2^63", err_of(os.pread, fd, 100, (1 << 63) - 4096)))
            r.append(("read at 2^63 - 1", err_of(os.pread, fd, 1, (1 << 63) - 1)))
            r.append(("read at -1", err_of(os.pread, fd, 1, -1)))
            r.append(("write at -1", err_of(os.pwrite, fd, b"x", -1)))
            r.append(("write at 2^63 - 1", err_of(os.pwrite, fd, b"x", (1 << 63) - 1)))
            r.append(("truncate to -1", err_of(os.ftruncate, fd, -1)))
            r.append(("fallocate at -1", fallocate(fd, 0, -1, 4096)))
            r.append(("fallocate of 0", fallocate(fd, 0, 0, 0)))
            r.append(("SEEK_DATA at EOF", err_of(os.lseek, fd, 30100, os.SEEK_DATA)))
            r.append(("SEEK_HOLE past EOF", err_of(os.lseek, fd, 1 << 40, os.SEEK_HOLE)))
            # the last page below 2^47, and reading it back
            last = os.urandom(PAGE)
            r.append(("write the last page below 2^47",
                      err_of(os.pwrite, fd, last, STORE_MAX - PAGE)))
            r.append(("size after it", os.fstat(fd).st_size))
            r.append(("read it back", os.pread(fd, 2 * PAGE, STORE_MAX - PAGE) == last))
            r.append(("read at 2^47 then", err_of(os.pread, fd, 100, STORE_MAX)))
            os.ftruncate(fd, 30100)
        finally:
            os.close(fd)
        results[p] = r
    for (what, got), (_, want) in zip(results[path], results[ref]):
        check(got == want, "%s: %r, on tmpfs %r" % (what, got, want))

    # where the limits differ: ours is 2^47, tmpfs's 2^63 - 1
    fd = os.open(path, os.O_RDWR | os.O_DIRECT)
    try:
        buf = aligned(2 * PAGE)
        buf[:] = os.urandom(len(buf))
        cases = [
            ("write at 2^47", err_of(os.pwrite, fd, b"x", STORE_MAX), "EFBIG"),
            ("write past 2^47", err_of(os.pwrite, fd, b"x", STORE_MAX + PAGE), "EFBIG"),
            ("O_DIRECT write at 2^47",
             err_of(os.pwritev, fd, [memoryview(buf)[:PAGE]], STORE_MAX), "EFBIG"),
            ("write near 2^63", err_of(os.pwrite, fd, b"x" * PAGE, (1 << 63) - 2 * PAGE), "EFBIG"),
            ("write across 2^47 (short)",
             err_of(os.pwritev, fd, [memoryview(buf)[:2 * PAGE]], STORE_MAX - PAGE), PAGE),
            ("size after it", os.fstat(fd).st_size, STORE_MAX),
            ("write of 0 at 2^47", err_of(os.pwrite, fd, b"", STORE_MAX), 0),
            ("truncate to 2^47", err_of(os.ftruncate, fd, STORE_MAX), None),
            ("truncate past 2^47", err_of(os.ftruncate, fd, STORE_MAX + 1), "EFBIG"),
            ("truncate near 2^63", err_of(os.ftruncate, fd, (1 << 63) - 1), "EFBIG"),
            ("fallocate past 2^47", fallocate(fd, 0, STORE_MAX - PAGE, 2 * PAGE), "EFBIG"),
            ("fallocate near 2^63", fallocate(fd, 0, (1 << 63) - 2 * PAGE, PAGE), "EFBIG"),
            ("size after them", os.fstat(fd).st_size, STORE_MAX),
        ]
        back = os.pread(fd, 2 * PAGE, STORE_MAX - PAGE)
        os.ftruncate(fd, 30100)
    finally:
        os.close(fd)
    for what, got, want in cases:
        check(got == want, "%s: %r, want %r" % (what, got, want))
    check(back == bytes(buf[:PAGE]), "the short write across 2^47 reads back wrong")
    print("edges: %d cases as on tmpfs, %d at the 2^47 limit as at a local "
          "filesystem's" % (len(results[path]), len(cases)))


def mm_stat(mnt):
    with open(os.path.join(mnt, ".zram/mm_stat")) as f:
        return [int(x) for x in f.read().split()]


def set_limit(mnt, v):
    with open(os.path.join(mnt, ".zram/mem_limit"), "w") as f:
        f.write("%d\n" % v)


def write_until_enospc(fd, chunk, start, count):
    """Random chunks at start, start + chunk, ... until ENOSPC: their data."""
    written = []
    for i in range(count):
        data = os.urandom(chunk)
        try:
            w = os.pwrite(fd, data, start + i * chunk)
        except OSError as e:
            check(e.errno == errno.ENOSPC, "write %d: %s, want ENOSPC" % (i, e))
            return written
        check(w == chunk, "short write %d of %d" % (w, chunk))
        written.append(data)
    fail("no ENOSPC after %d writes of %d" % (count, chunk))


def verify(fd, chunk, start, written, what):
    for i, data in enumerate(written):
        check(os.pread(fd, chunk, start + i * chunk) == data,
              "chunk %d (of %d) changed %s" % (i, len(written), what))


def retry_write(fd, data, off, secs=10):
    """Write, retrying on ENOSPC for up to @secs (freeing is deferred)."""
    t0 = time.monotonic()
    while True:
        try:
            return os.pwrite(fd, data, off), time.monotonic() - t0
        except OSError as e:
            check(e.errno == errno.ENOSPC, "write at %d: %s" % (off, e))
            if time.monotonic() - t0 > secs:
                fail("write at %d: still ENOSPC %d s after the discard" % (off, secs))
            time.sleep(0.05)


def memlimit(mnt, path, chunk=1 << 16):
    """mem_limit reached in the middle of a stream of writes: ENOSPC, every
    earlier page intact, and writes succeed again once a discard
    (fallocate --punch-hole) has given memory back."""
    set_limit(mnt, mm_stat(mnt)[2] + (8 << 20))
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        written = write_until_enospc(fd, chunk, 0, 4096)
        check(len(written) >= 32, "ENOSPC after only %d chunks" % len(written))
        mm = mm_stat(mnt)
        check(mm[2] <= mm[3], "mem_used_total %d above mem_limit %d" % (mm[2], mm[3]))
        verify(fd, chunk, 0, written, "after ENOSPC")
        # a few more tries: all ENOSPC, nothing changed
        for k in range(8):
            off = len(written) * chunk + k * PAGE
            check(err_of(os.pwrite, fd, os.urandom(PAGE), off) == "ENOSPC",
                  "a write at the limit did not fail with ENOSPC")
        # discard a quarter, from the middle
        half = len(written) // 2
        n = len(written) // 4
        subprocess.run(["fallocate", "--punch-hole", "-o", str(half * chunk),
                        "-l", str(n * chunk), path], check=True)
        for i in range(half, half + n):
            written[i] = bytes(chunk)
        end = len(written) * chunk
        w, waited = retry_write(fd, os.urandom(chunk), end)
        check(w == chunk, "short write after the discard")
        verify(fd, chunk, 0, written, "after the discard")
        print("memlimit: ENOSPC after %d chunks of %d, all intact; after "
              "punching %d, a write succeeded (after %.2f s)"
              % (len(written), chunk, n, waited))
    finally:
        os.close(fd)
        set_limit(mnt, 0)


def memlimit_lower(mnt, path, chunk=1 << 16):
    """mem_limit lowered below what is in use: the data stays and reads
    back, new writes fail with ENOSPC, and raising the limit again lets
    them succeed."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        written = [os.urandom(chunk) for _ in range(128)]     # 8 MiB
        for i, data in enumerate(written):
            check(os.pwrite(fd, data, i * chunk) == chunk, "short write")
        used = mm_stat(mnt)[2]
        set_limit(mnt, used // 4)
        check(mm_stat(mnt)[3] == used // 4, "mem_limit not set")
        verify(fd, chunk, 0, written, "after lowering mem_limit")
        end = len(written) * chunk
        check(err_of(os.pwrite, fd, os.urandom(chunk), end) == "ENOSPC",
              "a new write below the limit did not fail with ENOSPC")
        check(err_of(os.pwrite, fd, os.urandom(chunk), 0) == "ENOSPC",
              "an overwrite below the limit did not fail with ENOSPC")
        verify(fd, chunk, 0, written, "after the failed writes")
        check(os.fstat(fd).st_size == end, "size changed by failed writes")
        set_limit(mnt, used * 4)
        data = os.urandom(chunk)
        check(os.pwrite(fd, data, end) == chunk, "write after raising the limit")
        written.append(data)
        data = os.urandom(chunk)
        check(os.pwrite(fd, data, 0) == chunk, "overwrite after raising the limit")
        written[0] = data
        verify(fd, chunk, 0, written, "after raising mem_limit")
        print("memlimit_lower: limit %d below use %d: %d chunks intact, new "
              "writes ENOSPC; raised: writes succeed" % (used // 4, used, len(written)))
    finally:
        os.close(fd)
        set_limit(mnt, 0)


def main():
    if len(sys.argv) < 2:
        fail(__doc__)
    fn = {"times": times, "edges": edges, "memlimit": memlimit,
          "memlimit_lower": memlimit_lower}.get(sys.argv[1])
    if not fn:
        fail("no check %s" % sys.argv[1])
    fn(*sys.argv[2:])


if __name__ == "__main__":
    main()
