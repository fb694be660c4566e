#!/usr/bin/env python3
"""Runs every command of dptrain's docs as a reader would paste it, and fails on a broken one.

The convention: a ```sh fence holds commands a reader can paste on one machine, from the
repository's root, with `dptrain`, `coordinator` and `worker` on PATH; they must run here as
written, and quickly. Anything that cannot (several hosts, Slurm, kubectl, a release build,
output) goes in a ```text fence, which is not run.

Each ```sh block is one bash script run with `set -e -o pipefail`, in order within its file,
all of a file's blocks in one scratch folder of their own: the repository's top-level entries
are linked into it, so `deploy/...` and `data/mnist` resolve as from the root while the files a
command writes (`model.safetensors`, `keys/`) land in the scratch folder and go with it. A
process a block starts in the background counts: `wait` with no argument fails when one of
them failed, and one still running when its block ends is a failure too (a reader would be
left with it). Every process a block starts is killed when the block ends or runs out of time.

A failure prints FILE:LINE, the command and the last lines of its output; the exit status is 1.
Links first: a link to a file of the repository that does not exist, or to a heading that no
file has, fails the check before any command runs.

usage: Tests/tools/check_docs.py [FILE.md ...]          default: README.md and docs/*.md
       Tests/tools/check_docs.py --archive ARCHIVE.tar.gz
           unpacks the release archive into a scratch folder and runs its README's ```sh blocks
           from the unpacked folder, with nothing of this repository on PATH
options: --bin DIR     where dptrain, coordinator and worker are (default: the newest of
                       .build/debug and .build/release that holds all three)
         --timeout S   seconds a block may run (default 180)
         --list        print the blocks and their lines without running them
"""

import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXECUTABLES = ("dptrain", "coordinator", "worker")
RUN_FENCES = ("sh",)

# Put before each block. It reports on fd 3: "at N" before each command, "failed N STATUS"
# when a command fails, "background N STATUS" when a process started with & before line N
# failed, "running N PID" for one still running at the end (N is 0 when the block had ended).
PREAMBLE = r"""exec 3>"$DOCS_CHECK_STATUS"
_dc_pids=(); declare -A _dc_line; _dc_last=""
_dc_debug() {
  if [[ -n "$!" && "$!" != "$_dc_last" ]]; then _dc_last=$!; _dc_pids+=("$!"); _dc_line[$!]=$1; fi
  echo "at $1" >&3
}
_dc_reap() {
  local failed=0 p s
  for p in "${_dc_pids[@]}"; do
    s=0; builtin wait "$p" 2>/dev/null || s=$?
    if [[ $s -ne 0 && $s -ne 127 ]]; then echo "background ${_dc_line[$p]} $s" >&3; failed=1; fi
  done
  _dc_pids=(); return $failed
}
wait() { if [[ $# -gt 0 ]]; then builtin wait "$@"; else _dc_reap; fi; }
_dc_exit() {
  local s=$? p
  _dc_debug 0
  for p in "${_dc_pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then echo "running ${_dc_line[$p]} $p" >&3; s=1; fi
  done
  exit $s
}
trap '_dc_debug $LINENO' DEBUG
trap 'echo "failed $LINENO $?" >&3' ERR
trap _dc_exit EXIT
set -e -o pipefail
"""
PREAMBLE_LINES = PREAMBLE.count("\n")


class Block:
    def __init__(self, path, line, lines):
        self.path, self.line, self.lines = path, line, lines  # line: the fence's own line

    def markdown_line(self, script_line):
        """The docs line of script line `script_line` (1-based, preamble included)."""
        return self.line + script_line - PREAMBLE_LINES

    def command_at(self, markdown_line):
        """The whole command (continuation lines joined) that markdown_line belongs to."""
        index = markdown_line - self.line - 1
        if not 0 <= index < len(self.lines):
            return "(the block as a whole)"
        start = index
        while start > 0 and self.lines[start - 1].rstrip().endswith("\\"):
            start -= 1
        end = index
        while end < len(self.lines) - 1 and self.lines[end].rstrip().endswith("\\"):
            end += 1
        return " ".join(line.strip().rstrip("\\").strip() for line in self.lines[start:end + 1])

    def background_line(self, script_line):
        """The docs line of the command ending in & last started before script_line (0: the end)."""
        index = len(self.lines) if script_line == 0 else self.markdown_line(script_line) - self.line - 1
        for candidate in range(min(index, len(self.lines)) - 1, -1, -1):
            if re.search(r"(^|[^&])&\s*(#.*)?$", self.lines[candidate]):
                return self.first_line_of_command(self.line + 1 + candidate)
        return self.line

    def first_line_of_command(self, markdown_line):
        index = markdown_line - self.line - 1
        while 0 < index < len(self.lines) and self.lines[index - 1].rstrip().endswith("\\"):
            index -= 1
        return self.line + 1 + index


def blocks_of(path, shown):
    """The ```sh blocks of a markdown file; an unclosed fence is an error."""
    found, inside, language, start, lines = [], False, None, 0, []
    with open(path, encoding="utf-8") as file:
        for number, text in enumerate(file, 1):
            fence = re.match(r"^(\s*)```\s*([\w+-]*)", text)
            if fence and not inside:
                inside, language, start, lines = True, fence.group(2).lower(), number, []
                indent = len(fence.group(1))
            elif fence and inside:
                if language in RUN_FENCES:
                    found.append(Block(shown, start, lines))
                inside = False
            elif inside:
                lines.append(text[indent:].rstrip("\n") if text[:indent].strip() == "" else text.rstrip("\n"))
    if inside:
        raise SystemExit(f"{shown}:{start}: a ``` fence is never closed")
    return found


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors_of(path):
    found, counts, inside = set(), {}, False
    with open(path, encoding="utf-8") as file:
        for text in file:
            if text.lstrip().startswith("```"):
                inside = not inside
            heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", text)
            if heading and not inside:
                anchor = slug(heading.group(1))
                n = counts.get(anchor, 0)
                counts[anchor] = n + 1
                found.add(anchor if n == 0 else f"{anchor}-{n}")
    return found


def broken_links(path, shown):
    """Links to files of this repository, or to headings, that lead nowhere."""
    problems, inside = [], False
    with open(path, encoding="utf-8") as file:
        for number, text in enumerate(file, 1):
            if text.lstrip().startswith("```"):
                inside = not inside
            if inside:
                continue
            for target in re.findall(r"\]\(([^)\s]+)\)", text):
                if re.match(r"^[a-z]+:", target):
                    continue
                file_part, _, anchor = target.partition("#")
                destination = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
                if not os.path.exists(destination):
                    problems.append(f"{shown}:{number}: a link to {target}: no such file")
                elif anchor and destination.endswith(".md") and anchor not in anchors_of(destination):
                    problems.append(f"{shown}:{number}: a link to {target}: no such heading")
    return problems


def session_processes(session):
    """The pids of every process in `session` (the block's bash and all it started)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == session:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def kill_session(session):
    for _ in range(50):
        pids = session_processes(session)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.1)


def run_block(block, folder, environment, timeout):
    """Runs one block in `folder`; returns a list of failure messages (empty: it passed)."""
    status_path = os.path.join(folder, ".docs-check-status")
    script = PREAMBLE + "\n".join(block.lines) + "\n"
    environment = dict(environment, DOCS_CHECK_STATUS=status_path)
    began = time.monotonic()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(["bash", "-c", script, "docs-check"], cwd=folder, env=environment,
                                   stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        kill_session(process.pid)
        process.wait()
        output.seek(0)
        tail = output.read().decode("utf-8", "replace").splitlines()[-15:]
    seconds = time.monotonic() - began
    reports = open(status_path).read().split("\n") if os.path.exists(status_path) else []
    os.unlink(status_path) if os.path.exists(status_path) else None
    failures = []

    def failure(script_line, why, background=False):
        line = (block.background_line(script_line) if background
                else block.first_line_of_command(block.markdown_line(script_line)))
        failures.append(f"{block.path}:{line}: {why}: {block.command_at(line)}")

    at = [int(r.split()[1]) for r in reports if r.startswith("at ") and int(r.split()[1]) > PREAMBLE_LINES]
    if timed_out:
        failure(at[-1] if at else PREAMBLE_LINES + 1, f"still running after {timeout} s")
    for report in reports:
        words = report.split()
        if not words:
            continue
        if words[0] == "failed" and int(words[1]) > PREAMBLE_LINES:
            failure(int(words[1]), f"exited {words[2]}")
        elif words[0] == "background":
            failure(int(words[1]), f"exited {words[2]} (started in the background)", background=True)
        elif words[0] == "running":
            failure(int(words[1]), "still running when its block ended (started in the background)", background=True)
    if not timed_out and process.returncode != 0 and not failures:
        failures.append(f"{block.path}:{block.line}: the block exited {process.returncode}")
    if failures:
        failures.append("  its last output:\n" + "\n".join("    " + line for line in tail))
    return failures, seconds


def scratch_folder(source_root):
    """A folder holding links to `source_root`'s top-level entries (not .git)."""
    folder = tempfile.mkdtemp(prefix="dptrain-docs-check-")
    for entry in os.listdir(source_root):
        if not entry.startswith(".git"):
            os.symlink(os.path.join(source_root, entry), os.path.join(folder, entry))
    return folder


def default_bin():
    candidates = [os.path.join(ROOT, ".build", kind) for kind in ("debug", "release")]
    complete = [c for c in candidates if all(os.access(os.path.join(c, e), os.X_OK) for e in EXECUTABLES)]
    if not complete:
        raise SystemExit("check_docs.py: no built dptrain, coordinator and worker in .build/debug or "
                         ".build/release: run `swift build` first, or give --bin DIR")
    return max(complete, key=lambda c: os.path.getmtime(os.path.join(c, "dptrain")))


def clean_environment():
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DPTRAIN_")}
    environment["PAGER"] = "cat"
    return environment


def check(files_and_blocks, environment, folder_for, timeout):
    failures, count, began = [], 0, time.monotonic()
    for shown, blocks in files_and_blocks:
        if not blocks:
            continue
        folder = folder_for(shown)
        try:
            for block in blocks:
                problems, seconds = run_block(block, folder, environment, timeout)
                count += 1
                state = "FAILED" if problems else "ok"
                print(f"check_docs: {state} {block.path}:{block.line} ({len(block.lines)} lines, {seconds:.1f} s)",
                      flush=True)
                failures += problems
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if count == 0:
        print("check_docs: FAILED: no ```sh block found, so nothing was checked", file=sys.stderr)
        return 1
    seconds = time.monotonic() - began
    if failures:
        print("\n".join(failures), file=sys.stderr)
        print(f"check_docs: {len([f for f in failures if not f.startswith('  ')])} broken command(s) "
              f"in {count} blocks ({seconds:.0f} s)", file=sys.stderr)
        return 1
    print(f"check_docs: passed: {count} blocks ran as written ({seconds:.0f} s)")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--bin")
    parser.add_argument("--archive")
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--list", action="store_true")
    arguments = parser.parse_args()
    environment = clean_environment()

    if arguments.archive:
        unpacked = tempfile.mkdtemp(prefix="dptrain-archive-check-")
        try:
            with tarfile.open(arguments.archive) as archive:
                archive.extractall(unpacked)
            roots = glob.glob(os.path.join(unpacked, "dptrain-*"))
            if len(roots) != 1 or not os.path.exists(os.path.join(roots[0], "README")):
                raise SystemExit(f"check_docs.py: {arguments.archive} does not hold one dptrain-*/README")
            root = roots[0]
            shown = os.path.basename(root) + "/README"
            blocks = blocks_of(os.path.join(root, "README"), shown)
            if arguments.list:
                return list_blocks([(shown, blocks)])
            # The archive's own folder is the scratch: a reader runs its commands from there.
            return check([(shown, blocks)], environment, lambda _: root, arguments.timeout)
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)

    files = arguments.files or ["README.md"] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    files_and_blocks = []
    for path in files:
        full = path if os.path.isabs(path) else os.path.join(ROOT, path)
        shown = os.path.relpath(full, ROOT) if full.startswith(ROOT + os.sep) else path
        files_and_blocks.append((shown, blocks_of(full, shown)))
    if arguments.list:
        return list_blocks(files_and_blocks)
    links = [problem for path in files for problem in
             broken_links(path if os.path.isabs(path) else os.path.join(ROOT, path),
                          os.path.relpath(path if os.path.isabs(path) else os.path.join(ROOT, path), ROOT))]
    if links:
        print("\n".join(links), file=sys.stderr)
        print(f"check_docs: FAILED: {len(links)} broken link(s)", file=sys.stderr)
        return 1
    binaries = os.path.realpath(arguments.bin) if arguments.bin else default_bin()
    for executable in EXECUTABLES:
        if not os.access(os.path.join(binaries, executable), os.X_OK):
            raise SystemExit(f"check_docs.py: no {executable} in {binaries}")
    environment["PATH"] = binaries + os.pathsep + environment.get("PATH", "/usr/bin:/bin")
    return check(files_and_blocks, environment, lambda _: scratch_folder(ROOT), arguments.timeout)


def list_blocks(files_and_blocks):
    for shown, blocks in files_and_blocks:
        for block in blocks:
            print(f"{shown}:{block.line}")
            for line in block.lines:
                print("    " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
