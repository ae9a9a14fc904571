//! A fleet of real sshd servers on loopback, for tests that need ansible to go over SSH.
//!
//! Each host is one `/usr/sbin/sshd -D -e -f <config>` of ours on its own loopback address
//! (`127.0.0.x:2222`), with its own host key, all accepting one client key for the current
//! user, everything in a temp dir. The fleet stops exactly the processes it started (and their
//! per-connection children) by pid when it is dropped, also when the test panics.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";
pub const SSH_PORT: u16 = 2222;
/// How long a daemon may take to say it listens (a loaded 2-core machine).
const START_LIMIT: Duration = Duration::from_secs(30);

/// How the inventory's ssh arguments treat host keys. The fleet's `known_hosts` always holds
/// every host's key as it was at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKeys {
    /// `StrictHostKeyChecking=yes`: only the keys in the fleet's `known_hosts`.
    Known,
    /// `StrictHostKeyChecking=accept-new`: new hosts are learnt, changed keys refused.
    AcceptNew,
}

pub struct SshHost {
    pub name: String,
    pub addr: Ipv4Addr,
    pub port: u16,
    dir: PathBuf,
    daemon: Option<Child>,
    /// Where this start's lines begin in the log (each start appends).
    log_offset: usize,
}

impl SshHost {
    fn config(&self) -> PathBuf {
        self.dir.join("sshd_config")
    }
    fn host_key(&self) -> PathBuf {
        self.dir.join("ssh_host_ed25519_key")
    }
    fn log(&self) -> PathBuf {
        self.dir.join("sshd.log")
    }
    /// The daemon's stderr (`-e`): what it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }
    /// The listening daemon's pid, while it runs.
    pub fn pid(&self) -> Option<i32> {
        self.daemon.as_ref().map(|child| child.id() as i32)
    }
}

pub struct SshFleet {
    dir: tempfile::TempDir,
    pub user: String,
    pub hosts: Vec<SshHost>,
}

/// Addresses are handed out from a window that depends on the process id, so that two test
/// processes rarely try the same one; a taken address is skipped anyway.
static NEXT_ADDRESS: AtomicU32 = AtomicU32::new(u32::MAX);

/// A free `127.0.0.x` with `port` unused on it (x in 2..=254).
pub fn free_loopback(port: u16) -> Ipv4Addr {
    let _ = NEXT_ADDRESS.compare_exchange(
        u32::MAX,
        (std::process::id() % 25) * 10,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..253 {
        let n = NEXT_ADDRESS.fetch_add(1, Ordering::SeqCst);
        let addr = Ipv4Addr::new(127, 0, 0, (2 + n % 253) as u8);
        if TcpListener::bind(SocketAddrV4::new(addr, port)).is_ok() {
            return addr;
        }
    }
    panic!("no free loopback address for port {port} in 127.0.0.2-254");
}

fn keygen(path: &Path, comment: &str) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen (openssh-client) is missing: run .ci/setup");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|user| user.name)
        .or_else(|| std::env::var("USER").ok())
        .expect("the current user's name")
}

impl SshFleet {
    /// Starts one sshd per name and waits until each listens.
    pub fn start(names: &[&str]) -> SshFleet {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: run .ci/setup (it installs openssh-server)"
        );
        if nix::unistd::getuid().is_root() {
            // sshd started by root insists on its privilege separation directory.
            std::fs::create_dir_all("/run/sshd").expect("mkdir /run/sshd");
        }
        let dir = tempfile::Builder::new()
            .prefix("fleetdeck-sshd-")
            .tempdir()
            .unwrap();
        let user = current_user();
        keygen(&dir.path().join("id_ed25519"), "fleetdeck-test-client");
        std::fs::copy(
            dir.path().join("id_ed25519.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        keygen(&dir.path().join("id_wrong"), "fleetdeck-test-unauthorized");
        std::fs::create_dir_all(dir.path().join("cp")).unwrap();
        let mut fleet = SshFleet {
            dir,
            user,
            hosts: Vec::new(),
        };
        for name in names {
            let addr = free_loopback(SSH_PORT);
            let host_dir = fleet.dir.path().join("hosts").join(name);
            std::fs::create_dir_all(&host_dir).unwrap();
            let host = SshHost {
                name: name.to_string(),
                addr,
                port: SSH_PORT,
                dir: host_dir,
                daemon: None,
                log_offset: 0,
            };
            keygen(&host.host_key(), name);
            std::fs::write(host.config(), fleet.sshd_config(&host)).unwrap();
            fleet.hosts.push(host);
        }
        for index in 0..fleet.hosts.len() {
            fleet.spawn(index);
        }
        for index in 0..fleet.hosts.len() {
            fleet.wait_listening(index);
        }
        fleet.write_known_hosts();
        fleet
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    pub fn key(&self) -> PathBuf {
        self.dir().join("id_ed25519")
    }
    /// A key the hosts do not accept.
    pub fn wrong_key(&self) -> PathBuf {
        self.dir().join("id_wrong")
    }
    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }
    /// For ansible.cfg's `[ssh_connection] control_path_dir`: the ControlPersist sockets.
    pub fn control_path_dir(&self) -> PathBuf {
        self.dir().join("cp")
    }

    pub fn host(&self, name: &str) -> &SshHost {
        self.hosts
            .iter()
            .find(|host| host.name == name)
            .unwrap_or_else(|| panic!("no host {name} in the fleet"))
    }
    fn index(&self, name: &str) -> usize {
        self.hosts
            .iter()
            .position(|host| host.name == name)
            .unwrap_or_else(|| panic!("no host {name} in the fleet"))
    }

    fn sshd_config(&self, host: &SshHost) -> String {
        format!(
            "ListenAddress {addr}:{port}\n\
             HostKey {key}\n\
             PidFile {pid}\n\
             AuthorizedKeysFile {auth}\n\
             AllowUsers {user}\n\
             PermitRootLogin prohibit-password\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             StrictModes no\n\
             UsePAM no\n\
             UseDNS no\n\
             PrintMotd no\n\
             MaxStartups 100\n\
             MaxSessions 100\n\
             AcceptEnv FD_*\n\
             Subsystem sftp internal-sftp\n",
            addr = host.addr,
            port = host.port,
            key = host.host_key().display(),
            pid = host.dir.join("sshd.pid").display(),
            auth = self.dir().join("authorized_keys").display(),
            user = self.user,
        )
    }

    fn spawn(&mut self, index: usize) {
        let host = &mut self.hosts[index];
        assert!(host.daemon.is_none(), "{} runs already", host.name);
        host.log_offset = host.log_text().len();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(host.log())
            .unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(host.config())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("{SSHD}: {err}: run .ci/setup"));
        host.daemon = Some(child);
    }

    /// Polls the daemon's log for this start's "Server listening" line, then connects once.
    fn wait_listening(&mut self, index: usize) {
        let host = &mut self.hosts[index];
        let expected = format!("Server listening on {} port {}", host.addr, host.port);
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let log = host.log_text();
            let this_start = log.get(host.log_offset..).unwrap_or_default();
            if this_start.contains(&expected) && accepts(host.addr, host.port) {
                return;
            }
            if let Some(status) = host.daemon.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "sshd for {} exited ({status}) before listening:\n{log}",
                    host.name
                );
            }
            assert!(
                Instant::now() < deadline,
                "sshd for {} not listening after {START_LIMIT:?}:\n{log}",
                host.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every host's current key, for ssh's `UserKnownHostsFile`.
    fn write_known_hosts(&self) {
        let mut text = String::new();
        for host in &self.hosts {
            let public = std::fs::read_to_string(host.host_key().with_extension("pub")).unwrap();
            let mut fields = public.split_whitespace();
            let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
            text.push_str(&format!("[{}]:{} {kind} {key}\n", host.addr, host.port));
        }
        std::fs::write(self.known_hosts(), text).unwrap();
    }

    /// The ssh options every host gets: this fleet's known_hosts, only this fleet's key, no
    /// prompt of any kind. (The connect timeout is the inventory's `ansible_ssh_timeout`:
    /// ansible puts its own `-o ConnectTimeout` first, and the first one counts.)
    pub fn ssh_common_args(&self, keys: HostKeys) -> String {
        let checking = match keys {
            HostKeys::Known => "yes",
            HostKeys::AcceptNew => "accept-new",
        };
        format!(
            "-o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking={checking} \
             -o IdentitiesOnly=yes -o BatchMode=yes",
            self.known_hosts().display()
        )
    }

    /// An inventory (YAML) of the fleet's hosts: `all.vars` are the connection settings plus
    /// `vars` (YAML lines, indented by the caller's 4 spaces), each host gets `ansible_host`
    /// and whatever `host_vars` says for it (a flow mapping's inside, e.g. `demo_fail_deploy: true`).
    pub fn inventory(&self, keys: HostKeys, vars: &str, host_vars: &[(&str, &str)]) -> String {
        let mut yaml = format!(
            "all:\n  vars:\n    ansible_connection: ssh\n    ansible_port: {port}\n    ansible_user: {user}\n    \
             ansible_ssh_private_key_file: {key}\n    ansible_ssh_common_args: \"{args}\"\n    \
             ansible_ssh_timeout: 5\n    ansible_python_interpreter: /usr/bin/python3\n",
            port = SSH_PORT,
            user = self.user,
            key = self.key().display(),
            args = self.ssh_common_args(keys),
        );
        for line in vars.lines() {
            yaml.push_str(&format!("    {line}\n"));
        }
        yaml.push_str("  hosts:\n");
        for host in &self.hosts {
            let extra = host_vars
                .iter()
                .filter(|(name, _)| *name == host.name)
                .map(|(_, vars)| format!(", {vars}"))
                .collect::<String>();
            yaml.push_str(&format!(
                "    {}: {{ansible_host: {}{extra}}}\n",
                host.name, host.addr
            ));
        }
        yaml
    }

    /// An actual `ssh … true` to the host with the fleet's key and known_hosts.
    pub fn ssh_true(&self, name: &str) -> std::process::Output {
        let host = self.host(name);
        Command::new("ssh")
            .args(self.ssh_common_args(HostKeys::Known).split_whitespace())
            .args(["-o", "ConnectTimeout=5"])
            .arg("-i")
            .arg(self.key())
            .args(["-p", &host.port.to_string(), "-l", &self.user])
            .arg(host.addr.to_string())
            .arg("true")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// The per-connection sshd processes of a host (its daemon's children: one per SSH
    /// connection, whatever runs under them).
    pub fn sessions(&self, name: &str) -> Vec<i32> {
        let Some(pid) = self.host(name).pid() else {
            return Vec::new();
        };
        let mut sessions: Vec<i32> = super::all_pids()
            .into_iter()
            .filter(|child| {
                super::stat_of(*child).is_some_and(|stat| stat.ppid == pid && !stat.zombie)
            })
            .collect();
        sessions.sort();
        sessions
    }

    /// Stops a host as a server going down would: its connections and its daemon, by pid.
    pub fn stop(&mut self, name: &str) {
        let index = self.index(name);
        stop_daemon(&mut self.hosts[index]);
    }

    /// Starts a stopped host again (same address, config and host key).
    pub fn restart(&mut self, name: &str) {
        let index = self.index(name);
        stop_daemon(&mut self.hosts[index]);
        self.spawn(index);
        self.wait_listening(index);
    }

    /// The host gets a new host key (as a reinstalled server does) and is restarted with it;
    /// the fleet's `known_hosts` keeps the old one.
    pub fn new_host_key(&mut self, name: &str) {
        let index = self.index(name);
        stop_daemon(&mut self.hosts[index]);
        keygen(&self.hosts[index].host_key(), name);
        self.spawn(index);
        self.wait_listening(index);
    }

    /// ssh clients (and ControlPersist masters) that name this fleet's files in their argv:
    /// the key, known_hosts or the control path dir.
    pub fn ssh_clients(&self) -> Vec<(i32, String)> {
        let needle = self.dir().display().to_string();
        let ours: Vec<i32> = self.hosts.iter().filter_map(SshHost::pid).collect();
        processes()
            .into_iter()
            .filter(|(pid, cmdline)| {
                !ours.contains(pid)
                    && cmdline.contains(&needle)
                    && ["ssh ", "ssh: ", "sftp ", "scp "]
                        .iter()
                        .any(|program| cmdline.starts_with(program))
            })
            .collect()
    }

    /// ControlPersist masters (`ssh: <control path> [mux]`) with their socket in this fleet's
    /// control path dir.
    pub fn masters(&self) -> Vec<(i32, String)> {
        self.ssh_clients()
            .into_iter()
            .filter(|(_, cmdline)| cmdline.contains("[mux]"))
            .collect()
    }

    /// The ControlPath sockets now in the control path dir.
    pub fn control_sockets(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.control_path_dir())
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default()
    }
}

fn accepts(addr: Ipv4Addr, port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddrV4::new(addr, port).into(),
        Duration::from_secs(2),
    )
    .is_ok()
}

fn stop_daemon(host: &mut SshHost) {
    let Some(mut child) = host.daemon.take() else {
        return;
    };
    let pid = child.id() as i32;
    // As a machine losing power: the listener and every process under it (sessions and
    // whatever runs in them) are frozen first, so none forks or gets reparented past the
    // list, then all are killed; the clients see their connections close.
    let signal = |pids: &[i32], signal| {
        for pid in pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), signal);
        }
    };
    signal(&[pid], nix::sys::signal::Signal::SIGSTOP);
    let mut frozen: Vec<i32> = Vec::new();
    loop {
        let found: Vec<i32> = descendants(pid)
            .into_iter()
            .filter(|pid| !frozen.contains(pid))
            .collect();
        if found.is_empty() {
            break;
        }
        signal(&found, nix::sys::signal::Signal::SIGSTOP);
        frozen.extend(found);
    }
    let _ = child.kill();
    signal(&frozen, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
}

impl Drop for SshFleet {
    fn drop(&mut self) {
        for host in &mut self.hosts {
            stop_daemon(host);
        }
    }
}

/// `(pid, argv joined by spaces)` of every process now.
pub fn processes() -> Vec<(i32, String)> {
    super::all_pids()
        .into_iter()
        .filter(|pid| !super::stat_of(*pid).is_some_and(|stat| stat.zombie))
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            Some((pid, cmdline.trim_end().to_string()))
        })
        .collect()
}

/// Every live process descended from `root` (not `root` itself).
pub fn descendants(root: i32) -> Vec<i32> {
    let table: Vec<(i32, i32)> = super::all_pids()
        .into_iter()
        .filter_map(|pid| {
            let stat = super::stat_of(pid)?;
            (!stat.zombie).then_some((pid, stat.ppid))
        })
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, ppid) in &table {
            if *ppid == parent && !found.contains(pid) {
                found.push(*pid);
                frontier.push(*pid);
            }
        }
    }
    found
}

/// A loopback port that accepts TCP connections and never says a word: ssh waits for a banner
/// that never comes. Connections are held until the tarpit is dropped.
pub struct Tarpit {
    pub addr: Ipv4Addr,
    pub port: u16,
    stop: Arc<AtomicBool>,
    pub accepted: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Tarpit {
    pub fn start() -> Tarpit {
        let addr = free_loopback(SSH_PORT);
        let listener = TcpListener::bind(SocketAddrV4::new(addr, SSH_PORT)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, accepted) = (stop.clone(), accepted.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Ok(stream) = stream {
                        accepted.lock().unwrap().push(stream);
                    }
                }
            })
        };
        Tarpit {
            addr,
            port: SSH_PORT,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    pub fn connections(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }
}

impl Drop for Tarpit {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        if let Ok(mut stream) = TcpStream::connect(SocketAddrV4::new(self.addr, self.port)) {
            let _ = stream.write_all(b"");
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
