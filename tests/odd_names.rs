//! Server names that mean something else in ansible's `--limit` pattern language (`web*`,
//! `!db`, `a:b`, `x[1]`, spaces, unicode, an IPv6 address): exactly the named server runs, with
//! the real ansible-core. Names ansible cannot select alone are refused with the reason.

mod common;

use common::Sandbox;
use serde_json::Value;
use std::collections::BTreeSet;

/// Names an inventory can hold that mean something else as a pattern (ansible itself reads
/// `db:02` as host db, port 2, and `rack[1]` as a range, so those are not names)...
const ODD: [&str; 9] = [
    "web 01",
    "app*",
    "!neg",
    "&amp",
    "@at",
    "a!b",
    "x&y",
    "ünïcödé",
    "fe80::1",
];
/// ... and decoys that a pattern reading of them would select too.
const DECOYS: [&str; 9] = ["web", "01", "app1", "neg", "amp", "a", "b", "x", "y"];

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::demo();
    let mut hosts = String::from("all:\n  hosts:\n");
    for name in ODD.iter().chain(&DECOYS).chain(&["v6-host", "bad,comma"]) {
        hosts.push_str(&format!(
            "    {}:\n      ansible_connection: local\n      ansible_python_interpreter: \"{{{{ ansible_playbook_python }}}}\"\n",
            yaml(name)
        ));
    }
    // An IPv6 ansible_host on a local connection: the address must not confuse the limit.
    hosts = hosts.replace(
        "    \"v6-host\":\n",
        "    \"v6-host\":\n      ansible_host: \"::1\"\n",
    );
    sandbox.write("inventory/odd/hosts.yml", &hosts);
    sandbox.write(
        "inventory/odd/config.yml",
        "max_parallel_workers: 4\nplaybooks:\n  check: odd/mark.yml\n",
    );
    let out = sandbox.demo_root.join("marks");
    sandbox.write(
        "odd/mark.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy:\n        \
             dest: \"{}/{{{{ inventory_hostname | b64encode | replace('/', '_') }}}}\"\n        \
             content: \"{{{{ inventory_hostname }}}}\"\n",
            out.display()
        ),
    );
    std::fs::create_dir_all(&out).unwrap();
    sandbox
}

fn yaml(name: &str) -> String {
    serde_json::to_string(name).unwrap()
}

/// The hosts the playbook ran on, by the names it wrote.
fn marked(sandbox: &Sandbox) -> BTreeSet<String> {
    std::fs::read_dir(sandbox.demo_root.join("marks"))
        .unwrap()
        .flatten()
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap())
        .collect()
}

#[test]
fn exactly_the_named_server_runs_whatever_its_name_means_to_ansible() {
    let sandbox = sandbox();
    let output = sandbox
        .fleetdeck()
        .args(["run", "-e", "odd", "check", "--json"])
        .args(ODD)
        .arg("v6-host")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{log}");
    let mut expected: BTreeSet<String> = ODD.iter().map(|s| s.to_string()).collect();
    expected.insert("v6-host".into());
    assert_eq!(marked(&sandbox), expected, "no decoy ran; log:\n{log}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["runs"].as_array().unwrap().len(), ODD.len() + 1);
}

#[test]
fn a_name_ansible_cannot_select_alone_is_refused_with_the_reason() {
    let sandbox = sandbox();
    let output = sandbox
        .fleetdeck()
        .args(["run", "-e", "odd", "check", "bad,comma"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "could not start: {log}");
    assert!(
        log.contains("server \"bad,comma\" cannot be run alone: it contains a comma"),
        "status {:?}, stdout {}, log:\n{log}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(marked(&sandbox).is_empty(), "nothing ran: {log}");
}
