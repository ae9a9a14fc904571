//! The node's inventory: a static snapshot of what `ansible-inventory --list` printed on the
//! controller, in the yaml inventory plugin's format. The node then sees exactly the
//! controller's hosts, groups and vars, even for a dynamic inventory (whose plugin would
//! otherwise run on the node, with the node's credentials and the node's answer).
//!
//! What ansible-core 2.19 prints, and how it comes back:
//! - an inline `!vault` value as `{"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n…"}`, which
//!   goes back as a `!vault` scalar, still encrypted: the node decrypts it with the password;
//! - an `!unsafe` value as `{"__ansible_unsafe": "…"}`, which goes back as `!unsafe`;
//! - plain `--list` gives no group vars: every var a host gets from its groups (inventory file,
//!   `group_vars/`) is folded into its `_meta.hostvars`, and so lands as a host var here;
//!   `--list --export` keeps them as each group's `vars`, which are kept as group vars. Folded
//!   into a host, a group's var outranks a playbook's `group_vars/` (host vars come later in
//!   ansible's precedence): `--export` keeps it where it was;
//! - a var from a whole-file vaulted `group_vars/` or `host_vars/` file comes out decrypted
//!   (ansible decrypts the file to read it), so it lands here in clear text: on the node for
//!   the run's length, as the vault password itself does.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value as Json};
use std::collections::BTreeSet;
use yaml::{write_block, write_key};

mod yaml;

const HEADER: &str =
    "# Written by fleetdeck: a static snapshot of `ansible-inventory --list` on the controller.\n";

/// The yaml inventory for the node, from the JSON of `ansible-inventory --list`.
pub fn inventory_yaml(list_json: &[u8]) -> Result<String> {
    let mut groups: Map<String, Json> = serde_json::from_slice(list_json)
        .context("ansible-inventory printed something that is not its JSON list")?;
    let hostvars = match groups.remove("_meta") {
        Some(meta) => match meta.get("hostvars") {
            Some(Json::Object(hostvars)) => hostvars.clone(),
            Some(_) => bail!("_meta.hostvars of ansible-inventory's list is not an object"),
            None => Map::new(),
        },
        None => Map::new(),
    };
    let mut walk = Walk {
        groups: &groups,
        hostvars: &hostvars,
        groups_done: BTreeSet::new(),
        hosts_done: BTreeSet::new(),
    };
    let mut all = walk.group("all")?;
    // Every group hangs below `all` in ansible's list; one that does not, or a host that no
    // group lists, is still kept (as a child of `all`, and in `ungrouped`).
    for name in groups.keys() {
        if !walk.groups_done.contains(name) {
            let body = walk.group(name)?;
            all.member("children").push((name.clone(), body));
        }
    }
    for name in hostvars.keys() {
        if !walk.hosts_done.contains(name) {
            let vars = walk.host_vars(name);
            let children = all.member("children");
            let ungrouped = match children.iter().position(|(child, _)| child == "ungrouped") {
                Some(at) => &mut children[at].1,
                None => {
                    children.push(("ungrouped".into(), Node::Nothing));
                    &mut children.last_mut().expect("pushed just above").1
                }
            };
            ungrouped.member("hosts").push((name.clone(), vars));
        }
    }
    let mut out = String::from(HEADER);
    write_node(&mut out, "all", &all, 0);
    Ok(out)
}

/// The inventory's shape, in the order ansible listed it (serde_json's maps are sorted).
enum Node<'a> {
    Nothing,
    /// A group body (`hosts`, `vars`, `children`) or a group's `hosts` or `children`.
    Members(Vec<(String, Node<'a>)>),
    /// A host's or a group's vars, as ansible printed them.
    Vars(&'a Json),
}

impl Node<'_> {
    /// `key`'s members in a group body (made when the body or the key holds nothing yet).
    fn member(&mut self, key: &str) -> &mut Vec<(String, Self)> {
        if !matches!(self, Node::Members(_)) {
            *self = Node::Members(Vec::new());
        }
        let Node::Members(body) = self else {
            unreachable!("made members just above")
        };
        let at = match body.iter().position(|(name, _)| name == key) {
            Some(at) => at,
            None => {
                body.push((key.to_string(), Node::Nothing));
                body.len() - 1
            }
        };
        let entry = &mut body[at].1;
        if !matches!(entry, Node::Members(_)) {
            *entry = Node::Members(Vec::new());
        }
        let Node::Members(members) = entry else {
            unreachable!("made members just above")
        };
        members
    }
}

/// A depth-first walk from `all`: a group's hosts, vars and children are written where it is
/// first met, and a host's vars where it is first listed; later mentions only name them (the
/// yaml plugin links a group or host wherever it is named and adds what a mention holds).
struct Walk<'a> {
    groups: &'a Map<String, Json>,
    hostvars: &'a Map<String, Json>,
    groups_done: BTreeSet<String>,
    hosts_done: BTreeSet<String>,
}

impl<'a> Walk<'a> {
    fn group(&mut self, name: &str) -> Result<Node<'a>> {
        if !self.groups_done.insert(name.to_string()) {
            return Ok(Node::Nothing);
        }
        let Some(group) = self.groups.get(name) else {
            return Ok(Node::Nothing);
        };
        let mut body = Vec::new();
        let mut hosts = Vec::new();
        for host in names(group, "hosts").with_context(|| format!("group {name}"))? {
            hosts.push((host.to_string(), self.host_vars(host)));
        }
        if !hosts.is_empty() {
            body.push(("hosts".to_string(), Node::Members(hosts)));
        }
        if let Some(vars) = group.get("vars").filter(|vars| !is_empty(vars)) {
            body.push(("vars".to_string(), Node::Vars(vars)));
        }
        let mut children = Vec::new();
        for child in names(group, "children").with_context(|| format!("group {name}"))? {
            children.push((child.to_string(), self.group(child)?));
        }
        if !children.is_empty() {
            body.push(("children".to_string(), Node::Members(children)));
        }
        Ok(if body.is_empty() {
            Node::Nothing
        } else {
            Node::Members(body)
        })
    }

    fn host_vars(&mut self, host: &str) -> Node<'a> {
        if !self.hosts_done.insert(host.to_string()) {
            return Node::Nothing;
        }
        match self.hostvars.get(host) {
            Some(vars) if !is_empty(vars) => Node::Vars(vars),
            _ => Node::Nothing,
        }
    }
}

fn names<'a>(group: &'a Json, key: &str) -> Result<Vec<&'a str>> {
    match group.get(key) {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(items)) => items
            .iter()
            .map(|item| item.as_str().context("a name that is not a string"))
            .collect(),
        Some(_) => bail!("{key} is not a list"),
    }
}

fn is_empty(value: &Json) -> bool {
    value.is_null() || value.as_object().is_some_and(Map::is_empty)
}

/// `key:` and what it holds, at `indent`.
fn write_node(out: &mut String, key: &str, node: &Node, indent: usize) {
    match node {
        Node::Nothing => {
            write_key(out, key, indent);
            out.push('\n');
        }
        Node::Members(members) => {
            write_key(out, key, indent);
            out.push('\n');
            for (name, member) in members {
                write_node(out, name, member, indent + 2);
            }
        }
        Node::Vars(Json::Object(vars)) => {
            write_key(out, key, indent);
            out.push('\n');
            write_block(out, vars, indent + 2);
        }
        Node::Vars(other) => write_block(
            out,
            &Map::from_iter([(key.into(), (*other).clone())]),
            indent,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VAULT: &str = "$ANSIBLE_VAULT;1.1;AES256\n6162\n6364\n";

    /// The JSON of ansible-core 2.19's `--list` (its shape, not its order).
    fn list() -> Json {
        serde_json::json!({
            "_meta": {"hostvars": {
                "web-01": {"ansible_connection": "local", "port": 8080, "secret": {"__ansible_vault": VAULT}},
                "db-01": {"tpl": {"__ansible_unsafe": "{{ raw }}"}, "answer": "yes", "when": "1:20"},
            }, "profile": "inventory_legacy"},
            "all": {"children": ["ungrouped", "web", "db"]},
            "web": {"hosts": ["web-01"], "children": ["web_eu"]},
            "web_eu": {"hosts": ["web-01", "web-02"]},
            "db": {"hosts": ["db-01"], "vars": {"ratio": 1e300}},
        })
    }

    fn snapshot(list: &Json) -> String {
        inventory_yaml(list.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn groups_nest_as_children_and_each_host_gets_its_vars_once() {
        let yaml = snapshot(&list());
        let expected = r#"all:
  children:
    ungrouped:
    web:
      hosts:
        web-01:
          ansible_connection: local
          port: 8080
          secret: !vault |
            $ANSIBLE_VAULT;1.1;AES256
            6162
            6364
      children:
        web_eu:
          hosts:
            web-01:
            web-02:
    db:
      hosts:
        db-01:
          answer: "yes"
          tpl: !unsafe "{{ raw }}"
          when: "1:20"
      vars:
        ratio: 1.0e+300
"#;
        assert_eq!(yaml.strip_prefix(HEADER), Some(expected), "{yaml}");
    }

    #[test]
    fn a_vault_text_that_a_literal_block_cannot_hold_goes_quoted() {
        let mut list = list();
        list["_meta"]["hostvars"]["web-01"]["secret"]["__ansible_vault"] = "  odd\n\nlines".into();
        let yaml = snapshot(&list);
        assert!(
            yaml.contains(r#"secret: !vault "  odd\n\nlines""#),
            "{yaml}"
        );
    }

    #[test]
    fn hosts_and_groups_outside_all_are_kept() {
        let list = serde_json::json!({
            "_meta": {"hostvars": {"lost": {"x": 1}}},
            "all": {"children": ["ungrouped"]},
            "stray": {"hosts": ["h"]},
        });
        let yaml = snapshot(&list);
        assert!(
            yaml.contains("    stray:\n      hosts:\n        h:\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("    ungrouped:\n      hosts:\n        lost:\n          x: 1\n"),
            "{yaml}"
        );
    }

    #[test]
    fn what_is_not_ansibles_list_is_refused() {
        assert!(inventory_yaml(b"[1]").is_err());
        assert!(inventory_yaml(br#"{"all": {"hosts": "h"}}"#).is_err());
    }
}
