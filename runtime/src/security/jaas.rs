//! Java's JAAS configuration syntax, as far as Kafka uses it: the inline
//! `sasl.jaas.config` value (`<LoginModule class> <flag> key="value" …;`) and
//! login files (`Name { <LoginModule class> <flag> key="value" …; };`) named
//! by `java.security.auth.login.config`.

use std::collections::BTreeMap;

/// One login module entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginModule {
    /// The fully qualified class, e.g.
    /// `org.apache.kafka.common.security.plain.PlainLoginModule`.
    pub class: String,
    /// `required`, `requisite`, `sufficient` or `optional`.
    pub flag: String,
    /// The options (`username`, `password`, `file`, …), unquoted.
    pub options: BTreeMap<String, String>,
}

impl LoginModule {
    /// The class name without its package.
    pub fn simple_name(&self) -> &str {
        self.class.rsplit('.').next().unwrap_or(&self.class)
    }
}

/// Splits JAAS text into tokens: words, quoted strings, `{ } ; =`.
fn tokens(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '/' => {
                // `// comment` and `/* comment */`
                chars.next();
                match chars.peek() {
                    Some('/') => {
                        for c in chars.by_ref() {
                            if c == '\n' {
                                break;
                            }
                        }
                    }
                    Some('*') => {
                        chars.next();
                        let mut prev = ' ';
                        for c in chars.by_ref() {
                            if prev == '*' && c == '/' {
                                break;
                            }
                            prev = c;
                        }
                    }
                    _ => out.push("/".to_owned()),
                }
            }
            '{' | '}' | ';' | '=' => {
                out.push(c.to_string());
                chars.next();
            }
            '"' | '\'' => {
                chars.next();
                let mut s = String::from("\u{0}");
                let mut closed = false;
                while let Some(ch) = chars.next() {
                    if ch == c {
                        closed = true;
                        break;
                    }
                    if ch == '\\' {
                        if let Some(n) = chars.next() {
                            s.push(n);
                        }
                        continue;
                    }
                    s.push(ch);
                }
                if !closed {
                    return Err("a quoted value is not closed".into());
                }
                out.push(s);
            }
            _ => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || "{};=\"'".contains(ch) {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Strips the quote marker of a quoted token.
fn unquote(t: &str) -> &str {
    t.strip_prefix('\u{0}').unwrap_or(t)
}

/// Parses module entries until `}` or the end: `class flag (k=v)* ;`.
fn modules(toks: &[String], pos: &mut usize) -> Result<Vec<LoginModule>, String> {
    let mut out = Vec::new();
    while *pos < toks.len() && toks[*pos] != "}" {
        let class = unquote(&toks[*pos]).to_owned();
        let flag = toks
            .get(*pos + 1)
            .map(|f| unquote(f).to_ascii_lowercase())
            .ok_or_else(|| format!("login module {class} has no control flag (e.g. required)"))?;
        if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
            return Err(format!(
                "login module {class}: expected a control flag (required, requisite, sufficient or optional), found {flag}"
            ));
        }
        *pos += 2;
        let mut options = BTreeMap::new();
        loop {
            match toks.get(*pos).map(String::as_str) {
                Some(";") => {
                    *pos += 1;
                    break;
                }
                None => break,
                Some(k) => {
                    if toks.get(*pos + 1).map(String::as_str) != Some("=") {
                        return Err(format!("login module {class}: expected {k}=\"value\""));
                    }
                    let v = toks
                        .get(*pos + 2)
                        .ok_or_else(|| format!("login module {class}: {k}= has no value"))?;
                    options.insert(unquote(k).to_owned(), unquote(v).to_owned());
                    *pos += 3;
                }
            }
        }
        out.push(LoginModule {
            class,
            flag,
            options,
        });
    }
    Ok(out)
}

/// Parses an inline `sasl.jaas.config` value.
pub fn parse_inline(text: &str) -> Result<Vec<LoginModule>, String> {
    let toks = tokens(text)?;
    let mut pos = 0;
    modules(&toks, &mut pos)
}

/// Parses a JAAS login file into its named sections.
pub fn parse_file(text: &str) -> Result<BTreeMap<String, Vec<LoginModule>>, String> {
    let toks = tokens(text)?;
    let mut out = BTreeMap::new();
    let mut pos = 0;
    while pos < toks.len() {
        let name = unquote(&toks[pos]).to_owned();
        if toks.get(pos + 1).map(String::as_str) != Some("{") {
            return Err(format!("expected {{ after the section name {name}"));
        }
        pos += 2;
        let mods = modules(&toks, &mut pos)?;
        if toks.get(pos).map(String::as_str) != Some("}") {
            return Err(format!("section {name} is not closed with }};"));
        }
        pos += 1;
        if toks.get(pos).map(String::as_str) == Some(";") {
            pos += 1;
        }
        out.insert(name, mods);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_plain_module() {
        let m = parse_inline(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="p=;\"x";"#,
        )
        .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].simple_name(), "PlainLoginModule");
        assert_eq!(m[0].options["username"], "alice");
        assert_eq!(m[0].options["password"], "p=;\"x");
    }

    #[test]
    fn file_with_sections_and_comments() {
        let f = parse_file(
            "// Connect's REST users\nKafkaConnect {\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file=\"/etc/connect/users.properties\";\n};\n/* other */ KafkaClient { a.B optional; };\n",
        )
        .unwrap();
        assert_eq!(
            f["KafkaConnect"][0].options["file"],
            "/etc/connect/users.properties"
        );
        assert_eq!(f["KafkaClient"][0].flag, "optional");
        assert!(parse_inline("x.Y maybe;").is_err());
    }
}
