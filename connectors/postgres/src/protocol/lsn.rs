//! PostgreSQL write-ahead-log positions ([`Lsn`]).
//!
//! An LSN is a 64-bit byte offset into the WAL stream. PostgreSQL prints it as
//! two upper-case hexadecimal 32-bit halves separated by a slash (`16/B374D848`);
//! [`Lsn`]'s [`Display`](std::fmt::Display) and [`FromStr`] use exactly that form,
//! so values round-trip through `pg_replication_slots`, `IDENTIFY_SYSTEM` and the
//! offsets the connector stores.

use std::fmt;
use std::str::FromStr;

/// A WAL position (log sequence number).
///
/// Ordering is the numeric ordering of the underlying `u64`, which is the WAL
/// order. `Lsn(0)` (`0/0`) is PostgreSQL's "invalid" LSN and, in
/// `START_REPLICATION`, means "start from the slot's `confirmed_flush_lsn`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The invalid / zero LSN, `0/0`.
    pub const INVALID: Lsn = Lsn(0);

    /// The raw 64-bit value.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// `true` for `0/0`.
    pub const fn is_invalid(self) -> bool {
        self.0 == 0
    }
}

impl From<u64> for Lsn {
    fn from(v: u64) -> Self {
        Lsn(v)
    }
}

impl From<Lsn> for u64 {
    fn from(v: Lsn) -> Self {
        v.0
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Error returned by [`Lsn::from_str`] for text that is not `X/X` hexadecimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LSN {input:?}: expected two hexadecimal numbers of at most 8 digits separated by '/', e.g. 16/B374D848")]
pub struct ParseLsnError {
    /// The rejected input.
    pub input: String,
}

impl FromStr for Lsn {
    type Err = ParseLsnError;

    /// Parses `X/X` where each half is 1–8 hexadecimal digits (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseLsnError {
            input: s.to_string(),
        };
        let (hi, lo) = s.split_once('/').ok_or_else(err)?;
        let half = |p: &str| -> Result<u64, ParseLsnError> {
            if p.is_empty() || p.len() > 8 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err());
            }
            u64::from_str_radix(p, 16).map_err(|_| err())
        };
        Ok(Lsn((half(hi)? << 32) | half(lo)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let cases = [
            (0u64, "0/0"),
            (0x16_B374_D848, "16/B374D848"),
            (u64::MAX, "FFFFFFFF/FFFFFFFF"),
            (1, "0/1"),
        ];
        for (v, s) in cases {
            assert_eq!(Lsn(v).to_string(), s);
            assert_eq!(s.parse::<Lsn>().unwrap(), Lsn(v));
        }
        assert_eq!("16/b374d848".parse::<Lsn>().unwrap(), Lsn(0x16_B374_D848));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "/",
            "1/",
            "/1",
            "1",
            "1/2/3",
            "G/0",
            "123456789/0",
            "+1/0",
            " 1/0",
        ] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn ordering_is_numeric() {
        let a: Lsn = "0/FFFFFFFF".parse().unwrap();
        let b: Lsn = "1/0".parse().unwrap();
        assert!(a < b);
        assert!(Lsn::INVALID.is_invalid());
    }
}
