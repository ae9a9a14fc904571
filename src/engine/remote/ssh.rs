//! How fleetdeck reaches a node: `ssh -T -o BatchMode=yes [ssh_options] destination -- command`.
//! No pty (a pty echoes the stream back into it), never a password prompt, and the remote
//! command quoted word by word, since ssh hands it to the node's shell as one line.

use crate::config::nodes::SshNode;

/// The whole ssh command line; `remote` is the command's argv on the node.
pub fn argv(node: &SshNode, remote: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = ["ssh", "-T", "-o", "BatchMode=yes"]
        .map(String::from)
        .to_vec();
    argv.extend(node.ssh_options.iter().cloned());
    argv.push(node.destination.clone());
    argv.push("--".into());
    argv.push(quote(remote));
    argv
}

/// The remote argv as one shell line; a word that cannot be quoted (a NUL) is dropped, which
/// makes the command fail visibly on the node rather than run something else.
fn quote(remote: &[String]) -> String {
    remote
        .iter()
        .filter_map(|word| shlex::try_quote(word).ok())
        .collect::<Vec<_>>()
        .join(" ")
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
        assert_eq!(
            argv(&node, &remote),
            [
                "ssh",
                "-T",
                "-o",
                "BatchMode=yes",
                "-p",
                "2222",
                "deploy@exec-a",
                "--",
                "/var/tmp/fleetdeck/fleetdeck-guard run --worker '/opt/fd venv/bin/ansible-runner'"
            ]
        );
    }
}
