//! Parsers for PostgreSQL text output formats and the small numeric helpers
//! (arbitrary-precision decimal → two's-complement bytes, proleptic Gregorian
//! calendar arithmetic, Java-compatible formatting) the type mapping needs.
//!
//! Everything here is pure: text in, plain Rust values out. The inputs are
//! what PostgreSQL prints with its default output settings (`DateStyle=ISO`,
//! `IntervalStyle=postgres`, `bytea_output=hex`, `extra_float_digits=1`).

/// Microseconds per day.
pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A parse failure: a short reason (the caller adds type and input).
pub(crate) type ParseResult<T> = Result<T, String>;

// ---------------------------------------------------------------------------
// Decimal numbers
// ---------------------------------------------------------------------------

/// An exact decimal number: `(-1)^negative * digits * 10^-scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BigDec {
    pub negative: bool,
    /// Unscaled magnitude, ASCII digits without leading zeros ("" for 0).
    pub digits: String,
    /// Number of fractional digits (may be negative after stripping).
    pub scale: i32,
}

/// The special values of `numeric`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Numeric {
    /// A finite value.
    Finite(BigDec),
    /// `NaN`.
    NaN,
    /// `Infinity`.
    PosInf,
    /// `-Infinity`.
    NegInf,
}

/// Parses a plain or exponent decimal (`-12.50`, `1e5`, `+3`).
pub(crate) fn parse_decimal(s: &str) -> ParseResult<BigDec> {
    let s = s.trim();
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => (
            &rest[..i],
            rest[i + 1..]
                .parse::<i32>()
                .map_err(|_| format!("bad exponent in {s:?}"))?,
        ),
        None => (rest, 0),
    };
    let (int, frac) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("not a decimal number: {s:?}"));
    }
    let mut digits: String = format!("{int}{frac}");
    let trimmed = digits.trim_start_matches('0').len();
    digits.drain(..digits.len() - trimmed);
    let scale = i32::try_from(frac.len()).map_err(|_| "too many digits".to_string())? - exp;
    Ok(BigDec {
        negative: negative && !digits.is_empty(),
        digits,
        scale,
    })
}

/// Parses `numeric` text output, including `NaN` and `±Infinity`.
pub(crate) fn parse_numeric(s: &str) -> ParseResult<Numeric> {
    match s.trim() {
        "NaN" => Ok(Numeric::NaN),
        "Infinity" | "+Infinity" => Ok(Numeric::PosInf),
        "-Infinity" => Ok(Numeric::NegInf),
        other => parse_decimal(other).map(Numeric::Finite),
    }
}

impl BigDec {
    /// Zero with scale 0.
    pub fn zero() -> BigDec {
        BigDec {
            negative: false,
            digits: String::new(),
            scale: 0,
        }
    }

    /// Changes the scale, padding with zeros or rounding HALF_UP.
    pub fn rescale(&self, scale: i32) -> BigDec {
        if scale == self.scale {
            return self.clone();
        }
        if scale > self.scale {
            if self.digits.is_empty() {
                return BigDec {
                    scale,
                    ..BigDec::zero()
                };
            }
            let mut digits = self.digits.clone();
            digits.extend(std::iter::repeat_n('0', (scale - self.scale) as usize));
            return BigDec {
                negative: self.negative,
                digits,
                scale,
            };
        }
        let drop = (self.scale - scale) as usize;
        if drop > self.digits.len() {
            return BigDec {
                scale,
                ..BigDec::zero()
            };
        }
        let keep = &self.digits[..self.digits.len() - drop];
        let round_up = self.digits.as_bytes()[self.digits.len() - drop] >= b'5';
        let mut digits = keep.to_string();
        if round_up {
            digits = add_one(&digits);
        }
        let trimmed = digits.trim_start_matches('0').to_string();
        BigDec {
            negative: self.negative && !trimmed.is_empty(),
            digits: trimmed,
            scale,
        }
    }

    /// Removes trailing fractional zeros, never going below scale 0
    /// (Debezium's `stripTrailingZeros()` then `setScale(0)` when negative).
    pub fn strip_fraction_zeros(&self) -> BigDec {
        let mut d = self.clone();
        if d.digits.is_empty() {
            d.scale = 0;
            return d;
        }
        while d.scale > 0 && d.digits.ends_with('0') {
            d.digits.pop();
            d.scale -= 1;
        }
        if d.scale < 0 {
            d = d.rescale(0);
        }
        d
    }

    /// Java `BigInteger.toByteArray()` of the unscaled value: minimal
    /// big-endian two's complement, at least one byte.
    pub fn unscaled_bytes(&self) -> Vec<u8> {
        twos_complement(self.negative, &self.digits)
    }

    /// The plain decimal string (`BigDecimal.toPlainString()`).
    pub fn to_plain_string(&self) -> String {
        let mut out = String::new();
        if self.negative {
            out.push('-');
        }
        let digits = if self.digits.is_empty() {
            "0"
        } else {
            &self.digits
        };
        if self.scale <= 0 {
            out.push_str(digits);
            if !self.digits.is_empty() {
                out.extend(std::iter::repeat_n('0', (-self.scale) as usize));
            }
            return out;
        }
        let scale = self.scale as usize;
        if digits.len() > scale {
            out.push_str(&digits[..digits.len() - scale]);
            out.push('.');
            out.push_str(&digits[digits.len() - scale..]);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', scale - digits.len()));
            out.push_str(digits);
        }
        out
    }

    /// The nearest f64 (`BigDecimal.doubleValue()`).
    pub fn to_f64(&self) -> f64 {
        self.to_plain_string().parse().unwrap_or(f64::NAN)
    }
}

fn add_one(digits: &str) -> String {
    let mut bytes: Vec<u8> = digits.bytes().collect();
    let mut i = bytes.len();
    loop {
        if i == 0 {
            bytes.insert(0, b'1');
            break;
        }
        i -= 1;
        if bytes[i] == b'9' {
            bytes[i] = b'0';
        } else {
            bytes[i] += 1;
            break;
        }
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// Minimal big-endian two's complement of `±digits` (decimal ASCII).
pub(crate) fn twos_complement(negative: bool, digits: &str) -> Vec<u8> {
    velocity_api::text::numbers::digits_to_twos_complement(negative, digits.as_bytes())
}

/// Parses `money` text output (`$1,234.56`, `-$0.01`, `($5.00)`, `12,34 €`)
/// into a decimal with `fraction_digits` fractional digits.
pub(crate) fn parse_money(s: &str, fraction_digits: i32) -> ParseResult<BigDec> {
    let s = s.trim();
    let negative = s.contains('-') || (s.starts_with('(') && s.ends_with(')'));
    let kept: String = s
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .collect();
    if !kept.bytes().any(|b| b.is_ascii_digit()) {
        return Err(format!("not a money value: {s:?}"));
    }
    // The decimal separator is the last '.' or ',' followed by exactly
    // `fraction_digits` digits (or the last of both kinds when both occur).
    let last_dot = kept.rfind('.');
    let last_comma = kept.rfind(',');
    let sep = match (last_dot, last_comma) {
        (Some(d), Some(c)) => Some(d.max(c)),
        (Some(p), None) | (None, Some(p)) => {
            let tail = kept.len() - p - 1;
            let count = kept.matches(kept.as_bytes()[p] as char).count();
            if count == 1 && (tail as i32 == fraction_digits || kept.as_bytes()[p] == b'.') {
                Some(p)
            } else {
                None
            }
        }
        (None, None) => None,
    };
    let (int, frac) = match sep {
        Some(p) => (&kept[..p], &kept[p + 1..]),
        None => (&kept[..], ""),
    };
    let int: String = int.chars().filter(char::is_ascii_digit).collect();
    let text = format!("{}{int}.{frac}0", if negative { "-" } else { "" });
    Ok(parse_decimal(&text)?.rescale(fraction_digits))
}

// ---------------------------------------------------------------------------
// Calendar
// ---------------------------------------------------------------------------

pub(crate) use velocity_api::calendar::{civil_from_days, days_from_civil};

/// A parsed `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateText {
    /// `infinity`.
    PosInf,
    /// `-infinity`.
    NegInf,
    /// A date: year as printed, BC flag, month, day.
    Date {
        year: i64,
        bc: bool,
        month: u32,
        day: u32,
    },
}

impl DateText {
    /// Astronomical year (1 BC = 0, 2 BC = -1).
    pub fn astronomical_year(year: i64, bc: bool) -> i64 {
        if bc {
            1 - year
        } else {
            year
        }
    }
}

fn split_bc(s: &str) -> (&str, bool) {
    let t = s.trim();
    match t.strip_suffix(" BC") {
        Some(rest) => (rest.trim_end(), true),
        None => (t.strip_suffix(" AD").unwrap_or(t), false),
    }
}

fn parse_ymd(s: &str) -> ParseResult<(i64, u32, u32)> {
    let mut parts = s.splitn(3, '-');
    let (y, m, d) = (parts.next(), parts.next(), parts.next());
    match (y, m, d) {
        (Some(y), Some(m), Some(d)) if !y.is_empty() => Ok((
            y.parse().map_err(|_| format!("bad year in {s:?}"))?,
            m.parse().map_err(|_| format!("bad month in {s:?}"))?,
            d.parse().map_err(|_| format!("bad day in {s:?}"))?,
        )),
        _ => Err(format!("not a date: {s:?}")),
    }
}

/// Parses `date` text output (`2024-03-01`, `0044-03-15 BC`, `infinity`).
pub(crate) fn parse_date(s: &str) -> ParseResult<DateText> {
    match s.trim() {
        "infinity" => return Ok(DateText::PosInf),
        "-infinity" => return Ok(DateText::NegInf),
        _ => {}
    }
    let (body, bc) = split_bc(s);
    let (year, month, day) = parse_ymd(body)?;
    Ok(DateText::Date {
        year,
        bc,
        month,
        day,
    })
}

/// Parses `HH:MM[:SS[.ffffff]]` into microseconds since midnight (24:00:00
/// allowed, and hours beyond 24 for interval use).
pub(crate) fn parse_hms(s: &str) -> ParseResult<i64> {
    let mut parts = s.split(':');
    let h: i64 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("bad hour in {s:?}"))?;
    let m: i64 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("bad minute in {s:?}"))?;
    let sec = parts.next().unwrap_or("0");
    if parts.next().is_some() {
        return Err(format!("bad time {s:?}"));
    }
    let (whole, frac) = match sec.find('.') {
        Some(i) => (&sec[..i], &sec[i + 1..]),
        None => (sec, ""),
    };
    let whole: i64 = whole.parse().map_err(|_| format!("bad second in {s:?}"))?;
    let micros = frac_to_micros(frac).ok_or_else(|| format!("bad fraction in {s:?}"))?;
    Ok(((h * 60 + m) * 60 + whole) * 1_000_000 + micros)
}

/// `"5"` → 500000, `"000001"` → 1 (digits beyond the sixth are truncated).
fn frac_to_micros(frac: &str) -> Option<i64> {
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = 0;
    for i in 0..6 {
        v = v * 10 + frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    Some(v)
}

/// Splits a trailing UTC offset (`+02`, `-05:30`, `+00:53:28`) off a time
/// text; returns the rest and the offset in seconds (east positive).
pub(crate) fn split_offset(s: &str) -> ParseResult<(&str, i64)> {
    let s = s.trim();
    if let Some(rest) = s.strip_suffix('Z') {
        return Ok((rest, 0));
    }
    // The offset sign is the last '+' or '-' after the time's first ':'.
    let colon = s.find(':').ok_or_else(|| format!("no time in {s:?}"))?;
    let pos = s[colon..]
        .rfind(['+', '-'])
        .map(|p| p + colon)
        .ok_or_else(|| format!("no UTC offset in {s:?}"))?;
    let sign = if s.as_bytes()[pos] == b'-' { -1 } else { 1 };
    let mut secs = 0i64;
    for (i, part) in s[pos + 1..].split(':').enumerate() {
        let v: i64 = part.parse().map_err(|_| format!("bad offset in {s:?}"))?;
        secs += v * [3600, 60, 1].get(i).copied().ok_or("bad offset")?;
    }
    Ok((&s[..pos], sign * secs))
}

/// A parsed `timestamp` / `timestamptz`: microseconds since the epoch (UTC
/// for timestamptz) or an infinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TsText {
    /// `infinity`.
    PosInf,
    /// `-infinity`.
    NegInf,
    /// A finite instant (i128: year 294276 does not fit i64 micros).
    Micros(i128),
}

/// Parses `timestamp` (with_offset false) or `timestamptz` (true) text
/// output: `2024-03-01 13:45:30.123456[+02][ BC]`. A missing time part reads
/// as midnight; a missing offset as UTC.
pub(crate) fn parse_timestamp(s: &str, with_offset: bool) -> ParseResult<TsText> {
    match s.trim() {
        "infinity" => return Ok(TsText::PosInf),
        "-infinity" => return Ok(TsText::NegInf),
        _ => {}
    }
    let (body, bc) = split_bc(s);
    let (date, time) = match body.find([' ', 'T']) {
        Some(i) => (&body[..i], body[i + 1..].trim()),
        None => (body, ""),
    };
    let (year, month, day) = parse_ymd(date)?;
    let (time, offset) = if time.is_empty() {
        ("00:00:00", 0)
    } else if with_offset || time.contains(['+', 'Z']) || time[1..].contains('-') {
        match split_offset(time) {
            Ok(v) => v,
            Err(_) if !with_offset => (time, 0),
            Err(e) => return Err(e),
        }
    } else {
        (time, 0)
    };
    let tod = parse_hms(time)?;
    let days = days_from_civil(DateText::astronomical_year(year, bc), month, day);
    Ok(TsText::Micros(
        i128::from(days) * i128::from(MICROS_PER_DAY) + i128::from(tod)
            - i128::from(offset) * 1_000_000,
    ))
}

/// Java's `DateTimeFormatter` year: 4+ digits, `+` above 9999, `-` below 0.
pub(crate) fn java_year(y: i64) -> String {
    if y > 9999 {
        format!("+{y}")
    } else if y < 0 {
        format!("-{:04}", -y)
    } else {
        format!("{y:04}")
    }
}

/// ISO-8601 UTC rendering of epoch microseconds with exactly `width`
/// fractional digits (Debezium's ZonedTimestamp): `2024-03-01T11:45:30.123456Z`.
pub(crate) fn format_zoned_timestamp(micros: i128, width: u32) -> String {
    let day = 86_400_000_000i128;
    let days = micros.div_euclid(day) as i64;
    let tod = micros.rem_euclid(day) as i64;
    let (y, m, d) = civil_from_days(days);
    let secs = tod / 1_000_000;
    let mut out = String::with_capacity(32);
    if (0..=9999).contains(&y) {
        push_digits(&mut out, y, 4);
    } else {
        out.push_str(&java_year(y));
    }
    out.push('-');
    push_digits(&mut out, i64::from(m), 2);
    out.push('-');
    push_digits(&mut out, i64::from(d), 2);
    out.push('T');
    push_digits(&mut out, secs / 3600, 2);
    out.push(':');
    push_digits(&mut out, secs / 60 % 60, 2);
    out.push(':');
    push_digits(&mut out, secs % 60, 2);
    if width > 0 {
        let w = width.min(6) as usize;
        out.push('.');
        // the first `w` of the six fractional digits
        push_digits(&mut out, (tod % 1_000_000) / 10i64.pow(6 - w as u32), w);
        out.extend(std::iter::repeat_n('0', width as usize - w));
    }
    out.push('Z');
    out
}

/// Appends `v` (0 ≤ v < 10^width) zero-padded to `width` digits; the hot
/// path of timestamp rendering, without `format!`'s machinery.
fn push_digits(out: &mut String, v: i64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = v.unsigned_abs();
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.push_str(std::str::from_utf8(&buf[..width]).expect("ascii digits"));
}

/// ISO-8601 time with the fraction stripped of trailing zeros (Java's
/// `ISO_OFFSET_TIME` at UTC): `11:45:30.5Z`, `00:00:00Z`.
pub(crate) fn format_zoned_time(micros_of_day: i64) -> String {
    let secs = micros_of_day / 1_000_000;
    let mut out = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    let frac = micros_of_day % 1_000_000;
    if frac != 0 {
        let f = format!("{frac:06}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

// ---------------------------------------------------------------------------
// Interval
// ---------------------------------------------------------------------------

/// An interval as PgJDBC's `PGInterval` holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct IntervalText {
    pub years: i32,
    pub months: i32,
    pub days: i32,
    pub hours: i32,
    pub minutes: i32,
    /// Whole seconds and microseconds, both carrying the time part's sign.
    pub whole_seconds: i32,
    pub micros: i32,
}

impl IntervalText {
    /// `PGInterval.getSeconds()`: whole seconds plus micros / 1e6.
    pub fn seconds(&self) -> f64 {
        f64::from(self.whole_seconds) + f64::from(self.micros) / 1e6
    }

    /// Debezium's `MicroDuration.durationMicros` with a 30.4375-day month,
    /// cast to long the Java way (truncating, saturating).
    pub fn duration_micros(&self) -> i64 {
        let dpm = 365.25 / 12.0;
        let months = self.years.wrapping_mul(12).wrapping_add(self.months);
        let days = f64::from(months) * dpm + f64::from(self.days);
        let secs = ((days * 24.0 + f64::from(self.hours)) * 60.0 + f64::from(self.minutes)) * 60.0
            + self.seconds();
        let v = secs * 1e6;
        if v.is_nan() {
            0
        } else {
            v as i64 // Rust float→int casts truncate and saturate like Java
        }
    }

    /// Debezium's `Interval.toIsoString`: `P1Y2M3DT4H5M6.789S`.
    pub fn iso_string(&self) -> String {
        format!(
            "P{}Y{}M{}DT{}H{}M{}S",
            self.years,
            self.months,
            self.days,
            self.hours,
            self.minutes,
            java_seconds_string(self.seconds())
        )
    }
}

/// `BigDecimal.valueOf(d)` truncated to 6 decimals, trailing zeros
/// stripped, plain notation.
pub(crate) fn java_seconds_string(d: f64) -> String {
    let text = format!("{d}");
    let Ok(mut dec) = parse_decimal(&text) else {
        return text;
    };
    if dec.scale > 6 {
        // RoundingMode.DOWN: drop digits.
        let drop = (dec.scale - 6) as usize;
        if drop >= dec.digits.len() {
            dec.digits.clear();
        } else {
            dec.digits.truncate(dec.digits.len() - drop);
        }
        dec.digits = dec.digits.trim_start_matches('0').to_string();
        dec.scale = 6;
        dec.negative &= !dec.digits.is_empty();
    }
    if dec.digits.is_empty() {
        return "0".to_string();
    }
    // stripTrailingZeros may give a negative scale; toPlainString then
    // prints the zeros back, so stripping fractional zeros is equivalent.
    dec.strip_fraction_zeros().to_plain_string()
}

/// Parses `interval` text output in the `postgres` (and
/// `postgres_verbose`) style: `1 year 2 mons 3 days 04:05:06.789`,
/// `-1 days -00:00:00.000001`, `@ 1 hour 30 mins ago`.
pub(crate) fn parse_interval(s: &str) -> ParseResult<IntervalText> {
    let mut iv = IntervalText {
        years: 0,
        months: 0,
        days: 0,
        hours: 0,
        minutes: 0,
        whole_seconds: 0,
        micros: 0,
    };
    let bad = || format!("not an interval: {s:?}");
    let tokens: Vec<&str> = s.split_whitespace().filter(|t| *t != "@").collect();
    let mut ago = false;
    let mut i = 0;
    let mut frac_secs: f64 = 0.0;
    while i < tokens.len() {
        let t = tokens[i];
        if t == "ago" {
            ago = true;
            i += 1;
            continue;
        }
        if t.contains(':') {
            let (neg, body) = match t.strip_prefix('-') {
                Some(b) => (true, b),
                None => (false, t.strip_prefix('+').unwrap_or(t)),
            };
            let micros = parse_hms(body)?;
            let sign: i64 = if neg { -1 } else { 1 };
            let total_secs = micros / 1_000_000;
            iv.hours = (sign * (total_secs / 3600)) as i32;
            iv.minutes = (sign * (total_secs / 60 % 60)) as i32;
            iv.whole_seconds = (sign * (total_secs % 60)) as i32;
            iv.micros = (sign * (micros % 1_000_000)) as i32;
            i += 1;
            continue;
        }
        let unit = tokens.get(i + 1).ok_or_else(bad)?;
        let unit = unit.trim_end_matches(',').to_ascii_lowercase();
        if unit.starts_with("sec") {
            frac_secs += t.parse::<f64>().map_err(|_| bad())?;
        } else {
            let n: i32 = t.parse().map_err(|_| bad())?;
            match unit.as_str() {
                "year" | "years" => iv.years = n,
                "mon" | "mons" => iv.months = n,
                "day" | "days" => iv.days = n,
                "hour" | "hours" => iv.hours = n,
                "min" | "mins" => iv.minutes = n,
                _ => return Err(bad()),
            }
        }
        i += 2;
    }
    if frac_secs != 0.0 {
        iv.whole_seconds = frac_secs.trunc() as i32;
        iv.micros = ((frac_secs - frac_secs.trunc()) * 1e6).round() as i32;
    }
    if ago {
        iv.years = -iv.years;
        iv.months = -iv.months;
        iv.days = -iv.days;
        iv.hours = -iv.hours;
        iv.minutes = -iv.minutes;
        iv.whole_seconds = -iv.whole_seconds;
        iv.micros = -iv.micros;
    }
    Ok(iv)
}

// ---------------------------------------------------------------------------
// bytea, bits, point
// ---------------------------------------------------------------------------

/// Parses `bytea` text output, hex (`\x00ff`) or escape format.
pub(crate) fn parse_bytea(s: &[u8]) -> ParseResult<Vec<u8>> {
    if let Some(hex) = s.strip_prefix(b"\\x") {
        if hex.len() % 2 != 0 {
            return Err("odd number of hex digits in bytea".into());
        }
        return hex
            .chunks(2)
            .map(|pair| {
                let hi = (pair[0] as char).to_digit(16);
                let lo = (pair[1] as char).to_digit(16);
                match (hi, lo) {
                    (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                    _ => Err("bad hex digit in bytea".to_string()),
                }
            })
            .collect();
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' {
            if s.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
            } else if i + 4 <= s.len() && s[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b))
            {
                let v = (u32::from(s[i + 1] - b'0') << 6)
                    | (u32::from(s[i + 2] - b'0') << 3)
                    | u32::from(s[i + 3] - b'0');
                out.push(v as u8);
                i += 4;
            } else {
                return Err("bad escape in bytea".into());
            }
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Debezium's Bits value: the bit string as an integer (last character is
/// bit 0), little-endian, minimal length (all zeros → empty).
pub(crate) fn bits_to_bytes(s: &str) -> ParseResult<Vec<u8>> {
    let bits = s.trim().as_bytes();
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (i, b) in bits.iter().rev().enumerate() {
        match b {
            b'1' => out[i / 8] |= 1 << (i % 8),
            b'0' => {}
            _ => return Err(format!("not a bit string: {s:?}")),
        }
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    Ok(out)
}

/// Parses `point` text output `(x,y)`.
pub(crate) fn parse_point(s: &str) -> ParseResult<(f64, f64)> {
    let t = s.trim().trim_start_matches('(').trim_end_matches(')');
    let (x, y) = t
        .split_once(',')
        .ok_or_else(|| format!("not a point: {s:?}"))?;
    Ok((parse_f64(x)?, parse_f64(y)?))
}

/// Parses float text output, including `NaN` and `±Infinity`.
pub(crate) fn parse_f64(s: &str) -> ParseResult<f64> {
    match s.trim() {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        t => t.parse().map_err(|_| format!("not a number: {s:?}")),
    }
}

/// Parses float4 text output, including `NaN` and `±Infinity`.
pub(crate) fn parse_f32(s: &str) -> ParseResult<f32> {
    match s.trim() {
        "NaN" => Ok(f32::NAN),
        "Infinity" => Ok(f32::INFINITY),
        "-Infinity" => Ok(f32::NEG_INFINITY),
        t => t.parse().map_err(|_| format!("not a number: {s:?}")),
    }
}

/// WKB of a 2-D point, little-endian (what Debezium's `Point` carries).
pub(crate) fn point_wkb(x: f64, y: f64) -> Vec<u8> {
    let mut wkb = Vec::with_capacity(21);
    wkb.push(1);
    wkb.extend_from_slice(&1u32.to_le_bytes());
    wkb.extend_from_slice(&x.to_le_bytes());
    wkb.extend_from_slice(&y.to_le_bytes());
    wkb
}

// ---------------------------------------------------------------------------
// Arrays
// ---------------------------------------------------------------------------

/// One element of a parsed array literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArrayElem {
    /// Unquoted `NULL`.
    Null,
    /// An element's text (quotes and escapes removed).
    Text(String),
    /// A nested (sub-)array.
    Nested(Vec<ArrayElem>),
}

/// Parses array text output (`{1,2,NULL}`, `{"a b","c\"d"}`,
/// `{{1,2},{3,4}}`, `[0:1]={1,2}`) with `,` as delimiter.
pub(crate) fn parse_array(s: &str) -> ParseResult<Vec<ArrayElem>> {
    let mut t = s.trim();
    if t.starts_with('[') {
        let eq = t
            .find('=')
            .ok_or_else(|| format!("bad array bounds in {s:?}"))?;
        t = t[eq + 1..].trim_start();
    }
    let chars: Vec<char> = t.chars().collect();
    let mut pos = 0;
    let out = parse_array_level(&chars, &mut pos)?;
    Ok(out)
}

fn parse_array_level(c: &[char], pos: &mut usize) -> ParseResult<Vec<ArrayElem>> {
    if c.get(*pos) != Some(&'{') {
        return Err("array literal must start with '{'".into());
    }
    *pos += 1;
    let mut out = Vec::new();
    loop {
        while c.get(*pos).is_some_and(|ch| ch.is_whitespace()) {
            *pos += 1;
        }
        match c.get(*pos) {
            None => return Err("unterminated array literal".into()),
            Some('}') => {
                *pos += 1;
                return Ok(out);
            }
            Some('{') => out.push(ArrayElem::Nested(parse_array_level(c, pos)?)),
            Some('"') => {
                *pos += 1;
                let mut v = String::new();
                loop {
                    match c.get(*pos) {
                        None => return Err("unterminated quoted array element".into()),
                        Some('\\') => {
                            if let Some(ch) = c.get(*pos + 1) {
                                v.push(*ch);
                            }
                            *pos += 2;
                        }
                        Some('"') => {
                            *pos += 1;
                            break;
                        }
                        Some(ch) => {
                            v.push(*ch);
                            *pos += 1;
                        }
                    }
                }
                out.push(ArrayElem::Text(v));
            }
            Some(_) => {
                let mut v = String::new();
                while let Some(ch) = c.get(*pos) {
                    if *ch == ',' || *ch == '}' {
                        break;
                    }
                    if *ch == '\\' {
                        if let Some(n) = c.get(*pos + 1) {
                            v.push(*n);
                        }
                        *pos += 2;
                        continue;
                    }
                    v.push(*ch);
                    *pos += 1;
                }
                let v = v.trim_end().to_string();
                if v.eq_ignore_ascii_case("NULL") {
                    out.push(ArrayElem::Null);
                } else {
                    out.push(ArrayElem::Text(v));
                }
            }
        }
        while c.get(*pos).is_some_and(|ch| ch.is_whitespace()) {
            *pos += 1;
        }
        match c.get(*pos) {
            Some(',') => *pos += 1,
            Some('}') => {}
            _ => return Err("expected ',' or '}' in array literal".into()),
        }
    }
}

// ---------------------------------------------------------------------------
// hstore
// ---------------------------------------------------------------------------

/// Parses hstore text output (`"a"=>"1", "b"=>NULL`) and returns the pairs
/// in the iteration order of the `java.util.HashMap` PgJDBC builds, which is
/// the order Debezium writes them in.
pub(crate) fn parse_hstore(s: &str) -> ParseResult<Vec<(String, Option<String>)>> {
    let c: Vec<char> = s.chars().collect();
    let mut pos = 0;
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    let skip_ws = |pos: &mut usize| {
        while c.get(*pos).is_some_and(|ch| ch.is_whitespace()) {
            *pos += 1;
        }
    };
    loop {
        skip_ws(&mut pos);
        if pos >= c.len() {
            break;
        }
        let key = hstore_token(&c, &mut pos)?.ok_or("hstore key must not be NULL")?;
        skip_ws(&mut pos);
        if c.get(pos) != Some(&'=') || c.get(pos + 1) != Some(&'>') {
            return Err(format!("expected '=>' in hstore {s:?}"));
        }
        pos += 2;
        skip_ws(&mut pos);
        let value = hstore_token(&c, &mut pos)?;
        match pairs.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => pairs.push((key, value)),
        }
        skip_ws(&mut pos);
        match c.get(pos) {
            Some(',') => pos += 1,
            None => break,
            _ => return Err(format!("expected ',' in hstore {s:?}")),
        }
    }
    Ok(java_hashmap_order(pairs))
}

fn hstore_token(c: &[char], pos: &mut usize) -> ParseResult<Option<String>> {
    let mut v = String::new();
    if c.get(*pos) == Some(&'"') {
        *pos += 1;
        loop {
            match c.get(*pos) {
                None => return Err("unterminated hstore string".into()),
                Some('\\') => {
                    if let Some(ch) = c.get(*pos + 1) {
                        v.push(*ch);
                    }
                    *pos += 2;
                }
                Some('"') => {
                    *pos += 1;
                    return Ok(Some(v));
                }
                Some(ch) => {
                    v.push(*ch);
                    *pos += 1;
                }
            }
        }
    }
    while let Some(ch) = c.get(*pos) {
        if ch.is_whitespace() || *ch == ',' || *ch == '=' {
            break;
        }
        v.push(*ch);
        *pos += 1;
    }
    if v.eq_ignore_ascii_case("NULL") {
        Ok(None)
    } else if v.is_empty() {
        Err("empty hstore token".into())
    } else {
        Ok(Some(v))
    }
}

/// `String.hashCode()` (over UTF-16 code units).
pub(crate) fn java_string_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for unit in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    h
}

/// Reorders insertion-ordered pairs the way a default-capacity
/// `java.util.HashMap` iterates them: by bucket, insertion order within one.
pub(crate) fn java_hashmap_order<V>(pairs: Vec<(String, V)>) -> Vec<(String, V)> {
    let mut cap: usize = 16;
    while pairs.len() * 4 > cap * 3 {
        cap *= 2;
    }
    let mut keyed: Vec<(usize, usize, (String, V))> = pairs
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let h = java_string_hash(&p.0) as u32;
            let spread = h ^ (h >> 16);
            ((spread as usize) & (cap - 1), i, p)
        })
        .collect();
    keyed.sort_by_key(|(bucket, i, _)| (*bucket, *i));
    keyed.into_iter().map(|(_, _, p)| p).collect()
}

/// Writes `s` as a JSON string the way Jackson's generator does (escapes
/// `"`, `\` and control characters; everything else verbatim).
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
