"""The arithmetic of benchmarks/links.sh: tbf's burst for a rate, one run's figures from its
metrics and the links' byte counters, a row of the table, and the ratios at the end.

  links_figures.py burst RATE                          tbf burst in bytes for a tc rate (10gbit)
  links_figures.py dptrain METRICS BEFORE MARKED AFTER  a dptrain run's figures
  links_figures.py ddp RANK0_JSONL BEFORE AFTER STEPS   a torch_ddp.py run's figures
  links_figures.py ceiling METRICS BEFORE AFTER         a `bench ceiling --bind` run's figures
  links_figures.py row RATE BATCH KIND FIGURES LOAD     one printed row
  links_figures.py ratios RESULTS_TSV                   medians and ratios per link and batch

BEFORE, MARKED and AFTER are counter readings: "c_in c_out w1_in w1_out w2_in w2_out ... TIME",
the bytes into and out of each host's link, in the order of the hosts LINKS_HOSTS names (default
"c w1 w2"), and the time they were read. A run's figures are one
line: "samples/s accuracy busiest-host in-bytes/step out-bytes/step", the busiest host being the
one whose link carried the most bytes a step in either direction."""
import json
import os
import re
import statistics
import sys

NAMES = {"c": "coordinator", "w": "worker-", "s": "server-"}
HOSTS = [NAMES[host[0]] + host[1:] for host in os.environ.get("LINKS_HOSTS", "c w1 w2").split()]


def rate_bytes_per_second(rate):
    number, unit = re.fullmatch(r"([0-9.]+)([kmg]?)bit", rate).groups()
    return float(number) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[unit] / 8


def burst(rate):
    # 200 us of the rate, and never less than 128 KB: tbf splits a packet larger than its burst
    # into MTU-sized ones, and a veth hands it GSO packets of up to 64 KB.
    return str(max(131072, round(rate_bytes_per_second(rate) * 200e-6)))


def reading(text):
    values = text.split()
    return [int(v) for v in values[:-1]], float(values[-1])


def per_step(start, end, steps):
    """The busiest link's bytes a step between two readings: its host, bytes in, bytes out."""
    (a, _), (b, _) = reading(start), reading(end)
    steps = max(steps, 1e-9)
    links = [((b[2 * h] - a[2 * h]) / steps, (b[2 * h + 1] - a[2 * h + 1]) / steps) for h in range(len(a) // 2)]
    host = max(range(len(links)), key=lambda h: max(links[h]))
    return HOSTS[host], links[host][0], links[host][1]


def median_after_first(values):
    return statistics.median(values[1:] or values) if values else 0


def dptrain(metrics, before, marked, after):
    events = [json.loads(line) for line in open(metrics) if line.startswith("{")]
    epochs = [e for e in events if e.get("event") == "epoch"]
    done = next(e for e in events if e.get("event") == "done")
    rate = median_after_first([e["epoch_samples_per_second"] for e in epochs])
    accuracy = done.get("test_accuracy", epochs[-1]["test_accuracy"] if epochs else 0)
    # The step the run had reached when the marked reading was taken, between the two step
    # lines around it.
    _, when = reading(marked)
    points = sorted((e["time"], e["step"]) for e in events if e.get("event") in ("training_started", "step", "epoch"))
    reached = 0.0
    for (t0, s0), (t1, s1) in zip(points, points[1:]):
        if t0 <= when <= t1:
            reached = s0 + (s1 - s0) * ((when - t0) / (t1 - t0) if t1 > t0 else 1)
            break
        if when > t1:
            reached = s1
    host, into, out = per_step(marked, after, done["step"] - reached)
    return f"{rate:.0f} {accuracy} {host} {into:.0f} {out:.0f}"


def ceiling(metrics, before, after):
    """`bench ceiling --bind`'s figures: samples/s over the steps' own time, no accuracy, the
    bytes a step over the whole run."""
    line = next(json.loads(text) for text in open(metrics) if '"event":"bench"' in text)
    host, into, out = per_step(before, after, line["steps"])
    return f"{line['samples_per_second']:.0f} - {host} {into:.0f} {out:.0f}"


def ddp(rank0, before, after, steps):
    lines = [json.loads(line) for line in open(rank0) if line.startswith("{")]
    rate = median_after_first([line["samples_per_s"] for line in lines])
    host, into, out = per_step(before, after, int(steps))
    return f"{rate:.0f} {lines[-1]['test_acc']} {host} {into:.0f} {out:.0f}"


def row(rate, batch, kind, figures, load):
    samples, accuracy, host, into, out = figures.split()
    accuracy = "-" if accuracy == "-" else f"{float(accuracy):.4f}"
    print(f"{rate:<10} {batch:>6} {kind:<18} {int(samples):>12,} {accuracy:>9} {host:<12}"
          f" {int(into) / 1000:>12,.1f} {int(out) / 1000:>12,.1f} {load:>6}")


def ratios(path):
    runs = {}
    for line in open(path):
        rate, batch, kind, _round, samples, accuracy, host, into, out, load = line.split()
        runs.setdefault((rate, int(batch)), {}).setdefault(kind, []).append((float(samples), max(float(into), float(out))))
    print("medians over rounds of samples/s (ceiling: the star's, simulated workers), their ratios, and the busiest link's bytes a step (the larger direction):")
    print(f"{'link':<10} {'batch':>6} {'precision':<9} {'star':>9} {'ceiling':>9} {'servers':>9} {'ddp':>9} {'servers/star':>12} {'servers/ddp':>12}"
          f" {'star/ddp':>9} {'star KB':>8} {'servers KB':>10} {'ddp KB':>7} {'servers/star':>12}")
    for (rate, batch), kinds in runs.items():
        speed = {kind: statistics.median(s for s, _ in figures) for kind, figures in kinds.items()}
        busiest = {kind: statistics.median(b for _, b in figures) for kind, figures in kinds.items()}

        def ratio(a, b, of=speed):
            return f"{of[a] / of[b]:.2f}x" if a in of and b in of and of[b] > 0 else "-"

        def figure(kind, of=speed, scale=1):
            return f"{of[kind] / scale:,.0f}" if kind in of else "-"
        for precision in ("float32", "bf16"):
            star, servers, ceiling = f"star-{precision}", f"servers-{precision}", f"ceiling-{precision}"
            if star not in kinds and servers not in kinds and ceiling not in kinds:
                continue
            print(f"{rate:<10} {batch:>6} {precision:<9} {figure(star):>9} {figure(ceiling):>9} {figure(servers):>9} {figure('ddp'):>9}"
                  f" {ratio(servers, star):>12} {ratio(servers, 'ddp'):>12} {ratio(star, 'ddp'):>9}"
                  f" {figure(star, busiest, 1000):>8} {figure(servers, busiest, 1000):>10} {figure('ddp', busiest, 1000):>7}"
                  f" {ratio(servers, star, busiest):>12}")
    spread = {key: kinds for key, kinds in runs.items() if any(kind.startswith("spread-") for kind in kinds)}
    if spread:
        print("the ceiling with K parameter servers (8 simulated workers on 4 hosts, each server on a host of its own): samples/s and over K=1's")
    for (rate, batch), kinds in spread.items():
        for precision in ("float32", "bf16"):
            found = sorted((int(kind.split("-")[1][1:]), statistics.median(s for s, _ in figures))
                           for kind, figures in kinds.items() if kind.startswith("spread-") and kind.endswith(precision))
            one = dict(found).get(1)
            if found:
                print(f"{rate:<10} {batch:>6} {precision:<9} " + "  ".join(
                    f"K={k} {speed:,.0f}" + (f" ({speed / one:.2f}x)" if one and k != 1 else "") for k, speed in found))

if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "burst":
        print(burst(*arguments))
    elif command == "dptrain":
        print(dptrain(*arguments))
    elif command == "ddp":
        print(ddp(*arguments))
    elif command == "ceiling":
        print(ceiling(*arguments))
    elif command == "row":
        row(*arguments)
    elif command == "ratios":
        ratios(*arguments)
    else:
        sys.exit(f"links_figures.py: unknown command {command}")
