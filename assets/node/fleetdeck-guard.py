#!/usr/bin/env python3
"""fleetdeck-guard: fleetdeck's node-side guard around `ansible-runner worker` (stdlib only,
Python >= 3.8, Linux). fleetdeck copies it to each execution node and runs it over ssh, so that a
lost connection or a cancel ends the whole run on the node, and the run's secrets never outlive it.

    fleetdeck-guard --version
        prints `fleetdeck-guard <VERSION>`.

    fleetdeck-guard run --worker W --dir D --grace SECONDS
        stdin:  `fleetdeck-guard <VERSION> <N>\\n`, then N bytes for the stdin of
                `W worker --private-data-dir D --delete` (ansible-runner's transmit stream),
                then control lines: `INT\\n` (SIGINT to the run's ansible-playbook), `TERM\\n`
                (SIGTERM to the worker and every other process of the run), `KILL\\n` (SIGKILL
                to every process of the run).
        stdout: the worker's own stdout (the event stream); the guard never writes to it.
        EOF on stdin, an error or hang-up on stdout, or SIGTERM/SIGHUP/SIGINT to the guard mean
        the controller is gone: SIGTERM to the worker at once, SIGKILL to every process of the run
        after SECONDS at most. When the worker exits, every process it left is killed, D and
        D.lock are removed, and the guard exits with the worker's code (128+signal if killed).
        D.lock is flocked for the guard's whole life: that is how a probe knows the run is alive.

    fleetdeck-guard probe --worker W --work-dir D
        removes what crashed runs left under D (`D/fd-*` whose lock is not held, and their lock
        files), then prints one JSON line: {"guard", "worker_info" (stdout of `W worker
        --worker-info`), "worker_error" (empty unless that failed), "cleaned" (paths removed)},
        and exits 0. Dead dirs are first moved into D/.dead under D/.scan.lock (which runs take
        while they lock), then removed by `W worker cleanup` and, if it left anything, by the
        guard: a run starting meanwhile can never be matched by the cleanup's pattern.
"""
import argparse
import ctypes
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

VERSION = "2"
PR_SET_CHILD_SUBREAPER = 36
HEADER_MAX = 64
CONTROL_MAX = 16
CHUNK = 65536
# Processes stuck in the kernel may take a moment to die; the guard does not wait forever.
REAP_DEADLINE = 10.0
# The controller writes `PING` every few seconds: this long without a byte from it means the
# connection is gone even if no FIN ever came (a cut cable, a dropped firewall state).
SILENCE = 20.0
ACCEPTED = "accepted run"  # said on stderr once the run is ours: the controller then never moves it
# Runs take it shared while they create and lock their lock file; a probe takes it exclusive
# while it decides which runs are dead, so it never mistakes a run being born for a dead one.
SCAN_LOCK = ".scan.lock"
QUARANTINE = ".dead"
RUN_PREFIX = "fd-"


def say(message):
    """A line on stderr, which may be a dead channel: never fatal."""
    try:
        os.write(2, ("fleetdeck-guard: %s\n" % message).encode("utf-8", "replace"))
    except OSError:
        pass


def worker_env(worker):
    """The node's environment with the worker's bin dir first: a venv's ansible-playbook is found
    even though a non-interactive ssh session's PATH does not name the venv."""
    env = dict(os.environ)
    bin_dir = os.path.dirname(os.path.abspath(worker)) if os.sep in worker else ""
    if bin_dir:
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    return env


# --- processes -----------------------------------------------------------------------------

def process_table():
    """pid -> (ppid, state) of every process now."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as stat:
                data = stat.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2:].split()
        table[int(name)] = (int(fields[1]), fields[0])
    return table


def descendants():
    """Living descendants of the guard. As a subreaper it adopts the orphans of the run (ansible's
    setsid()'d workers and their modules), so they stay in its tree."""
    table = process_table()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), ()):
            todo.append(child)
            if table[child][1] != b"Z":
                found.append(child)
    return found


def is_ansible_playbook(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as cmdline:
            argv = cmdline.read().split(b"\0")[:2]
    except OSError:
        return False
    return any(os.path.basename(arg) == b"ansible-playbook" for arg in argv)


def send(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


# --- run -----------------------------------------------------------------------------------

def lock_run(run_dir):
    """Creates D's parent (0700) and holds D.lock; None when another guard holds it."""
    parent = os.path.dirname(run_dir)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    # The run's secrets go there, and the guard itself may live there: another user's folder,
    # or one others may write to, could be made to hand them over.
    owned = os.stat(parent)
    if owned.st_uid != os.getuid() or owned.st_mode & 0o022:
        raise OSError("%s is not this user's alone (owner uid %d, mode %o); "
                      "chmod go-w it or choose another work_dir" % (parent, owned.st_uid,
                                                                   owned.st_mode & 0o777))
    gate = os.open(os.path.join(parent, SCAN_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(gate, fcntl.LOCK_SH)
        lock = os.open(run_dir + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            return None
        return lock
    finally:
        os.close(gate)


def remove_run(run_dir, lock):
    shutil.rmtree(run_dir, ignore_errors=True)
    if os.path.lexists(run_dir):
        say("could not remove %s" % run_dir)
    try:
        os.unlink(run_dir + ".lock")
    except OSError:
        pass
    os.close(lock)


def read_header():
    """Reads `fleetdeck-guard <VERSION> <N>\\n` byte by byte, so nothing after it is consumed."""
    line = b""
    while not line.endswith(b"\n") and len(line) <= HEADER_MAX:
        byte = os.read(0, 1)
        if not byte:
            break
        line += byte
    words = line.rstrip(b"\n").split(b" ")
    if (not line.endswith(b"\n") or len(words) != 3 or words[0] != b"fleetdeck-guard"
            or words[1] != VERSION.encode() or not words[2].isdigit()):
        return None
    return int(words[2])


class Run:
    """One worker between the channel and the node; `loop` returns the worker's exit code."""

    def __init__(self, worker, run_dir, grace, payload_len, silence):
        self.grace = grace
        self.silence = silence
        self.payload_left = payload_len
        self.control = b""
        self.hung_up = False
        self.kill_at = None
        self.code = None
        self.stop_signal = False
        self.last_heard = time.monotonic()
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, self.on_stop_signal)
        argv = [worker, "worker", "--private-data-dir", run_dir, "--delete"]
        self.worker = subprocess.Popen(argv, stdin=subprocess.PIPE, env=worker_env(worker))
        self.worker_stdin = self.worker.stdin.fileno()
        if self.payload_left == 0:
            self.close_worker_stdin()

    def on_stop_signal(self, *_):
        self.stop_signal = True

    def close_worker_stdin(self):
        if self.worker_stdin is not None:
            self.worker.stdin.close()
            self.worker_stdin = None

    def feed(self, data):
        part, rest = data[:self.payload_left], data[self.payload_left:]
        self.payload_left -= len(part)
        if self.worker_stdin is not None:
            try:
                view = memoryview(part)
                while view:
                    view = view[os.write(self.worker_stdin, view):]
            except OSError:
                self.close_worker_stdin()  # the worker is gone; its exit ends the run
        if self.payload_left == 0:
            self.close_worker_stdin()
        return rest

    def on_control(self, data):
        self.control += data
        while b"\n" in self.control:
            line, self.control = self.control.split(b"\n", 1)
            self.obey(line.strip())
        if len(self.control) > CONTROL_MAX:
            say("control line too long, dropped")
            self.control = b""

    def obey(self, line):
        if line == b"INT":
            table = process_table()
            # ansible's forked workers run ansible-playbook's code too: only the main one, whose
            # parent is not one of them, stops the play cleanly on SIGINT.
            mains = [pid for pid in descendants() if is_ansible_playbook(pid)
                     and not is_ansible_playbook(table.get(pid, (0, b""))[0])]
            if mains:
                send(mains, signal.SIGINT)
            else:
                send([self.worker.pid], signal.SIGTERM)
        elif line == b"TERM":
            send([self.worker.pid], signal.SIGTERM)
            send([pid for pid in descendants() if pid != self.worker.pid], signal.SIGTERM)
        elif line == b"KILL":
            send(descendants(), signal.SIGKILL)
        elif line == b"PING":
            pass  # the controller is there: heard, nothing to do
        elif line:
            say("unknown control line %r" % line)

    def hang_up(self, reason):
        if self.hung_up:
            return
        self.hung_up = True
        say("%s: stopping the run" % reason)
        self.close_worker_stdin()
        send([self.worker.pid], signal.SIGTERM)
        self.kill_at = time.monotonic() + self.grace

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.worker.pid:
                self.worker.returncode = self.code = (
                    128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))

    def loop(self):
        poller = select.poll()
        poller.register(self.wake_r, select.POLLIN)
        poller.register(0, select.POLLIN)
        # events=0: only POLLERR/POLLHUP wake it, i.e. the reader of our stdout is gone.
        poller.register(1, 0)
        while True:
            self.reap()
            if self.code is not None:
                return self.code
            if self.stop_signal:
                self.hang_up("signalled")
            if self.kill_at is not None and time.monotonic() >= self.kill_at:
                send(descendants(), signal.SIGKILL)
                self.kill_at = None
            silent_until = self.last_heard + self.silence
            if not self.hung_up and time.monotonic() >= silent_until:
                self.hang_up("no word from the controller for %g s" % self.silence)
            deadlines = [silent_until] if not self.hung_up else []
            if self.kill_at is not None:
                deadlines.append(self.kill_at)
            timeout = None
            if deadlines:
                timeout = max(0, (min(deadlines) - time.monotonic()) * 1000)
            for fd, events in poller.poll(timeout):
                if fd == self.wake_r:
                    try:
                        while os.read(self.wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                elif fd == 1:
                    poller.unregister(1)
                    self.hang_up("the controller's channel closed")
                elif fd == 0:
                    data = os.read(0, CHUNK) if events & (select.POLLIN | select.POLLHUP) else b""
                    if not data:
                        poller.unregister(0)
                        self.hang_up("the controller's input ended")
                    else:
                        self.last_heard = time.monotonic()
                        self.on_control(self.feed(data))


def kill_remaining():
    """SIGKILLs every process the run left and reaps them; repeats, since one may have forked
    between the walk and the kill."""
    deadline = time.monotonic() + REAP_DEADLINE
    while time.monotonic() < deadline:
        pids = descendants()
        if not pids:
            break
        send(pids, signal.SIGKILL)
        reap_all()
        select.select([], [], [], 0.02)
    reap_all()


def reap_all():
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def run(args):
    run_dir = os.path.abspath(args.dir)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        lock = lock_run(run_dir)
    except OSError as error:
        say("cannot lock %s.lock: %s" % (run_dir, error))
        return 2
    if lock is None:
        say("%s is already run by another guard" % run_dir)
        return 2
    try:
        payload_len = read_header()
        if payload_len is None:
            say("bad header: expected `fleetdeck-guard %s <bytes>`" % VERSION)
            return 2
        say("%s %s" % (ACCEPTED, os.path.basename(run_dir)))
        try:
            current = Run(args.worker, run_dir, args.grace, payload_len, args.silence)
        except OSError as error:
            say("cannot start %s: %s" % (args.worker, error))
            return 127
        return current.loop()
    finally:
        kill_remaining()
        remove_run(run_dir, lock)


# --- probe ---------------------------------------------------------------------------------

def worker_info(worker):
    try:
        done = subprocess.run([worker, "worker", "--worker-info"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=worker_env(worker), timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        return "", "cannot run %s: %s" % (worker, error)
    info = done.stdout.decode("utf-8", "replace")
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()
        return info, "%s worker --worker-info exited %d: %s" % (worker, done.returncode, stderr)
    return info, ""


def claim_dead_runs(work_dir, quarantine):
    """Under the scan lock: locks each dead run (its lock not held, or missing), moves its dir into
    the quarantine, where no live run can ever be. Returns (paths it stood at, held lock fds)."""
    moved, held = [], []
    names = set(os.listdir(work_dir))
    for name in sorted(names):
        if not name.startswith(RUN_PREFIX):
            continue
        run_name = name[:-len(".lock")] if name.endswith(".lock") else name
        if name.endswith(".lock") and run_name in names:
            continue  # handled with its dir
        lock_path = os.path.join(work_dir, run_name + ".lock")
        try:
            lock = os.open(lock_path, os.O_RDWR)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock)
                continue  # alive: its guard holds the lock
            held.append((lock, lock_path))
        except FileNotFoundError:
            pass  # a run creates its lock before its dir, so a dir without one is dead
        if run_name in names:
            os.rename(os.path.join(work_dir, run_name), os.path.join(quarantine, run_name))
            moved.append(os.path.join(work_dir, run_name))
    return moved, held


def clean(worker, work_dir, runner_works):
    if not os.path.isdir(work_dir):
        return []
    quarantine = os.path.join(work_dir, QUARANTINE)
    os.makedirs(quarantine, mode=0o700, exist_ok=True)
    gate = os.open(os.path.join(work_dir, SCAN_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(gate, fcntl.LOCK_EX)
        moved, held = claim_dead_runs(work_dir, quarantine)
    finally:
        os.close(gate)
    pattern = os.path.join(quarantine, RUN_PREFIX + "*")
    left = [os.path.join(quarantine, name) for name in os.listdir(quarantine)]
    if left and runner_works:
        # ansible-runner's own cleanup first (it also removes a run's registry auth dirs).
        # Everything under the quarantine is dead, so nothing needs excluding.
        done = subprocess.run([worker, "worker", "cleanup", "--file-pattern", pattern,
                               "--grace-period", "0"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=worker_env(worker))
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip()
            say("worker cleanup exited %d: %s" % (done.returncode, stderr))
    for path in left:
        if runner_works and os.path.lexists(path):
            say("ansible-runner's cleanup left %s: the guard removes it" % path)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.unlink(path)
    cleaned = list(moved)
    for lock, lock_path in held:
        os.unlink(lock_path)
        os.close(lock)
        cleaned.append(lock_path)
    return cleaned


def probe(args):
    info, error = worker_info(args.worker)
    try:
        cleaned = clean(args.worker, os.path.abspath(args.work_dir), not error)
    except OSError as failure:
        say("cleaning %s: %s" % (args.work_dir, failure))
        cleaned = []
    report = {"guard": VERSION, "worker_info": info, "worker_error": error, "cleaned": cleaned}
    try:
        os.write(1, (json.dumps(report) + "\n").encode())
    except OSError:
        pass
    return 0


def main():
    parser = argparse.ArgumentParser(prog="fleetdeck-guard")
    parser.add_argument("--version", action="store_true", help="print the protocol version")
    commands = parser.add_subparsers(dest="command")
    run_parser = commands.add_parser("run", help="run one ansible-runner worker under guard")
    run_parser.add_argument("--worker", required=True, help="path of ansible-runner")
    run_parser.add_argument("--dir", required=True, help="the run's private data dir")
    run_parser.add_argument("--grace", type=float, required=True, help="seconds before SIGKILL")
    run_parser.add_argument("--silence", type=float, default=SILENCE,
                            help="seconds without a byte from the controller that mean it is gone")
    probe_parser = commands.add_parser("probe", help="report the worker and clean dead runs")
    probe_parser.add_argument("--worker", required=True, help="path of ansible-runner")
    probe_parser.add_argument("--work-dir", required=True, help="where runs' dirs live")
    args = parser.parse_args()
    if args.version:
        os.write(1, ("fleetdeck-guard %s\n" % VERSION).encode())
        return 0
    if args.command == "run":
        return run(args)
    if args.command == "probe":
        return probe(args)
    parser.print_usage(sys.stderr)
    return 2


if __name__ == "__main__":
    os._exit(main())
