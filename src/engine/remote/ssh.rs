//! How fleetdeck reaches a node: `ssh -T -o BatchMode=yes [ssh_options] [multiplexing]
//! destination -- command`. No pty (a pty echoes the stream back into it), never a password
//! prompt, and the remote command quoted word by word, since ssh hands it to the node's shell
//! as one line.
//!
//! Runs to one node share one ssh connection (a ControlMaster that outlives its last run by
//! `CONTROL_PERSIST`): a fresh connection per run cost the controller ~0.08 CPU-s of key
//! exchange, most of a remote run's share. The operator's `ssh_options` come first, and ssh
//! keeps the first value of each option, so `-o ControlMaster=no` there turns this off.

use crate::config::nodes::SshNode;
use std::path::PathBuf;
use std::sync::OnceLock;

/// How long a node's shared connection stays after its last run.
pub const CONTROL_PERSIST: &str = "60s";

/// The whole ssh command line; `remote` is the command's argv on the node.
pub fn argv(node: &SshNode, remote: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = ["ssh", "-T", "-o", "BatchMode=yes"]
        .map(String::from)
        .to_vec();
    argv.extend(node.ssh_options.iter().cloned());
    // A connection that dies without closing (a cut cable, a dropped firewall state) ends ssh
    // within ~15 s, so the run reads as cut instead of running unseen until its timeout.
    argv.extend(
        [
            "ServerAliveInterval=5",
            "ServerAliveCountMax=3",
            "ConnectTimeout=15",
        ]
        .into_iter()
        .flat_map(|option| ["-o".to_string(), option.to_string()]),
    );
    if let Some(dir) = control_dir() {
        // %C: a hash of this host, port and user, short enough for a socket's path limit.
        argv.extend([
            "-o".to_string(),
            "ControlMaster=auto".to_string(),
            "-o".to_string(),
            format!("ControlPath={}/%C", dir.display()),
            "-o".to_string(),
            format!("ControlPersist={CONTROL_PERSIST}"),
        ]);
    }
    argv.push(node.destination.clone());
    argv.push("--".into());
    argv.push(quote(remote));
    argv
}

/// ssh's exit status for its own failures (the remote command's status otherwise).
pub const SSH_FAILED: i32 = 255;

/// Words as one shell line; a word that cannot be quoted (a NUL) is dropped, which makes the
/// command fail visibly on the node rather than run something else.
pub fn quote(remote: &[String]) -> String {
    remote
        .iter()
        .filter_map(|word| shlex::try_quote(word).ok())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where the shared connections' sockets live: a folder of this user's alone under the temp
/// dir (not the project: a socket's path may not be longer than ~100 bytes). `None` if it
/// cannot be made safely: each run then opens its own connection.
fn control_dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        let uid = nix::unistd::getuid().as_raw();
        let dir = std::env::temp_dir().join(format!("fleetdeck-ssh-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        let meta = std::fs::symlink_metadata(&dir).ok()?;
        let private = meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o077 == 0;
        (private && dir.as_os_str().len() <= 60).then_some(dir)
    })
    .as_ref()
}

/// ssh in a process group of its own (a Ctrl-C at the dashboard's terminal reaches fleetdeck,
/// which decides what the runs get), killed if fleetdeck drops it.
pub fn command(argv: &[String]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(&argv[0]);
    command.args(&argv[1..]).process_group(0).kill_on_drop(true);
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remote_command_is_quoted_word_by_word_after_fleetdecks_options() {
        let node = SshNode {
            destination: "deploy@exec-a".into(),
            ssh_options: vec!["-p".into(), "2222".into()],
            worker: "/opt/fd venv/bin/ansible-runner".into(),
            work_dir: "/var/tmp/fleetdeck".into(),
            guard: "/var/tmp/fleetdeck/fleetdeck-guard".into(),
        };
        let remote = vec![
            node.guard.clone(),
            "run".into(),
            "--worker".into(),
            node.worker.clone(),
        ];
        let mut sent = argv(&node, &remote);
        // The shared connection's options, when this machine allows them, sit after the
        // operator's (whose values win) and before the destination.
        if let Some(dir) = control_dir() {
            let shared = sent.drain(12..18).collect::<Vec<_>>();
            assert_eq!(
                shared,
                [
                    "-o".to_string(),
                    "ControlMaster=auto".into(),
                    "-o".into(),
                    format!("ControlPath={}/%C", dir.display()),
                    "-o".into(),
                    "ControlPersist=60s".into()
                ]
            );
        }
        assert_eq!(
            sent,
            [
                "ssh",
                "-T",
                "-o",
                "BatchMode=yes",
                "-p",
                "2222",
                "-o",
                "ServerAliveInterval=5",
                "-o",
                "ServerAliveCountMax=3",
                "-o",
                "ConnectTimeout=15",
                "deploy@exec-a",
                "--",
                "/var/tmp/fleetdeck/fleetdeck-guard run --worker '/opt/fd venv/bin/ansible-runner'"
            ]
        );
    }
}
