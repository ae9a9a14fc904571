//! Finding and killing every process a run started. Each ansible worker calls `setsid()`, so a
//! run spans one process group per worker besides its own: killing the main group alone would
//! orphan the workers, and the orphans keep our pipes open (see shared/ANSIBLE.md).

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::collections::{BTreeSet, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StatLine {
    ppid: i32,
    pgid: i32,
    zombie: bool,
}

fn read_stat(pid: i32) -> Option<StatLine> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let zombie = fields.next()? == "Z";
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    Some(StatLine { ppid, pgid, zombie })
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
}

impl Tree {
    pub fn of(root: i32) -> Tree {
        let table = all_processes();
        let mut tree = Tree::default();
        let mut frontier = vec![root];
        while let Some(parent) = frontier.pop() {
            for (pid, stat) in &table {
                if stat.ppid == parent && tree.pids.insert(*pid) {
                    tree.groups.insert(stat.pgid);
                    frontier.push(*pid);
                }
            }
        }
        tree
    }

    /// Adds what is descended from `root` now to what was seen before.
    pub fn merge(&mut self, other: Tree) {
        self.pids.extend(other.pids);
        self.groups.extend(other.groups);
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

/// SIGKILL to `root`'s group, to every group of its tree, and to every process of its tree.
pub fn kill_all(root: i32, tree: &Tree) {
    // Never our own group: a child that did not get a group of its own shares it with us.
    let ours = nix::unistd::getpgrp().as_raw();
    if root != ours {
        let _ = killpg(Pid::from_raw(root), Signal::SIGKILL);
    }
    for group in &tree.groups {
        if *group > 1 && *group != ours {
            let _ = killpg(Pid::from_raw(*group), Signal::SIGKILL);
        }
    }
    for pid in &tree.pids {
        signal(*pid, Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

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
}
