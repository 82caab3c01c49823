#!/usr/bin/env python3
"""The table of scripts/bench-compare: reads every ROUND-SIDE-BENCH.txt of a results
directory, takes each metric from the benchmark's own output, and prints per metric the
figures of both sides per round, the per-round ratios oriented so that higher is better for
the new side (new/old for speeds, old/new for times, CPU and memory), and their median.

Usage: bench_compare_report.py RESULTS_DIR ROUNDS
"""

import re
import statistics
import sys
from pathlib import Path

UNITS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1000.0}


def millis(text):
    """A Rust `Duration` as `{:?}` prints it (`412.3ms`, `1.2s`, `850µs`), in milliseconds."""
    value, unit = re.fullmatch(r"([\d.]+)(ns|µs|us|ms|s)", text).groups()
    return float(value) * UNITS[unit]


def one(pattern, text, convert=float):
    m = re.search(pattern, text, re.M)
    return convert(m.group(1)) if m else None


def every(pattern, text, convert=float):
    return [convert(x) for x in re.findall(pattern, text, re.M)]


def median_or_none(values):
    return statistics.median(values) if values else None


def gateway_stream(t):
    return {
        "stream MiB/s": one(r"^gateway .*median (\d+) MiB/s", t),
        "stream server CPU ms/GiB": one(r"^gateway .*CPU (\d+) ms/GiB", t),
        "stream speed / nginx's": one(r"^ratio gateway/nginx: ([\d.]+) \(speed\)", t),
    }


def gateway_page(t):
    rps = every(r"^gateway\s+(\d+) req/s", t)
    return {
        "page req/s": median_or_none(rps),
        "page p99 ms": median_or_none(every(r"^gateway\s+\d+ req/s\s+p99\s+([\d.]+) ms", t)),
        "page server CPU us/request": median_or_none(
            every(r"^gateway .*server CPU ([\d.]+) us/request", t)
        ),
        "page errors": median_or_none(every(r"^gateway .*errors (\d+)", t)),
        "page req/s / nginx's": one(r"^ratio gateway/nginx: req/s ([\d.]+), CPU per request [\d.]+ \(medians", t),
    }


def seed(t):
    return {
        "seed MiB/s": median_or_none(every(r"^round \d+\s+swarmfeed\s+->.*?s\s+(\d+) MiB/s", t)),
        "seed first byte s": median_or_none(every(r"^round \d+\s+swarmfeed\s+->.*first byte ([\d.]+) s", t)),
        "seed seeder CPU s/GiB": median_or_none(every(r"^round \d+\s+swarmfeed\s+->.*seeder ([\d.]+) s/GiB", t)),
        "seed throughput / libtorrent's": one(r"^swarmfeed\s+throughput relative to libtorrent seeding: median ([\d.]+)", t),
    }


def publish(t):
    def row(label, kind):
        return one(rf"^{re.escape(label)}\s+{kind}.*?swarmfeed ([\d.]+)s", t)

    return {
        "create 1 GiB s": row("1 GiB file", r"piece"),
        "create+BLAKE3 1 GiB s": row("1 GiB file", r"\+BLAKE3"),
        "create 10,000 files s": row("10,000 small files", r"piece"),
        "create+BLAKE3 10,000 files s": row("10,000 small files", r"\+BLAKE3"),
        "publish 1 GiB s": row("1 GiB file", r"publish"),
        "create 1 GiB / mktorrent's time": one(r"^1 GiB file\s+piece.*ratio ([\d.]+)", t),
        "peak RssAnon 4 GiB MiB": one(r"peak RssAnon (\d+) MiB", t),
    }


def engine_restart(t):
    return {
        "restart 1,000: all seeding ms": one(r"^restart: .* all seeding after (\S+);", t, millis),
        "restart 1,000: CPU ms": one(r"^restart: .* CPU (\S+)$", t, millis),
        "first start: 1,000 adds ms": one(r"^first start: added \d+ in (\S+),", t, millis),
    }


def engine_scale(t):
    batches = every(r"^\s*\d+\s+([\d.]+(?:ns|µs|us|ms|s))\s+[\d.]+ MiB", t, millis)
    return {
        "scale: mean add, last 1,000 ms": batches[-1] if batches else None,
        "scale: mean add, all ms": statistics.mean(batches) if batches else None,
        "scale: idle CPU % of a core": one(r"^idle with \d+ torrents: (\d+)% of a core", t),
        "scale: restart, all seeding ms": one(r"^restart: \d+ torrents restored in \S+, \d+ seeding after (\S+),", t, millis),
        "scale: restart CPU ms": one(r"^restart: \d+ torrents restored.* CPU (\S+)$", t, millis),
    }


# bench → (parser, {metric: (higher is better, counted in the verdict)})
BENCHES = {
    "gateway-stream": (gateway_stream, {
        "stream MiB/s": (True, True),
        "stream server CPU ms/GiB": (False, False),
        "stream speed / nginx's": (True, False),
    }),
    "gateway-page": (gateway_page, {
        "page req/s": (True, True),
        "page p99 ms": (False, False),
        "page server CPU us/request": (False, False),
        "page errors": (False, False),
        "page req/s / nginx's": (True, False),
    }),
    "seed": (seed, {
        "seed MiB/s": (True, True),
        "seed first byte s": (False, False),
        "seed seeder CPU s/GiB": (False, False),
        "seed throughput / libtorrent's": (True, False),
    }),
    "publish": (publish, {
        "create 1 GiB s": (False, True),
        "create+BLAKE3 1 GiB s": (False, True),
        "create 10,000 files s": (False, True),
        "create+BLAKE3 10,000 files s": (False, True),
        "publish 1 GiB s": (False, True),
        "create 1 GiB / mktorrent's time": (False, False),
        "peak RssAnon 4 GiB MiB": (False, False),
    }),
    "engine-restart": (engine_restart, {
        "restart 1,000: all seeding ms": (False, True),
        "restart 1,000: CPU ms": (False, False),
        "first start: 1,000 adds ms": (False, False),
    }),
    "engine-scale": (engine_scale, {
        "scale: mean add, last 1,000 ms": (False, True),
        "scale: mean add, all ms": (False, False),
        "scale: idle CPU % of a core": (False, False),
        "scale: restart, all seeding ms": (False, True),
        "scale: restart CPU ms": (False, False),
    }),
}


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def main():
    results, rounds = Path(sys.argv[1]), int(sys.argv[2])
    verdicts = []
    w = max(24, 7 * rounds)
    print(f"{'metric':34} {'old per round':>{w}} {'new per round':>{w}}  {'ratio per round':>{w}}  median")
    for bench, (parse, metrics) in BENCHES.items():
        figures = {}  # (side, round) -> {metric: value}
        for side in ("old", "new"):
            for r in range(1, rounds + 1):
                path = results / f"{r}-{side}-{bench}.txt"
                if path.exists():
                    figures[(side, r)] = parse(path.read_text(errors="replace"))
        if not figures:
            continue
        print(f"-- {bench}")
        for metric, (higher, counted) in metrics.items():
            old = [figures.get(("old", r), {}).get(metric) for r in range(1, rounds + 1)]
            new = [figures.get(("new", r), {}).get(metric) for r in range(1, rounds + 1)]
            ratios = []
            for o, n in zip(old, new):
                if o is None or n is None:
                    ratios.append(None)
                elif o == n:
                    ratios.append(1.0)
                elif (n if higher else o) == 0 or (o if higher else n) == 0:
                    ratios.append(None)
                else:
                    ratios.append(n / o if higher else o / n)
            valid = [x for x in ratios if x is not None]
            med = statistics.median(valid) if valid else None
            mark = "*" if counted else " "
            line = (f"{mark}{metric:33} {' '.join(fmt(x) for x in old):>{w}} "
                    f"{' '.join(fmt(x) for x in new):>{w}}  "
                    f"{' '.join('-' if x is None else f'{x:.2f}' for x in ratios):>{w}}  "
                    f"{'-' if med is None else f'{med:.2f}'}")
            if counted:
                verdicts.append((f"{bench}: {metric}", med))
                if med is not None and med < 0.95:
                    line += "  < 0.95"
            print(line)
    print("(ratios: new/old where higher is better, old/new for times, CPU and memory; "
          ">= 0.95 is no regression; * counts in the verdict)")
    missing = [name for name, med in verdicts if med is None]
    low = [f"{name} {med:.2f}" for name, med in verdicts if med is not None and med < 0.95]
    if missing:
        print("no figures for: " + "; ".join(missing))
    print("verdict: " + ("every counted median >= 0.95" if not low and not missing and verdicts
                         else "below 0.95: " + ("; ".join(low) if low else "none")))


if __name__ == "__main__":
    main()
