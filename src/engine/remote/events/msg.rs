//! The one-line message of a result, by the rules of our events plugin (`_short_msg` and its
//! helpers in `assets/callback_plugins/fleetdeck_events.py`), rebuilt from runner's `res`: a
//! remote failure must read exactly as the same failure run locally. Python's own semantics
//! (truthiness, `splitlines`, `json.dumps`) are followed where the plugin relies on them.

use serde_json::Value;

const MSG_LIMIT: usize = 500;
const HIDDEN: &str = "output hidden by no_log";

/// `_short_msg(res)`.
pub(super) fn short_msg(res: &Value) -> String {
    if hidden(res) {
        return HIDDEN.to_string();
    }
    if let Some(item) = first_item_gone_wrong(res) {
        return short_msg(item);
    }
    let msg = text(res.get("msg"));
    let mut tail = last_line(&text(res.get("stderr")));
    if tail.is_empty() {
        tail = last_line(&text(res.get("stdout")));
    }
    let rc = res.get("rc").filter(|rc| !is_none_or_zero(rc));
    let msg = match rc {
        _ if msg.is_empty() => tail,
        Some(rc) if !tail.is_empty() => format!("{msg} (rc={}): {tail}", python_str(rc)),
        _ => msg,
    };
    clip(msg)
}

/// Python's `bool(value)`.
pub(super) fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

fn hidden(res: &Value) -> bool {
    truthy(res.get("_ansible_no_log")) || res.get("censored").is_some()
}

/// A loop's own result says only "All items completed"; the first item that failed or was
/// unreachable says why.
fn first_item_gone_wrong(res: &Value) -> Option<&Value> {
    res.get("results")?.as_array()?.iter().find(|item| {
        item.is_object() && (truthy(item.get("unreachable")) || truthy(item.get("failed")))
    })
}

/// `res.get('rc') not in (None, 0)` is false for None, 0, 0.0 and False alike.
fn is_none_or_zero(rc: &Value) -> bool {
    match rc {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// `'%s' % value`.
fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        other => python_json(other),
    }
}

/// `_text(value)`: strings as they are, anything else as `json.dumps(value, sort_keys=True)`.
fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => python_json(other),
    }
}

/// `json.dumps(value, sort_keys=True)`: ", " and ": " separators, ASCII only.
fn python_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json_string(key, out);
                out.push_str(": ");
                write_json(&map[key], out);
            }
            out.push('}');
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// `str.splitlines()`'s line boundaries.
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\u{b}'
            | '\u{c}'
            | '\u{1c}'
            | '\u{1d}'
            | '\u{1e}'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `_last_line(text)`: the last line that is not blank, as it is (not stripped).
fn last_line(text: &str) -> String {
    text.split(is_line_break)
        .rev()
        .find(|line| !line.chars().all(is_python_space))
        .unwrap_or("")
        .to_string()
}

/// `_clip(msg)`: a long message keeps its head and the end of its last line.
fn clip(msg: String) -> String {
    let length = msg.chars().count();
    if length <= MSG_LIMIT {
        return msg;
    }
    let last: Vec<char> = last_line(&msg).chars().collect();
    let last: String = last[last.len().saturating_sub(MSG_LIMIT / 2)..]
        .iter()
        .collect();
    let head: String = msg
        .chars()
        .take(MSG_LIMIT - last.chars().count() - 3)
        .collect();
    format!("{head} … {last}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_failed_command_says_its_rc_and_its_last_stderr_line() {
        let res = json!({"msg": "non-zero return code", "rc": 3, "stdout": "", "stderr": "first\npackage broken is broken\n\n"});
        assert_eq!(
            short_msg(&res),
            "non-zero return code (rc=3): package broken is broken"
        );
    }

    #[test]
    fn without_a_msg_the_output_speaks_and_rc_zero_adds_nothing() {
        assert_eq!(
            short_msg(&json!({"stdout": "a\r\nlast words  \r\n"})),
            "last words  "
        );
        assert_eq!(
            short_msg(&json!({"msg": "done", "rc": 0, "stderr": "x"})),
            "done"
        );
        assert_eq!(
            short_msg(&json!({"msg": "done", "rc": false, "stderr": "x"})),
            "done"
        );
    }

    #[test]
    fn a_loop_speaks_through_its_first_item_gone_wrong() {
        let res = json!({"msg": "One or more items failed", "results": [
            {"msg": "fine", "changed": true},
            {"msg": "Failed to connect", "unreachable": true},
            {"msg": "later", "failed": true},
        ]});
        assert_eq!(short_msg(&res), "Failed to connect");
    }

    #[test]
    fn no_log_results_say_nothing_of_themselves() {
        let res = json!({"censored": "the output has been hidden", "msg": "secret"});
        assert_eq!(short_msg(&res), HIDDEN);
        assert_eq!(
            short_msg(&json!({"_ansible_no_log": true, "msg": "secret"})),
            HIDDEN
        );
    }

    #[test]
    fn a_structured_msg_is_written_as_python_json_dumps_writes_it() {
        let res = json!({"msg": {"b": [1, "é"], "a": null}});
        assert_eq!(short_msg(&res), r#"{"a": null, "b": [1, "\u00e9"]}"#);
    }

    #[test]
    fn a_long_message_keeps_its_head_and_the_end_of_its_last_line() {
        let msg = format!("{}\n{}", "h".repeat(600), "t".repeat(300));
        let clipped = short_msg(&json!({ "msg": msg }));
        assert_eq!(clipped.chars().count(), MSG_LIMIT);
        assert!(clipped.starts_with("hhh"));
        assert!(clipped.ends_with(&format!(" … {}", "t".repeat(250))));
    }
}
