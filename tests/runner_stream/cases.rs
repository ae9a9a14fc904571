//! The recorded cases: what ran, and what ansible printed for each (written by hand).

use fleetdeck::engine::model::{Outcome, Recap};

pub struct Case {
    pub name: &'static str,
    pub host: &'static str,
    pub rc: i32,
    pub status: &'static str,
}

pub const CASES: &[Case] = &[
    case("provision_handler", "web-01", 0, "successful"),
    case("deploy_ok", "web-01", 0, "successful"),
    case("deploy_failed", "db-02", 2, "failed"),
    case("ignored", "web-01", 0, "successful"),
    case("loop_item_fails", "web-01", 2, "failed"),
    case("unreachable", "dead-01", 4, "failed"),
    case("loop_unreachable", "dead-01", 4, "failed"),
    case("no_hosts", "nosuchhost", 1, "failed"),
    case("bad_playbook", "web-01", 1, "failed"),
];

const fn case(name: &'static str, host: &'static str, rc: i32, status: &'static str) -> Case {
    Case {
        name,
        host,
        rc,
        status,
    }
}

/// What ansible printed for each case, written by hand.
pub fn expected(case: &Case) -> (Outcome, Option<Recap>) {
    let recap = |ok, changed, failed, unreachable, skipped, ignored| {
        Some(Recap {
            ok,
            changed,
            failed,
            unreachable,
            skipped,
            rescued: 0,
            ignored,
        })
    };
    let failed = |rc, task: Option<&str>, message: &str| Outcome::Failed {
        rc: Some(rc),
        task: task.map(str::to_string),
        message: message.to_string(),
    };
    let refused = "Task failed: Failed to connect to the host via ssh: ssh: connect to host \
                   127.0.0.1 port 1: Connection refused";
    match case.name {
        "provision_handler" => (Outcome::Succeeded, recap(5, 4, 0, 0, 0, 0)),
        "deploy_ok" => (Outcome::Succeeded, recap(5, 4, 0, 0, 2, 0)),
        "deploy_failed" => (
            failed(
                2,
                Some("Verify release checksum"),
                "checksum mismatch for release 1.4.2 on db-02 (demo_fail_deploy is set)",
            ),
            recap(4, 3, 1, 0, 1, 0),
        ),
        "ignored" => (Outcome::Succeeded, recap(2, 1, 0, 0, 0, 1)),
        "loop_item_fails" => (
            failed(
                2,
                Some("Check each package"),
                "non-zero return code (rc=3): package broken is broken",
            ),
            recap(0, 0, 1, 0, 0, 0),
        ),
        "unreachable" | "loop_unreachable" => (
            Outcome::Unreachable {
                message: refused.to_string(),
            },
            recap(0, 0, 0, 1, 0, 0),
        ),
        "no_hosts" => (
            failed(
                1,
                None,
                "[ERROR]: Specified inventory, host pattern and/or --limit leaves us with no hosts to target.",
            ),
            None,
        ),
        "bad_playbook" => (
            failed(
                1,
                None,
                "[ERROR]: the playbook: nosuch.yml could not be found",
            ),
            None,
        ),
        other => panic!("no expectation for {other}"),
    }
}
