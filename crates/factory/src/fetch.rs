//! The observer's dependency fetcher: the only way anything from the network reaches a
//! build. Steps never get a network of their own (each runs in an empty network
//! namespace); a step with `network: true` gets its pins fetched by the observer, outside
//! the sandbox, into its `/out` before it starts:
//!
//! - only `http`/`https` URIs; the host is resolved once and every address must be public
//!   (no loopback, private, link-local, CGNAT, multicast or reserved range) unless the run
//!   allows private mirrors; the connection goes to exactly the address checked (no
//!   second DNS lookup to rebind);
//! - no redirects (a redirect is reported with its target, to be pinned instead);
//! - the body is streamed to disk with a size cap while it is hashed, and a digest other
//!   than the pin's deletes the file and fails the step.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::Error;
use crate::pipeline::{Pin, Step};

/// How the observer fetches.
#[derive(Debug, Clone, Copy)]
pub struct FetchPolicy {
    /// Allow loopback and private-range addresses (an internal mirror). Off by default;
    /// the provenance records when it is on.
    pub allow_private: bool,
    /// Largest body accepted, in bytes.
    pub max_bytes: u64,
    /// Time allowed for one fetch.
    pub timeout: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            allow_private: false,
            max_bytes: 4 << 30,
            timeout: Duration::from_secs(600),
        }
    }
}

/// Whether `ip` is an address on the public internet (not loopback, private, link-local,
/// shared, multicast, documentation or reserved).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg = v6.segments();
            let nat64 = seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0];
            if nat64 {
                let o = v6.octets();
                return is_public_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                || v6 == Ipv6Addr::from([0u8; 16]))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 shared
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240)
}

fn pin_err(step: &Step, reason: impl std::fmt::Display) -> Error {
    Error::Pin {
        step: step.name.clone(),
        reason: reason.to_string(),
    }
}

/// Fetch every pin of `step` into `out_dir` (named by the pin's file name), checking
/// each digest.
pub(crate) fn fetch_pins(step: &Step, out_dir: &Path, policy: &FetchPolicy) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| pin_err(step, format!("starting the fetcher: {e}")))?;
    for pin in &step.pins {
        rt.block_on(fetch_one(step, pin, out_dir, policy))?;
    }
    Ok(())
}

async fn fetch_one(
    step: &Step,
    pin: &Pin,
    out_dir: &Path,
    policy: &FetchPolicy,
) -> Result<(), Error> {
    let url =
        reqwest::Url::parse(&pin.uri).map_err(|e| pin_err(step, format!("{}: {e}", pin.uri)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(pin_err(
            step,
            format!("{}: only http and https dependencies are fetched", pin.uri),
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| pin_err(step, format!("{}: no host", pin.uri)))?
        .to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((lookup.as_str(), port))
        .await
        .map_err(|e| pin_err(step, format!("{}: resolving {host}: {e}", pin.uri)))?
        .collect();
    let addr = *addrs
        .first()
        .ok_or_else(|| pin_err(step, format!("{}: {host} has no address", pin.uri)))?;
    if !policy.allow_private
        && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip()))
    {
        return Err(pin_err(
            step,
            format!(
                "{}: {host} resolves to {}, which is not a public address; the factory never fetches from the build host or private networks (allow a private mirror explicitly)",
                pin.uri,
                bad.ip()
            ),
        ));
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&lookup, addr)
        .timeout(policy.timeout)
        .build()
        .map_err(|e| pin_err(step, format!("HTTP client: {e}")))?;
    let mut resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| pin_err(step, format!("{}: {e}", pin.uri)))?;
    if resp.status().is_redirection() {
        let to = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        return Err(pin_err(
            step,
            format!("{} redirects to {to}; pin the final URI", pin.uri),
        ));
    }
    if !resp.status().is_success() {
        return Err(pin_err(
            step,
            format!("{}: HTTP {}", pin.uri, resp.status()),
        ));
    }
    let dest = out_dir.join(pin.file_name());
    let mut file = std::fs::File::create_new(&dest).map_err(|e| Error::io(&dest, e))?;
    let mut hash = Sha256::new();
    let mut total: u64 = 0;
    let result: Result<(), Error> = async {
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| pin_err(step, format!("{}: {e}", pin.uri)))?
        {
            total += chunk.len() as u64;
            if total > policy.max_bytes {
                return Err(pin_err(
                    step,
                    format!("{} is larger than {} bytes", pin.uri, policy.max_bytes),
                ));
            }
            hash.update(&chunk);
            file.write_all(&chunk).map_err(|e| Error::io(&dest, e))?;
        }
        file.sync_all().map_err(|e| Error::io(&dest, e))?;
        let got = hex::encode(hash.finalize_reset());
        if got != pin.sha256 {
            return Err(pin_err(
                step,
                format!(
                    "'{}' from {} has sha256 {got}, pinned {}",
                    pin.file_name(),
                    pin.uri,
                    pin.sha256
                ),
            ));
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&dest);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
