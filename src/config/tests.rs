use super::*;

fn load_text(text: &str) -> Result<Loaded> {
    parse(text, Path::new("inventory/prod/config.yml"))
}

#[test]
fn empty_file_gives_every_default() {
    assert_eq!(load_text("").unwrap().config, Config::default());
    assert_eq!(
        load_text("# only a comment\n").unwrap().config,
        Config::default()
    );
}

#[test]
fn every_key_is_honoured() {
    let text = "\
max_parallel_workers: 4
inventory: hosts.ini
playbooks: {provision: p.yml, deploy: d.yml, check: c.yml}
provisioning_tags: [base, users]
deployment_tags: \"release, switch\"
action_timeout: 10m
cancel_grace: 3s
health_check_enabled: true
health_check_timeout: 45s
health_check_retries: 5
auto_retry_enabled: true
max_retries: 2
max_fail_percentage: 25
provisioning_strategy: sequential
deployment_strategy: rolling
rolling_max_unavailable: 25%
rolling_canary: 2
ansible_playbook: /opt/bin/ansible-playbook
runner: fresh
refresh_interval: 500ms
log_retention_lines: 200
confirm_actions: false
";
    let config = load_text(text).unwrap().config;
    let expected = Config {
        max_parallel_workers: 4,
        inventory: "hosts.ini".into(),
        playbooks: Playbooks {
            provision: "p.yml".into(),
            deploy: "d.yml".into(),
            check: "c.yml".into(),
        },
        provisioning_tags: vec!["base".into(), "users".into()],
        deployment_tags: vec!["release".into(), "switch".into()],
        action_timeout: Duration::from_secs(600),
        cancel_grace: Duration::from_secs(3),
        health_check_enabled: true,
        health_check_timeout: Duration::from_secs(45),
        health_check_retries: 5,
        auto_retry_enabled: true,
        max_retries: 2,
        max_fail_percentage: Some(25.0),
        provisioning_strategy: ProvisioningStrategy::Sequential,
        deployment_strategy: DeploymentStrategy::Rolling,
        rolling_max_unavailable: WindowSize::Percent(25.0),
        rolling_canary: 2,
        ansible_playbook: "/opt/bin/ansible-playbook".into(),
        runner: RunnerChoice::Fresh,
        refresh_interval: Duration::from_millis(500),
        log_retention_lines: 200,
        confirm_actions: false,
        execution_nodes: Default::default(),
        hosts_ssh_key: None,
    };
    assert_eq!(config, expected);
}

#[test]
fn partial_playbooks_keep_the_other_defaults() {
    let config = load_text("playbooks:\n  deploy: site.yml\n")
        .unwrap()
        .config;
    assert_eq!(config.playbooks.deploy, PathBuf::from("site.yml"));
    assert_eq!(config.playbooks.check, Config::default().playbooks.check);
}

#[test]
fn negative_workers_become_sequential_with_a_warning() {
    let loaded = load_text("max_parallel_workers: -2\n").unwrap();
    assert_eq!(loaded.config.max_parallel_workers, 0);
    assert_eq!(loaded.warnings.len(), 1);
    assert!(
        loaded.warnings[0].contains("max_parallel_workers is -2"),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn absurd_worker_counts_are_capped_with_a_warning() {
    for text in [
        "max_parallel_workers: 1000000\n",
        "max_parallel_workers: 99999999999999\n",
    ] {
        let loaded = load_text(text).unwrap();
        assert_eq!(
            loaded.config.max_parallel_workers,
            crate::engine::MAX_WORKERS
        );
        assert!(
            loaded.warnings[0].contains("more than fleetdeck runs at once; using 256"),
            "{:?}",
            loaded.warnings
        );
    }
}

/// Each bad file must name the file, the line, the key and say how to fix it.
#[test]
fn bad_configs_name_file_line_key_and_fix() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "unknown key",
            "max_parallel_workers: 2\nmax_workers: 3\n",
            &[
                "line 2",
                "`max_workers`",
                "did you mean `max_parallel_workers`",
                "valid keys:",
            ],
        ),
        (
            "workers as text",
            "max_parallel_workers: three\n",
            &[
                "line 1",
                "`max_parallel_workers`",
                "e.g. `max_parallel_workers: 3`",
            ],
        ),
        (
            "duration without unit",
            "\naction_timeout: 30\n",
            &["line 2", "`action_timeout`", "30s"],
        ),
        (
            "duration garbage",
            "cancel_grace: soon\n",
            &["line 1", "`cancel_grace`", "`soon` is not a duration"],
        ),
        (
            "bool as text",
            "health_check_enabled: maybe\n",
            &["line 1", "`health_check_enabled`", "true or false"],
        ),
        (
            "zero retries",
            "health_check_retries: 0\n",
            &["line 1", "`health_check_retries`", "at least one"],
        ),
        (
            "percentage above 100",
            "max_fail_percentage: 150\n",
            &["line 1", "`max_fail_percentage`", "0 to 100"],
        ),
        (
            "unknown playbook action",
            "playbooks:\n  rollback: r.yml\n",
            &["line 2", "`rollback`", "provision, deploy, check"],
        ),
        (
            "zero timeout",
            "health_check_timeout: 0s\n",
            &["line 1", "`health_check_timeout`", "is zero"],
        ),
        (
            "unknown runner",
            "runner: hot\n",
            &["line 1", "`runner`", "runner: warm"],
        ),
        (
            "not a mapping",
            "- max_parallel_workers\n",
            &["config.yml", "fix:"],
        ),
        (
            "broken yaml",
            "max_parallel_workers: [1\n",
            &["config.yml", "line"],
        ),
    ];
    for (name, text, needles) in cases {
        let err = format!("{:#}", load_text(text).expect_err(name));
        assert!(
            err.contains("inventory/prod/config.yml"),
            "{name}: no file in {err}"
        );
        for needle in *needles {
            assert!(
                err.contains(needle),
                "{name}: `{needle}` missing from:\n{err}"
            );
        }
    }
}

#[test]
fn missing_file_means_defaults() {
    let loaded = load(Path::new("/nonexistent/config.yml")).unwrap();
    assert_eq!(loaded.config, Config::default());
}

/// The origin tool's config.yml, as people moving over have it: it starts without an edit.
#[test]
fn the_origins_strategy_keys_are_honoured() {
    let text = "\
max_parallel_workers: 3
provisioning_strategy: parallel     # or sequential
deployment_strategy: rolling        # or all_at_once, blue_green
health_check_enabled: true
health_check_timeout: 30s
";
    let config = load_text(text).unwrap().config;
    assert_eq!(config.provisioning_strategy, ProvisioningStrategy::Parallel);
    assert_eq!(config.deployment_strategy, DeploymentStrategy::Rolling);
    assert_eq!(config.rolling_max_unavailable, WindowSize::Servers(1));
    assert_eq!(config.rolling_canary, 1);
}

#[test]
fn strategy_defaults_are_todays_behaviour() {
    let config = Config::default();
    assert_eq!(config.provisioning_strategy, ProvisioningStrategy::Parallel);
    assert_eq!(config.deployment_strategy, DeploymentStrategy::AllAtOnce);
}

#[test]
fn rolling_max_unavailable_takes_a_number_or_a_percentage() {
    for (text, expected) in [
        ("rolling_max_unavailable: 2\n", WindowSize::Servers(2)),
        ("rolling_max_unavailable: \"3\"\n", WindowSize::Servers(3)),
        ("rolling_max_unavailable: 25%\n", WindowSize::Percent(25.0)),
        (
            "rolling_max_unavailable: \"12.5 %\"\n",
            WindowSize::Percent(12.5),
        ),
    ] {
        let config = load_text(text).unwrap().config;
        assert_eq!(config.rolling_max_unavailable, expected, "{text}");
    }
}

/// Each bad value names the file, the key, what is wrong and the fix.
#[test]
fn bad_strategy_values_say_what_works() {
    for (text, says) in [
        (
            "deployment_strategy: blue_green\n",
            "does not implement yet; all_at_once and rolling work",
        ),
        ("deployment_strategy: canary\n", "all_at_once"),
        ("provisioning_strategy: serial\n", "sequential"),
        ("rolling_max_unavailable: 0\n", "never deploy"),
        ("rolling_max_unavailable: 0%\n", "outside"),
        ("rolling_max_unavailable: 150%\n", "outside"),
        (
            "rolling_max_unavailable: lots\n",
            "neither a whole number nor a percentage",
        ),
        ("rolling_max_unavailable: -1\n", "negative"),
        ("rolling_canary: -1\n", "rolling_canary"),
    ] {
        let err = format!("{:#}", load_text(text).unwrap_err());
        assert!(err.contains("inventory/prod/config.yml"), "{text}: {err}");
        assert!(err.contains(says), "{text}: {err}");
        assert!(err.contains("fix:"), "{text}: {err}");
    }
}
