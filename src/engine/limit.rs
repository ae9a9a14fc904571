//! Selecting exactly one host with `ansible-playbook --limit`.

/// `--limit` is a pattern language: `web*`, `!db`, `a:b`, `web 01` all mean something else
/// than one host. A trailing comma makes ansible split on commas only, and a piece that is
/// exactly a host's name is taken as that host before any pattern rule. Names that still
/// cannot be selected alone (a comma inside, edge spaces) are refused when queued
/// (`problem`).
pub fn exact(server: &str) -> String {
    // A piece starting with `!` or `&` is set aside as an exclusion or intersection (and alone,
    // turns into `all` minus or and it); one starting with `@` names a file. Those names go
    // as an anchored regex, which no rule reads otherwise.
    if server.starts_with(['!', '&', '@']) {
        let escaped: String = server
            .chars()
            .flat_map(|c| {
                let special = c.is_ascii() && !c.is_ascii_alphanumeric() && c != '_';
                special.then_some('\\').into_iter().chain([c])
            })
            .collect();
        return format!("~^{escaped}$,");
    }
    format!("{server},")
}

/// Why `server` cannot be selected alone by `--limit`, if it cannot.
pub fn problem(server: &str) -> Option<&'static str> {
    if server.contains(',') {
        Some("it contains a comma, which ansible's --limit splits on")
    } else if server.trim() != server || server.is_empty() {
        Some("it starts or ends with a space, which ansible's --limit strips")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_go_as_they_are_and_pattern_prefixes_as_an_anchored_regex() {
        for plain in ["web-01", "web 01", "app*", "a!b", "ünï", "fe80::1"] {
            assert_eq!(problem(plain), None, "{plain}");
            assert_eq!(exact(plain), format!("{plain},"));
        }
        assert_eq!(exact("!neg"), r"~^\!neg$,");
        assert_eq!(exact("&a.b"), r"~^\&a\.b$,");
        assert_eq!(exact("@ü x"), r"~^\@ü\ x$,");
        for bad in ["a,b", " web", "web ", ""] {
            assert!(problem(bad).is_some(), "{bad:?}");
        }
    }
}
