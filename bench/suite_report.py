#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The benchmark suite's report, from its raw results (bench/suite.sh).

    bench/suite_report.py DIR          DIR/raw.tsv -> DIR/summary.md, the
                                       charts' data and gnuplot scripts in
                                       DIR/charts/, the charts as DIR/*.png
    bench/suite_report.py fio JSON NAME   one fio run (--output-format=json)
                                       as "NAME_iops V IOPS" ... lines

raw.tsv: "# key: value" lines (date, kernel, cpu, command, config), then a
header and one line per measurement: round, workload, backend, metric,
value ("NA" when not reached), unit.  The summary gives, per workload and
metric, the median over the rounds and the spread (min-max), and the ratio
of medians of each zramfuse backend to kernel zram and to loop-on-tmpfs;
then the realistic swap workload at its peak of backend memory and the
daemon's CPU time, writeback to a disk file against plain lz4, and the
micro benchmarks' tables as they printed them (DIR/micro/NAME.md, their
command lines in DIR/micro/NAME.cmd).
Run it again on a results directory to remake the summary and charts.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys

BACKENDS = [  # (name in raw.tsv, column title, short name in ratio titles)
    ("zram", "kernel zram", "zram"),
    ("tmpfs", "loop on tmpfs", "loop-tmpfs"),
    ("lz4", "zramfuse lz4", "lz4"),
    ("lz4-classic", "zramfuse lz4, transport=classic", "lz4-classic"),
    ("zstd", "zramfuse zstd", "zstd"),
    ("lz4-nodf", "zramfuse lz4, deferred_free=off", "lz4-nodf"),
    ("lz4-wb", "zramfuse lz4, writeback_idle to a disk file", "lz4-wb"),
    ("lz4+recomp", "zramfuse lz4, then recompress idle with zstd", "lz4+recomp"),
    ("zstd+dict", "zramfuse zstd, trained dictionary", "zstd+dict"),
]
REFS = ("zram", "tmpfs")
# One colour a backend in every chart.
COLOR = {"zram": "#9400d3", "tmpfs": "#009e73", "lz4": "#56b4e9",
         "lz4-classic": "#999999",
         "zstd": "#e69f00", "lz4-nodf": "#f0e442", "lz4+recomp": "#0072b2",
         "zstd+dict": "#e51e10", "lz4-wb": "#cc79a7"}
TITLE = {b: t for b, t, _ in BACKENDS}
SHORT = {b: s for b, _, s in BACKENDS}

FIO_JOBS = [  # (metric prefix, description)
    ("fill1m_qd8", "1 MiB sequential fill, QD 8"),
    ("rr4k_qd1", "4 KiB random read, QD 1"),
    ("rw4k_qd1", "4 KiB random write, QD 1"),
    ("rr4k_qd16x2", "4 KiB random read, QD 16 x 2 jobs"),
    ("rw4k_qd16x2", "4 KiB random write, QD 16 x 2 jobs"),
    ("sr128k", "128 KiB sequential read, QD 16 x 2 jobs"),
    ("sw128k", "128 KiB sequential write, QD 16 x 2 jobs"),
]

# What swapping cost in CPU, per GiB swapped in and out (pswpin + pswpout):
# the daemon's user + system time, the workload's system time (zram
# compresses there, in direct reclaim), and the two together.
SWAP_COST = [
    ("swapped_gib", "swapped in + out, GiB", 2),
    ("per_gib_daemon_cpu_s", "daemon CPU per GiB swapped, s", 2),
    ("per_gib_work_stime_s", "workload's system time per GiB swapped, s", 2),
    ("per_gib_cpu_sum_s", "the two together per GiB swapped, s", 2),
    ("work_utime_s", "workload's user time, s", 1),
]

SEED_NOTE = (
    "Times from the kill: until waitpid() returns, until mem_used_total "
    "(loop on tmpfs: the file's allocated bytes) is below 5% (and below a "
    "fifth) of its value before the kill, and until the daemon's RSS is "
    "within 5% of its growth of its idle value (and below a fifth of its "
    "value before the kill: issue 19's measure); polled every "
    "millisecond, NA = not back within 30 s.")
SEED_METRICS = [
    ("exit_ms", "exit (waitpid returns), ms", 1),
    ("mem_back_ms", "memory back (mem_used_total), ms", 1),
    ("mem_fifth_ms", "mem_used_total below a fifth, ms", 1),
    ("rss_back_ms", "memory back (daemon RSS), ms", 1),
    ("rss_fifth_ms", "daemon RSS below a fifth, ms", 1),
    ("swapped_mib", "swapped out before the kill, MiB", 0),
    ("mem_before_mib", "mem_used_total before the kill, MiB", 0),
    ("rss_before_mib", "daemon RSS before the kill, MiB", 0),
    ("mem_left_mib", "mem_used_total at the end, MiB", 1),
    ("rss_left_mib", "daemon RSS above idle at the end, MiB", 1)]

# Per workload: its title (formatted with the config), a note, and its
# metrics in order: (metric, label, decimals).
WORKLOADS = {
    "swap": (
        "Swap, realistic: tests/swapload -m realistic, {swap_mib} MiB working "
        "set in a {swap_cg_mib} MiB memory cgroup",
        "Pages: 30% zero, 40% text, 20% shared-library pages, 10% random; "
        "every page checksummed and verified.  Peaks sampled every 200 ms.  "
        "Backend memory: the daemon's RSS (zramfuse), mem_used_total (zram), "
        "the file's allocated bytes (loop on tmpfs).",
        [("wall_s", "wall time, s", 2),
         ("phase_fill_s", "  fill, s", 2),
         ("phase_seq_read_s", "  sequential read, s", 2),
         ("phase_rand_rw_s", "  random read/write, s", 2),
         ("phase_seq_write_s", "  sequential write, s", 2),
         ("phase_seq_read2_s", "  sequential read, s", 2),
         ("peak_backend_mib", "peak backend memory, MiB", 0),
         ("peak_mem_used_mib", "peak mem_used_total, MiB", 0),
         ("peak_orig_mib", "peak orig_data_size, MiB", 0),
         ("peak_swap_mib", "peak swap used (/proc/swaps), MiB", 0)] +
        SWAP_COST),
    "heap": (
        "A real program's heap: bench/heapload.py, CPython building "
        "{heap_mib} MiB of dicts, strings, lists and ints in a "
        "{swap_cg_mib} MiB memory cgroup",
        "Build the records, then read as many at random (each checked "
        "against what it must hold, a quarter rewritten with a new "
        "version), then check every record in order.  The cyclic garbage "
        "collector is off.  Memory peaks as for the realistic swap "
        "workload.",
        [("wall_s", "wall time, s", 2),
         ("phase_build_s", "  build, s", 2),
         ("phase_random_s", "  random read/rewrite, s", 2),
         ("phase_verify_s", "  check every record, s", 2),
         ("peak_backend_mib", "peak backend memory, MiB", 0),
         ("peak_mem_used_mib", "peak mem_used_total, MiB", 0),
         ("peak_swap_mib", "peak swap used (/proc/swaps), MiB", 0)] +
        SWAP_COST),
    "swapsmall": (
        "Swap, small: tests/swapload -s {small_mib} -p 1 in a "
        "{small_cg_mib} MiB memory cgroup",
        "README's earlier swap workload (sequential passes only).",
        [("wall_s", "wall time, s", 2),
         ("phase_fill_s", "  fill, s", 2),
         ("phase_pass1_s", "  verify and rewrite 25%, s", 2),
         ("phase_pass2_s", "  verify, s", 2),
         ("peak_backend_mib", "peak backend memory, MiB", 0),
         ("peak_mem_used_mib", "peak mem_used_total, MiB", 0),
         ("peak_orig_mib", "peak orig_data_size, MiB", 0),
         ("peak_swap_mib", "peak swap used, MiB", 0)]),
    "seed": (
        "The seed scenario: a process with about {seed_mib} MiB swapped out "
        "is killed (SIGKILL)",
        "It filled {seed_mib} MiB + 64 MiB in a 64 MiB memory cgroup.  " + SEED_NOTE,
        SEED_METRICS),
    "seedmix": (
        "The seed scenario after a working life: a process with about "
        "{seed_mib} MiB swapped out, half its pages rewritten, is killed",
        "It filled {seed_mib} MiB + 256 MiB in a 256 MiB memory cgroup, then "
        "rewrote half of its pages at random (each swapped in and out "
        "again: copies in the swap cache, slots freed in clusters not yet "
        "free), as issue 19 measured it.  " + SEED_NOTE,
        SEED_METRICS),
    "fio": (
        "Block I/O: fio on the block device, direct=1, libaio, "
        "60%-compressible buffers, {fio_mib} MiB region, {fio_secs} s a job",
        "The region is filled first (the 1 MiB fill), so reads read stored "
        "data.  p99: completion latency.  A randwrite run with "
        "verify=crc32c checks the data on each backend.",
        [(f"{j}_{m}", f"{d}: {lab}", dec) for j, d in FIO_JOBS
         for m, lab, dec in (("iops", "IOPS", 0), ("mbs", "MB/s", 0),
                             ("p99_us", "p99, us", 1))
         if m != ("mbs" if "4k" in j else "iops")] +
        [("verify_ok", "verify run (crc32c) passed", 0)]),
    "corpus": (
        "Memory per stored byte: a fixed {corpus_mib} MiB corpus of "
        "realistic pages written with O_DIRECT",
        "mm_stat's mem_used_total / orig_data_size (and compr_data_size / "
        "orig_data_size).  The variants after recompression or a new "
        "dictionary are measured after .zram/compact (their old objects "
        "freed); the others are not compacted.",
        [("mem_per_byte", "mem_used_total / orig_data_size", 3),
         ("compr_per_byte", "compr_data_size / orig_data_size", 3),
         ("mem_used_mib", "mem_used_total, MiB", 1),
         ("orig_mib", "orig_data_size, MiB", 1)]),
    "discard": (
        "Discard: on a full {discard_mib} MiB device",
        "1 MiB discards (fio randtrim, QD 1, each MiB once): completion "
        "latency.  Then, refilled, one BLKDISCARD of the whole device, and "
        "the time from its start until memory is back (as in the seed "
        "scenario).",
        [("trim1m_p50_us", "1 MiB discard p50, us", 1),
         ("trim1m_p99_us", "1 MiB discard p99, us", 1),
         ("trim1m_iops", "1 MiB discards a second", 0),
         ("whole_ms", "whole-device discard, ms", 2),
         ("mem_back_ms", "memory back (mem_used_total), ms", 1),
         ("rss_back_ms", "memory back (daemon RSS), ms", 1),
         ("whole_mem_before_mib", "mem_used_total before, MiB", 0),
         ("mem_left_mib", "mem_used_total at the end, MiB", 1),
         ("rss_left_mib", "daemon RSS above idle at the end, MiB", 1)]),
}
ORDER = ["swap", "heap", "swapsmall", "seed", "seedmix", "fio", "corpus", "discard"]
# Recorded in raw.tsv, left out of the summary: what another figure of the
# same run already says (MB/s of 4 KiB jobs, IOPS of large ones).
HIDDEN = ({f"{j}_iops" for j, _ in FIO_JOBS if "4k" not in j} |
          {f"{j}_mbs" for j, _ in FIO_JOBS if "4k" in j} | {"trim1m_mbs"} |
          {f"{j}_mean_us" for j, _ in FIO_JOBS if "qd1" not in j} |
          {"trim1m_mean_us"})
# Figures whose ratio between backends means nothing.
NO_RATIO = {"verify_ok", "mem_left_mib", "rss_left_mib", "swapped_mib",
            "swapped_gib", "work_utime_s",
            "at_peak_swapcached_mib", "at_peak_readback_mib",
            "at_peak_readback_compr_mib", "at_peak_readback_recomp_mib",
            "at_peak_readback_todo_mib"}
# Metrics of these prefixes have tables of their own (the realistic swap
# workload's), not a place in their workload's table.
OWN_TABLE = ("at_peak_", "cpu_", "bd_", "peak_bd_")

SWAP_AT_PEAK = (
    "Swap, realistic: at the peak of backend memory",
    "The sample (every 200 ms) where the backend memory peaked: the "
    "daemon's RSS (zramfuse), mem_used_total (zram), the file's allocated "
    "bytes (loop on tmpfs); the other figures are those of the same "
    "sample, MiB.  SwapCached (machine-wide, /proc/meminfo): pages in RAM "
    "that also keep their swap slot, the copies zram never keeps (its "
    "swap-ins skip the swap cache).  Read-back figures from "
    "`.zram/readback_stat`: pages swapped in and still stored, their "
    "objects' bytes, those recompressed (readback_recomp) and those not "
    "yet tried (readback_todo).",
    [("peak_backend_mib", "backend memory", 0),
     ("at_peak_mem_used_mib", "mem_used_total", 0),
     ("at_peak_compr_mib", "compr_data_size", 0),
     ("at_peak_orig_mib", "orig_data_size (stored pages)", 0),
     ("at_peak_swap_mib", "swap used (/proc/swaps)", 0),
     ("at_peak_swapcached_mib", "SwapCached (RAM copies that keep their "
      "swap slot)", 0),
     ("at_peak_readback_mib", "read-back pages still stored", 0),
     ("at_peak_readback_compr_mib", "  their compressed bytes", 0),
     ("at_peak_readback_recomp_mib", "  recompressed (readback_recomp)", 0),
     ("at_peak_readback_todo_mib", "  not yet tried (readback_todo)", 0)])

SWAP_CPU = (
    "Swap, realistic: the daemon's CPU time",
    "CPU seconds (user + system) of each thread of the daemon from its "
    "mount to the end of the workload (threads of one name summed, those "
    "under 0.05 s left out); the total includes threads that have exited. "
    "Kernel zram and the loop on tmpfs compress, if at all, in the "
    "swapping process and kswapd: nothing to show.")

WRITEBACK = (
    "Writeback of idle pages to a file on the local disk (issue 11)",
    "The realistic swap workload on zramfuse lz4 alone and with "
    "`backing_dev=` a sparse file on the local disk ({wb}): pages not "
    "accessed for writeback_idle seconds move to the file (direct I/O, no "
    "page cache) and leave mem_used_total.  "
    "The read phases are the swap-ins.  bd_stat (pages on the file, read "
    "back from it, written to it) at the end of the workload, MiB; "
    "bd_count also at its peak and at the daemon's peak RSS.  The daemon "
    "punches the holes of freed blocks on a thread of its own, which may "
    "lag behind.",
    [("wall_s", "wall time, s", 2),
     ("phase_fill_s", "  fill, s", 2),
     ("phase_seq_read_s", "  sequential read (swap-in), s", 2),
     ("phase_rand_rw_s", "  random read/write, s", 2),
     ("phase_seq_write_s", "  sequential write, s", 2),
     ("phase_seq_read2_s", "  sequential read (swap-in), s", 2),
     ("peak_backend_mib", "peak daemon RSS, MiB", 0),
     ("peak_mem_used_mib", "peak mem_used_total, MiB", 0),
     ("at_peak_orig_mib", "orig_data_size at the RSS peak, MiB", 0),
     ("at_peak_swapcached_mib", "SwapCached at the RSS peak, MiB", 0),
     ("cpu_total_s", "daemon CPU, s", 1),
     ("peak_bd_count_mib", "peak on the backing file (bd_count), MiB", 1),
     ("at_peak_bd_count_mib", "  at the RSS peak, MiB", 1),
     ("bd_count_mib", "  at the end, MiB", 1),
     ("bd_reads_mib", "read back from it (bd_reads), MiB", 1),
     ("bd_writes_mib", "written to it (bd_writes), MiB", 1),
     ("bd_file_mib", "the file's allocated bytes at the end, MiB", 1)])

MICRO = [  # (name in raw.tsv and micro/, title)
    ("zspool", "the allocator (zspool) against glibc malloc"),
    ("store", "the store: deferred freeing, codec throughput, the slot lock"),
    ("store-dict", "zstd dictionaries"),
    ("transport", "the transports (classic /dev/fuse, FUSE over io_uring)"),
]

# Short x labels where a table's label is too long for a chart.
CHART_LABEL = {
    "mem_per_byte": "mem_used_total", "compr_per_byte": "compr_data_size",
    "peak_backend_mib": "backend memory", "peak_mem_used_mib": "mem_used_total",
    "peak_swap_mib": "swap used", "exit_ms": "exit",
    "mem_back_ms": "mem_used_total back", "rss_back_ms": "daemon RSS back",
    "rss_fifth_ms": "daemon RSS below 1/5", "mem_fifth_ms": "mem_used_total below 1/5",
    "whole_ms": "whole-device discard", "trim1m_p50_us": "p50",
    "trim1m_p99_us": "p99", "wall_s": "wall time",
}
CHART_LABEL.update({f"phase_{p}_s": p for p in
                    ("fill", "seq_read", "rand_rw", "seq_write", "seq_read2")})
CHART_LABEL.update({f"{j}_{m}": j for j, _ in FIO_JOBS
                    for m in ("iops", "mbs", "p99_us")})

CHARTS = [  # (file, workload, title, y label, metrics, log scale)
    ("swap_time", "swap", "Swap, realistic: time", "seconds",
     ["phase_fill_s", "phase_seq_read_s", "phase_rand_rw_s",
      "phase_seq_write_s", "phase_seq_read2_s", "wall_s"], False),
    ("swap_memory", "swap", "Swap, realistic: peak memory", "MiB",
     ["peak_backend_mib", "peak_mem_used_mib", "peak_swap_mib"], False),
    ("swapsmall", "swapsmall", "Swap, small: peak memory", "MiB",
     ["peak_backend_mib", "peak_mem_used_mib", "peak_swap_mib"], False),
    ("swapsmall_time", "swapsmall", "Swap, small: wall time", "seconds",
     ["wall_s"], False),
    ("seed", "seed", "Seed scenario: after SIGKILL", "milliseconds",
     ["exit_ms", "mem_back_ms", "rss_back_ms"], False),
    ("seedmix", "seedmix", "Seed scenario after a working life: after SIGKILL",
     "milliseconds", ["exit_ms", "mem_back_ms", "rss_back_ms", "rss_fifth_ms"], False),
    ("fio_iops", "fio", "fio: 4 KiB random I/O", "IOPS",
     ["rr4k_qd1_iops", "rw4k_qd1_iops", "rr4k_qd16x2_iops",
      "rw4k_qd16x2_iops"], False),
    ("fio_mbs", "fio", "fio: sequential I/O", "MB/s",
     ["fill1m_qd8_mbs", "sr128k_mbs", "sw128k_mbs"], False),
    ("fio_p99", "fio", "fio: p99 completion latency", "microseconds (log)",
     [f"{j}_p99_us" for j, _ in FIO_JOBS], True),
    ("corpus", "corpus", "Fixed corpus: memory per stored byte",
     "bytes per byte stored (orig_data_size)",
     ["mem_per_byte", "compr_per_byte"], False),
    ("discard", "discard", "Discard: 1 MiB discards", "microseconds",
     ["trim1m_p50_us", "trim1m_p99_us"], False),
    ("discard_whole", "discard", "Discard: whole device", "milliseconds",
     ["whole_ms", "mem_back_ms", "rss_back_ms"], False),
]


def fio(path, name):
    """Print one fio run's figures as metric lines."""
    with open(path) as f:
        text = f.read()
    # fio may print warnings before the JSON document
    job = json.loads(text[text.index("{"):])["jobs"][0]
    if job.get("error"):
        sys.exit(f"fio {name}: error {job['error']}")
    d = max((job[k] for k in ("read", "write", "trim")),
            key=lambda s: s["io_bytes"])
    pct = d["clat_ns"].get("percentile", {})
    print(f"{name}_iops {d['iops']:.0f} IOPS")
    print(f"{name}_mbs {d['bw_bytes'] / 1e6:.1f} MB/s")
    print(f"{name}_mean_us {d['lat_ns']['mean'] / 1000:.1f} us")
    # the median too for discards and QD 1, where it says more
    for p in (("50", "99") if d is job["trim"] or "qd1" in name else ("99",)):
        key = f"{p}.000000"
        if key in pct:
            print(f"{name}_p{p}_us {pct[key] / 1000:.1f} us")


def load(path):
    meta, rows = {}, []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# ") and ": " in line:
                k, v = line[2:].split(": ", 1)
                meta[k] = v
            elif line and not line.startswith("#") and not line.startswith("round\t"):
                r, w, b, m, v, u = line.split("\t")
                rows.append((int(r), w, b, m, None if v == "NA" else float(v), u))
    return meta, rows


def fmt(v, dec):
    return "-" if v is None else f"{v:.{dec}f}"


class Results:
    def __init__(self, rows):
        self.vals = {}
        for _, w, b, m, v, _ in rows:
            self.vals.setdefault((w, b, m), []).append(v)

    def backends(self, w):
        have = {b for (ww, b, _) in self.vals if ww == w}
        known = [b for b, _, _ in BACKENDS if b in have]
        return known + sorted(have - set(known))

    def metrics(self, w):
        listed = [m for m, _, _ in WORKLOADS.get(w, ("", "", []))[2]]
        have = {m for (ww, _, m) in self.vals if ww == w}
        return [m for m in listed if m in have] + \
            sorted(m for m in have - set(listed) - HIDDEN
                   if not m.startswith(OWN_TABLE))

    def stats(self, w, b, m):
        """(median, min, max, runs, runs without a value) or None."""
        vs = self.vals.get((w, b, m))
        if not vs:
            return None
        ok = [v for v in vs if v is not None]
        if not ok:
            return (None, None, None, len(vs), len(vs))
        return (statistics.median(ok), min(ok), max(ok), len(vs),
                len(vs) - len(ok))

    def median(self, w, b, m):
        s = self.stats(w, b, m)
        return s[0] if s else None

    def ratio(self, w, m, b, ref):
        a, z = self.median(w, b, m), self.median(w, ref, m)
        if a is None or z is None or z == 0:
            return None
        return a / z


def cell(s, dec):
    if s is None:
        return ""
    med, lo, hi, n, na = s
    if med is None:
        return "NA"
    text = fmt(med, dec)
    if n - na > 1:
        text += f" ({fmt(lo, dec)}-{fmt(hi, dec)})"
    if na:
        text += f", {na} NA"
    return text


def table(res, w, conf, section=None, metrics=None, ratios=True):
    """A workload's table, or with @section (title, note, spec) and
    @metrics another table of its figures."""
    title, note, spec = section or WORKLOADS.get(w, (w, "", []))
    label = {m: (lab, dec) for m, lab, dec in spec}
    if metrics is None:
        metrics = res.metrics(w)
    bs = [b for b in res.backends(w)
          if any(res.stats(w, b, m) for m in metrics)]
    if not bs or not metrics:
        return []
    ratios = [(b, ref) for ref in REFS if ratios and ref in bs
              for b in bs if b not in REFS]
    out = [f"### {title.format(**conf)}", "", note, ""]
    head = ["measure"] + [TITLE.get(b, b) for b in bs] + \
        [f"{SHORT.get(b, b)} / {SHORT[ref]}" for b, ref in ratios]
    out.append("| " + " | ".join(head) + " |")
    out.append("|---|" + "---:|" * (len(head) - 1))
    for m in metrics:
        lab, dec = label.get(m, (m, 2))
        cells = [cell(res.stats(w, b, m), dec) for b in bs]
        if not any(c and c != "NA" for c in cells):
            continue
        rs = [None if m in NO_RATIO else res.ratio(w, m, b, ref)
              for b, ref in ratios]
        out.append("| " + " | ".join([lab.strip() if not lab.startswith("  ")
                                      else "- " + lab.strip()] + cells +
                                     [fmt(r, 2) if r is not None else ""
                                      for r in rs]) + " |")
    return out


def targets(res):
    rows = [
        ("heap (CPython): wall time", "heap", "wall_s", ["lz4", "lz4-classic", "zstd"], "tmpfs"),
        ("heap (CPython): random read/rewrite", "heap", "phase_random_s", ["lz4", "lz4-classic"], "tmpfs"),
        ("swap realistic: wall time", "swap", "wall_s", ["lz4", "lz4-classic", "zstd"], "tmpfs"),
        ("swap realistic: peak backend memory (daemon RSS / zram's "
         "mem_used_total)", "swap", "peak_backend_mib", ["lz4", "lz4-classic", "zstd"], "zram"),
        ("swap realistic: CPU per GiB swapped (daemon + workload's system "
         "time; zram: the workload's system time)", "swap", "per_gib_cpu_sum_s",
         ["lz4", "lz4-classic"], "zram"),
        ("heap (CPython): CPU per GiB swapped (as above)", "heap",
         "per_gib_cpu_sum_s", ["lz4", "lz4-classic"], "zram"),
        ("fio 4 KiB random read QD 16 x 2: IOPS", "fio", "rr4k_qd16x2_iops", ["lz4"], "tmpfs"),
        ("fio 4 KiB random write QD 16 x 2: IOPS", "fio", "rw4k_qd16x2_iops", ["lz4"], "tmpfs"),
        ("fio 4 KiB random read QD 1: p50 latency", "fio", "rr4k_qd1_p50_us", ["lz4"], "tmpfs"),
        ("fio 4 KiB random read QD 1: mean latency", "fio", "rr4k_qd1_mean_us", ["lz4"], "tmpfs"),
        ("fio 128 KiB sequential read: MB/s", "fio", "sr128k_mbs", ["lz4"], "zram"),
        ("fio 128 KiB sequential write: MB/s", "fio", "sw128k_mbs", ["lz4"], "zram"),
        ("corpus: memory per stored byte", "corpus", "mem_per_byte",
         ["lz4", "lz4+recomp", "zstd", "zstd+dict"], "zram"),
        ("seed: time to exit", "seed", "exit_ms", ["lz4", "lz4-nodf"], "zram"),
        ("seed: memory back (mem_used_total)", "seed", "mem_back_ms",
         ["lz4", "lz4-nodf"], "zram"),
        ("seedmix: time to exit", "seedmix", "exit_ms", ["lz4", "lz4-nodf"], "zram"),
        ("seedmix: memory back (mem_used_total)", "seedmix", "mem_back_ms",
         ["lz4", "lz4-nodf"], "zram"),
    ]
    out = ["| measure | backend | against | backend, median | reference, median | ratio |",
           "|---|---|---|---:|---:|---:|"]
    for lab, w, m, bs, ref in rows:
        for b in bs:
            a, z = res.median(w, b, m), res.median(w, ref, m)
            if a is None:
                continue
            r = res.ratio(w, m, b, ref)
            out.append(f"| {lab} | {SHORT[b]} | {SHORT[ref]} | {fmt(a, 3)} | "
                       f"{fmt(z, 3)} | {fmt(r, 2) if r is not None else ''} |")
    # the daemon's RSS coming back, against zram's mem_used_total
    for w in ("seed", "seedmix"):
        for b in ("lz4", "lz4-nodf"):
            for ma, mz, what in (("rss_back_ms", "mem_back_ms", "memory back"),
                                 ("rss_fifth_ms", "mem_fifth_ms", "below a fifth")):
                a, z = res.median(w, b, ma), res.median(w, "zram", mz)
                if a is not None:
                    r = a / z if z else None
                    out.append(f"| {w}: {what} (daemon RSS, against zram's "
                               f"mem_used_total) | {b} | zram | {fmt(a, 3)} | {fmt(z, 3)} | "
                               f"{fmt(r, 2) if r is not None else ''} |")
    return out if len(out) > 2 else []


def swap_extra(res, conf, meta):
    """The realistic swap workload's tables at its peak, of the daemon's
    CPU and of writeback against plain lz4."""
    have = {m for (w, _, m) in res.vals if w == "swap"}
    out = []
    t = table(res, "swap", conf, SWAP_AT_PEAK,
              [m for m, _, _ in SWAP_AT_PEAK[2] if m in have])
    if t:
        out += t + [""]
    cpu = sorted(m for m in have if m.startswith("cpu_") and m != "cpu_total_s")
    spec = [("cpu_total_s", "all threads", 1)] + \
        [(m, m[len("cpu_"):-len("_s")], 1) for m in cpu]
    t = table(res, "swap", conf, SWAP_CPU + (spec,),
              [m for m, _, _ in spec if m in have], ratios=False)
    if t:
        out += t + [""]
    if res.stats("swap", "lz4-wb", "wall_s"):
        title, note, spec = WRITEBACK
        note = note.format(wb=meta.get("lz4-wb", "?"))
        head = ["measure", TITLE["lz4"], TITLE["lz4-wb"], "lz4-wb / lz4"]
        out += [f"### {title}", "", note, "",
                "| " + " | ".join(head) + " |", "|---|---:|---:|---:|"]
        for m, lab, dec in spec:
            cells = [cell(res.stats("swap", b, m), dec) for b in ("lz4", "lz4-wb")]
            if not any(c and c != "NA" for c in cells):
                continue
            r = res.ratio("swap", m, "lz4-wb", "lz4")
            lab = "- " + lab.strip() if lab.startswith("  ") else lab
            out.append(f"| {lab} | {cells[0]} | {cells[1]} | "
                       f"{fmt(r, 2) if r is not None else ''} |")
        out.append("")
    return out


def micro(d, res):
    """The micro benchmarks' tables, as they printed them, their headings
    a level down."""
    out = []
    for name, title in MICRO:
        path = os.path.join(d, "micro", name + ".md")
        if not os.path.exists(path):
            continue
        try:
            with open(os.path.join(d, "micro", name + ".cmd")) as f:
                cmd = f.read().strip()
        except OSError:
            cmd = "?"
        with open(path) as f:
            text = f.read().rstrip("\n").split("\n")
        secs = res.median("micro", name, "run_s")
        took = f", {secs:.0f} s" if secs is not None else ""
        out += [f"### Micro benchmark: {title}", "",
                f"`{cmd}` (once, in round 1{took}):", ""]
        out += ["#" + line if line.startswith("#") else line for line in text]
        out.append("")
    return out


def gnuplot_charts(d, res):
    cdir = os.path.join(d, "charts")
    os.makedirs(cdir, exist_ok=True)
    made = []
    for name, w, title, ylab, metrics, log in CHARTS:
        bs = res.backends(w)
        metrics = [m for m in metrics
                   if any(res.median(w, b, m) is not None for b in bs)]
        if not bs or not metrics:
            continue
        dat = os.path.join(cdir, name + ".dat")
        with open(dat, "w") as f:
            f.write("# metric\t" + "\t".join(f"{b} median\tmin\tmax" for b in bs) + "\n")
            for m in metrics:
                f.write(CHART_LABEL.get(m, m))
                for b in bs:
                    s = res.stats(w, b, m)
                    if s is None or s[0] is None:
                        f.write("\t?\t?\t?")
                    else:
                        f.write(f"\t{s[0]:g}\t{s[1]:g}\t{s[2]:g}")
                f.write("\n")
        plots = []
        for i, b in enumerate(bs):
            c = 2 + 3 * i
            src = f"'{name}.dat'" if i == 0 else "''"
            xt = ":xtic(1)" if i == 0 else ""
            plots.append(f"{src} using {c}:{c + 1}:{c + 2}{xt} "
                         f"lc rgb '{COLOR.get(b, '#808080')}' title '{TITLE.get(b, b)}'")
        scale = ("set logscale y\nset yrange [*:*]\n" if log
                 else "set yrange [0:*]\n")
        gp = f"""# made by bench/suite_report.py from {name}.dat
set terminal pngcairo size 1100,600 font ",10" noenhanced
set output '../{name}.png'
set title "{title}"
set ylabel "{ylab}"
set datafile separator "\\t"
set datafile missing "?"
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key outside below center horizontal
set grid ytics
{scale}plot {", ".join(plots)}
"""
        with open(os.path.join(cdir, name + ".gp"), "w") as f:
            f.write(gp)
        made.append(name)
    # memory over time in the first round of the realistic swap workload
    sdir = os.path.join(d, "samples")
    series = []
    for b in res.backends("swap"):
        p = os.path.join(sdir, f"swap-{b}-r1.tsv")
        if os.path.exists(p):
            series.append((b, p))
    if series:
        plots = []
        for i, (b, p) in enumerate(series):
            rel = os.path.relpath(p, cdir)
            lc = f"lc rgb '{COLOR.get(b, '#808080')}'"
            plots.append(f"'{rel}' using 1:($2/1048576) with lines lw 2 {lc} "
                         f"title '{SHORT.get(b, b)}: backend memory'")
            plots.append(f"'{rel}' using 1:($5/1048576) with lines dt 2 {lc} "
                         f"title '{SHORT.get(b, b)}: swap used'")
        gp = f"""# made by bench/suite_report.py from the samples of round 1
set terminal pngcairo size 1100,600 font ",10" noenhanced
set output '../swap_timeline.png'
set title "Swap, realistic, round 1: backend memory (solid) and swap used (dashed)"
set xlabel "seconds"
set ylabel "MiB"
set datafile missing "?"
set key outside below center horizontal
set grid
plot {", ".join(plots)}
"""
        with open(os.path.join(cdir, "swap_timeline.gp"), "w") as f:
            f.write(gp)
        made.append("swap_timeline")
    if not shutil.which("gnuplot"):
        return [], "gnuplot is not installed (Debian: gnuplot-nox): no PNG charts"
    done = []
    for name in made:
        r = subprocess.run(["gnuplot", name + ".gp"], cwd=cdir,
                           capture_output=True, text=True)
        if r.returncode == 0:
            done.append(name)
        else:
            print(f"suite_report: gnuplot {name}.gp: {r.stderr.strip()}",
                  file=sys.stderr)
    return done, ""


def report(d):
    meta, rows = load(os.path.join(d, "raw.tsv"))
    conf = {k: "?" for k in ("swap_mib", "swap_cg_mib", "small_mib",
                             "small_cg_mib", "seed_mib", "fio_mib",
                             "fio_secs", "corpus_mib", "discard_mib")}
    for kv in meta.get("config", "").split():
        if "=" in kv:
            k, v = kv.split("=", 1)
            conf[k] = v
    res = Results(rows)
    rounds = max((r for r, *_ in rows), default=0)
    out = ["## zramfuse benchmark suite", ""]
    for k in ("date", "kernel", "cpu", "cpu flags", "memory", "command", "tree", "transport",
              "zramfuse options", "lz4-wb"):
        if k in meta:
            out.append(f"- {k}: `{meta[k]}`" if k == "command" else f"- {k}: {meta[k]}")
    out += [f"- {rounds} round(s), the backends interleaved (every backend "
            "once a round); each cell: median (min-max)", ""]
    if any(w != "micro" for _, w, *_ in rows):
        out += ["Backends: **kernel zram**: /dev/zram0, lz4; **loop on tmpfs**: "
                "a direct-I/O loop device on a tmpfs file (no FUSE, no "
                "compression: the ceiling of any loop backend); **zramfuse**: a "
                "loop device (`losetup --direct-io=on --sector-size 4096`, "
                "wbt_lat_usec 0) on a zramfuse file, defaults otherwise; swap "
                "with `swapon --discard`. "
                f"Devices of {conf.get('dev_mib', '?')} MiB "
                f"(discard: {conf.get('discard_mib', '?')} MiB).", ""]
    t = targets(res)
    if t:
        out += ["### Ratios the targets are judged by", ""] + t + [""]
    for w in ORDER + sorted({w for _, w, *_ in rows} - set(ORDER) - {"micro"}):
        if any(ww == w for (ww, _, _) in res.vals):
            out += table(res, w, conf) + [""]
    out += swap_extra(res, conf, meta)
    out += micro(d, res)
    charts, why = gnuplot_charts(d, res)
    if charts:
        out += ["### Charts", ""] + [f"![{c}]({c}.png)" for c in charts] + [""]
    elif why:
        out += [f"({why})", ""]
    with open(os.path.join(d, "summary.md"), "w") as f:
        f.write("\n".join(out))


def main(argv):
    if len(argv) == 4 and argv[1] == "fio":
        fio(argv[2], argv[3])
    elif len(argv) == 2 and os.path.isdir(argv[1]):
        report(argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
