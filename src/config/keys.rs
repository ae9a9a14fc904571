//! The table of config.yml's keys (kept apart from the parser that reads them).

/// Every key, what it takes, and an example line: the source of every error's "fix".
pub const KEYS: &[(&str, &str, &str)] = &[
    (
        "max_parallel_workers",
        "a whole number, 0 = sequential",
        "max_parallel_workers: 3",
    ),
    (
        "inventory",
        "a path relative to the environment folder",
        "inventory: hosts.yml",
    ),
    (
        "playbooks",
        "a map of provision / deploy / check to playbook paths",
        "playbooks: {deploy: playbooks/deploy.yml}",
    ),
    (
        "provisioning_tags",
        "a list of tags, or \"a,b\"",
        "provisioning_tags: [base, users]",
    ),
    (
        "deployment_tags",
        "a list of tags, or \"a,b\"",
        "deployment_tags: [release]",
    ),
    (
        "action_timeout",
        "a duration with a unit",
        "action_timeout: 30m",
    ),
    (
        "cancel_grace",
        "a duration with a unit",
        "cancel_grace: 10s",
    ),
    (
        "health_check_enabled",
        "true or false",
        "health_check_enabled: true",
    ),
    (
        "health_check_timeout",
        "a duration with a unit",
        "health_check_timeout: 30s",
    ),
    (
        "health_check_retries",
        "a whole number ≥ 1",
        "health_check_retries: 3",
    ),
    (
        "auto_retry_enabled",
        "true or false",
        "auto_retry_enabled: true",
    ),
    ("max_retries", "a whole number", "max_retries: 3"),
    (
        "max_fail_percentage",
        "a number from 0 to 100",
        "max_fail_percentage: 25",
    ),
    (
        "provisioning_strategy",
        "parallel (the pool) or sequential (one server at a time)",
        "provisioning_strategy: parallel",
    ),
    (
        "deployment_strategy",
        "all_at_once or rolling (blue_green is not implemented yet)",
        "deployment_strategy: rolling",
    ),
    (
        "rolling_max_unavailable",
        "a whole number ≥ 1 or a percentage of the rollout's servers",
        "rolling_max_unavailable: 25%",
    ),
    (
        "rolling_canary",
        "a whole number of servers that go first, alone (0 = no canary)",
        "rolling_canary: 1",
    ),
    (
        "ansible_playbook",
        "a program name or path",
        "ansible_playbook: /opt/ansible/bin/ansible-playbook",
    ),
    (
        "runner",
        "warm (a preloaded ansible forks each run) or fresh (a new ansible-playbook per run)",
        "runner: warm",
    ),
    (
        "refresh_interval",
        "a duration with a unit",
        "refresh_interval: 1s",
    ),
    (
        "log_retention_lines",
        "a whole number ≥ 1",
        "log_retention_lines: 1000",
    ),
    (
        "confirm_actions",
        "true or false (servers hidden by the filter are always confirmed)",
        "confirm_actions: false",
    ),
    (
        "execution_nodes",
        "a list of nodes, each with a name (local = this machine), ssh, capacity, and \
         optionally ssh_options, worker, work_dir, guard",
        "execution_nodes: [{name: local, capacity: 2}, {name: exec-a, ssh: deploy@exec-a, capacity: 8}]",
    ),
    (
        "hosts_ssh_key",
        "a private key file on this machine (relative to the environment folder, or absolute) that runs on execution nodes use to reach the managed hosts",
        "hosts_ssh_key: ~/.ssh/fleet_ed25519",
    ),
    (
        "node_for",
        "a map of inventory groups to the execution nodes their servers may run on",
        "node_for: {db: [exec-b]}",
    ),
];
