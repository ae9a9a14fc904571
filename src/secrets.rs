//! Vault and become passwords: asked for once per session (a no-echo prompt, a file read once,
//! or the dashboard's masked prompt), kept in memory only, and handed to each run through a
//! pipe of its own (`--vault-password-file /dev/fd/N`, `--become-password-file /dev/fd/M`):
//! never argv, the run's environment, a file on disk, a log, the journal or the screen.
//!
//! The store is the process's (`session()`): a fleetdeck process works on one environment, and
//! every run the engine starts reads it when it starts, so a password given mid-session (the
//! dashboard's prompt) reaches the next runs.

use crate::engine::runner::ansible_cfg::AnsibleCfg;
use anyhow::{Context, Result, bail};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// What marks vault-encrypted content, a whole file or an inline `!vault` value.
const VAULT_MARK: &[u8] = b"$ANSIBLE_VAULT;";
/// Files larger than this are not read when looking for vault content.
const SCAN_FILE_MAX: u64 = 4 << 20;
const SCAN_DEPTH: usize = 8;
/// A password longer than this is refused (it must fit a pipe's buffer with room to spare).
pub const SECRET_MAX: usize = 4096;

/// A password. Its `Debug` says nothing of it, and its bytes are zeroed when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The password as typed or read: one trailing newline is not part of it (ansible strips
    /// the file's whitespace too).
    pub fn new(text: impl Into<Vec<u8>>) -> Result<Secret> {
        let mut bytes = text.into();
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        if bytes.is_empty() {
            bail!("the password is empty");
        }
        if bytes.len() > SECRET_MAX {
            bail!("the password is longer than {SECRET_MAX} bytes");
        }
        Ok(Secret(bytes))
    }

    /// A private key file's bytes, exactly as they are (keys are longer than passwords and
    /// their final newline belongs to them).
    pub fn key(bytes: Vec<u8>) -> Result<Secret> {
        if bytes.is_empty() {
            bail!("the key file is empty");
        }
        Ok(Secret(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Zeroes bytes that held a secret, in a way the compiler may not skip as a dead store.
pub fn wipe(bytes: &mut [u8]) {
    for byte in bytes.iter_mut() {
        // SAFETY: a valid, aligned pointer to a byte we own.
        unsafe { std::ptr::write_volatile(byte, 0) };
    }
}

/// Which password a run is handed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Vault,
    Become,
}

impl Kind {
    /// The `ansible-playbook` option that reads it from a file.
    pub fn option(self) -> &'static str {
        match self {
            Kind::Vault => "--vault-password-file",
            Kind::Become => "--become-password-file",
        }
    }
}

/// The session's passwords.
#[derive(Default)]
pub struct Secrets {
    vault: Mutex<Option<Secret>>,
    become_password: Mutex<Option<Secret>>,
}

impl Secrets {
    pub fn set_vault(&self, secret: Secret) {
        if let Ok(mut vault) = self.vault.lock() {
            *vault = Some(secret);
        }
    }

    pub fn set_become(&self, secret: Secret) {
        if let Ok(mut become_password) = self.become_password.lock() {
            *become_password = Some(secret);
        }
    }

    pub fn has_vault(&self) -> bool {
        self.vault.lock().is_ok_and(|vault| vault.is_some())
    }

    pub fn has_become(&self) -> bool {
        self.become_password.lock().is_ok_and(|b| b.is_some())
    }

    /// What a run starting now is handed.
    pub fn for_run(&self) -> Vec<(Kind, Secret)> {
        let vault = self.vault.lock().ok().and_then(|v| v.clone());
        let become_password = self.become_password.lock().ok().and_then(|b| b.clone());
        [(Kind::Vault, vault), (Kind::Become, become_password)]
            .into_iter()
            .filter_map(|(kind, secret)| secret.map(|secret| (kind, secret)))
            .collect()
    }

    /// Whether runs of `env` need a vault password this session has not got: the file that
    /// holds vault content, when ansible's own configuration gives no password either.
    pub fn needs_vault(&self, env: &crate::project::Environment) -> Option<PathBuf> {
        if self.has_vault() {
            return None;
        }
        vault_need(env)
    }
}

/// Hands the session's vault password (if any) to a command about to be spawned, as
/// `--vault-password-file /dev/fd/N`: for `ansible-inventory`, which reads group_vars too.
/// Keep the returned pipe until the command has been spawned.
pub fn pass_vault(command: &mut std::process::Command) -> Result<Option<OwnedFd>> {
    use std::os::unix::process::CommandExt;
    let Some(secret) = session().vault.lock().ok().and_then(|v| v.clone()) else {
        return Ok(None);
    };
    let read = filled_pipe(&secret)?;
    let fd = read.as_raw_fd();
    command
        .arg(Kind::Vault.option())
        .arg(format!("/dev/fd/{fd}"));
    // SAFETY: between fork and exec only fcntl, which is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            let borrowed = std::os::fd::BorrowedFd::borrow_raw(fd);
            nix::fcntl::fcntl(
                borrowed,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
            )?;
            Ok(())
        });
    }
    Ok(Some(read))
}

/// A close-on-exec pipe holding `secret`, its write end closed: whoever is handed the read end
/// reads the password once, and nothing of it is left anywhere after.
pub fn filled_pipe(secret: &Secret) -> Result<OwnedFd> {
    let (read, write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a password pipe")?;
    // A password fits a pipe's buffer (it is at most SECRET_MAX bytes): this never blocks.
    let mut file = std::fs::File::from(write);
    std::io::Write::write_all(&mut file, secret.expose()).context("writing a password pipe")?;
    Ok(read)
}

/// Creates `dir` and any missing parent as 0700: fleetdeck's folders (logs, journal, state,
/// plugin copies) are its user's alone. Folders that exist already are left as they are.
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// The session's store.
pub fn session() -> &'static Secrets {
    static SESSION: OnceLock<Secrets> = OnceLock::new();
    SESSION.get_or_init(Secrets::default)
}

/// Whether ansible's configuration (as a run in `cwd` reads it) already gives a vault password:
/// `vault_password_file` / `ANSIBLE_VAULT_PASSWORD_FILE` or a vault identity list.
pub fn vault_configured(cwd: &Path) -> bool {
    let cfg = AnsibleCfg::load(cwd);
    let file = cfg.path_setting("ANSIBLE_VAULT_PASSWORD_FILE", "vault_password_file", cwd);
    let identities = cfg
        .setting("ANSIBLE_VAULT_IDENTITY_LIST", "vault_identity_list")
        .is_some_and(|(value, _)| !value.trim().is_empty());
    file.is_some() || identities
}

/// The first file of `env`'s inventory folder, or beside its playbooks (`group_vars`,
/// `host_vars`, the playbook itself), that holds vault content — unless ansible's configuration
/// gives the password itself.
pub fn vault_need(env: &crate::project::Environment) -> Option<PathBuf> {
    if vault_configured(&env.root) {
        return None;
    }
    let playbooks = [
        &env.config.playbooks.provision,
        &env.config.playbooks.deploy,
        &env.config.playbooks.check,
    ];
    vault_file_in(
        &env.root,
        &env.inventory_path,
        playbooks.iter().map(|p| p.as_path()),
    )
}

/// Where vault content is, among what ansible reads for these runs.
pub fn vault_file_in<'a>(
    root: &Path,
    inventory: &Path,
    playbooks: impl IntoIterator<Item = &'a Path>,
) -> Option<PathBuf> {
    let inventory = root.join(inventory);
    let inventory_dir = if inventory.is_dir() {
        inventory.clone()
    } else {
        inventory
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    let mut places = vec![inventory_dir];
    for playbook in playbooks {
        let playbook = root.join(playbook);
        if let Some(dir) = playbook.parent() {
            places.push(dir.join("group_vars"));
            places.push(dir.join("host_vars"));
        }
        places.push(playbook);
    }
    places.dedup();
    places.iter().find_map(|place| find_vault(place, 0))
}

fn find_vault(path: &Path, depth: usize) -> Option<PathBuf> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        if meta.len() > SCAN_FILE_MAX {
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        let found = bytes.windows(VAULT_MARK.len()).any(|w| w == VAULT_MARK);
        return found.then(|| path.to_path_buf());
    }
    if !meta.is_dir() || depth >= SCAN_DEPTH {
        return None;
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    entries
        .iter()
        .find_map(|entry| find_vault(entry, depth + 1))
}

/// `fleetdeck run`'s passwords, before anything runs: from the files or prompts asked for, and
/// the vault password also when the environment holds vault content that ansible's
/// configuration gives no password for (asked at a terminal; without one, an error that names
/// the file, so that nothing starts and then fails or waits).
pub fn prepare(env: &crate::project::Environment, args: &crate::cli::SecretArgs) -> Result<()> {
    let session = session();
    if let Some(file) = &args.vault_password_file {
        session.set_vault(read_file(file).context("--vault-password-file")?);
    } else if args.ask_vault_pass {
        session.set_vault(prompt("Vault password: ").context("--ask-vault-pass")?);
    } else if let Some(file) = session.needs_vault(env) {
        let shown = file
            .strip_prefix(&env.root)
            .unwrap_or(&file)
            .display()
            .to_string();
        if !stdin_is_terminal() {
            bail!(
                "{shown} is vault-encrypted and no vault password was given; nothing was run. \
                 Pass --vault-password-file FILE or --ask-vault-pass (at a terminal), or set \
                 vault_password_file in ansible.cfg"
            );
        }
        session.set_vault(prompt(&format!("Vault password (for {shown}): "))?);
    }
    if let Some(file) = &args.become_password_file {
        session.set_become(read_file(file).context("--become-password-file")?);
    } else if args.ask_become_pass {
        session.set_become(prompt("Become (sudo) password: ").context("--ask-become-pass")?);
    }
    Ok(())
}

fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

/// Reads a password file once (`--vault-password-file FILE` of `fleetdeck run`).
pub fn read_file(path: &Path) -> Result<Secret> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Secret::new(bytes).with_context(|| format!("the password in {}", path.display()))
}

/// A no-echo prompt on the terminal. Refused when stdin is not a terminal: nobody could answer.
pub fn prompt(question: &str) -> Result<Secret> {
    if !stdin_is_terminal() {
        bail!("cannot ask for a password: stdin is not a terminal");
    }
    let typed = rpassword::prompt_password(question).context("reading the password")?;
    Secret::new(typed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug_and_loses_its_newline() {
        let secret = Secret::new("hunter2\n").unwrap();
        assert_eq!(secret.expose(), b"hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(<hidden>)");
        assert!(Secret::new("\n").is_err());
        assert!(Secret::new(vec![b'x'; SECRET_MAX + 1]).is_err());
    }

    #[test]
    fn vault_content_is_found_in_group_vars_and_beside_playbooks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |relative: &str, text: &str| {
            let path = root.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("inventory/prod/hosts.yml", "all: {hosts: {a: {}}}\n");
        write("inventory/prod/group_vars/all/plain.yml", "x: 1\n");
        write("playbooks/site.yml", "- hosts: all\n");
        let inventory = Path::new("inventory/prod/hosts.yml");
        let playbooks = [Path::new("playbooks/site.yml")];
        assert_eq!(vault_file_in(root, inventory, playbooks), None);
        write(
            "playbooks/group_vars/web.yml",
            "password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6136\n",
        );
        assert_eq!(
            vault_file_in(root, inventory, playbooks),
            Some(root.join("playbooks/group_vars/web.yml"))
        );
        write(
            "inventory/prod/group_vars/all/vault.yml",
            "$ANSIBLE_VAULT;1.1;AES256\n6136\n",
        );
        assert_eq!(
            vault_file_in(root, inventory, playbooks),
            Some(root.join("inventory/prod/group_vars/all/vault.yml"))
        );
    }

    #[test]
    fn the_session_hands_runs_what_it_was_given() {
        let secrets = Secrets::default();
        assert!(secrets.for_run().is_empty());
        secrets.set_become(Secret::new("b").unwrap());
        secrets.set_vault(Secret::new("v").unwrap());
        let kinds: Vec<Kind> = secrets.for_run().iter().map(|(kind, _)| *kind).collect();
        assert_eq!(kinds, [Kind::Vault, Kind::Become]);
        assert!(secrets.has_vault() && secrets.has_become());
    }
}
