#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/latency.sh's analysis.

  latency_report.py cut TRACE.gz BACKEND DEV TIDS
      Cut each swap-in and swap-out of a traced `suiteprobe latency` run
      into its stages and print the median of each as "METRIC VALUE UNIT"
      lines.  DEV: the swap device (/dev/loopN or /dev/zram0); TIDS: the
      daemon's threads as "TID:NAME,..." (empty for zram and tmpfs).
  latency_report.py summary RAW.tsv
      The markdown tables of a run: medians over the rounds.

A swap-in is the window between the probe's markers "zf-si N" and
"zf-si-end N"; a swap-out runs from "zf-so N" to the next marker (its
write completes after madvise() returns).  Windows whose page was a zero
page (swap keeps those as a bit and never does I/O) are left out.  The
stages, each from the first matching event after the one before:

  fault        marker -> page_fault_user of the probe (entry into the kernel)
  swapin_path  fault -> block_rq_issue on DEV (zram: block_bio_queue): the
               swap cache, the memcg charge, the bio
  to_worker    issue -> workqueue_execute_start of loop's work function:
               loop's hand-off to its worker thread
  to_fuse      worker start -> fuse_request_send: loop's aio to FUSE's queue
  fuse_wake    fuse_request_send -> the daemon thread that takes the
               request is running (sched_switch to it; 0 when it was)
  fuse_pickup  running -> its read() (classic) or io_uring_enter()
               (uring) returns with the request
  serve        -> its writev() (classic) or io_uring_enter() (uring)
               begins: the decode or encode, libfuse, our copies
  reply        -> fuse_request_end: the reply copied and the request ended
  complete     -> block_rq_complete on DEV (loop's completion, often
               through the block softirq)
  task_wake    -> the faulting task runs again (sched_switch to it)
  fault_tail   -> the end marker: the rest of the fault and the return
  (tmpfs: to_worker, then worker_io = worker start -> block_rq_complete.)
"""
import gzip
import re
import statistics
import sys

LINE = re.compile(r'^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (.*)$')
EVENT = re.compile(r'(\w+): (.*)$')
# system calls print as "sys_read -> 0x50" and "sys_writev(fd: 0xe, ...)"
SYS_EXIT = re.compile(r'sys_(\w+) -> (.*)$')
SYS_ENTER = re.compile(r'sys_(\w+)\((.*)\)$')
FUSE_READ, FUSE_WRITE = 15, 16
SI_STAGES = ["fault", "swapin_path", "to_worker", "to_fuse", "worker_io",
             "fuse_wake", "fuse_pickup", "serve", "reply", "complete",
             "task_wake", "fault_tail"]
SO_STAGES = ["pageout_path", "to_worker", "to_fuse", "worker_io", "fuse_wake",
             "fuse_pickup", "serve", "reply", "complete"]


def parse(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", errors="replace") as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = LINE.match(line)
            if not m:
                continue
            body = m.group(5)
            e = SYS_EXIT.match(body)
            if e:
                name, rest = "sys_exit_" + e.group(1), e.group(2)
            else:
                e = SYS_ENTER.match(body) or EVENT.match(body)
                if not e:
                    continue
                name, rest = e.group(1), e.group(2)
                if e.re is SYS_ENTER:
                    name = "sys_enter_" + name
            yield (m.group(1).strip(), int(m.group(2)), int(m.group(3)),
                   float(m.group(4)), name, rest)


def windows(path):
    """(kind, index, events) per probe window: kind "si" or "so"."""
    cur = None
    for ev in parse(path):
        if ev[4] == "tracing_mark_write":
            m = re.match(r'zf-(si|so)(-end)? (\d+)', ev[5])
            if m:
                if m.group(2):
                    if cur is not None:
                        cur[2].append(ev)
                        if cur[0] == "si":
                            yield cur
                            cur = None
                    continue
                if cur is not None:
                    yield cur
                cur = (m.group(1), int(m.group(3)), [ev])
                continue
        if cur is not None:
            cur[2].append(ev)
    if cur is not None:
        yield cur


def devno(dev):
    """'7,0' for /dev/loop0, as block events print it."""
    import os
    st = os.stat(dev)
    return f"{os.major(st.st_rdev)},{os.minor(st.st_rdev)}"


def cut(evs, kind, dev, tids, zram):
    """The stages of one window, in us; None when it did no I/O."""
    probe = evs[0][1]
    t = {"start": evs[0][3]}
    rw = "R" if kind == "si" else "W"
    i = 1

    def find(pred, key):
        nonlocal i
        for k in range(i, len(evs)):
            if pred(evs[k]):
                t[key] = evs[k][3]
                i = k + 1
                return evs[k]
        return None

    if kind == "si" and not find(lambda e: e[4] == "page_fault_user" and e[1] == probe, "fault"):
        return None
    if zram:
        io = find(lambda e: e[4] == "block_bio_queue" and e[5].startswith(dev + " " + rw), "issue")
    else:
        io = find(lambda e: e[4] == "block_rq_issue" and e[5].startswith(dev + " " + rw), "issue")
    if not io:
        return None
    sector = re.search(r'\) (\d+) \+', io[5]) if not zram else None
    sector = sector.group(1) if sector else None
    j = i
    if not zram:
        find(lambda e: e[4] == "workqueue_execute_start" and "loop" in e[5], "worker")
        if "worker" not in t:
            i = j
        if tids:
            op = FUSE_READ if kind == "si" else FUSE_WRITE
            req = find(lambda e: e[4] == "fuse_request_send" and f"opcode {op} " in e[5], "send")
            if req:
                unique = re.search(r'req (\d+)', req[5]).group(1)
                k0 = i
                # the thread that ends it is the one that served it
                end = None
                for k in range(i, len(evs)):
                    e = evs[k]
                    if e[4] == "fuse_request_end" and f"req {unique} " in e[5]:
                        end = k
                        break
                if end is not None:
                    srv = evs[end][1]
                    # running: the last switch to srv before it picked the request up
                    pick = None
                    for k in range(k0, end):
                        e = evs[k]
                        if e[1] == srv and e[4] in ("sys_exit_read", "sys_exit_io_uring_enter"):
                            pick = k
                            break
                    if pick is not None:
                        run = None
                        for k in range(k0, pick):
                            e = evs[k]
                            if e[4] == "sched_switch" and f"next_pid={srv} " in e[5]:
                                run = e[3]
                        t["running"] = run if run is not None else t["send"]
                        t["pickup"] = evs[pick][3]
                        for k in range(pick + 1, end + 1):
                            e = evs[k]
                            if e[1] == srv and e[4] in ("sys_enter_writev", "sys_enter_io_uring_enter"):
                                t["replying"] = e[3]
                                break
                        t["end"] = evs[end][3]
                        i = end + 1
        if sector:
            find(lambda e: e[4] == "block_rq_complete" and e[5].startswith(dev + " " + rw)
                 and f") {sector} +" in e[5], "complete")
    if kind == "si":
        # zram reads in the faulting task itself: nothing to wake
        if not zram:
            find(lambda e: e[4] == "sched_switch" and f"next_pid={probe} " in e[5], "task_run")
        find(lambda e: e[4] == "tracing_mark_write" and e[5].startswith("zf-si-end"), "done")
    else:
        k = next((k for k in range(1, len(evs)) if evs[k][4] == "tracing_mark_write"
                  and evs[k][5].startswith("zf-so-end")), None)
        if k is not None:
            t["call_done"] = evs[k][3]
    return t


def stages(t, kind, zram, fuse):
    us = lambda a, b: (t[b] - t[a]) * 1e6 if a in t and b in t else None
    s = {}
    if kind == "si":
        s["fault"] = us("start", "fault")
        s["swapin_path"] = us("fault", "issue")
    else:
        s["pageout_path"] = us("start", "issue")
    if not zram:
        if "worker" in t:
            s["to_worker"] = us("issue", "worker")
            base = "worker"
        else:
            s["to_worker"] = 0.0
            base = "issue"
        if fuse:
            s["to_fuse"] = us(base, "send")
            s["fuse_wake"] = us("send", "running")
            s["fuse_pickup"] = us("running", "pickup")
            s["serve"] = us("pickup", "replying")
            s["reply"] = us("replying", "end")
            s["complete"] = us("end", "complete")
        else:
            s["worker_io"] = us(base, "complete")
        last = "complete"
    else:
        last = "issue"
    if kind == "si":
        s["task_wake"] = us(last, "task_run")
        s["fault_tail"] = us("task_run", "done")
        s["total"] = us("start", "done")
    else:
        s["total"] = us("start", "complete") if not zram else us("start", "call_done")
    return s


def cmd_cut(path, backend, dev, tids):
    zram = "zram" in dev
    dn = devno(dev)
    fuse = bool(tids)
    acc = {"si": {}, "so": {}}
    n = {"si": 0, "so": 0}
    for kind, _, evs in windows(path):
        t = cut(evs, kind, dn, fuse, zram)
        if t is None:
            continue
        s = stages(t, kind, zram, fuse)
        if s.get("total") is None:
            continue
        n[kind] += 1
        for k, v in s.items():
            if v is not None:
                acc[kind].setdefault(k, []).append(v)
    for kind in ("si", "so"):
        print(f"tr_{kind}_n {n[kind]} count")
        for k, v in acc[kind].items():
            print(f"tr_{kind}_{k}_us {statistics.median(v):.1f} us")
        if "total" in acc[kind]:
            v = sorted(acc[kind]["total"])
            print(f"tr_{kind}_total_p90_us {v[int(0.9 * (len(v) - 1))]:.1f} us")


def cmd_summary(raw):
    vals = {}
    backends = []
    for line in open(raw):
        f = line.rstrip("\n").split("\t")
        if f[0] == "round":
            continue
        _, b, m, v, _u = f
        if b not in backends:
            backends.append(b)
        try:
            vals.setdefault((b, m), []).append(float(v))
        except ValueError:
            pass
    med = lambda b, m: statistics.median(vals[(b, m)]) if (b, m) in vals else None
    fmt = lambda x: "" if x is None else f"{x:.1f}"
    ref = "tmpfs" if "tmpfs" in backends else None

    def table(title, rows):
        print(f"### {title}\n")
        hdr = "| | " + " | ".join(backends) + " |"
        if ref:
            hdr += "".join(f" {b} / tmpfs |" for b in backends if b not in ("tmpfs", "zram"))
        print(hdr)
        print("|---" * (hdr.count("|") - 1) + "|")
        for label, m in rows:
            xs = [med(b, m) for b in backends]
            if all(x is None for x in xs):
                continue
            row = f"| {label} | " + " | ".join(fmt(x) for x in xs) + " |"
            if ref:
                r = med(ref, m)
                for b, x in zip(backends, xs):
                    if b in ("tmpfs", "zram"):
                        continue
                    row += f" {x / r:.2f} |" if x is not None and r else " |"
            print(row)
        print()

    rounds = max((len(v) for v in vals.values()), default=0)
    print(f"## bench/latency.sh: medians of {rounds} round(s), us\n")
    table("End to end, untraced (bench/suiteprobe latency; fio at QD 1)", [
        ("swap-in (a page with I/O), p50", "swapin_io_p50_us"),
        ("swap-in (a page with I/O), p90", "swapin_io_p90_us"),
        ("swap-in (a page with I/O), p99", "swapin_io_p99_us"),
        ("swap-in (a page with I/O), mean", "swapin_io_mean_us"),
        ("swap-in, every page (zero pages do no I/O), p50", "swapin_p50_us"),
        ("MADV_PAGEOUT of one page (the call), p50", "pageout_call_p50_us"),
        ("fio 4 KiB random read QD 1: clat p50", "fio_rr4k_qd1_clat_p50_us"),
        ("fio 4 KiB random read QD 1: clat p99", "fio_rr4k_qd1_clat_p99_us"),
        ("fio 4 KiB random read QD 1: mean latency", "fio_rr4k_qd1_mean_us"),
        ("fio 4 KiB random write QD 1: clat p50", "fio_rw4k_qd1_clat_p50_us"),
        ("fio 4 KiB random write QD 1: clat p99", "fio_rw4k_qd1_clat_p99_us"),
        ("fio 4 KiB random write QD 1: mean latency", "fio_rw4k_qd1_mean_us"),
        ("fio 4 KiB random read QD 16 x 2: IOPS", "fio_rr4k_qd16x2_iops"),
        ("fio 4 KiB random write QD 16 x 2: IOPS", "fio_rw4k_qd16x2_iops"),
    ])
    table("One swap-in, traced: median of each stage", [
        (s, f"tr_si_{s}_us") for s in SI_STAGES] + [
        ("total (traced)", "tr_si_total_us"), ("total p90 (traced)", "tr_si_total_p90_us"),
        ("swap-ins cut", "tr_si_n")])
    table("One swap-out, traced: median of each stage (from MADV_PAGEOUT to the write's completion)", [
        (s, f"tr_so_{s}_us") for s in SO_STAGES] + [
        ("total (traced)", "tr_so_total_us"), ("total p90 (traced)", "tr_so_total_p90_us"),
        ("swap-outs cut", "tr_so_n")])


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "cut":
        tids = [x.split(":")[0] for x in sys.argv[5].split(",") if x]
        cmd_cut(sys.argv[2], sys.argv[3], sys.argv[4], tids)
    elif len(sys.argv) == 3 and sys.argv[1] == "summary":
        cmd_summary(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
