#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""heapload: a real program's heap under swap - CPython's own objects.

    heapload.py [-s MIB] [-r READS] [-w SHARE] [-S SEED] [-P PROGRESS]

Builds records until the process holds about -s MIB (700) of dicts,
strings, lists and ints (the size is estimated from a sample, not read
from the kernel, so that every backend does the same work), then reads
-r records at random (default: a quarter of those built), checks each
against what it must hold and rewrites a -w share of them (0.25) with a
new version (new objects: the old ones are freed and their memory
reused, as a long-running program's heap churns), then checks every
record in order.  Run in a memory cgroup smaller than the heap, the
kernel swaps: the random phase is a program's random swap-ins, with the
allocator's own layout (pymalloc arenas, dict tables, string objects)
rather than a synthetic page mix.

Each record is a function of (index, version) alone: a dict of seven
keys - two ints, a name, an e-mail address, a list of one to five tags,
a list of six ints and a line of text of 12 to 43 words from a fixed
vocabulary - and a check compares it with a freshly made one.  The
cyclic garbage collector is off (the records hold no cycles; a full
collection would walk, and so swap in, the whole heap at moments of its
own choosing).

Prints "phase build|random|verify SECONDS", "wall SECONDS", "records N",
"checked N" and "heap_mib M"; exit status 0 when every record checked
out, 1 otherwise, 2 on bad usage.  -P FILE: the records done so far,
rewritten every 4096, for tests/lib.sh's watchdog.
"""
import array
import gc
import getopt
import os
import sys
import time

MASK = (1 << 64) - 1
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "an", "el",
             "or", "is", "um", "pra", "sto", "gre", "chi", "dun", "wel", "bar"]


def vocabulary():
    """2000 pronounceable words, the same on every run."""
    words = []
    n = len(SYLLABLES)
    for k in range(2000):
        w, x = [], k + n
        while x:
            w.append(SYLLABLES[x % n])
            x //= n
        words.append("".join(w))
    return words


WORDS = vocabulary()
NW = len(WORDS)


def make(i, v):
    """Record i, version v."""
    h = (((i + 1) * 0x9E3779B97F4A7C15) ^ ((v + 1) * 0xC2B2AE3D27D4EB4F)) & MASK
    r = []
    for _ in range(12):
        h = (h * 6364136223846793005 + 1442695040888963407) & MASK
        r.append(h >> 29)
    first, last = WORDS[r[0] % NW], WORDS[r[1] % NW]
    start = r[11] % (NW - 48)
    return {
        "id": i,
        "version": v,
        "name": f"{first.title()} {last.title()}",
        "email": f"{first}.{last}{r[2] % 1000}@{WORDS[r[3] % NW]}.example.org",
        "tags": [WORDS[r[4 + k] % NW] for k in range(r[2] % 5 + 1)],
        "scores": [r[k] % 1000003 for k in range(5, 11)],
        "text": " ".join(WORDS[start:start + 12 + r[10] % 32]),
    }


def record_bytes(rec):
    """What one record holds of the heap: the objects it alone refers to."""
    n = sys.getsizeof(rec)
    for k, x in rec.items():
        if isinstance(x, list):
            n += sys.getsizeof(x) + sum(sys.getsizeof(y) for y in x)
        elif not (isinstance(x, int) and -5 <= x <= 256):
            n += sys.getsizeof(x)
    return n


def main(argv):
    mib, reads, share, seed, progress = 700, None, 0.25, 1, None
    try:
        opts, args = getopt.getopt(argv, "s:r:w:S:P:")
    except getopt.GetoptError as e:
        print(f"heapload: {e}", file=sys.stderr)
        return 2
    for o, a in opts:
        if o == "-s":
            mib = int(a)
        elif o == "-r":
            reads = int(a)
        elif o == "-w":
            share = float(a)
        elif o == "-S":
            seed = int(a)
        elif o == "-P":
            progress = a
    if args or mib <= 0:
        print(__doc__, file=sys.stderr)
        return 2
    gc.disable()

    def tell(n):
        if progress:
            with open(progress, "w") as f:
                f.write(f"{n}\n")

    # records per MiB, from a sample of 4096 (plus the list's pointer)
    sample = sum(record_bytes(make(i, 0)) for i in range(4096)) / 4096 + 8
    count = int(mib * 1048576 / sample)
    if reads is None:
        reads = count // 4
    wall = time.monotonic()

    t0 = time.monotonic()
    db = []
    for i in range(count):
        db.append(make(i, 0))
        if i & 4095 == 0:
            tell(i)
    version = array.array("H", bytes(2 * count))
    t1 = time.monotonic()
    print(f"phase build {t1 - t0:.2f}", flush=True)

    bad = checked = 0
    x = (seed * 0x9E3779B97F4A7C15) & MASK or 1
    every = int(1 / share) if share > 0 else 0
    for k in range(reads):
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
        i = x % count
        v = version[i]
        if db[i] != make(i, v):
            bad += 1
        checked += 1
        if every and k % every == 0:
            v = (v + 1) & 0xFFFF
            version[i] = v
            db[i] = make(i, v)
        if k & 4095 == 0:
            tell(count + k)
    t2 = time.monotonic()
    print(f"phase random {t2 - t1:.2f}", flush=True)

    for i in range(count):
        if db[i] != make(i, version[i]):
            bad += 1
        checked += 1
        if i & 4095 == 0:
            tell(count + reads + i)
    t3 = time.monotonic()
    print(f"phase verify {t3 - t2:.2f}")
    print(f"wall {t3 - wall:.2f}")
    print(f"records {count}")
    print(f"checked {checked}")
    print(f"heap_mib {count * sample / 1048576:.0f}")
    if bad:
        print(f"heapload: {bad} records wrong", file=sys.stderr)
    # os._exit here, with the heap still referenced: returning would free
    # every object (the frame's locals), reading the whole heap back in once
    # more - tens of seconds in a small cgroup, unmeasured and with no
    # progress told, which the suite's watchdog calls a hang.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if bad else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
