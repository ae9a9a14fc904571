//! The projects `tests/remote_payload.rs` builds payloads from: the demo environment as it is,
//! and a small project with inline vaulted vars (in its inventory and in its play), group and
//! host vars files beside its inventory, and tagged tasks; and the `--list` JSON the controller would hand the payload.
#![allow(dead_code)]

use fleetdeck::engine::model::Action;
use fleetdeck::engine::remote::payload::Sources;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

pub fn venv(program: &str) -> PathBuf {
    let path = Path::new(REPO).join(".venv/bin").join(program);
    assert!(path.exists(), "{program} is not installed: run .ci/setup");
    path
}

/// `ansible-inventory -i <inventory> --list` in `root`, as the controller runs it.
pub fn list_json(root: &Path, inventory: &Path) -> Vec<u8> {
    let output = Command::new(venv("ansible-inventory"))
        .arg("-i")
        .arg(inventory)
        .arg("--list")
        .current_dir(root)
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    output.stdout
}

pub fn demo_sources() -> Sources {
    let root = PathBuf::from(REPO);
    let env = fleetdeck::project::Project::open(&root)
        .unwrap()
        .env("demo")
        .unwrap();
    let playbooks = &env.config.playbooks;
    let inventory_list_json = list_json(&root, &env.inventory_path);
    Sources {
        playbooks: HashMap::from([
            (Action::Provision, playbooks.provision.clone()),
            (Action::Deploy, playbooks.deploy.clone()),
            (Action::Check, playbooks.check.clone()),
        ]),
        inventory: env.inventory_path.clone(),
        inventory_list_json,
        root,
    }
}

/// A project with an inline vaulted var in its inventory and in its play, and tagged tasks.
pub struct VaultProject {
    _dir: tempfile::TempDir,
    pub sources: Sources,
    pub password: &'static str,
}

pub fn encrypt_string(password_file: &Path, name: &str, value: &str) -> String {
    let output = Command::new(venv("ansible-vault"))
        .args(["encrypt_string", "--vault-password-file"])
        .arg(password_file)
        .args([value, "--name", name])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

pub fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|line| format!("{pad}{line}\n")).collect()
}

pub fn vault_project() -> VaultProject {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    let password = "correct horse battery staple";
    let password_file = dir.path().join("vault-pass");
    std::fs::write(&password_file, password).unwrap();
    let write = |relative: &str, text: &str| {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let inventory_secret = encrypt_string(&password_file, "inventory_secret", "from-inventory");
    write(
        "inv/hosts.yml",
        &format!(
            "all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: \"{{{{ ansible_playbook_python }}}}\"\n  children:\n    app:\n      hosts:\n        app-01:\n{}        app-02: {{}}\n",
            indent(&inventory_secret, 10)
        ),
    );
    write("inv/group_vars/app.yml", "from_group_vars: [1, 2]\n");
    write("inv/host_vars/app-02.yml", "from_host_vars: true\n");
    let play_secret = encrypt_string(&password_file, "play_secret", "from-play");
    write(
        "plays/site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  vars:\n{}  tasks:\n    - name: Secrets\n      ansible.builtin.debug:\n        msg: \"play={{{{ play_secret }}}} inventory={{{{ inventory_secret }}}}\"\n      tags: [secrets]\n    - name: Modes\n      ansible.builtin.debug:\n        msg: \"check={{{{ ansible_check_mode }}}} diff={{{{ ansible_diff_mode }}}}\"\n      tags: [modes]\n",
            indent(&play_secret, 4)
        ),
    );
    let inventory = PathBuf::from("inv/hosts.yml");
    let sources = Sources {
        playbooks: HashMap::from([(Action::Deploy, PathBuf::from("plays/site.yml"))]),
        inventory_list_json: list_json(&root, &inventory),
        inventory,
        root,
    };
    VaultProject {
        _dir: dir,
        sources,
        password,
    }
}
