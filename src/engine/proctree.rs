//! Finding and killing every process a run started. Each ansible worker calls `setsid()`, so a
//! run spans one process group per worker besides its own: killing the main group alone would
//! orphan the workers, and the orphans keep our pipes open (see shared/ANSIBLE.md).
//!
//! Numbers are remembered with the start time of the process they named when seen: a pid (or a
//! group's leader) that now names a process started at another time was reused by someone
//! else's process, and `kill_all` spares it.

mod scanner;

pub use scanner::descendants_soon;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StatLine {
    ppid: i32,
    pgid: i32,
    zombie: bool,
    /// Clock ticks after boot: with the pid, it names one process for good.
    start: u64,
}

fn read_stat(pid: i32) -> Option<StatLine> {
    use std::io::Read;
    // One read into a buffer on the stack: a scan reads every process's stat.
    let mut buffer = [0u8; 1024];
    let mut file = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let len = file.read(&mut buffer).ok()?;
    let text = std::str::from_utf8(&buffer[..len]).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    // From field 3 (state) on: ppid is field 4, pgrp 5, starttime 22.
    let mut fields = rest.split_ascii_whitespace();
    let zombie = fields.next()? == "Z";
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    let start = fields.nth(16)?.parse().ok()?;
    Some(StatLine {
        zombie,
        ppid,
        pgid,
        start,
    })
}

fn all_processes() -> HashMap<i32, StatLine> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, read_stat(pid)?)))
        .collect()
}

/// The processes descended from `root` (not `root` itself), with the process groups they are in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    pub pids: BTreeSet<i32>,
    pub groups: BTreeSet<i32>,
    /// The start time of the process each number named when it was seen: the tree's processes,
    /// the root, and each group's leader (`None`: the leader was gone already). Numbers added by
    /// hand have no entry and are trusted as they are.
    seen: BTreeMap<i32, Option<u64>>,
}

impl Tree {
    /// Only `root`, remembered by its start time so a reused number is never taken for it:
    /// one stat read, where `of` scans all of /proc.
    pub fn root_only(root: i32) -> Tree {
        let mut tree = Tree::default();
        tree.seen
            .insert(root, read_stat(root).map(|stat| stat.start));
        tree
    }

    pub fn of(root: i32) -> Tree {
        Tree::from_table(root, &all_processes())
    }

    fn from_table(root: i32, table: &HashMap<i32, StatLine>) -> Tree {
        // Children by parent, so the walk costs the table once, not once per process found.
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        for (pid, stat) in table {
            children.entry(stat.ppid).or_default().push(*pid);
        }
        let mut tree = Tree::default();
        tree.seen
            .insert(root, table.get(&root).map(|stat| stat.start));
        let mut frontier = vec![root];
        while let Some(parent) = frontier.pop() {
            for pid in children.get(&parent).into_iter().flatten() {
                if !tree.pids.contains(pid) {
                    tree.add(*pid, &table[pid], table);
                    frontier.push(*pid);
                }
            }
        }
        tree
    }

    /// The processes other than this one that can write into a pipe of `inodes`: whatever holds
    /// a run's output pipes open, even once it was orphaned and no longer descends from the run.
    /// Readers are left out (a process fleetdeck forks for another run holds our read ends
    /// until its exec).
    pub fn holding_pipes(inodes: &BTreeSet<u64>) -> Tree {
        let table = all_processes();
        let me = std::process::id() as i32;
        let mut tree = Tree::default();
        for (pid, stat) in &table {
            if *pid != me && !stat.zombie && writes_into(*pid, inodes) {
                tree.add(*pid, stat, &table);
            }
        }
        tree
    }

    fn add(&mut self, pid: i32, stat: &StatLine, table: &HashMap<i32, StatLine>) {
        self.pids.insert(pid);
        self.seen.insert(pid, Some(stat.start));
        self.groups.insert(stat.pgid);
        self.seen
            .insert(stat.pgid, table.get(&stat.pgid).map(|leader| leader.start));
    }

    /// Adds what was seen later to what was seen before.
    pub fn merge(&mut self, other: Tree) {
        self.pids.extend(other.pids);
        self.groups.extend(other.groups);
        // The first sighting names the process: a number reused since must not re-stamp it.
        for (number, start) in other.seen {
            let known = self.seen.entry(number).or_insert(start);
            if known.is_none() {
                *known = start;
            }
        }
    }

    /// Whether `number` now names another process than the one seen under it.
    fn reused(&self, number: i32, table: &HashMap<i32, StatLine>) -> bool {
        match (self.seen.get(&number), table.get(&number)) {
            (Some(seen), Some(now)) => *seen != Some(now.start),
            _ => false,
        }
    }

    /// Processes of this tree, or in its groups, that still live (zombies are dead already).
    pub fn alive(&self) -> Vec<i32> {
        all_processes()
            .into_iter()
            .filter(|(_, stat)| !stat.zombie)
            .filter(|(pid, stat)| self.pids.contains(pid) || self.groups.contains(&stat.pgid))
            .map(|(pid, _)| pid)
            .collect()
    }

    /// A SIGKILL takes effect when the target is next scheduled, not at `kill()`: this waits,
    /// up to `limit`, for the tree to be gone, and returns what is still alive after that.
    pub fn wait_gone(&self, limit: std::time::Duration) -> Vec<i32> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let alive = self.alive();
            if alive.is_empty() || std::time::Instant::now() >= deadline {
                return alive;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

pub fn signal(pid: i32, signal: Signal) {
    // ESRCH (already gone) is the outcome we want, not an error.
    let _ = kill(Pid::from_raw(pid), signal);
}

/// SIGKILL to `root`'s group, to every group of its tree, and to every process of its tree;
/// never to our own group or process, nor to a number reused by another process since.
pub fn kill_all(root: i32, tree: &Tree) {
    // Never our own group: a child that did not get a group of its own shares it with us.
    let ours = nix::unistd::getpgrp().as_raw();
    let me = std::process::id() as i32;
    let table = all_processes();
    if root > 1 && root != ours && !tree.reused(root, &table) {
        let _ = killpg(Pid::from_raw(root), Signal::SIGKILL);
    }
    for group in &tree.groups {
        if *group > 1 && *group != ours && !tree.reused(*group, &table) {
            let _ = killpg(Pid::from_raw(*group), Signal::SIGKILL);
        }
    }
    for pid in &tree.pids {
        if *pid > 1 && *pid != me && !tree.reused(*pid, &table) {
            signal(*pid, Signal::SIGKILL);
        }
    }
}

/// Whether `pid` holds a pipe of `inodes` open for writing.
fn writes_into(pid: i32, inodes: &BTreeSet<u64>) -> bool {
    // Someone else's processes are unreadable here, and none of ours.
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|fd| {
        let Ok(target) = std::fs::read_link(fd.path()) else {
            return false;
        };
        let inode = target
            .to_str()
            .and_then(|t| t.strip_prefix("pipe:[")?.strip_suffix(']')?.parse().ok());
        inode.is_some_and(|inode| inodes.contains(&inode)) && writable(pid, &fd.file_name())
    })
}

/// Whether descriptor `fd` of `pid` was opened for writing (fdinfo's `flags` are octal).
fn writable(pid: i32, fd: &std::ffi::OsStr) -> bool {
    let path = std::path::Path::new("/proc")
        .join(pid.to_string())
        .join("fdinfo")
        .join(fd);
    let Ok(info) = std::fs::read_to_string(path) else {
        return false;
    };
    info.lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
        .is_some_and(|flags| flags & 0o3 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn a_later_sighting_never_re_stamps_a_number() {
        let mut first = Tree::default();
        first.seen.insert(4242, Some(100));
        first.seen.insert(4343, None);
        let mut later = Tree::default();
        // 4242 now names another process (another start time); 4343 is seen for the first time.
        later.seen.insert(4242, Some(999));
        later.seen.insert(4343, Some(555));
        first.merge(later);
        assert_eq!(first.seen[&4242], Some(100));
        assert_eq!(first.seen[&4343], Some(555));
        let table = HashMap::from([(
            4242,
            StatLine {
                ppid: 1,
                pgid: 4242,
                zombie: false,
                start: 999,
            },
        )]);
        assert!(first.reused(4242, &table), "spared by kill_all");
    }

    #[test]
    fn reads_parent_and_group_of_this_process() {
        let me = std::process::id() as i32;
        let stat = read_stat(me).expect("own stat");
        assert_eq!(stat.ppid, nix::unistd::getppid().as_raw());
        assert_eq!(stat.pgid, nix::unistd::getpgrp().as_raw());
    }

    #[test]
    fn tree_finds_grandchildren_in_their_own_session() {
        use std::io::BufRead;
        // Like ansible: one plain child, and one that calls setsid and says "ready" once it has.
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "sleep 30 & setsid sh -c 'echo ready; exec sleep 30' & wait",
            ])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawn sh");
        let mut ready = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready");
        let root = child.id() as i32;
        let tree = Tree::of(root);
        assert_eq!(tree.pids.len(), 2, "sleep and the setsid one: {tree:?}");
        assert_eq!(
            tree.groups.len(),
            2,
            "setsid made a group of its own: {tree:?}"
        );
        kill_all(root, &tree);
        let _ = child.wait();
        let left = tree.wait_gone(std::time::Duration::from_secs(5));
        assert!(left.is_empty(), "left: {left:?}");
    }

    #[test]
    fn kill_all_spares_a_number_that_names_another_process_now() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        let start = read_stat(pid).expect("stat").start;
        // As if `pid` and its group had been seen earlier, under another process.
        let mut tree = Tree::default();
        tree.pids.insert(pid);
        tree.groups.insert(pid);
        tree.seen.insert(pid, Some(start + 1));
        kill_all(pid, &tree);
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(
            child.try_wait().expect("try_wait"),
            None,
            "killed a stranger"
        );
        // Seen as it is: killed.
        tree.seen.insert(pid, Some(start));
        kill_all(pid, &tree);
        let status = child.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
    }

    #[test]
    fn pipe_writers_are_found_and_readers_are_not() {
        // Close-on-exec, so children the other tests spawn meanwhile do not hold it too.
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe");
        let inode = nix::sys::stat::fstat(&read).expect("fstat").st_ino;
        // One process in a session of its own writes into the pipe, another only reads it.
        let mut writer = std::process::Command::new("setsid")
            .args(["sleep", "30"])
            .stdout(std::process::Stdio::from(write))
            .spawn()
            .expect("spawn writer");
        let mut reader = std::process::Command::new("sleep")
            .arg("30")
            .stdin(std::process::Stdio::from(read))
            .spawn()
            .expect("spawn reader");
        let tree = Tree::holding_pipes(&BTreeSet::from([inode]));
        // (Not an exact set: a process another test forks holds the pipe until its exec.)
        assert!(tree.pids.contains(&(writer.id() as i32)), "{tree:?}");
        assert!(!tree.pids.contains(&(reader.id() as i32)), "{tree:?}");
        for child in [&mut writer, &mut reader] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
