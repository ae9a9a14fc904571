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
//!   `--list --export` keeps them as each group's `vars`, which are kept as group vars.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value as Json};
use std::collections::BTreeSet;
use std::fmt::Write as _;

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

// The YAML is written here rather than by serde_yaml_ng, which writes YAML 1.2: ansible reads
// YAML 1.1, where a plain `yes`, `on` or `1:20` is a bool or a number, `1e+300` without a dot
// is a string, and `!!float` can't be written through its `Tag`. So a string is plain only
// when it could be nothing else, and quoted as JSON (a valid YAML double-quoted scalar) else.

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

fn write_key(out: &mut String, key: &str, indent: usize) {
    out.push_str(&" ".repeat(indent));
    write_string(out, key);
    out.push(':');
}

/// A mapping in block style, at `indent`.
fn write_block(out: &mut String, map: &Map<String, Json>, indent: usize) {
    for (key, value) in map {
        write_key(out, key, indent);
        match value {
            Json::Null => out.push('\n'),
            Json::Object(fields) if marker(fields).is_some() => {
                let (tag, text) = marker(fields).expect("checked just above");
                write_tagged_block(out, tag, text, indent + 2);
            }
            Json::Object(fields) if !fields.is_empty() => {
                out.push('\n');
                write_block(out, fields, indent + 2);
            }
            _ => {
                out.push(' ');
                write_flow(out, value);
                out.push('\n');
            }
        }
    }
}

/// A vault text as the literal block ansible-vault writes (`!vault |`), when its lines allow.
fn write_tagged_block(out: &mut String, tag: &str, text: &str, indent: usize) {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let literal = tag == "!vault"
        && !body.is_empty()
        && body
            .lines()
            .all(|line| !line.is_empty() && line.bytes().all(|b| b.is_ascii_graphic()));
    if !literal {
        out.push(' ');
        out.push_str(tag);
        out.push(' ');
        write_quoted(out, text);
        out.push('\n');
        return;
    }
    let chomp = if text.ends_with('\n') { "" } else { "-" };
    let _ = writeln!(out, " {tag} |{chomp}");
    for line in body.lines() {
        let _ = writeln!(out, "{}{line}", " ".repeat(indent));
    }
}

/// Any value on one line (flow style).
fn write_flow(out: &mut String, value: &Json) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Json::Number(number) => write_number(out, number),
        Json::String(text) => write_string(out, text),
        Json::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_flow(out, item);
            }
            out.push(']');
        }
        Json::Object(fields) => {
            if let Some((tag, text)) = marker(fields) {
                out.push_str(tag);
                out.push(' ');
                write_quoted(out, text);
                return;
            }
            out.push('{');
            for (index, (key, field)) in fields.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_string(out, key);
                out.push_str(": ");
                write_flow(out, field);
            }
            out.push('}');
        }
    }
}

/// Ansible's JSON markers: `{"__ansible_vault": text}` is a `!vault` value (still encrypted),
/// `{"__ansible_unsafe": text}` an `!unsafe` one.
fn marker(fields: &Map<String, Json>) -> Option<(&'static str, &str)> {
    if fields.len() != 1 {
        return None;
    }
    let (key, Json::String(text)) = fields.iter().next()? else {
        return None;
    };
    match key.as_str() {
        "__ansible_vault" => Some(("!vault", text)),
        "__ansible_unsafe" => Some(("!unsafe", text)),
        _ => None,
    }
}

/// Plain when YAML 1.1 reads it back as this string and nothing else (a name such as
/// `web-01` or `local`), quoted otherwise.
fn write_string(out: &mut String, text: &str) {
    const WORDS: [&str; 9] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let mut chars = text.chars();
    let plain = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !WORDS.contains(&text.to_ascii_lowercase().as_str());
    if plain {
        out.push_str(text);
    } else {
        write_quoted(out, text);
    }
}

fn write_quoted(out: &mut String, text: &str) {
    out.push_str(&Json::String(text.to_string()).to_string());
}

/// Integers as they are; a float always with a dot and, with an exponent, its sign (YAML 1.1
/// reads `1e300` as a string).
fn write_number(out: &mut String, number: &serde_json::Number) {
    if !number.is_f64() {
        let _ = write!(out, "{number}");
        return;
    }
    let float = number.as_f64().unwrap_or_default();
    let plain = format!("{float:?}");
    if plain.contains('.') && !plain.contains('e') {
        out.push_str(&plain);
        return;
    }
    let scientific = format!("{float:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let dot = if mantissa.contains('.') { "" } else { ".0" };
    let sign = if exponent.starts_with('-') { "" } else { "+" };
    let _ = write!(out, "{mantissa}{dot}e{sign}{exponent}");
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
    fn strings_are_plain_only_when_yaml_1_1_reads_them_back_as_strings() {
        let quoted = |text: &str| {
            let mut out = String::new();
            write_string(&mut out, text);
            out
        };
        for plain in ["web-01", "local", "a.b/c", "_x"] {
            assert_eq!(quoted(plain), plain);
        }
        for special in [
            "yes", "On", "N", "null", "1:20", "0755", "~", "", "a b", "10.0.0.1", "x: y",
        ] {
            assert!(quoted(special).starts_with('"'), "{special}");
        }
        let number = |value: f64| {
            let mut out = String::new();
            write_number(&mut out, &serde_json::Number::from_f64(value).unwrap());
            out
        };
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(1e300), "1.0e+300");
        assert_eq!(number(1.5e-7), "1.5e-7");
    }

    #[test]
    fn what_is_not_ansibles_list_is_refused() {
        assert!(inventory_yaml(b"[1]").is_err());
        assert!(inventory_yaml(br#"{"all": {"hosts": "h"}}"#).is_err());
    }
}
