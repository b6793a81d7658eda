//! Open311 `media_url`: the photo a partner hosts, fetched into a spool file so it can take
//! the same road as every upload (type judged from the content, images re-encoded, stored,
//! then named by an `attachment_added` event).
//!
//! The server fetches an address a stranger gave it, so the fetch is fenced:
//! * `http://` and `https://` only; at most [`MAX_REDIRECTS`] redirects, each checked again;
//! * the host is resolved here and every address it resolves to must be a public one
//!   ([`private_kind`]: loopback, private, link-local, shared, multicast, documentation and
//!   reserved ranges are refused) unless `open311_media_allow_private` says otherwise; the
//!   connection then goes to exactly the addresses checked (no second lookup a DNS answer
//!   could change in between) and never through a proxy from the environment;
//! * the size limit of every upload (`attachment_max_bytes`) is checked on the declared
//!   length and again on every chunk as it streams in, so a huge body is cut off early;
//! * the whole fetch has a deadline (`open311_media_timeout_secs`).

use crate::attachments::{SpoolWriter, Spooled, UploadError};
use crate::domain::attachments::Limits;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// Redirects followed before the fetch gives up.
pub const MAX_REDIRECTS: usize = 3;

/// How a fetch is fenced (from the configuration).
#[derive(Debug, Clone, Copy)]
pub struct FetchPolicy {
    /// `open311_media_allow_private`: let addresses on this machine or the local network
    /// through (a partner inside the same network, or a test's own server on loopback).
    pub allow_private: bool,
    /// `open311_media_timeout_secs`: the whole fetch, connecting to the last byte.
    pub timeout: Duration,
    pub limits: Limits,
}

/// Why a `media_url` did not become an attachment; the ticket's history says it.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The address is not one the server fetches from (scheme, a private address).
    #[error("{0}")]
    Refused(String),
    /// The partner's server did not hand the file over (down, 404, too slow).
    #[error("{0}")]
    Failed(String),
    /// The file came but is not acceptable (too large, a type not taken in).
    #[error(transparent)]
    Upload(#[from] UploadError),
}

impl From<crate::domain::attachments::AttachmentError> for FetchError {
    fn from(e: crate::domain::attachments::AttachmentError) -> Self {
        FetchError::Upload(UploadError::Rule(e))
    }
}

impl From<std::io::Error> for FetchError {
    fn from(e: std::io::Error) -> Self {
        FetchError::Upload(e.into())
    }
}

/// What kind of non-public address `ip` is, or `None` for an address on the internet.
pub fn private_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => private_kind_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private_kind_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if first == 0x2001 && v6.segments()[1] == 0x0db8 {
                Some("documentation")
            } else if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                // NAT64: the IPv4 address it stands for decides.
                let o = v6.octets();
                private_kind_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
            } else {
                None
            }
        }
    }
}

fn private_kind_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if a == 0 {
        Some("unspecified")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some("multicast or broadcast")
    } else if ip.is_documentation() {
        Some("documentation")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking")
    } else if a == 192 && b == 0 && c == 0 {
        Some("IETF protocol assignment")
    } else if a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

enum Host<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

/// A URL's host: an address written out (`[::1]` for IPv6) or a name to resolve.
fn host(url: &reqwest::Url) -> Option<Host<'_>> {
    let text = url.host_str().filter(|h| !h.is_empty())?;
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    Some(bare.parse::<IpAddr>().map(Host::Ip).unwrap_or(Host::Name(text)))
}

/// The addresses a URL's host stands for, all of them checked against the policy.
async fn checked_addresses(url: &reqwest::Url, policy: &FetchPolicy) -> Result<Vec<SocketAddr>, FetchError> {
    let port = url.port_or_known_default().unwrap_or(80);
    let addresses: Vec<SocketAddr> = match host(url) {
        Some(Host::Ip(ip)) => vec![SocketAddr::new(ip, port)],
        Some(Host::Name(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| FetchError::Failed(format!("the host {name} could not be resolved ({e})")))?
            .collect(),
        None => return Err(FetchError::Refused("the address names no host".into())),
    };
    if addresses.is_empty() {
        return Err(FetchError::Failed(format!("the host {} has no address", url.host_str().unwrap_or(""))));
    }
    if !policy.allow_private {
        if let Some((at, kind)) = addresses.iter().find_map(|a| private_kind(a.ip()).map(|k| (a.ip(), k))) {
            return Err(FetchError::Refused(format!(
                "{} is {at}, a {kind} address: the server does not fetch from those \
                 (open311_media_allow_private = true allows it)",
                url.host_str().unwrap_or("the host")
            )));
        }
    }
    Ok(addresses)
}

/// Fetches `address` into a spool file under `spool`, fenced as the module says. The
/// deadline covers everything, resolving the host included.
pub async fn fetch(address: &str, policy: &FetchPolicy, spool: &Path) -> Result<Spooled, FetchError> {
    tokio::time::timeout(policy.timeout, fetch_within(address, policy, spool))
        .await
        .unwrap_or_else(|_| Err(FetchError::Failed("no answer in time (open311_media_timeout_secs)".into())))
}

async fn fetch_within(address: &str, policy: &FetchPolicy, spool: &Path) -> Result<Spooled, FetchError> {
    let mut url = reqwest::Url::parse(address).map_err(|e| FetchError::Refused(format!("not a URL ({e})")))?;
    let deadline = tokio::time::Instant::now() + policy.timeout;
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Refused(format!("{} addresses are not fetched: http or https only", url.scheme())));
        }
        let addresses = checked_addresses(&url, policy).await?;
        let mut client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.timeout.min(Duration::from_secs(10)))
            .timeout(deadline.saturating_duration_since(tokio::time::Instant::now()));
        if let Some(Host::Name(name)) = host(&url) {
            client = client.resolve_to_addrs(name, &addresses);
        }
        let client = client.build().map_err(|e| FetchError::Failed(e.to_string()))?;
        let response = client.get(url.clone()).send().await.map_err(|e| FetchError::Failed(describe(&e)))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| FetchError::Failed(format!("the server answered {status} without a Location")))?;
            url = url.join(location).map_err(|e| FetchError::Failed(format!("a redirect to a bad address ({e})")))?;
            continue;
        }
        if !status.is_success() {
            return Err(FetchError::Failed(format!("the server answered {status}")));
        }
        return download(response, &url, policy, spool).await;
    }
    Err(FetchError::Failed(format!("more than {MAX_REDIRECTS} redirects")))
}

/// Streams the body into a spool file, the size limit checked on every chunk.
async fn download(
    mut response: reqwest::Response,
    url: &reqwest::Url,
    policy: &FetchPolicy,
    spool: &Path,
) -> Result<Spooled, FetchError> {
    let name = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "media_url".to_string());
    if let Some(declared) = response.content_length() {
        policy.limits.check_file(&name, declared)?;
    }
    let mut out = SpoolWriter::create(spool).await?;
    while let Some(chunk) = response.chunk().await.map_err(|e| FetchError::Failed(describe(&e)))? {
        policy.limits.check_file(&name, out.size + chunk.len() as u64)?;
        out.write(&chunk).await?;
    }
    if out.size == 0 {
        return Err(FetchError::Failed("the server sent an empty file".into()));
    }
    Ok(out.finish(name).await?)
}

/// reqwest's error with its causes (its own text alone says only "error sending request").
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time (open311_media_timeout_secs)".into();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_on_this_machine_or_the_local_network_are_private() {
        for (ip, kind) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.20.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("0.0.0.0", "unspecified"),
            ("::1", "loopback"),
            ("fd00::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("64:ff9b::a00:1", "private"),
        ] {
            assert_eq!(private_kind(ip.parse().unwrap()), Some(kind), "{ip}");
        }
        for ip in ["93.184.216.34", "114.114.114.114", "2400:3200::1", "::ffff:8.8.8.8"] {
            assert_eq!(private_kind(ip.parse().unwrap()), None, "{ip}");
        }
    }
}
