//! Java's number formatting, reproduced exactly: `Double.toString`,
//! `Float.toString` (JDK 19+ shortest-digits semantics) and
//! `BigDecimal.toString` over a Kafka Connect Decimal's unscaled bytes.
//!
//! Kafka Connect's JsonConverter serializes numbers through Jackson, which
//! writes doubles and floats with `Double.toString` / `Float.toString` and
//! `BigDecimal`s with `BigDecimal.toString()` (Jackson's
//! `WRITE_BIGDECIMAL_AS_PLAIN` is off in the converter). Velocity's output
//! must match byte for byte, so the layouts are re-implemented here.

/// Decimal digits of a finite, non-zero float: `0.d1 d2 ... dn × 10^point`
/// with no leading or trailing zeros in `digits`.
struct Digits {
    negative: bool,
    digits: [u8; 32],
    len: usize,
    /// Scientific exponent: the value is `d1.d2...dn × 10^exp`.
    exp: i32,
}

/// Parses the text of a shortest-digits formatter (`ryu` or Rust's `{:e}`)
/// such as `123.45`, `0.00123`, `1e30`, `-4.9e-324` into digits and exponent.
fn parse_digits(text: &str) -> Digits {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exp_part) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    let mut out = Digits {
        negative,
        digits: [0; 32],
        len: 0,
        exp: 0,
    };
    // Position of the decimal point counted in digits from the first digit.
    let mut point = int_part.len() as i32;
    let mut leading = true;
    for &b in int_part.as_bytes().iter().chain(frac_part.as_bytes()) {
        if leading && b == b'0' {
            point -= 1;
            continue;
        }
        leading = false;
        if out.len < out.digits.len() {
            out.digits[out.len] = b;
            out.len += 1;
        }
    }
    while out.len > 1 && out.digits[out.len - 1] == b'0' {
        out.len -= 1;
    }
    out.exp = point + exp_part - 1;
    out
}

/// Writes digits in Java's `Double.toString` layout: plain notation with at
/// least one fraction digit for `1e-3 <= |x| < 1e7`, otherwise computerized
/// scientific notation `d.dddE±n` (no `+` sign, at least one fraction digit).
fn write_java_layout(out: &mut Vec<u8>, d: &Digits) {
    if d.negative {
        out.push(b'-');
    }
    let digits = &d.digits[..d.len];
    if (-3..7).contains(&d.exp) {
        if d.exp >= 0 {
            let int_len = d.exp as usize + 1;
            if digits.len() <= int_len {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            }
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-d.exp - 1) as usize));
            out.extend_from_slice(digits);
        }
    } else {
        out.push(digits[0]);
        out.push(b'.');
        if digits.len() > 1 {
            out.extend_from_slice(&digits[1..]);
        } else {
            out.push(b'0');
        }
        out.push(b'E');
        let mut buf = itoa::Buffer::new();
        out.extend_from_slice(buf.format(d.exp).as_bytes());
    }
}

/// Appends `Double.toString(v)` (JDK 19+) to `out`. Non-finite values are
/// written as `NaN`, `Infinity` and `-Infinity` (unquoted; JSON callers quote
/// them as Jackson does).
pub fn write_java_double(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        out.extend_from_slice(non_finite(v.is_nan(), v > 0.0));
        return;
    }
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    let mut buf = ryu::Buffer::new();
    let mut d = parse_digits(buf.format_finite(v));
    // JDK 19+ never prints a single significant digit: when the shortest
    // decimal has one digit it picks the two-digit decimal closest to the
    // value (Double.MIN_VALUE prints as 4.9E-324, not 5.0E-324). For normal
    // doubles that is always `d.0`; only subnormals can differ.
    if d.len == 1 && v.abs() < f64::MIN_POSITIVE {
        let two = format!("{v:.1e}");
        if two.parse::<f64>() == Ok(v) {
            d = parse_digits(&two);
        }
    }
    write_java_layout(out, &d);
}

/// Appends `Float.toString(v)` (JDK 19+) to `out`; see [`write_java_double`].
pub fn write_java_float(out: &mut Vec<u8>, v: f32) {
    if !v.is_finite() {
        out.extend_from_slice(non_finite(v.is_nan(), v > 0.0));
        return;
    }
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    let mut buf = ryu::Buffer::new();
    let mut d = parse_digits(buf.format_finite(v));
    if d.len == 1 && v.abs() < f32::MIN_POSITIVE {
        let two = format!("{v:.1e}");
        if two.parse::<f32>() == Ok(v) {
            d = parse_digits(&two);
        }
    }
    write_java_layout(out, &d);
}

fn non_finite(nan: bool, positive: bool) -> &'static [u8] {
    if nan {
        b"NaN"
    } else if positive {
        b"Infinity"
    } else {
        b"-Infinity"
    }
}

/// `Double.toString(v)` as Java 19+ prints it: `1.0`, `1.0E10`, `1.0E-5`,
/// `-0.0`, `NaN`, `Infinity`, shortest round-trip digits.
pub fn java_double_to_string(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_java_double(&mut out, v);
    String::from_utf8(out).unwrap_or_default()
}

/// `Float.toString(v)` as Java 19+ prints it (shortest digits that round-trip
/// as a float, same notation rules as [`java_double_to_string`]).
pub fn java_float_to_string(v: f32) -> String {
    let mut out = Vec::with_capacity(16);
    write_java_float(&mut out, v);
    String::from_utf8(out).unwrap_or_default()
}

/// Removes redundant sign bytes from a big-endian two's-complement integer,
/// giving what `BigInteger.toByteArray()` returns (at least one byte; zero is
/// `[0]`).
pub fn minimal_twos_complement(bytes: &[u8]) -> &[u8] {
    if bytes.is_empty() {
        return &[0];
    }
    let mut start = 0;
    while start + 1 < bytes.len() {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    &bytes[start..]
}

/// `±digits` (decimal ASCII digits, most significant first; empty is zero)
/// as minimal big-endian two's-complement bytes: Java's
/// `BigInteger.toByteArray()`, the unscaled value of a Connect Decimal.
pub fn digits_to_twos_complement(negative: bool, digits: &[u8]) -> Vec<u8> {
    // Base-2^32 little-endian limbs.
    let mut limbs: Vec<u32> = Vec::new();
    for b in digits {
        let mut carry = u64::from(b - b'0');
        for limb in limbs.iter_mut() {
            let v = u64::from(*limb) * 10 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let mut mag: Vec<u8> = limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
    let first = mag.iter().position(|b| *b != 0).unwrap_or(mag.len());
    mag.drain(..first);
    if mag.is_empty() {
        return vec![0];
    }
    if !negative {
        if mag[0] & 0x80 != 0 {
            mag.insert(0, 0);
        }
        return mag;
    }
    // Negate with one extra byte of headroom, then trim redundant 0xFF.
    let mut out = Vec::with_capacity(mag.len() + 1);
    out.push(0u8);
    out.extend_from_slice(&mag);
    for b in out.iter_mut() {
        *b = !*b;
    }
    for b in out.iter_mut().rev() {
        let (v, overflow) = b.overflowing_add(1);
        *b = v;
        if !overflow {
            break;
        }
    }
    minimal_twos_complement(&out).to_vec()
}

/// The sign and decimal magnitude digits of a big-endian two's-complement
/// integer of any length.
pub fn twos_complement_to_decimal(bytes: &[u8]) -> (bool, String) {
    let bytes = minimal_twos_complement(bytes);
    let negative = bytes[0] & 0x80 != 0;
    if bytes.len() <= 16 {
        let mut v: i128 = if negative { -1 } else { 0 };
        for &b in bytes {
            v = (v << 8) | i128::from(b);
        }
        return (negative, v.unsigned_abs().to_string());
    }
    // Magnitude as big-endian bytes (negate when negative).
    let mut mag: Vec<u8> = bytes.to_vec();
    if negative {
        for b in mag.iter_mut() {
            *b = !*b;
        }
        for b in mag.iter_mut().rev() {
            let (s, carry) = b.overflowing_add(1);
            *b = s;
            if !carry {
                break;
            }
        }
    }
    // Repeated division by 10^9 over base-256 limbs.
    let mut chunks: Vec<u32> = Vec::new();
    let mut limbs = mag;
    while limbs.iter().any(|&b| b != 0) {
        let mut rem: u64 = 0;
        for b in limbs.iter_mut() {
            let cur = (rem << 8) | u64::from(*b);
            *b = (cur / 1_000_000_000) as u8;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.first() == Some(&0) && limbs.len() > 1 {
            limbs.remove(0);
        }
    }
    if chunks.is_empty() {
        return (false, "0".to_owned());
    }
    let mut s = chunks.last().map(|c| c.to_string()).unwrap_or_default();
    for c in chunks.iter().rev().skip(1) {
        s.push_str(&format!("{c:09}"));
    }
    (negative, s)
}

/// Appends `new BigDecimal(new BigInteger(unscaled), scale).toString()`:
/// plain notation when `scale >= 0` and the adjusted exponent is `>= -6`,
/// otherwise scientific (`1.23E-7`, `1E+3`, `0E-7`).
pub fn write_big_decimal(out: &mut Vec<u8>, unscaled: &[u8], scale: i32) {
    let (negative, coeff) = twos_complement_to_decimal(unscaled);
    let c = coeff.as_bytes();
    let n = c.len() as i64;
    let adjusted = -(scale as i64) + (n - 1);
    if negative {
        out.push(b'-');
    }
    if scale == 0 {
        out.extend_from_slice(c);
    } else if scale > 0 && adjusted >= -6 {
        let s = scale as i64;
        if n > s {
            let int_len = (n - s) as usize;
            out.extend_from_slice(&c[..int_len]);
            out.push(b'.');
            out.extend_from_slice(&c[int_len..]);
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (s - n) as usize));
            out.extend_from_slice(c);
        }
    } else {
        out.push(c[0]);
        if c.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&c[1..]);
        }
        if adjusted != 0 {
            out.push(b'E');
            if adjusted > 0 {
                out.push(b'+');
            }
            out.extend_from_slice(adjusted.to_string().as_bytes());
        }
    }
}

/// `BigDecimal.toString()` of an unscaled two's-complement value and scale.
pub fn big_decimal_to_string(unscaled: &[u8], scale: i32) -> String {
    let mut out = Vec::with_capacity(unscaled.len() * 3 + 8);
    write_big_decimal(&mut out, unscaled, scale);
    String::from_utf8(out).unwrap_or_default()
}

/// Parses a JSON/Java decimal number (`-12.50`, `1E+3`, `4.5e-2`) and returns
/// its unscaled value rescaled to `scale`, as minimal big-endian
/// two's-complement bytes. None when the text is not a number or rescaling
/// would drop non-zero digits.
pub fn decimal_text_to_unscaled(text: &str, scale: i32) -> Option<Vec<u8>> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut digits: Vec<u8> = Vec::with_capacity(int_part.len() + frac_part.len());
    for &b in int_part.as_bytes().iter().chain(frac_part.as_bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        digits.push(b - b'0');
    }
    // value = digits × 10^(exp - frac_len); we want digits' = value × 10^scale.
    let shift = exp - frac_part.len() as i64 + i64::from(scale);
    if shift >= 0 {
        if shift > 10_000 {
            return None;
        }
        digits.extend(std::iter::repeat_n(0, shift as usize));
    } else {
        let drop = (-shift) as usize;
        if drop > digits.len() {
            if digits.iter().any(|&d| d != 0) {
                return None;
            }
            digits.clear();
        } else {
            let kept = digits.len() - drop;
            if digits[kept..].iter().any(|&d| d != 0) {
                return None;
            }
            digits.truncate(kept);
        }
    }
    for d in digits.iter_mut() {
        *d += b'0';
    }
    Some(digits_to_twos_complement(negative, &digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_match_java() {
        let table: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (100.0, "100.0"),
            (0.5, "0.5"),
            (-2.5, "-2.5"),
            (1.0e7, "1.0E7"),
            (9_999_999.0, "9999999.0"),
            (1.2345678e7, "1.2345678E7"),
            (0.001, "0.001"),
            (1.0e-4, "1.0E-4"),
            (9.999999e-4, "9.999999E-4"),
            (123456.789, "123456.789"),
            (1.0e10, "1.0E10"),
            (1.0e-5, "1.0E-5"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.0 / 3.0, "0.3333333333333333"),
            (100.5, "100.5"),
            (1e21, "1.0E21"),
            (1e23, "1.0E23"),
            (2e-3, "0.002"),
            (12345.0, "12345.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (5e-324, "4.9E-324"),
            (1e-323, "9.9E-324"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (std::f64::consts::PI, "3.141592653589793"),
            (1234567.0, "1234567.0"),
            (1.5e300, "1.5E300"),
        ];
        for (v, want) in table {
            assert_eq!(java_double_to_string(*v), *want, "{v:e}");
        }
    }

    #[test]
    fn floats_match_java() {
        let table: &[(f32, &str)] = &[
            (1.1, "1.1"),
            (1.0, "1.0"),
            (16_777_216.0, "1.6777216E7"),
            (0.1, "0.1"),
            (3.4028235e38, "3.4028235E38"),
            (1.0e-3, "0.001"),
            (1.0e-4, "1.0E-4"),
            (123.456, "123.456"),
            (f32::MIN_POSITIVE, "1.1754944E-38"),
            (1e-45, "1.4E-45"),
            (-0.0, "-0.0"),
            (f32::NAN, "NaN"),
            (1.0e7, "1.0E7"),
            (9_999_999.0, "9999999.0"),
            (0.3, "0.3"),
        ];
        for (v, want) in table {
            assert_eq!(java_float_to_string(*v), *want, "{v:e}");
        }
    }

    #[test]
    fn big_decimal_to_string_matches_java() {
        let table: &[(&[u8], i32, &str)] = &[
            (&[0x04, 0xD2], 2, "12.34"),
            (&[0x00, 0x96], 2, "1.50"),
            (&[0xFB, 0x2E], 2, "-12.34"),
            (&[0x00], 2, "0.00"),
            (&[], 0, "0"),
            (&[0x01], 3, "0.001"),
            (&[0x01], 6, "0.000001"),
            (&[0x01], 7, "1E-7"),
            (&[0x00], 7, "0E-7"),
            (&[0x7B], 9, "1.23E-7"),
            (&[0x7B], -2, "1.23E+4"),
            (&[0x00], -3, "0E+3"),
            (&[0x01], -1, "1E+1"),
            (&[0xFF], 0, "-1"),
            (&[0x00, 0x00, 0x7F], 0, "127"),
            (&[0x80], 1, "-12.8"),
            (
                &[0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                0,
                "9223372036854775807",
            ),
        ];
        for (bytes, scale, want) in table {
            assert_eq!(
                big_decimal_to_string(bytes, *scale),
                *want,
                "{bytes:?} {scale}"
            );
        }
    }

    #[test]
    fn big_decimal_beyond_i128() {
        // 2^135 = 43556142965880123323311949751266331066368
        let mut bytes = vec![0u8; 18];
        bytes[0] = 0x00;
        bytes[1] = 0x80;
        assert_eq!(
            big_decimal_to_string(&bytes, 0),
            "43556142965880123323311949751266331066368"
        );
        assert_eq!(
            big_decimal_to_string(&bytes, 10),
            "4355614296588012332331194975126.6331066368"
        );
        // -(2^135)
        let mut neg = vec![0u8; 18];
        neg[0] = 0xFF;
        neg[1] = 0x80;
        assert_eq!(
            big_decimal_to_string(&neg, 0),
            "-43556142965880123323311949751266331066368"
        );
        // Round trip through text.
        let back =
            decimal_text_to_unscaled("-43556142965880123323311949751266331066368", 0).unwrap();
        assert_eq!(minimal_twos_complement(&neg), back.as_slice());
    }

    #[test]
    fn decimal_text_rescales() {
        assert_eq!(
            decimal_text_to_unscaled("12.34", 2).unwrap(),
            vec![0x04, 0xD2]
        );
        assert_eq!(
            decimal_text_to_unscaled("12.3", 2).unwrap(),
            vec![0x04, 0xCE]
        );
        assert_eq!(
            decimal_text_to_unscaled("-12.34", 2).unwrap(),
            vec![0xFB, 0x2E]
        );
        assert_eq!(decimal_text_to_unscaled("1.23E-7", 9).unwrap(), vec![0x7B]);
        assert_eq!(decimal_text_to_unscaled("0", 3).unwrap(), vec![0x00]);
        assert_eq!(
            decimal_text_to_unscaled("128", 0).unwrap(),
            vec![0x00, 0x80]
        );
        assert_eq!(decimal_text_to_unscaled("-128", 0).unwrap(), vec![0x80]);
        assert!(decimal_text_to_unscaled("1.234", 2).is_none());
        assert!(decimal_text_to_unscaled("abc", 2).is_none());
    }

    #[test]
    fn minimal_bytes() {
        assert_eq!(minimal_twos_complement(&[0x00, 0x00, 0x01]), &[0x01]);
        assert_eq!(minimal_twos_complement(&[0x00, 0x80]), &[0x00, 0x80]);
        assert_eq!(minimal_twos_complement(&[0xFF, 0xFF, 0x80]), &[0x80]);
        assert_eq!(minimal_twos_complement(&[0xFF, 0x7F]), &[0xFF, 0x7F]);
        assert_eq!(minimal_twos_complement(&[]), &[0x00]);
    }
}
