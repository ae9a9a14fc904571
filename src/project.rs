//! A project root holds environments (`inventory/<env>/`: an inventory and `config.yml`) and
//! fleetdeck's own files: run logs under `logs/<env>/`, the journal under `.fleetdeck/<env>/`.

use crate::config::{self, Config, DeploymentStrategy, ProvisioningStrategy};
use crate::engine::Policy;
use crate::engine::model::Action;
use crate::engine::rollout::Rolling;
use crate::engine::shell::EngineSetup;
use crate::engine::shell::ansible_env;
use crate::engine::warm::{self, RunnerChoice, WarmRunner, WarmSetup};
use crate::inventory::Inventory;
use crate::inventory::cache::{self, Freshness, Use};
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CALLBACK_PLUGIN: &str = include_str!("../assets/callback_plugins/fleetdeck_events.py");
const DEFAULT_PROGRAM: &str = "ansible-playbook";

pub struct Project {
    pub root: PathBuf,
}

pub struct Environment {
    pub name: String,
    pub root: PathBuf,
    pub dir: PathBuf,
    pub config: Config,
    pub warnings: Vec<String>,
    pub inventory_path: PathBuf,
    pub program: PathBuf,
}

impl Project {
    pub fn open(root: &Path) -> Result<Project> {
        let root = root
            .canonicalize()
            .with_context(|| format!("project root {}", root.display()))?;
        Ok(Project { root })
    }

    /// Folders under `inventory/` that look like environments.
    pub fn envs(&self) -> Result<Vec<String>> {
        let dir = self.root.join("inventory");
        let entries = std::fs::read_dir(&dir).with_context(|| {
            format!(
                "no environments: cannot read {} (run from the project root or pass --root)",
                dir.display()
            )
        })?;
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_dir())
            .filter_map(|entry| entry.file_name().to_str().map(String::from))
            .filter(|name| !name.starts_with('.'))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The environment named, or the only one there is.
    pub fn pick_env(&self, named: Option<&str>) -> Result<String> {
        if let Some(name) = named {
            return Ok(name.to_string());
        }
        match self.envs()?.as_slice() {
            [only] => Ok(only.clone()),
            [] => bail!(
                "no environments under {}",
                self.root.join("inventory").display()
            ),
            many => bail!(
                "several environments ({}): choose one with -e ENV",
                many.join(", ")
            ),
        }
    }

    pub fn env(&self, name: &str) -> Result<Environment> {
        let dir = self.root.join("inventory").join(name);
        if !dir.is_dir() {
            let known = self.envs().unwrap_or_default();
            bail!(
                "no environment `{name}` in {}; available: {}",
                self.root.join("inventory").display(),
                known.join(", ")
            );
        }
        let loaded = config::load(&dir.join("config.yml"))?;
        let inventory_path = dir.join(&loaded.config.inventory);
        if !inventory_path.exists() {
            bail!(
                "{}: `inventory` names {}, which does not exist\n  fix: inventory takes a path relative to {}",
                dir.join("config.yml").display(),
                inventory_path.display(),
                dir.display()
            );
        }
        let program = resolve_program(&self.root, &loaded.config.ansible_playbook);
        Ok(Environment {
            name: name.to_string(),
            root: self.root.clone(),
            dir,
            config: loaded.config,
            warnings: loaded.warnings,
            inventory_path,
            program,
        })
    }
}

/// `FLEETDECK_ANSIBLE_PLAYBOOK` wins, then a non-default `ansible_playbook` from the config, then
/// the project's own `.venv` (where the README's setup installs ansible-core), then `$PATH`.
fn resolve_program(root: &Path, configured: &str) -> PathBuf {
    if let Ok(program) = std::env::var("FLEETDECK_ANSIBLE_PLAYBOOK")
        && !program.is_empty()
    {
        return PathBuf::from(program);
    }
    if configured != DEFAULT_PROGRAM {
        return PathBuf::from(configured);
    }
    let venv = root.join(".venv/bin").join(DEFAULT_PROGRAM);
    if venv.exists() {
        venv
    } else {
        PathBuf::from(DEFAULT_PROGRAM)
    }
}

impl Environment {
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".fleetdeck").join(&self.name)
    }

    pub fn journal_path(&self) -> PathBuf {
        self.state_dir().join("journal.jsonl")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.root.join("logs").join(&self.name)
    }

    /// `ansible-inventory` beside the `ansible-playbook` in use, else the project's `.venv` one,
    /// else the one on `$PATH`: a missing `ansible-playbook` is reported per run, not at start.
    pub fn inventory_program(&self) -> PathBuf {
        let beside = self
            .program
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .map(|dir| dir.join("ansible-inventory"));
        let venv = self.root.join(".venv/bin/ansible-inventory");
        beside
            .into_iter()
            .chain([venv])
            .find(|candidate| candidate.exists())
            .unwrap_or_else(|| PathBuf::from("ansible-inventory"))
    }

    pub fn inventory_cache_path(&self) -> PathBuf {
        self.state_dir().join(cache::CACHE_FILE)
    }

    /// The inventory for a caller that acts on it with no refresh to follow (the headless
    /// `run`, `status`): the cache when no file changed and the inventory is static, a fresh
    /// `ansible-inventory --list` otherwise. With a vault password in the session it is always
    /// read fresh, so a wrong password is still named before anything runs.
    pub fn load_inventory(&self) -> Result<Inventory> {
        if crate::secrets::session().has_vault() {
            return self.refresh_inventory();
        }
        let (inventory, _) = self.inventory_source().load_cached(Use::StaticOnly)?;
        Ok(inventory)
    }

    /// The inventory for a first screen: the cache whenever no file of the inventory changed,
    /// dynamic inventories too. `Freshness::Cached` means the caller should refresh in the
    /// background (`inventory_source().refresh()` on a thread; at once if `may_be_stale()`).
    pub fn load_inventory_cached(&self) -> Result<(Inventory, Freshness)> {
        self.inventory_source().load_cached(Use::Any)
    }

    /// Runs `ansible-inventory --list` whatever the cache holds, and rewrites the cache.
    /// Blocking: run it on a thread of its own (or `spawn_blocking`), e.g. through
    /// [`Environment::inventory_source`], which owns what it needs.
    pub fn refresh_inventory(&self) -> Result<Inventory> {
        self.inventory_source().refresh()
    }

    /// What reads this environment's inventory and where its cache lives, owned.
    pub fn inventory_source(&self) -> cache::Source {
        cache::Source {
            env: self.name.clone(),
            program: self.inventory_program(),
            inventory: self.inventory_path.clone(),
            cwd: self.root.clone(),
            cache: self.inventory_cache_path(),
        }
    }

    pub fn policy(&self) -> Policy {
        Policy::from(&self.config)
    }

    fn callback_dir(&self) -> PathBuf {
        self.root.join(".fleetdeck").join("callback_plugins")
    }

    /// The warm runner of this environment, unless the config says `runner: fresh`. Its
    /// server starts with the first run, or at once with `prewarm`.
    pub fn warm_runner(&self) -> Result<Option<Arc<WarmRunner>>> {
        if self.config.runner == RunnerChoice::Fresh || !self.runs_here() {
            return Ok(None);
        }
        let callback_dir = self.callback_dir();
        install_plugin(&callback_dir)?;
        let script = self.root.join(".fleetdeck").join(warm::SERVER_FILE);
        install_asset(&script, warm::SERVER_SCRIPT)?;
        let state_dir = self.state_dir();
        crate::secrets::create_private_dir_all(&state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
        Ok(Some(Arc::new(WarmRunner::new(WarmSetup {
            program: self.program.clone(),
            script,
            cwd: self.root.clone(),
            env: ansible_env(&callback_dir),
            grace: self.config.cancel_grace,
            stderr_log: state_dir.join("warm-runner.log"),
        }))))
    }

    /// Playbooks that cannot run, with why: missing, not a file, or not a YAML list of plays.
    /// Checked before anything is queued, so a typo in config.yml is not found run by run.
    pub fn playbook_problems(&self) -> BTreeMap<Action, String> {
        let config = self.dir.join("config.yml");
        let mut problems = BTreeMap::new();
        for (action, path) in [
            (Action::Provision, &self.config.playbooks.provision),
            (Action::Deploy, &self.config.playbooks.deploy),
            (Action::Check, &self.config.playbooks.check),
        ] {
            let full = self.root.join(path);
            let why = match std::fs::read_to_string(&full) {
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    Some("does not exist".to_string())
                }
                Err(err) => Some(format!("cannot be read: {err}")),
                Ok(text) => match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) {
                    Ok(serde_yaml_ng::Value::Sequence(_)) => None,
                    Ok(_) => Some("is not a list of plays".to_string()),
                    Err(err) => Some(format!("is not valid YAML: {err}")),
                },
            };
            if let Some(why) = why {
                problems.insert(
                    action,
                    format!(
                        "the {action} playbook {} {why}\n  fix: `playbooks: {{{action}: …}}` in {} takes a path relative to {}",
                        full.display(),
                        config.display(),
                        self.root.display()
                    ),
                );
            }
        }
        problems
    }

    /// Everything the engine needs; writes our callback plugin where ansible will find it.
    pub fn engine_setup(
        &self,
        inventory: &Inventory,
        workers: Option<u32>,
        warm: Option<Arc<WarmRunner>>,
    ) -> Result<EngineSetup> {
        let callback_dir = self.callback_dir();
        install_plugin(&callback_dir)?;
        let mut policy = self.policy();
        if let Some(workers) = workers {
            policy.workers = workers;
        }
        let playbooks = HashMap::from([
            (Action::Provision, self.config.playbooks.provision.clone()),
            (Action::Deploy, self.config.playbooks.deploy.clone()),
            (Action::Check, self.config.playbooks.check.clone()),
        ]);
        Ok(EngineSetup {
            env_name: self.name.clone(),
            root: self.root.clone(),
            inventory: self.inventory_path.clone(),
            playbooks,
            program: self.program.clone(),
            policy,
            cancel_grace: self.config.cancel_grace,
            servers: inventory.hosts.keys().cloned().collect(),
            journal: self.journal_path(),
            log_dir: self.log_dir(),
            callback_dir,
            warm,
            nodes: self.node_plan(inventory)?,
        })
    }
}

/// The plugin ships inside the binary, so an installed fleetdeck needs no assets folder.
/// Written through a temp file and a rename, so a concurrent fleetdeck never reads half of it.
pub fn install_plugin(dir: &Path) -> Result<()> {
    install_asset(&dir.join("fleetdeck_events.py"), CALLBACK_PLUGIN)
}

/// Writes `content` to `path` unless it is there already, through a temp file and a rename.
fn install_asset(path: &Path, content: &str) -> Result<()> {
    let private = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o077 == 0)
    };
    if std::fs::read_to_string(path).is_ok_and(|current| current == content) && private(path) {
        return Ok(());
    }
    let dir = path.parent().context("an asset path has a folder")?;
    crate::secrets::create_private_dir_all(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)?;
        std::io::Write::write_all(&mut file, content.as_bytes())
    };
    write().with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("installing {}", path.display()))
}

mod nodes;

/// The engine's rules as config.yml gives them.
impl From<&Config> for Policy {
    fn from(c: &Config) -> Policy {
        Policy {
            workers: c.max_parallel_workers,
            action_timeout: c.action_timeout,
            health_check_enabled: c.health_check_enabled,
            health_check_timeout: c.health_check_timeout,
            health_check_retries: c.health_check_retries,
            auto_retry_enabled: c.auto_retry_enabled,
            max_retries: c.max_retries,
            max_fail_percentage: c.max_fail_percentage,
            provisioning_tags: c.provisioning_tags.clone(),
            deployment_tags: c.deployment_tags.clone(),
            provisioning_sequential: c.provisioning_strategy == ProvisioningStrategy::Sequential,
            rolling: (c.deployment_strategy == DeploymentStrategy::Rolling).then_some(Rolling {
                canary: c.rolling_canary,
                max_unavailable: c.rolling_max_unavailable,
            }),
        }
    }
}
