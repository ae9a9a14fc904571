//! `hosts_ssh_key`: a run on an execution node reaches a managed host over ssh with the key the
//! controller sends in the run's stream (held by an ssh-agent on the node for that run), and
//! the key is neither left on the node nor written to a log or the journal. The managed host is
//! a loopback sshd of its own that accepts only that key.

mod common;
#[path = "common/nodes.rs"]
mod nodes;

use nodes::{NodeLab, said_by};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(180);

const PLAY: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Who answers over ssh\n      raw: echo \"reached $(hostname) as $(id -un)\"\n      register: said\n    - debug: {msg: \"{{ said.stdout | trim }}\"}\n";

#[test]
fn a_remote_run_reaches_its_host_with_the_key_sent_in_the_stream_and_leaves_it_nowhere() {
    let lab = NodeLab::start(&["exec-a", "target"]);
    let target = lab.fleet.host("target");
    // ssh-01 is the target sshd; no key file of its own, so only what the node's agent holds
    // can open it (the fleet's sshd accepts the fleet's key alone).
    lab.sandbox.write(
        &format!("inventory/{}/hosts.yml", nodes::ENV),
        &format!(
            "all:\n  hosts:\n    ssh-01:\n      ansible_host: {}\n      ansible_port: {}\n      \
             ansible_user: {}\n      ansible_ssh_common_args: \"-o UserKnownHostsFile={} \
             -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes\"\n",
            target.addr,
            target.port,
            lab.fleet.user,
            lab.fleet.known_hosts().display()
        ),
    );
    lab.sandbox.write("plays/reach.yml", PLAY);
    let playbooks = "playbooks: {provision: plays/reach.yml, deploy: plays/reach.yml, check: plays/reach.yml}\n";
    let node = lab.node("exec-a", "exec-a", 2);

    // Without the key: the node has no way in (the control that makes the next part mean
    // something).
    lab.configure(2, std::slice::from_ref(&node), playbooks);
    lab.install("exec-a");
    let out = lab.run(&["check", "ssh-01"], LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", said_by(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("unreachable"),
        "{}",
        said_by(&out)
    );

    // With it: reached, as the fleet's user.
    let key = lab.fleet.key();
    lab.configure(
        2,
        std::slice::from_ref(&node),
        &format!("{playbooks}hosts_ssh_key: {}\n", key.display()),
    );
    let out = lab.run(&["check", "ssh-01"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", said_by(&out));
    let logs = lab.root().join("logs").join(nodes::ENV);
    let newest = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .max_by_key(|path| std::fs::metadata(path).unwrap().modified().unwrap())
        .unwrap();
    let log = std::fs::read_to_string(&newest).unwrap();
    assert!(
        log.contains("\"msg\": \"reached ") && log.contains(&format!(" as {}\"", lab.fleet.user)),
        "{log}"
    );
    assert!(log.contains("# runner: node exec-a"), "{log}");

    // The key's body is in no log, not in the journal, not in fleetdeck's output, and nothing
    // of the run is left in the node's work dir.
    let secret = std::fs::read_to_string(&key).unwrap();
    let body = secret
        .lines()
        .find(|line| line.len() > 40 && !line.starts_with("-----"))
        .expect("a key body line")
        .to_string();
    for entry in std::fs::read_dir(&logs).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert!(
            !text.contains(&body),
            "{} holds the key",
            entry.path().display()
        );
    }
    assert!(!lab.sandbox.journal(nodes::ENV).contains(&body));
    assert!(!said_by(&out).contains(&body));
    assert_eq!(lab.run_dirs("exec-a"), Vec::<String>::new());
}
