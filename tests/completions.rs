//! `fleetdeck completions <shell>`: a script the shell accepts, which completes what the
//! command line really takes, printed anywhere (no project needed).

use std::process::Command;

fn completions(shell: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(["completions", shell])
        .current_dir(dir.path())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sourced into bash, the script completes `fleetdeck run --res` and `fleetdeck st` as a user
/// pressing Tab would see.
#[test]
fn bash_completes_subcommands_and_flags() {
    let (code, script, stderr) = completions("bash");
    assert_eq!(code, Some(0), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleetdeck.bash");
    std::fs::write(&path, &script).unwrap();
    let complete = |line: &str| -> Vec<String> {
        let words: Vec<&str> = line.split(' ').collect();
        let probe = format!(
            "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; \
             _fleetdeck fleetdeck '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path.display(),
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1,
            line.len(),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    let flags = complete("fleetdeck run --res");
    for flag in ["--resume", "--resume-rollout"] {
        assert!(flags.contains(&flag.to_string()), "{flags:?}");
    }
    let commands = complete("fleetdeck st");
    assert_eq!(commands, ["status"]);
}

#[test]
fn zsh_and_fish_get_their_own_scripts_and_an_unknown_shell_is_a_usage_error() {
    let (code, zsh, _) = completions("zsh");
    assert_eq!(code, Some(0));
    assert!(zsh.starts_with("#compdef fleetdeck"), "{zsh}");
    let (code, fish, _) = completions("fish");
    assert_eq!(code, Some(0));
    assert!(fish.contains("complete -c fleetdeck"), "{fish}");
    assert!(fish.contains("resume-rollout"), "{fish}");
    let (code, _, stderr) = completions("tcsh");
    assert_eq!(
        code,
        Some(1),
        "a usage error exits 1, as every other: {stderr}"
    );
    assert!(stderr.contains("possible values: bash"), "{stderr}");
}
