//! The REST access log, like the request log Kafka Connect's Jetty server
//! writes (`CustomRequestLog` with `EXTENDED_NCSA_FORMAT` plus the time
//! taken in ms), one INFO line per request under the tracing target
//! [`TARGET`]:
//!
//! ```text
//! 127.0.0.1 - - [25/Nov/2026:23:05:31 +0000] "GET /connectors HTTP/1.1" 200 2 "-" "curl/8.5.0" 3
//! ```
//!
//! The user is `-` (or the Basic-auth user name when a request carries
//! one; never the password); the query string is logged as sent.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;

/// The tracing target of access-log lines (`RUST_LOG` or `/admin/loggers`
/// can silence it).
pub const TARGET: &str = "velocity_runtime::rest::access";

/// Axum middleware writing one access-log line per request.
pub async fn log(req: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let ext = req.extensions();
    let remote = ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .or_else(|| {
            ext.get::<ConnectInfo<crate::security::rest::TlsPeer>>()
                .map(|c| c.0 .0)
        })
        .map_or_else(|| "-".to_owned(), |a| a.ip().to_string());
    // (no closure borrowing `req` may live across the await below: the
    // future must stay Send)
    let referer = header_or_dash(&req, header::REFERER);
    let agent = header_or_dash(&req, header::USER_AGENT);
    let user = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_user)
        .unwrap_or_else(|| "-".to_owned());
    let line = format!(
        "{} {} {:?}",
        req.method(),
        req.uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned()),
        req.version()
    );
    let response = next.run(req).await;
    let bytes = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| response.body().size_hint().exact())
        .map_or_else(|| "-".to_owned(), |n| n.to_string());
    tracing::info!(
        target: TARGET,
        "{remote} - {user} [{}] \"{line}\" {} {bytes} \"{referer}\" \"{agent}\" {}",
        ncsa_time(SystemTime::now()),
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

fn header_or_dash(req: &Request<Body>, name: header::HeaderName) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| "-".to_owned(), str::to_owned)
}

/// The user name of a `Basic` Authorization header.
fn basic_user(value: &str) -> Option<String> {
    let b64 = value.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    Some(
        text.split_once(':')
            .map_or(text.as_str(), |(u, _)| u)
            .to_owned(),
    )
}

/// `dd/Mon/yyyy:HH:MM:SS +0000` (UTC), the NCSA log time.
pub fn ncsa_time(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ncsa_dates() {
        assert_eq!(ncsa_time(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
        // 2024-02-29T13:45:07Z
        let t = UNIX_EPOCH + Duration::from_secs(1_709_214_307);
        assert_eq!(ncsa_time(t), "29/Feb/2024:13:45:07 +0000");
    }

    #[test]
    fn basic_user_never_includes_the_password() {
        // "alice:s3cret"
        assert_eq!(
            basic_user("Basic YWxpY2U6czNjcmV0").as_deref(),
            Some("alice")
        );
        assert_eq!(basic_user("Bearer x"), None);
    }
}
