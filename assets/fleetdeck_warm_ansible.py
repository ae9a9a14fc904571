#!/usr/bin/env python3
# fleetdeck's warm runner: a preloaded fork server for ansible-playbook runs.
#
# fleetdeck ships this file inside its binary and starts one server per environment, with that
# environment's working directory and ANSIBLE_* settings (ansible freezes its configuration at
# import, so a change of ansible.cfg, ANSIBLE_* or versions means a new server). The server
# imports ansible once, preloads the builtin plugins, and forks one child per run; each child
# runs ansible's playbook CLI as a fresh `ansible-playbook` would, in a session of its own.
#
#   fleetdeck_warm_ansible.py --socket PATH [--poll-interval S] [--grace S]
#
# Start-up prints one line on stdout: "READY {json}" or "UNAVAILABLE {json}" (then exits 3).
#
# Protocol: one Unix stream connection per run. The client sends one JSON line
#   {"argv": [...], "cwd": "...", "env": {"K": "V"}, "fds": ["stdout", "stderr", "events"]}
# with those pipes attached (SCM_RIGHTS); "events" becomes fd 3 and FLEETDECK_EVENTS_FD=3.
# Optional password pipes follow: "vault" becomes fd 4 (the client's argv says
# --vault-password-file /dev/fd/4), "become" becomes stdin (--become-password-file -).
# The server never reads them.
# The server answers {"event": "started", "pid": P}, then, when the run has been reaped,
#   {"event": "exit", "status": <raw wait status>, "rc", "signal", "utime", "stime", "maxrss_kb"}.
# Control lines from the client: {"signal": "INT" | "TERM" | "KILL" | "KILLTREE"}.
# The client closing the connection interrupts its run. Closing the server's stdin (fleetdeck
# gone, even by kill -9) interrupts every run, kills what is left after the grace, and exits.
# A connection whose first line is {"cmd": "shutdown"} lets current runs end, then exits;
# {"cmd": "ping"} answers {"event": "pong", "runs": N}.
#
# The server stays single-threaded: it forks, and relies on ansible internals that are pinned
# to SUPPORTED below and checked at start.
import argparse
import atexit
import ctypes
import fcntl
import gc
import json
import os
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

SUPPORTED = ((2, 19), (2, 20))  # ansible-core versions [from, until) whose internals we rely on
SIGNALS = {'INT': signal.SIGINT, 'TERM': signal.SIGTERM, 'KILL': signal.SIGKILL}
REQUEST_TIMEOUT = 5.0  # seconds a client has to send its request line
REQUEST_MAX = 1 << 20  # bytes of a request line
CHILD_TMP_PREFIX = 'ansible-local-fdw-'
PR_SET_PDEATHSIG = 1


def say(kind, **fields):
    sys.stdout.write(kind + ' ' + json.dumps(fields) + '\n')
    sys.stdout.flush()


def unavailable(reason):
    say('UNAVAILABLE', reason=reason)
    sys.exit(3)


try:
    from ansible.release import __version__ as ANSIBLE_VERSION
except Exception as err:  # noqa: BLE001 - any reason is a reason to run fresh
    unavailable('cannot import ansible: %s' % err)

_numbers = tuple(int(p) for p in ANSIBLE_VERSION.split('.')[:2] if p.isdigit())
if not (SUPPORTED[0] <= _numbers < SUPPORTED[1]):
    unavailable('ansible-core %s is not supported by the warm runner (supported: %d.%d up to %d.%d)'
                % ((ANSIBLE_VERSION,) + SUPPORTED[0] + SUPPORTED[1]))

try:
    import ansible
    from ansible.cli.playbook import PlaybookCLI
    from ansible import constants as C
    from ansible.config import manager as config_manager
    from ansible.utils import display as display_module
    from ansible.utils.path import cleanup_tmp_file
    import ansible.utils.vars as ansible_vars
except Exception as err:  # noqa: BLE001
    unavailable('cannot load ansible-core %s: %s' % (ANSIBLE_VERSION, err))


def preload():
    """Load what every run loads, without parsing a command line: CLI parsing fills
    context.CLIARGS, a process singleton, which must stay empty for the children. Only builtin
    things are loaded; nothing of the project, whose files may change between runs."""
    import warnings
    from importlib import import_module
    from ansible.plugins import loader as pl
    pl.init_plugin_loader([])
    import_module('ansible_collections.ansible.builtin')
    for name in C.INVENTORY_ENABLED:
        pl.inventory_loader.get(name)
    list(pl.callback_loader.all(class_only=True))
    pl.callback_loader.get(C.DEFAULT_STDOUT_CALLBACK)
    for name in ('linear', 'free'):
        pl.strategy_loader.get(name, class_only=True)
    for name in ('local', 'ssh'):
        pl.connection_loader.get(name, class_only=True)
    pl.shell_loader.get('sh')
    pl.become_loader.get('sudo', class_only=True)
    # Each run lists every connection, shell and become plugin and reads the configuration
    # definitions in their docs (YAML): read once here, ~0.1 s per run saved.
    for loader in (pl.connection_loader, pl.shell_loader, pl.become_loader):
        list(loader.all(class_only=True))
    pl.vars_loader.get('host_group_vars')
    for name in ('command', 'shell', 'debug', 'normal', 'copy', 'template', 'file', 'stat',
                 'ping', 'setup', 'gather_facts', 'assert', 'fail', 'set_fact'):
        pl.action_loader.get('ansible.builtin.' + name, class_only=True)
    for name in ('command', 'shell', 'ping', 'setup', 'copy', 'file', 'stat'):
        pl.module_loader.find_plugin_with_context('ansible.builtin.' + name)
    pl.vars_loader.all(class_only=True)
    list(pl.filter_loader.all())
    list(pl.test_loader.all())
    from ansible.template import Templar, trust_as_template
    from ansible.parsing.dataloader import DataLoader
    Templar(loader=DataLoader(), variables={'x': 1}).template(trust_as_template('{{ x + 1 }}'))
    # Each child configures the collection finder again, as a fresh process does.
    warnings.filterwarnings('ignore', message='AnsibleCollectionFinder has already been configured')


def forget_project_plugins():
    """Preloading walks every configured plugin path, the project's own (ansible.cfg's
    filter_plugins, callback_plugins, ...) among them. Only ansible-core's plugins stay cached;
    each run loads the project's from disk, so an edit is seen by the next run."""
    from ansible.plugins import loader as pl
    core = os.path.dirname(ansible.__file__) + os.sep
    forgotten = []
    for cache in pl.MODULE_CACHE.values():
        for path in [p for p in cache if not str(p).startswith(core)]:
            forgotten.append(cache.pop(path))
    for name, module in list(sys.modules.items()):
        if any(module is gone for gone in forgotten):
            del sys.modules[name]
    for loader in vars(pl).values():
        if isinstance(loader, pl.Jinja2Loader):
            loader._cached_non_collection_wrappers.clear()


def child_tmp_dirs(pid):
    parent = os.path.dirname(C.DEFAULT_LOCAL_TMP)
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    return [os.path.join(parent, n) for n in names if n.startswith('%s%d-' % (CHILD_TMP_PREFIX, pid))]


_forker = {'pid': 0, 'libc': None}


def note_forker():
    _forker['pid'] = os.getpid()


def die_with_forker():
    """In a child the run forked (an ansible worker): SIGTERM when the forker ends."""
    _forker['libc'].prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != _forker['pid']:  # it ended before the death signal was set
        os.kill(os.getpid(), signal.SIGTERM)


def become_run(req, passed, close_fds, server_pid, ready):
    """Runs in the forked child: becomes what a fresh `ansible-playbook <argv>` would be.
    Never returns."""
    rc = 70
    try:
        for fd in close_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        os.setsid()
        for s in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(s, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # what CPython sets at start-up
        # If the server dies (even by kill -9), the run hears SIGTERM and ends its workers.
        _forker['libc'] = ctypes.CDLL(None, use_errno=True)
        _forker['libc'].prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != server_pid:
            os._exit(99)
        os.write(ready, b'.')
        os.close(ready)
        named = dict(zip(req.get('fds') or [], passed))
        # Lift the passed pipes (and /dev/null) above 0-9 first so that dup2 onto 0-5 never
        # clobbers one.
        high = {name: fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for name, fd in named.items()}
        for fd in passed:
            os.close(fd)
        opened = os.open(os.devnull, os.O_RDWR)
        devnull = fcntl.fcntl(opened, fcntl.F_DUPFD, 10)
        os.close(opened)
        os.dup2(high.get('become', devnull), 0)
        os.dup2(high.get('stdout', devnull), 1)
        os.dup2(high.get('stderr', devnull), 2)
        if 'events' in high:
            os.dup2(high['events'], 3)  # dup2 makes it inheritable, as the plugin expects
            os.environ['FLEETDECK_EVENTS_FD'] = '3'
        if 'vault' in high:
            os.dup2(high['vault'], 4)
        for fd in list(high.values()) + [devnull]:
            os.close(fd)
        os.chdir(req.get('cwd') or '.')
        for key, value in (req.get('env') or {}).items():
            os.environ[key] = value
        # Per-run state a fresh process would have drawn or made for itself.
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
        display = display_module.Display()
        display._lock = threading.RLock()
        display_module._synchronize_textiowrapper(sys.stdout, display._lock)
        display_module._synchronize_textiowrapper(sys.stderr, display._lock)
        display._set_column_width()
        import secrets
        ansible_vars.random_int = ('%08x' % secrets.randbelow(2 ** 32))[:8]
        # The server's local temp dir must outlive this child: the child gets its own.
        shared_tmp = C.DEFAULT_LOCAL_TMP
        atexit.unregister(cleanup_tmp_file)
        mine = tempfile.mkdtemp(prefix='%s%d-' % (CHILD_TMP_PREFIX, os.getpid()),
                                dir=os.path.dirname(shared_tmp))
        atexit.register(cleanup_tmp_file, mine, warn=True)
        C.DEFAULT_LOCAL_TMP = mine
        share_builtin_modules(shared_tmp, mine)
        # ansible forks a worker per task: the worker's collector leaves what it inherited alone
        # (a full collection would write to, and so copy, every page of the run's heap).
        os.register_at_fork(after_in_child=gc.freeze)
        # A worker ansible had forked but not yet listed when the run was interrupted is never
        # stopped by ansible's cleanup, and lives on in a session of its own. Each fork of the
        # run hears SIGTERM when its forker ends, however it ends: a worker's own handler then
        # ends its process group, the task's command included.
        os.register_at_fork(before=note_forker, after_in_child=die_with_forker)
        argv = ['ansible-playbook'] + list(req['argv'])
        sys.argv = argv
        try:
            PlaybookCLI.cli_executor(argv)
            rc = 0
        except SystemExit as end:
            rc = end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
        except KeyboardInterrupt:
            rc = 99
    except BaseException as err:  # noqa: BLE001 - the child must end through os._exit
        try:
            os.write(2, ('fleetdeck warm runner: the run could not start: %r\n' % (err,)).encode())
        except OSError:
            pass
        rc = 250
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass
    os._exit(rc if isinstance(rc, int) and 0 <= rc < 256 else 1)


def share_builtin_modules(shared_tmp, mine):
    """Module zips (AnsiballZ) of ansible's own modules are built once per server and shared;
    a project's own modules (library/) are built per run, so an edit is always seen. The shared
    cache lives in the server's temp dir, so a new ansible-core (a new server) starts empty."""
    shared = os.path.join(shared_tmp, 'ansiballz_cache')
    own = os.path.join(mine, 'ansiballz_cache')
    os.makedirs(shared, exist_ok=True)
    os.makedirs(own, exist_ok=True)

    def link_builtin(source, target):
        for name in os.listdir(source):
            if name.startswith('ansible.modules.') and not name.endswith('.lock'):
                try:
                    os.link(os.path.join(source, name), os.path.join(target, name))
                except OSError:
                    pass

    link_builtin(shared, own)
    # atexit is LIFO: this runs before the temp dir is removed
    atexit.register(link_builtin, own, shared)


def worker_pids(pid):
    kids = []
    try:
        for tid in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/children' % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


class Run:
    def __init__(self, conn, pid, pidfd):
        self.conn, self.pid, self.pidfd = conn, pid, pidfd
        self.buf = b''
        self.conn_open = True
        self.kill_at = None  # a deadline after an interrupt nobody will follow up

    def signal(self, name):
        """Only while the run is not reaped, so the pid is still this run's."""
        if name != 'KILLTREE':
            try:
                os.kill(self.pid, SIGNALS[name])
            except (OSError, KeyError):
                pass
            return
        # The workers, each in a session of its own, then the run's group and the run itself.
        targets = [(os.killpg, worker) for worker in worker_pids(self.pid)]
        targets += [(os.killpg, self.pid), (os.kill, self.pid)]
        for kill, number in targets:
            try:
                kill(number, signal.SIGKILL)
            except OSError:
                pass


def send(conn, obj):
    try:
        conn.sendall((json.dumps(obj) + '\n').encode())
    except OSError:
        pass


def receive_request(conn, fds):
    """Reads the request line; the descriptors that came with it are appended to `fds`."""
    buf = b''
    while b'\n' not in buf and len(buf) < REQUEST_MAX:
        msg, got, _flags, _addr = socket.recv_fds(conn, 65536, 8)
        fds += got
        if not msg:
            break
        buf += msg
    line = buf.partition(b'\n')[0]
    request = json.loads(line) if line.strip() else None
    if request is not None and not isinstance(request, dict):
        raise ValueError('a request is a JSON object')
    return request


class Server:
    def __init__(self, path, grace):
        self.grace = grace
        self.sel = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.listener.bind(path)
        self.listener.listen(128)
        self.path = path
        self.sel.register(self.listener, selectors.EVENT_READ, ('listen', None))
        self.sel.register(0, selectors.EVENT_READ, ('stdin', None))
        self.runs = {}  # pidfd -> Run
        self.accepting = True

    def stop_accepting(self):
        if self.accepting:
            self.accepting = False
            self.sel.unregister(self.listener)
            self.listener.close()
            for remove in (os.unlink, os.rmdir):  # the socket, then its private folder
                try:
                    remove(self.path if remove is os.unlink else os.path.dirname(self.path))
                except OSError:
                    pass

    def serve(self):
        while self.accepting or self.runs:
            deadlines = [run.kill_at for run in self.runs.values() if run.kill_at is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            for key, _ in self.sel.select(timeout):
                # A handler earlier in this batch may have closed this key's file.
                if self.sel.get_map().get(key.fd) is not key:
                    continue
                kind, run = key.data
                try:
                    getattr(self, 'on_' + kind)(run)
                except Exception as err:  # noqa: BLE001 - one bad event must not end every run
                    sys.stderr.write('fleetdeck warm runner: %s: %r\n' % (kind, err))
            now = time.monotonic()
            for run in list(self.runs.values()):
                if run.kill_at is not None and run.kill_at <= now:
                    run.signal('KILLTREE')
                    run.kill_at = now + 1.0

    def interrupt(self, run):
        """SIGINT now; everything of the run is killed if it is still there after the grace."""
        run.signal('INT')
        if run.kill_at is None:
            run.kill_at = time.monotonic() + self.grace

    def on_stdin(self, _):
        if os.read(0, 4096):
            return
        self.sel.unregister(0)
        self.stop_accepting()
        for run in self.runs.values():
            self.interrupt(run)

    def on_listen(self, _):
        conn, _addr = self.listener.accept()
        conn.settimeout(REQUEST_TIMEOUT)  # a client that never finishes its line stalls nobody
        fds = []
        try:
            req = receive_request(conn, fds)
            if req is None or 'cmd' in req:
                self.command(conn, req)
            else:
                self.start_run(conn, req, fds)
                conn = None
        except (OSError, ValueError) as err:
            if conn is not None:
                send(conn, {'event': 'refused', 'reason': str(err)})
        finally:
            for fd in fds:  # the child has its own copies
                try:
                    os.close(fd)
                except OSError:
                    pass
            if conn is not None:
                conn.close()

    def command(self, conn, req):
        if req and req.get('cmd') == 'shutdown':
            send(conn, {'event': 'stopping', 'runs': len(self.runs)})
            self.stop_accepting()
        elif req and req.get('cmd') == 'ping':
            send(conn, {'event': 'pong', 'runs': len(self.runs)})

    def start_run(self, conn, req, fds):
        if not isinstance(req.get('argv'), list):
            raise ValueError('a run request has an argv list')
        conn.settimeout(None)
        sys.stdout.flush()
        sys.stderr.flush()
        close_in_child = [self.listener.fileno(), conn.fileno(), self.sel.fileno(), 0]
        for run in self.runs.values():
            close_in_child.append(run.pidfd)
            if run.conn_open:
                close_in_child.append(run.conn.fileno())
        # The child says when it is a run of its own (own session, INT no longer ignored):
        # only then is `started` true, and a signal sent after it reaches the run.
        ready_read, ready_write = os.pipe()
        server_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(ready_read)
            become_run(req, fds, close_in_child, server_pid, ready_write)
        os.close(ready_write)
        try:
            os.read(ready_read, 1)
        finally:
            os.close(ready_read)
        pidfd = os.pidfd_open(pid)
        run = Run(conn, pid, pidfd)
        self.runs[pidfd] = run
        self.sel.register(conn, selectors.EVENT_READ, ('control', run))
        self.sel.register(pidfd, selectors.EVENT_READ, ('exit', run))
        send(conn, {'event': 'started', 'pid': pid})

    def on_control(self, run):
        try:
            data = run.conn.recv(4096)
        except OSError:
            data = b''
        if not data:  # the client went away: that is a cancel
            self.sel.unregister(run.conn)
            run.conn.close()
            run.conn_open = False
            self.interrupt(run)
            return
        run.buf += data
        while b'\n' in run.buf:
            line, _, run.buf = run.buf.partition(b'\n')
            try:
                run.signal(json.loads(line).get('signal', ''))
            except (ValueError, AttributeError):
                pass

    def on_exit(self, run):
        _pid, status, usage = os.wait4(run.pid, 0)
        self.sel.unregister(run.pidfd)
        os.close(run.pidfd)
        del self.runs[run.pidfd]
        # A run ended by TERM or KILL skipped its own cleanup.
        for path in child_tmp_dirs(run.pid):
            shutil.rmtree(path, ignore_errors=True)
        if run.conn_open:
            self.sel.unregister(run.conn)
            send(run.conn, {
                'event': 'exit', 'status': status,
                'rc': os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                'signal': os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                'utime': round(usage.ru_utime, 3), 'stime': round(usage.ru_stime, 3),
                'maxrss_kb': usage.ru_maxrss,
            })
            run.conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--socket', required=True)
    parser.add_argument('--poll-interval', type=float, default=0.02,
                        help='internal_poll_interval, unless the configuration sets it')
    parser.add_argument('--grace', type=float, default=10.0,
                        help='after stdin closes: seconds between interrupting runs and killing them')
    args = parser.parse_args()
    origin = C.config.get_config_value_and_origin('DEFAULT_INTERNAL_POLL_INTERVAL')[1]
    if origin == 'default':
        C.DEFAULT_INTERNAL_POLL_INTERVAL = args.poll_interval
    started = time.monotonic()
    try:
        preload()
    except Exception as err:  # noqa: BLE001 - a cold server still works
        sys.stderr.write('fleetdeck warm runner: preload incomplete: %r\n' % (err,))
    forget_project_plugins()
    # What is loaded now is shared by every run: out of the collector's way, so the runs' own
    # collections do not copy it page by page (peak memory at W=10: 668 -> 552 MB).
    gc.freeze()
    preload_s = time.monotonic() - started
    # The terminal's Ctrl-C is for fleetdeck, which decides what the runs hear.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.close(os.pidfd_open(os.getpid()))  # runs are watched through pidfds (Linux 5.3)
    except (AttributeError, OSError) as err:
        unavailable('this system has no pidfd_open: %s' % err)
    server = Server(args.socket, args.grace)
    say('READY', pid=os.getpid(), ansible_version=ANSIBLE_VERSION,
        ansible_dir=os.path.dirname(ansible.__file__), python=sys.executable,
        python_version=sys.version.split()[0], preload_s=round(preload_s, 3),
        poll_interval=C.DEFAULT_INTERNAL_POLL_INTERVAL)
    server.serve()


if __name__ == '__main__':
    main()
