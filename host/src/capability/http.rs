//! The outbound HTTP capability: a plugin may send requests only to the endpoints its manifest
//! binds to config keys (`[[capabilities.http]] config = "endpoint"`), as the operator set them.
//! Enforcement lives in the wasi-http `send_request` hook:
//!
//! - scheme, host and port must equal a granted endpoint's, else the request fails inside the
//!   guest with `HTTP-request-denied` (so a redirect to another host cannot be followed either:
//!   the plugin would have to send a new request, which is checked the same way);
//! - the addresses a host name resolves to are checked: loopback, private, link-local (cloud
//!   metadata) and other non-public ranges are refused unless the operator wrote the endpoint
//!   as that address (or as `localhost` for loopback), so DNS cannot steer a plugin inward;
//! - `Authorization`, `Host` and `Proxy-*` headers cannot be set by the plugin;
//! - connect, first-byte and between-bytes timeouts are capped.
//!
//! When the endpoint has a signer (credentials the operator stored), the hook signs each
//! allowed request itself, so the plugin never holds the secret (see `secrets`).

use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode as P2ErrorCode;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::error::{Error, Result};
use crate::plugin::Manifest;

/// Longest a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest the first byte of a response may take.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest a response body may pause between bytes.
pub const BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(60);

/// An endpoint: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: String,
    /// The host, lower-case (an IPv6 address without brackets).
    pub host: String,
    /// The port (the scheme's default when the URL gives none).
    pub port: u16,
}

impl Endpoint {
    /// Parse `scheme://host[:port][/path]`.
    pub fn parse(url: &str) -> std::result::Result<Endpoint, String> {
        let uri: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
        let scheme =
            uri.scheme_str().ok_or_else(|| format!("{url:?} has no scheme (write https://...)"))?.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            other => return Err(format!("{url:?} uses the scheme {other:?}; only http and https are supported")),
        };
        let authority = uri.authority().ok_or_else(|| format!("{url:?} has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("{url:?} carries user information; put credentials in secrets, not in the URL"));
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        Ok(Endpoint { scheme, host, port: authority.port_u16().unwrap_or(default_port) })
    }

    fn matches(&self, uri: &http::Uri) -> bool {
        let Some(authority) = uri.authority() else { return false };
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        let default_port = if scheme == "https" { 443 } else { 80 };
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        scheme == self.scheme && host == self.host && authority.port_u16().unwrap_or(default_port) == self.port
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// One granted endpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HttpGrant {
    /// The config key that named it.
    pub config_key: String,
    /// Where the plugin may send requests.
    pub endpoint: Endpoint,
    /// Whether the host signs requests to it (the plugin never sees the credentials).
    pub signed: bool,
}

/// The endpoints a plugin gets: each one it asks for whose config key the operator set.
pub(crate) fn resolve(
    target: &str,
    manifest: &Manifest,
    settings: &BTreeMap<String, String>,
) -> Result<Vec<HttpGrant>> {
    let mut grants = Vec::new();
    for request in &manifest.capabilities.http {
        let Some(value) = settings.get(&request.config) else { continue };
        let endpoint = Endpoint::parse(value).map_err(|reason| Error::Config {
            target: target.into(),
            plugin: manifest.name.clone(),
            reason: format!("`{}`: {reason}", request.config),
        })?;
        grants.push(HttpGrant { config_key: request.config.clone(), endpoint, signed: request.sign.is_some() });
    }
    Ok(grants)
}

/// The signer for a signed endpoint, from the operator's settings (secrets included).
pub(crate) fn signer(
    target: &str,
    manifest: &Manifest,
    request: &crate::plugin::SigningRequest,
    settings: &BTreeMap<String, String>,
) -> Result<Arc<dyn RequestSigner>> {
    let get = |key: &str| {
        settings.get(key).cloned().ok_or_else(|| Error::Config {
            target: target.into(),
            plugin: manifest.name.clone(),
            reason: format!("signing needs the setting `{key}`; set it (secrets with --secret {key})"),
        })
    };
    let optional = |key: &Option<String>| key.as_ref().and_then(|k| settings.get(k).cloned());
    Ok(Arc::new(super::sigv4::AwsSigner::new(
        request.service.clone(),
        get(&request.region)?,
        get(&request.access_key_id)?,
        get(&request.secret_access_key)?,
        optional(&request.bucket),
        optional(&request.prefix).unwrap_or_default(),
    )))
}

/// Signs an allowed request in place, or refuses it (outside the bucket, a method the
/// operation does not need). Implemented by the secrets module's signers.
pub trait RequestSigner: Send + Sync {
    /// Sign `request` for `endpoint`; `Err` with a reason to refuse it.
    fn sign(&self, request: &mut http::Request<WasiBody>) -> std::result::Result<(), String>;
}

/// The `wasi:http` hooks of one plugin instance.
pub(crate) struct HttpHooks {
    plugin: Arc<str>,
    allowed: Vec<(Endpoint, Option<Arc<dyn RequestSigner>>)>,
}

impl HttpHooks {
    pub(crate) fn new(plugin: Arc<str>, allowed: Vec<(Endpoint, Option<Arc<dyn RequestSigner>>)>) -> Self {
        HttpHooks { plugin, allowed }
    }
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for HttpHooks {
    fn is_forbidden_header(&mut self, name: &HeaderName) -> bool {
        *name == http::header::AUTHORIZATION
            || name.as_str().starts_with("proxy-")
            || wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(name)
    }

    fn forbidden_header_filter(&mut self) -> wasmtime_wasi_http::ForbiddenHeaderFilter {
        Arc::new(|name: &HeaderName| {
            *name == http::header::AUTHORIZATION
                || name.as_str().starts_with("proxy-")
                || wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(name)
        })
    }

    // Transport failures reach the plugin as typed error codes and, through it, the operator;
    // in the host's log they are detail, not warnings.
    fn p2_error_from_hyper(&mut self, err: &hyper::Error) -> P2ErrorCode {
        tracing::debug!(plugin = %self.plugin, "HTTP protocol error: {err}");
        P2ErrorCode::HttpProtocolError
    }

    fn p2_error_from_connect(&mut self, err: &std::io::Error) -> P2ErrorCode {
        tracing::debug!(plugin = %self.plugin, "connect error: {err}");
        P2ErrorCode::ConnectionRefused
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        drop(fut);
        let plugin = self.plugin.clone();
        let granted = self.allowed.iter().find(|(e, _)| e.matches(request.uri())).cloned();
        Box::new(async move {
            let Some((endpoint, signer)) = granted else {
                tracing::warn!(%plugin, "denied a request to {}: not a granted endpoint", redact_uri(request.uri()));
                return Err(HttpError::HttpRequestDenied);
            };
            if let Err(why) = check_addresses(&endpoint).await {
                tracing::warn!(%plugin, "denied a request to {endpoint}: {why}");
                return Err(HttpError::HttpRequestDenied);
            }
            if let Some(signer) = signer
                && let Err(why) = signer.sign(&mut request)
            {
                tracing::warn!(%plugin, "refused to sign a request to {endpoint}: {why}");
                return Err(HttpError::HttpRequestDenied);
            }
            let options = capped(options);
            let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            use http_body_util::BodyExt;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// The plugin's timeouts, never longer than the host's.
fn capped(options: Option<RequestOptions>) -> RequestOptions {
    let pick = |asked: Option<Duration>, cap: Duration| Some(asked.map_or(cap, |a| a.min(cap)));
    let o = options.unwrap_or_default();
    RequestOptions {
        connect_timeout: pick(o.connect_timeout, CONNECT_TIMEOUT),
        first_byte_timeout: pick(o.first_byte_timeout, FIRST_BYTE_TIMEOUT),
        between_bytes_timeout: pick(o.between_bytes_timeout, BETWEEN_BYTES_TIMEOUT),
    }
}

/// Scheme, host and path of a URI, without the query (which may carry signatures).
fn redact_uri(uri: &http::Uri) -> String {
    format!("{}://{}{}", uri.scheme_str().unwrap_or("?"), uri.authority().map_or("?", |a| a.as_str()), uri.path())
}

/// Check where the endpoint's name resolves to. An address literal or `localhost` is what the
/// operator chose; a name must resolve to public addresses only.
async fn check_addresses(endpoint: &Endpoint) -> std::result::Result<(), String> {
    if endpoint.host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let addrs: Vec<IpAddr> = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", endpoint.host))?
        .map(|a| a.ip())
        .collect();
    if addrs.is_empty() {
        return Err(format!("{} resolves to no address", endpoint.host));
    }
    let localhost = endpoint.host == "localhost";
    for ip in addrs {
        let ok = if localhost { ip.is_loopback() } else { is_public(ip) };
        if !ok {
            return Err(format!("{} resolves to {ip}, which is not a public address", endpoint.host));
        }
    }
    Ok(())
}

/// Whether an address is on the public internet (not loopback, private, link-local, shared,
/// documentation, multicast or unspecified; IPv4-mapped IPv6 is judged as IPv4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_match_exactly() {
        let e = Endpoint::parse("https://S3.Example.com/bucket").unwrap();
        assert_eq!(e, Endpoint { scheme: "https".into(), host: "s3.example.com".into(), port: 443 });
        assert!(e.matches(&"https://s3.example.com/x".parse().unwrap()));
        assert!(e.matches(&"https://s3.example.com:443/x".parse().unwrap()));
        assert!(!e.matches(&"http://s3.example.com/x".parse().unwrap()));
        assert!(!e.matches(&"https://s3.example.com:8443/x".parse().unwrap()));
        assert!(!e.matches(&"https://evil.s3.example.com/x".parse().unwrap()));
        let v6 = Endpoint::parse("http://[::1]:9000").unwrap();
        assert_eq!(v6.host, "::1");
        assert!(v6.matches(&"http://[::1]:9000/".parse().unwrap()));
        assert!(Endpoint::parse("ftp://x").unwrap_err().contains("only http and https"));
        assert!(Endpoint::parse("s3.example.com").is_err());
        assert!(Endpoint::parse("https://user:pw@host").unwrap_err().contains("credentials"));
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "52.216.0.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn timeouts_are_capped() {
        let o = capped(Some(RequestOptions {
            connect_timeout: Some(Duration::from_secs(3600)),
            first_byte_timeout: Some(Duration::from_secs(1)),
            between_bytes_timeout: None,
        }));
        assert_eq!(o.connect_timeout, Some(CONNECT_TIMEOUT));
        assert_eq!(o.first_byte_timeout, Some(Duration::from_secs(1)));
        assert_eq!(o.between_bytes_timeout, Some(BETWEEN_BYTES_TIMEOUT));
    }
}
