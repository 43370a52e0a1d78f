//! Calendar arithmetic (proleptic Gregorian, UTC) and a subset of Java's
//! `SimpleDateFormat` patterns, enough for `TimestampConverter` and
//! `TimestampRouter`: `y M d H h k K m s S a E D Z X z` and quoted literals.
//! Formatting and parsing are always in UTC, as Kafka's transforms do.

/// Milliseconds per day.
pub const MS_PER_DAY: i64 = 86_400_000;

pub use velocity_api::calendar::{civil_from_days, days_from_civil};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Field(char, usize),
    Literal(String),
}

/// A compiled `SimpleDateFormat` pattern.
#[derive(Debug, Clone)]
pub struct DateFormat {
    tokens: Vec<Token>,
    pattern: String,
}

impl DateFormat {
    /// Compiles `pattern`; errors on unsupported pattern letters or an
    /// unterminated quote, as `SimpleDateFormat`'s constructor does.
    pub fn new(pattern: &str) -> Result<DateFormat, String> {
        let mut tokens = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    tokens.push(Token::Literal("'".into()));
                    i += 2;
                    continue;
                }
                let mut lit = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("Unterminated quote in pattern {pattern}")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            lit.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(o) => {
                            lit.push(*o);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Literal(lit));
            } else if c.is_ascii_alphabetic() {
                if !"yMdHhkKmsSaEDZXzu".contains(c) {
                    return Err(format!("Illegal pattern character '{c}'"));
                }
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                tokens.push(Token::Field(c, n));
                i += n;
            } else {
                match tokens.last_mut() {
                    Some(Token::Literal(l)) => l.push(c),
                    _ => tokens.push(Token::Literal(c.to_string())),
                }
                i += 1;
            }
        }
        Ok(DateFormat {
            tokens,
            pattern: pattern.to_owned(),
        })
    }

    /// The pattern this format was compiled from.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Formats milliseconds since the epoch in UTC.
    pub fn format(&self, millis: i64) -> String {
        let days = millis.div_euclid(MS_PER_DAY);
        let ms_of_day = millis.rem_euclid(MS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let hour = ms_of_day / 3_600_000;
        let minute = ms_of_day / 60_000 % 60;
        let second = ms_of_day / 1000 % 60;
        let milli = ms_of_day % 1000;
        let mut out = String::new();
        for t in &self.tokens {
            match t {
                Token::Literal(l) => out.push_str(l),
                Token::Field(c, n) => {
                    let n = *n;
                    let num = |out: &mut String, v: i64| out.push_str(&format!("{v:0n$}"));
                    match c {
                        'y' | 'u' if *c == 'y' && n == 2 => num(&mut out, y.rem_euclid(100)),
                        'y' => num(&mut out, y),
                        'u' => num(&mut out, (days + 3).rem_euclid(7) + 1),
                        'M' if n >= 4 => out.push_str(MONTHS[m as usize - 1]),
                        'M' if n == 3 => out.push_str(&MONTHS[m as usize - 1][..3]),
                        'M' => num(&mut out, i64::from(m)),
                        'd' => num(&mut out, i64::from(d)),
                        'D' => num(&mut out, days - days_from_civil(y, 1, 1) + 1),
                        'H' => num(&mut out, hour),
                        'k' => num(&mut out, if hour == 0 { 24 } else { hour }),
                        'K' => num(&mut out, hour % 12),
                        'h' => num(&mut out, if hour % 12 == 0 { 12 } else { hour % 12 }),
                        'm' => num(&mut out, minute),
                        's' => num(&mut out, second),
                        'S' => num(&mut out, milli),
                        'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
                        'E' => {
                            let name = DAYS[days.rem_euclid(7) as usize];
                            out.push_str(if n >= 4 { name } else { &name[..3] });
                        }
                        'Z' => out.push_str("+0000"),
                        'X' => out.push('Z'),
                        _ => out.push_str("UTC"),
                    }
                }
            }
        }
        out
    }

    /// Parses `text` (the whole of it) as a UTC date-time; missing fields
    /// default to 1970-01-01T00:00:00.000, as `SimpleDateFormat` does.
    pub fn parse(&self, text: &str) -> Result<i64, String> {
        let err = || format!("Unparseable date: \"{text}\"");
        let b = text.as_bytes();
        let mut pos = 0;
        let (mut y, mut mo, mut d) = (1970i64, 1u32, 1u32);
        let (mut h, mut mi, mut s, mut ms) = (0i64, 0i64, 0i64, 0i64);
        let mut pm: Option<bool> = None;
        let mut h12 = false;
        let mut offset_ms = 0i64;
        for (ti, t) in self.tokens.iter().enumerate() {
            match t {
                Token::Literal(l) => {
                    if !text[pos..].starts_with(l.as_str()) {
                        return Err(err());
                    }
                    pos += l.len();
                }
                Token::Field(c, n) => {
                    let next_numeric = matches!(self.tokens.get(ti + 1), Some(Token::Field(nc, _)) if "yMdHhkKmsSDu".contains(*nc) && !(*nc == 'M' && matches!(self.tokens.get(ti + 1), Some(Token::Field(_, k)) if *k >= 3)));
                    let read_num = |pos: &mut usize| -> Result<i64, String> {
                        let start = *pos;
                        let mut neg = false;
                        if b.get(*pos) == Some(&b'-') && *c == 'y' {
                            neg = true;
                            *pos += 1;
                        }
                        let digits_start = *pos;
                        while *pos < b.len()
                            && b[*pos].is_ascii_digit()
                            && (!next_numeric || *pos - digits_start < *n)
                        {
                            *pos += 1;
                        }
                        if *pos == digits_start {
                            *pos = start;
                            return Err(err());
                        }
                        let v: i64 = text[digits_start..*pos].parse().map_err(|_| err())?;
                        Ok(if neg { -v } else { v })
                    };
                    match c {
                        'y' => {
                            let start = pos;
                            let v = read_num(&mut pos)?;
                            y = if *n <= 2 && pos - start == 2 {
                                2000 + v
                            } else {
                                v
                            };
                        }
                        'M' if *n >= 3 => {
                            let rest = &text[pos..];
                            let (i, len) = MONTHS
                                .iter()
                                .enumerate()
                                .find_map(|(i, name)| {
                                    if rest.starts_with(name) {
                                        Some((i, name.len()))
                                    } else if rest.starts_with(&name[..3]) {
                                        Some((i, 3))
                                    } else {
                                        None
                                    }
                                })
                                .ok_or_else(err)?;
                            mo = i as u32 + 1;
                            pos += len;
                        }
                        'M' => mo = u32::try_from(read_num(&mut pos)?).map_err(|_| err())?,
                        'd' => d = u32::try_from(read_num(&mut pos)?).map_err(|_| err())?,
                        'D' | 'u' => {
                            read_num(&mut pos)?;
                        }
                        'H' | 'k' => h = read_num(&mut pos)? % 24,
                        'h' | 'K' => {
                            h = read_num(&mut pos)? % 12;
                            h12 = true;
                        }
                        'm' => mi = read_num(&mut pos)?,
                        's' => s = read_num(&mut pos)?,
                        'S' => ms = read_num(&mut pos)?,
                        'a' => {
                            let rest = text[pos..].to_ascii_uppercase();
                            pm = Some(if rest.starts_with("PM") {
                                true
                            } else if rest.starts_with("AM") {
                                false
                            } else {
                                return Err(err());
                            });
                            pos += 2;
                        }
                        'E' => {
                            let rest = &text[pos..];
                            let len = DAYS
                                .iter()
                                .find_map(|name| {
                                    if rest.starts_with(name) {
                                        Some(name.len())
                                    } else if rest.starts_with(&name[..3]) {
                                        Some(3)
                                    } else {
                                        None
                                    }
                                })
                                .ok_or_else(err)?;
                            pos += len;
                        }
                        'Z' | 'X' | 'z' => {
                            let rest = &text[pos..];
                            if rest.starts_with('Z') {
                                pos += 1;
                            } else if rest.starts_with("UTC") || rest.starts_with("GMT") {
                                pos += 3;
                            } else {
                                let sign = match rest.as_bytes().first() {
                                    Some(b'+') => 1,
                                    Some(b'-') => -1,
                                    _ => return Err(err()),
                                };
                                let digits: String =
                                    rest[1..].chars().filter(|c| *c != ':').take(4).collect();
                                let consumed = rest[1..]
                                    .char_indices()
                                    .scan(0, |cnt, (i, ch)| {
                                        if ch.is_ascii_digit() && *cnt < 4 {
                                            *cnt += 1;
                                            Some(i + 1)
                                        } else if ch == ':' && *cnt == 2 {
                                            Some(i + 1)
                                        } else {
                                            None
                                        }
                                    })
                                    .last()
                                    .ok_or_else(err)?;
                                let hh: i64 = digits
                                    .get(..2)
                                    .and_then(|x| x.parse().ok())
                                    .ok_or_else(err)?;
                                let mm: i64 =
                                    digits.get(2..4).and_then(|x| x.parse().ok()).unwrap_or(0);
                                offset_ms = sign * (hh * 3_600_000 + mm * 60_000);
                                pos += 1 + consumed;
                            }
                        }
                        _ => return Err(err()),
                    }
                }
            }
        }
        if pos != text.len() {
            return Err(err());
        }
        if h12 && pm == Some(true) {
            h += 12;
        }
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return Err(err());
        }
        let days = days_from_civil(y, mo, d);
        Ok(days * MS_PER_DAY + h * 3_600_000 + mi * 60_000 + s * 1000 + ms - offset_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for z in [-800_000i64, -1, 0, 1, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn format_and_parse() {
        let f = DateFormat::new("yyyy-MM-dd'T'HH:mm:ss.SSSXXX").unwrap();
        let ms = 1_700_000_000_123; // 2023-11-14T22:13:20.123Z
        assert_eq!(f.format(ms), "2023-11-14T22:13:20.123Z");
        assert_eq!(f.parse("2023-11-14T22:13:20.123Z").unwrap(), ms);
        assert_eq!(f.parse("2023-11-14T23:13:20.123+01:00").unwrap(), ms);
        let f = DateFormat::new("yyyyMMdd").unwrap();
        assert_eq!(f.format(ms), "20231114");
        assert_eq!(f.parse("20231114").unwrap(), 19_675 * MS_PER_DAY);
        let f = DateFormat::new("EEE, d MMM yyyy hh:mm a").unwrap();
        assert_eq!(f.format(ms), "Tue, 14 Nov 2023 10:13 PM");
        assert_eq!(f.parse("Tue, 14 Nov 2023 10:13 PM").unwrap(), ms - 20_123);
        assert!(f.parse("nope").is_err());
        assert!(DateFormat::new("yyyy-qq").is_err());
    }
}
