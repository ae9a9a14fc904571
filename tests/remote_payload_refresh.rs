//! The payload a session sends to its nodes follows the project: a playbook or a vars file
//! edited mid-session is in the next remote run's zip (runs on nodes never use other files
//! than runs here), an unchanged project is not zipped again, and a failed build is not kept.

use fleetdeck::engine::model::Action;
use fleetdeck::engine::remote::fleet::{PayloadCell, PayloadSources};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn project(dir: &Path) -> PayloadSources {
    std::fs::create_dir_all(dir.join("plays")).unwrap();
    std::fs::write(
        dir.join("plays/check.yml"),
        "- hosts: all\n  tasks:\n    - debug: {msg: first}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("hosts.yml"),
        "all:\n  hosts:\n    web-01: {ansible_connection: local}\n",
    )
    .unwrap();
    let play: PathBuf = "plays/check.yml".into();
    PayloadSources {
        root: dir.to_path_buf(),
        playbooks: HashMap::from([
            (Action::Provision, play.clone()),
            (Action::Deploy, play.clone()),
            (Action::Check, play),
        ]),
        inventory: dir.join("hosts.yml"),
        inventory_program: Path::new(REPO).join(".venv/bin/ansible-inventory"),
    }
}

/// Rewrites a file so that its modification time surely moves.
fn edit(path: &Path, text: &str) {
    let before = std::fs::metadata(path).unwrap().modified().unwrap();
    std::fs::write(path, text).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(before + std::time::Duration::from_secs(1))
        .unwrap();
}

#[tokio::test]
async fn an_edit_mid_session_reaches_the_next_remote_runs_payload() {
    let dir = tempfile::tempdir().unwrap();
    let cell = PayloadCell::new(project(dir.path()));
    let first = cell.get().await.expect("built");
    let again = cell.get().await.expect("kept");
    assert!(
        Arc::ptr_eq(&first, &again),
        "nothing changed: not zipped again"
    );

    edit(
        &dir.path().join("plays/check.yml"),
        "- hosts: all\n  tasks:\n    - debug: {msg: second}\n",
    );
    let edited = cell.get().await.expect("rebuilt");
    assert!(!Arc::ptr_eq(&first, &edited), "the playbook changed");
    assert_ne!(first.base64(), edited.base64());

    edit(
        &dir.path().join("hosts.yml"),
        "all:\n  hosts:\n    web-01: {ansible_connection: local, tier: gold}\n",
    );
    let inventory_edited = cell.get().await.expect("rebuilt");
    assert_ne!(
        edited.base64(),
        inventory_edited.base64(),
        "a host var changed"
    );

    // ansible-inventory failing once fails that build only: the next run tries again.
    let failing = dir.path().join("fail-once");
    let wrapper = dir.path().join("ansible-inventory");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ -e {flag} ]; then echo 'inventory source unreachable' >&2; exit 1; fi\nexec {real} \"$@\"\n",
            flag = failing.display(),
            real = Path::new(REPO).join(".venv/bin/ansible-inventory").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let cell = PayloadCell::new(PayloadSources {
        inventory_program: wrapper,
        ..project(dir.path())
    });
    std::fs::write(&failing, "").unwrap();
    let broken = cell.get().await;
    assert!(
        broken
            .as_ref()
            .is_err_and(|err| err.contains("inventory source unreachable")),
        "{broken:?}"
    );
    std::fs::remove_file(&failing).unwrap();
    cell.get().await.expect("not stuck on the failure");
}
