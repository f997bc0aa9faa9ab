//! AWS Signature Version 4, applied by the host inside the HTTP hook, so a plugin talks to S3
//! without ever holding the credentials. The signer also narrows what the credentials can be
//! used for: only the configured bucket and key prefix, only the methods object operations need.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderValue, Method};
use percent_encoding::percent_decode_str;
use wasmtime_wasi_http::WasiBody;

use super::http::RequestSigner;

/// Headers a plugin may have set that the signer owns.
const OWNED_HEADERS: &[&str] = &["authorization", "x-amz-date", "x-amz-security-token"];

/// Signs S3 requests for one bucket and prefix.
pub struct AwsSigner {
    service: String,
    region: String,
    identity: Identity,
    bucket: Option<String>,
    prefix: String,
}

impl std::fmt::Debug for AwsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSigner")
            .field("service", &self.service)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("credentials", &"***")
            .finish()
    }
}

impl AwsSigner {
    /// A signer for `service` in `region`, limited to `bucket` (when given) and `prefix`.
    pub fn new(
        service: String,
        region: String,
        access_key_id: String,
        secret_access_key: String,
        bucket: Option<String>,
        prefix: String,
    ) -> Self {
        let identity = Credentials::new(access_key_id, secret_access_key, None, None, "warden").into();
        AwsSigner { service, region, identity, bucket: bucket.filter(|b| !b.is_empty()), prefix }
    }

    /// Refuse requests outside the bucket and prefix, and methods object operations do not use.
    fn check_scope(&self, request: &http::Request<WasiBody>) -> Result<(), String> {
        let method = request.method();
        if ![Method::GET, Method::HEAD, Method::PUT, Method::POST, Method::DELETE].contains(method) {
            return Err(format!("method {method} is not used by object operations"));
        }
        let Some(bucket) = &self.bucket else { return Ok(()) };
        let uri = request.uri();
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let path = percent_decode_str(uri.path()).decode_utf8().map_err(|_| "the path is not UTF-8".to_string())?;
        // Virtual-hosted style (bucket.endpoint/key) or path style (endpoint/bucket/key).
        let key = if host.starts_with(&format!("{}.", bucket.to_ascii_lowercase())) {
            path.trim_start_matches('/').to_string()
        } else {
            let rest = path.trim_start_matches('/');
            let (first, key) = rest.split_once('/').unwrap_or((rest, ""));
            if first != bucket {
                return Err(format!("the request is for bucket {first:?}, not the configured one"));
            }
            key.to_string()
        };
        let query: Vec<(String, String)> = uri.query().map(form_pairs).unwrap_or_default();
        if key.is_empty() {
            // Bucket-level: only listing under the prefix (objects: GET ?list-type=2&prefix=...,
            // unfinished uploads for gc: GET ?uploads&prefix=...) and the read-only probes
            // test-connection uses (HEAD bucket, GET ?location).
            let listing = query.iter().any(|(k, _)| k == "list-type" || k == "uploads");
            let prefix_ok = query.iter().find(|(k, _)| k == "prefix").is_some_and(|(_, v)| v.starts_with(&self.prefix));
            let probe = (*method == Method::HEAD && query.is_empty())
                || (*method == Method::GET && query.iter().any(|(k, _)| k == "location"));
            if *method == Method::GET && listing && (prefix_ok || self.prefix.is_empty()) {
                return Ok(());
            }
            if probe {
                return Ok(());
            }
            return Err(format!(
                "{method} on the bucket itself is not an object operation under the configured prefix"
            ));
        }
        if !key.starts_with(&self.prefix) {
            return Err("the key is outside the configured prefix".to_string());
        }
        Ok(())
    }
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect()
}

impl RequestSigner for AwsSigner {
    fn sign(&self, request: &mut http::Request<WasiBody>) -> Result<(), String> {
        self.check_scope(request)?;
        for name in OWNED_HEADERS {
            request.headers_mut().remove(*name);
        }
        // The payload: a SHA-256 the plugin computed, or unsigned (the body streams).
        let content_sha =
            request.headers().get("x-amz-content-sha256").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = match content_sha.as_deref() {
            Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                SignableBody::Precomputed(h.to_ascii_lowercase())
            }
            Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER") => SignableBody::StreamingUnsignedPayloadTrailer,
            _ => SignableBody::UnsignedPayload,
        };
        request.headers_mut().remove("x-amz-content-sha256");
        // An empty body must say so, or some servers answer 411.
        if http_body::Body::size_hint(request.body()).exact() == Some(0)
            && !request.headers().contains_key(http::header::CONTENT_LENGTH)
        {
            request.headers_mut().insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(&self.service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| format!("signing parameters: {e}"))?
            .into();
        let uri = request.uri().to_string();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            uri,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            body,
        )
        .map_err(|e| format!("the request cannot be signed: {e}"))?;
        let (instructions, _signature) =
            sign(signable, &params).map_err(|e| format!("signing failed: {e}"))?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};

    fn request(method: Method, uri: &str) -> http::Request<WasiBody> {
        let body: WasiBody = Empty::new().map_err(|never| match never {}).boxed_unsync();
        http::Request::builder().method(method).uri(uri).body(body).unwrap()
    }

    fn signer() -> AwsSigner {
        AwsSigner::new(
            "s3".into(),
            "us-east-1".into(),
            "AKIDCANARY".into(),
            "SECRETCANARY".into(),
            Some("bkt".into()),
            "pre/".into(),
        )
    }

    #[test]
    fn signs_object_requests_in_scope() {
        let s = signer();
        let mut r = request(Method::PUT, "http://127.0.0.1:9000/bkt/pre/obj");
        r.headers_mut().insert("authorization", HeaderValue::from_static("Bearer stolen"));
        s.sign(&mut r).unwrap();
        let auth = r.headers()["authorization"].to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDCANARY/"), "{auth}");
        assert!(!auth.contains("SECRETCANARY"));
        assert_eq!(r.headers()["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
        assert_eq!(r.headers()["content-length"], "0");
        let mut list = request(Method::GET, "http://127.0.0.1:9000/bkt?list-type=2&prefix=pre%2Fa");
        s.sign(&mut list).unwrap();
        // gc lists unfinished uploads under the prefix, and aborts them.
        let mut uploads = request(Method::GET, "http://127.0.0.1:9000/bkt?uploads&prefix=pre%2F");
        s.sign(&mut uploads).unwrap();
        let mut abort = request(Method::DELETE, "http://127.0.0.1:9000/bkt/pre/obj?uploadId=abc");
        s.sign(&mut abort).unwrap();
        assert!(format!("{s:?}").contains("***") && !format!("{s:?}").contains("SECRETCANARY"));
    }

    #[test]
    fn refuses_other_buckets_prefixes_and_methods() {
        let s = signer();
        for (method, uri) in [
            (Method::GET, "http://h/other/pre/obj"),
            (Method::GET, "http://h/bkt/elsewhere/obj"),
            (Method::DELETE, "http://h/bkt"),
            (Method::PUT, "http://h/bkt"),
            (Method::POST, "http://h/bkt?delete"),
            (Method::GET, "http://h/bkt?list-type=2&prefix=other"),
            (Method::GET, "http://h/bkt?uploads"),
            (Method::GET, "http://h/bkt?uploads&prefix=other"),
            (Method::DELETE, "http://h/bkt/elsewhere/obj?uploadId=abc"),
            (Method::PATCH, "http://h/bkt/pre/obj"),
        ] {
            let mut r = request(method.clone(), uri);
            assert!(s.sign(&mut r).is_err(), "{method} {uri} should be refused");
            assert!(!r.headers().contains_key("authorization"));
        }
    }
}
