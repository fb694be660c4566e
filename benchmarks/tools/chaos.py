#!/usr/bin/env python3
"""An operator's bad day for dptrain, as a benchmark: one coordinator and four
workers over tcp loopback, then a dozen random events a second apart, drawn
from a seed: SIGKILL a worker, SIGSTOP one and SIGCONT it 1-4 s later, start a
new worker, and exactly once SIGKILL the coordinator and restart it with
--resume. Then the run goes on to its end with at least two workers.

For each seed it checks what the run must reach: coordinator exit 0, test
accuracy >= 0.97, 60,000 samples in every epoch line of the metrics (and every
epoch present), no checkpoint refused on --resume, and no dptrain process of
the run still running 30 s after the coordinator's end. One line per seed, a
summary line, and a non-zero exit if any seed missed any of these.

Columns: `epochs` counts the epoch lines of the metrics (an epoch that the
coordinator finished but had not yet checkpointed when it was killed is trained
again after --resume and has two lines); `resumed at` is the step of the
checkpoint the restarted coordinator went on from (0: none had been written
yet, so it started over); `k/s/n` counts the worker kills, stops and starts.

usage: chaos.py BINARY [--seeds 1-8 | --seeds 3,5] [--events 12] [--epochs 8] [--timeout 600] [--logs DIR]
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

WORKERS = 4
MAX_WORKERS = 8
SAMPLES_PER_EPOCH = 60_000
MIN_ACCURACY = 0.97
LEFTOVER_GRACE_SECONDS = 30
START_TIMEOUT_SECONDS = 120  # for the first step after the coordinator starts


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_list(text):
    seeds = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += range(int(low), int(high or low) + 1)
    return seeds


class Run:
    """One seed's processes, their logs, and the events done to them."""

    def __init__(self, binary, seed, epochs, directory):
        self.binary, self.seed, self.epochs, self.dir = binary, seed, epochs, directory
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.rng = random.Random(seed)
        self.coordinators = []   # every coordinator process, the live one last
        self.workers = []        # every worker process ever started
        self.stopped = {}        # worker pid -> monotonic time of its SIGCONT
        self.events = []         # what was done, in words
        self.started = time.monotonic()

    def log(self, name):
        return open(os.path.join(self.dir, name), "wb")

    def coordinator_args(self, resume):
        args = [self.binary, "coordinator", "--bind", self.endpoint, "--workers", str(WORKERS),
                # --batch is global: 256 is 64 a worker at the usual 4; one shard for each of up to 8.
                "--max-workers", str(MAX_WORKERS), "--epochs", str(self.epochs), "--batch", "256",
                "--shards", str(MAX_WORKERS),
                "--step-deadline", "5", "--checkpoint", os.path.join(self.dir, "checkpoints"),
                "--metrics", os.path.join(self.dir, "metrics.jsonl"),
                "--save", os.path.join(self.dir, "model.safetensors")]
        return args + (["--resume"] if resume else [])

    def start_coordinator(self, resume=False):
        n = len(self.coordinators) + 1
        with self.log(f"coordinator{n}.out") as out, self.log(f"coordinator{n}.err") as err:
            process = subprocess.Popen(self.coordinator_args(resume), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        self.coordinators.append(process)
        return process

    def start_worker(self):
        n = len(self.workers) + 1
        with self.log(f"worker{n}.out") as out, self.log(f"worker{n}.err") as err:
            process = subprocess.Popen([self.binary, "worker", "--connect", self.endpoint], stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=err)
        process.number = n
        self.workers.append(process)
        return process

    def live_workers(self):
        return [w for w in self.workers if w.poll() is None]

    def running_workers(self):
        return [w for w in self.live_workers() if w.pid not in self.stopped]

    def continue_due(self, everyone=False):
        now = time.monotonic()
        for worker in [w for w in self.workers if w.pid in self.stopped]:
            if everyone or self.stopped[worker.pid] <= now:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGCONT)
                del self.stopped[worker.pid]

    def note(self, text):
        self.events.append(f"{time.monotonic() - self.started:6.1f}s {text}")

    def event(self, kind):
        if kind == "coordinator":
            old = self.coordinators[-1]
            old.kill()
            old.wait()
            self.start_coordinator(resume=True)
            self.note("SIGKILL the coordinator, restart it with --resume")
            return
        live, running = self.live_workers(), self.running_workers()
        # Never leave the run without a worker, nor start more than it can take.
        if kind == "kill" and len(live) <= 1:
            kind = "start"
        if kind == "stop" and not running:
            kind = "start"
        if kind == "start" and len(live) >= MAX_WORKERS:
            kind = "kill"
        if kind == "kill":
            victim = self.rng.choice(live)
            victim.kill()
            victim.wait()
            self.stopped.pop(victim.pid, None)
            self.note(f"SIGKILL worker {victim.number}")
        elif kind == "stop":
            victim = self.rng.choice(running)
            seconds = self.rng.uniform(1, 4)
            victim.send_signal(signal.SIGSTOP)
            self.stopped[victim.pid] = time.monotonic() + seconds
            self.note(f"SIGSTOP worker {victim.number} for {seconds:.1f} s")
        else:
            worker = self.start_worker()
            self.note(f"start worker {worker.number}")

    def sleep(self, seconds):
        """Sleeps, sending each SIGCONT when it is due."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.continue_due()
            time.sleep(min(left, 0.05))

    def wait_for_first_step(self):
        """Waits until the coordinator trains (its log says so), so that the events land mid-run."""
        path = os.path.join(self.dir, "coordinator1.err")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and self.coordinators[0].poll() is None:
            with open(path, errors="replace") as f:
                if "training with" in f.read():
                    return True
            time.sleep(0.05)
        return False

    def everything(self):
        return self.coordinators + self.workers

    def kill_everything(self):
        self.continue_due(everyone=True)
        for process in self.everything():
            if process.poll() is None:
                process.kill()
        for process in self.everything():
            process.wait()


def play(run, event_count, timeout):
    """Starts the run, does the events, waits for the end; returns the coordinator's exit code (None: timed out)."""
    run.start_coordinator()
    for _ in range(WORKERS):
        run.start_worker()
    if not run.wait_for_first_step():
        run.note("the coordinator did not start training")
    kinds = [run.rng.choice(["kill", "stop", "start"]) for _ in range(event_count)]
    kinds[run.rng.randrange(event_count)] = "coordinator"
    for kind in kinds:
        run.sleep(1)
        if run.coordinators[-1].poll() is not None:
            run.note("the coordinator ended before the events did")
            break
        run.event(kind)
    run.sleep(4.1)   # the longest SIGSTOP ends
    run.continue_due(everyone=True)
    # A worker started after the end would wait for a coordinator (as it should): only while it runs.
    while len(run.live_workers()) < 2 and run.coordinators[-1].poll() is None:
        worker = run.start_worker()
        run.note(f"start worker {worker.number} (the end needs two)")
    deadline = run.started + timeout
    coordinator = run.coordinators[-1]
    while coordinator.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return coordinator.poll()


def leftovers(run):
    """Every dptrain process of this run still running, by its log name, after the grace period."""
    time.sleep(LEFTOVER_GRACE_SECONDS)
    names = [f"coordinator{i + 1}" for i, c in enumerate(run.coordinators) if c.poll() is None]
    names += [f"worker{w.number}" for w in run.workers if w.poll() is None]
    # Any process of ours that is not our child (there should be none) still names the endpoint.
    ours = {p.pid for p in run.everything()}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().split(b"\0")
        except OSError:
            continue
        if int(pid) not in ours and run.endpoint.encode() in command:
            names.append(f"pid {pid}")
            os.kill(int(pid), signal.SIGKILL)
    return names


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def judge(run, exit_code, left):
    """The seed's figures and what it missed."""
    last = len(run.coordinators)
    out = read(os.path.join(run.dir, f"coordinator{last}.out"))
    found = re.search(r"done: test accuracy ([0-9.]+)", out)
    accuracy = float(found.group(1)) if found else None
    epochs = []
    for line in read(os.path.join(run.dir, "metrics.jsonl")).splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("event") == "epoch":
            epochs.append((record.get("epoch"), record.get("samples")))
    refused = [line for i in range(last) for line in read(os.path.join(run.dir, f"coordinator{i + 1}.err")).splitlines()
               if "trying the one before" in line]
    missed = []
    if exit_code != 0:
        missed.append("timed out" if exit_code is None else f"exit {exit_code}")
    if accuracy is None or accuracy < MIN_ACCURACY:
        missed.append(f"accuracy {accuracy}")
    if sorted({e for e, _ in epochs}) != list(range(1, run.epochs + 1)):
        missed.append(f"epochs {[e for e, _ in epochs]}")
    if any(s != SAMPLES_PER_EPOCH for _, s in epochs):
        missed.append("samples")
    if refused:
        missed.append(f"{len(refused)} checkpoint(s) refused")
    if left:
        missed.append("left running: " + " ".join(left))
    resumed = re.search(r"resumed from \S+: step (\d+)", read(os.path.join(run.dir, "coordinator2.err")))
    return accuracy, epochs, refused, missed, int(resumed.group(1)) if resumed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--seeds", type=seed_list, default=seed_list("1-8"))
    parser.add_argument("--events", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds a seed may take; then all its processes are killed and it fails (default 600)")
    parser.add_argument("--logs", help="keep each seed's logs in DIR/seed-N (default: a temporary folder, removed)")
    args = parser.parse_args()
    root = args.logs or tempfile.mkdtemp(prefix="dptrain-chaos-")
    failures, accuracies, started = 0, [], time.monotonic()
    print(f"{'seed':>4} {'exit':>4} {'accuracy':>8} {'epochs':>6} {'samples/epoch':>13} {'refused':>7} "
          f"{'left':>4} {'k/s/n':>6} {'resumed at':>10} {'seconds':>7}  result", flush=True)
    for seed in args.seeds:
        directory = os.path.join(root, f"seed-{seed}")
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        run = Run(os.path.abspath(args.binary), seed, args.epochs, directory)
        try:
            exit_code = play(run, args.events, args.timeout)
            seconds = time.monotonic() - run.started
            left = leftovers(run) if exit_code is not None else None   # timed out: all is killed below
        finally:
            run.kill_everything()
        with open(os.path.join(directory, "events.txt"), "w") as f:
            f.write("\n".join(run.events) + "\n")
        accuracy, epochs, refused, missed, resumed_at = judge(run, exit_code, left)
        kinds = "/".join(str(sum(word in e for e in run.events)) for word in ("SIGKILL worker", "SIGSTOP", "start worker"))
        samples = sorted({s for _, s in epochs})
        failures += bool(missed)
        if accuracy is not None:
            accuracies.append(accuracy)
        print(f"{seed:>4} {str(exit_code):>4} {f'{accuracy:.4f}' if accuracy is not None else '-':>8} {len(epochs):>6} "
              f"{','.join(map(str, samples)) or '-':>13} {len(refused):>7} {len(left) if left is not None else '-':>4} "
              f"{kinds:>6} {resumed_at:>10} {seconds:>7.1f}  {'ok' if not missed else 'FAILED: ' + '; '.join(missed)}", flush=True)
    span = f"{min(accuracies):.4f}-{max(accuracies):.4f}" if accuracies else "-"
    print(f"{len(args.seeds) - failures} of {len(args.seeds)} seeds passed; accuracy {span}; "
          f"{time.monotonic() - started:.0f} s in all; logs in {root}", flush=True)
    if not args.logs and not failures:
        shutil.rmtree(root)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
