//! The snapshot's YAML, written here rather than by serde_yaml_ng, which writes YAML 1.2:
//! ansible reads YAML 1.1, where a plain `yes`, `on` or `1:20` is a bool or a number, `1e300`
//! (no dot, no exponent sign) is a string, and `!!float` cannot be written through
//! serde_yaml_ng's `Tag`. So a string is plain only when it could be nothing else, and quoted
//! as JSON (a valid YAML double-quoted scalar) otherwise.

use serde_json::{Map, Value as Json};
use std::fmt::Write as _;

pub fn write_key(out: &mut String, key: &str, indent: usize) {
    out.push_str(&" ".repeat(indent));
    write_string(out, key);
    out.push(':');
}

/// A mapping in block style, at `indent`.
pub fn write_block(out: &mut String, map: &Map<String, Json>, indent: usize) {
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
}
