//! Java `.properties` parsing (the format of `worker.properties` and of
//! connector `.properties` files given to `velocity standalone`).
//!
//! Supports what `java.util.Properties.load` supports in practice: `#` and
//! `!` comments, `=`, `:` or whitespace separators, backslash line
//! continuations and the escapes `\t \n \r \f \\ \uXXXX`. Later duplicates
//! win, as in Java.

use std::collections::BTreeMap;

/// Parses properties text into an ordered map.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if logical.is_empty()
            && (trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!'))
        {
            continue;
        }
        logical.push_str(if logical.is_empty() {
            trimmed
        } else {
            line.trim_start()
        });
        if ends_with_odd_backslashes(&logical) {
            logical.pop();
            if lines.clone().next().is_some() {
                continue;
            }
        }
        let (k, v) = split_key_value(&logical);
        out.insert(unescape(&k), unescape(&v));
        logical.clear();
    }
    out
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

fn split_key_value(line: &str) -> (String, String) {
    let mut key = String::new();
    let mut chars = line.char_indices().peekable();
    let mut rest_start = line.len();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                key.push(c);
                if let Some((_, n)) = chars.next() {
                    key.push(n);
                }
            }
            '=' | ':' => {
                rest_start = i + 1;
                break;
            }
            c if c.is_whitespace() => {
                // whitespace ends the key; an '=' or ':' may still follow
                let mut j = i;
                for (k, c2) in line[i..].char_indices() {
                    if !c2.is_whitespace() {
                        j = i + k;
                        break;
                    }
                    j = i + k + c2.len_utf8();
                }
                rest_start = match line[j..].chars().next() {
                    Some('=') | Some(':') => j + 1,
                    _ => j,
                };
                break;
            }
            c => key.push(c),
        }
    }
    let value = line.get(rest_start..).unwrap_or("").trim_start().to_owned();
    (key, value)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_the_usual_forms() {
        let p = parse(
            "# comment\n! also\nbootstrap.servers=localhost:9092\nkey.converter : org.X\n\
             name   file-source\nlong=a,\\\n   b\npath=C:\\\\tmp\nunicode=\\u0041\nempty=\n",
        );
        assert_eq!(p["bootstrap.servers"], "localhost:9092");
        assert_eq!(p["key.converter"], "org.X");
        assert_eq!(p["name"], "file-source");
        assert_eq!(p["long"], "a,b");
        assert_eq!(p["path"], "C:\\tmp");
        assert_eq!(p["unicode"], "A");
        assert_eq!(p["empty"], "");
        assert_eq!(p.len(), 7);
    }
}
