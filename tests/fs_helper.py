# SPDX-License-Identifier: GPL-2.0-or-later
"""fs_helper: the checks of tests/fs_basic.sh that need system calls the
shell has no tool for - O_DIRECT at unaligned offsets, SEEK_DATA/SEEK_HOLE,
a file kept open across its unlink, a write that hits mem_limit.

    python3 fs_helper.py CHECK ARGS...

Each check prints what it did and exits 0, or prints the failure and exits 1.
"""
import ctypes
import errno
import mmap
import os
import random
import stat
import sys

PAGE = 4096


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def aligned(n):
    """An anonymous mapping: page-aligned memory, as O_DIRECT likes it."""
    return mmap.mmap(-1, max(n, 1))


def pattern(path, seed=1, ops=400, size=1 << 22):
    """Random writes and reads through O_DIRECT at any offset and length,
    checked against a model of the file (bytearray)."""
    rnd = random.Random(seed)
    model = bytearray()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o600)
    try:
        for i in range(ops):
            off = rnd.randrange(size)
            n = rnd.choice([1, 7, 512, 4095, 4096, 4097, 8192, 65536 + 3,
                            rnd.randrange(1, 200000)])
            if rnd.random() < 0.6:
                kind = rnd.randrange(3)
                if kind == 0:
                    data = bytes(n)                         # zeros
                elif kind == 1:
                    data = bytes([rnd.randrange(256)]) * n  # same-filled
                else:
                    data = rnd.randbytes(n)
                buf = aligned(n)
                buf[:n] = data
                w = os.pwritev(fd, [memoryview(buf)[:n]], off)
                check(w == n, "short write %d of %d at %d" % (w, n, off))
                if len(model) < off + n:
                    model.extend(bytes(off + n - len(model)))
                model[off:off + n] = data
            else:
                buf = aligned(n)
                r = os.preadv(fd, [memoryview(buf)[:n]], off)
                want = bytes(model[off:off + n])
                check(r == len(want), "read %d at %d gave %d, want %d"
                      % (n, off, r, len(want)))
                check(buf[:r] == want, "data differs reading %d at %d" % (n, off))
        check(os.fstat(fd).st_size == len(model), "size %d, model %d"
              % (os.fstat(fd).st_size, len(model)))
        # the whole file, in one pass
        whole = b""
        off = 0
        while True:
            buf = aligned(1 << 20)
            r = os.preadv(fd, [buf], off)
            if r == 0:
                break
            whole += buf[:r]
            off += r
        check(whole == bytes(model), "whole-file read differs")
    finally:
        os.close(fd)
    print("pattern: %d random O_DIRECT ops at unaligned offsets match the model" % ops)


def seek(path):
    """Data at pages 1 and 5..6 of an 8-page file: SEEK_DATA/SEEK_HOLE."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.ftruncate(fd, 8 * PAGE)
        os.pwrite(fd, b"x" * PAGE, 1 * PAGE)
        os.pwrite(fd, b"y" * (2 * PAGE), 5 * PAGE)
        cases = [
            (0, os.SEEK_DATA, PAGE), (0, os.SEEK_HOLE, 0),
            (PAGE + 10, os.SEEK_DATA, PAGE + 10), (PAGE, os.SEEK_HOLE, 2 * PAGE),
            (2 * PAGE, os.SEEK_DATA, 5 * PAGE), (5 * PAGE, os.SEEK_HOLE, 7 * PAGE),
            (7 * PAGE, os.SEEK_HOLE, 7 * PAGE),
        ]
        for off, whence, want in cases:
            got = os.lseek(fd, off, whence)
            check(got == want, "lseek(%d, %s) = %d, want %d" % (
                off, "SEEK_DATA" if whence == os.SEEK_DATA else "SEEK_HOLE",
                got, want))
        for off, whence in [(7 * PAGE, os.SEEK_DATA), (8 * PAGE, os.SEEK_DATA),
                            (8 * PAGE, os.SEEK_HOLE)]:
            try:
                os.lseek(fd, off, whence)
                fail("lseek(%d) past the data/size did not fail" % off)
            except OSError as e:
                check(e.errno == errno.ENXIO, "lseek(%d): %s, want ENXIO" % (off, e))
        # a punched hole becomes a hole
        punch = 0x02 | 0x01  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.fallocate(fd, punch, ctypes.c_long(PAGE), ctypes.c_long(PAGE))
        check(rc == 0, "punch hole: %s" % os.strerror(ctypes.get_errno()))
        got = os.lseek(fd, 0, os.SEEK_DATA)
        check(got == 5 * PAGE, "after the punch SEEK_DATA = %d, want %d" % (got, 5 * PAGE))
        check(os.pread(fd, PAGE, PAGE) == bytes(PAGE), "punched page is not zeros")
        check(os.fstat(fd).st_size == 8 * PAGE, "punch changed the size")
    finally:
        os.close(fd)
    print("seek: SEEK_DATA/SEEK_HOLE right around data, holes and punched pages")


def unlink_open(path):
    """An unlinked file keeps its data while it is open."""
    data = os.urandom(3 * PAGE + 5)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.pwrite(fd, data, 0)
        os.unlink(path)
        check(not os.path.exists(path), "name still there after unlink")
        check(os.fstat(fd).st_nlink == 0, "nlink %d after unlink" % os.fstat(fd).st_nlink)
        check(os.pread(fd, len(data) + 100, 0) == data, "data lost after unlink")
        os.pwrite(fd, b"z" * 10, 2)
        check(os.pread(fd, 12, 0) == data[:2] + b"z" * 10, "write after unlink lost")
    finally:
        os.close(fd)
    print("unlink_open: data readable and writable until the last close")


def enospc(path, chunk=1 << 16):
    """Write random chunks until ENOSPC; everything written before stays."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    written = []
    try:
        for i in range(4096):
            data = os.urandom(chunk)
            try:
                w = os.pwrite(fd, data, i * chunk)
            except OSError as e:
                check(e.errno == errno.ENOSPC, "write %d: %s, want ENOSPC" % (i, e))
                break
            check(w == chunk, "short write")
            written.append(data)
        else:
            fail("no ENOSPC after %d bytes" % (4096 * chunk))
        check(written, "ENOSPC at the very first write")
        for i, data in enumerate(written):
            check(os.pread(fd, chunk, i * chunk) == data, "chunk %d changed after ENOSPC" % i)
        size = os.fstat(fd).st_size
        check(size == len(written) * chunk, "size %d after the failed write" % size)
        # no page the failed write stored stays beyond the size
        os.ftruncate(fd, size + chunk)
        check(os.pread(fd, chunk, size) == bytes(chunk),
              "the failed write left data beyond the size")
        os.ftruncate(fd, size)
        # from an unaligned offset past the size: fails whole, or stores
        # only its first (partial) page, as a short write
        off = size + 1000
        data = os.urandom(chunk)
        try:
            w = os.pwrite(fd, data, off)
        except OSError as e:
            check(e.errno == errno.ENOSPC, "write at %d: %s, want ENOSPC" % (off, e))
            w = 0
        check(w in (0, PAGE - 1000, chunk), "write at %d stored %d bytes" % (off, w))
        want = off + w if w else size
        check(os.fstat(fd).st_size == want, "size %d after a write of %d at %d, want %d"
              % (os.fstat(fd).st_size, w, off, want))
        os.ftruncate(fd, off + 2 * chunk)
        got = os.pread(fd, 2 * chunk + 1000, size)
        check(got == bytes(1000) + data[:w] + bytes(2 * chunk - w),
              "the write at %d left data beyond the size" % off)
    finally:
        os.close(fd)
    print("enospc: %d chunks written, then ENOSPC; all of them intact, nothing beyond the size"
          % len(written))


def fill_to_enospc(fd, chunk):
    """Random chunks from offset 0 until ENOSPC: the model of the file."""
    model = bytearray()
    for i in range(4096):
        data = os.urandom(chunk)
        try:
            w = os.pwrite(fd, data, i * chunk)
        except OSError as e:
            check(e.errno == errno.ENOSPC, "write %d: %s, want ENOSPC" % (i, e))
            return model
        check(w == chunk, "short write")
        model += data
    fail("no ENOSPC after %d bytes" % (4096 * chunk))


def truncate_full(path, chunk=1 << 16):
    """Truncates to unaligned sizes at mem_limit: each one either fails
    with ENOSPC/ENOMEM and leaves the file as it was, or succeeds; one to
    a page multiple always succeeds; and a later extension reads zeros
    beyond every cut."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    failed = 0
    try:
        model = fill_to_enospc(fd, chunk)
        check(model, "ENOSPC at the very first write")
        full = len(model)
        cut = full
        while cut > PAGE:
            cut -= 5 * PAGE + 1234
            if cut <= 0:
                break
            try:
                os.ftruncate(fd, cut)
                del model[cut:]
            except OSError as e:
                check(e.errno in (errno.ENOSPC, errno.ENOMEM),
                      "truncate to %d: %s" % (cut, e))
                failed += 1
            size = os.fstat(fd).st_size
            check(size == len(model), "size %d after truncate to %d, want %d"
                  % (size, cut, len(model)))
            check(os.pread(fd, len(model) + 1, 0) == model,
                  "data differs after truncate to %d" % cut)
        # to a page multiple: no page to rewrite, so it cannot fail
        cut = (len(model) // PAGE - 3) * PAGE
        os.ftruncate(fd, cut)
        del model[cut:]
        check(os.fstat(fd).st_size == cut, "size after truncate to %d" % cut)
        check(os.pread(fd, full, 0) == model, "data differs after truncate to %d" % cut)
        # back to the full size: all beyond the last size reads zeros
        os.ftruncate(fd, full)
        got = os.pread(fd, full + 1, 0)
        check(got[:len(model)] == model, "data differs after the extension")
        check(got[len(model):] == bytes(full - len(model)),
              "bytes beyond a truncated end came back after the extension")
    finally:
        os.close(fd)
    print("truncate_full: %d truncates failed at mem_limit; each one or its failure left a consistent file"
          % failed)


def errno_of(op, *args):
    """Run a path operation; print the errno name it failed with."""
    try:
        getattr(os, op)(*args)
    except OSError as e:
        print(errno.errorcode[e.errno])
        return
    print("OK")


def ctl_write(path, value):
    """One write(2) of VALUE to a control file, as echo -n does it; print
    OK or the errno name it failed with."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    except OSError as e:
        print(errno.errorcode[e.errno])
        return
    finally:
        os.close(fd)
    print("OK")


def main():
    if len(sys.argv) < 2:
        fail(__doc__)
    name, args = sys.argv[1], sys.argv[2:]
    if name == "errno":
        op, rest = args[0], args[1:]
        if op == "mknod_fifo":
            return errno_of("mknod", rest[0], stat.S_IFIFO | 0o600)
        return errno_of(op, *rest)
    fn = {"pattern": pattern, "seek": seek, "unlink_open": unlink_open,
          "enospc": enospc, "truncate_full": truncate_full,
          "ctl": ctl_write}.get(name)
    if not fn:
        fail("no check %s" % name)
    fn(*args)


if __name__ == "__main__":
    main()
