//! Warden's reference `s3` plugin: a target in an S3 bucket, spoken over `wasi:http`.
//!
//! The plugin holds no credentials: it sends unsigned requests to the one endpoint it is
//! granted, and the host signs them (AWS SigV4) for the configured bucket and prefix only.
//! Bodies never pass through the plugin's memory when their size is known: a put splices the
//! host's stream into the request body, a get hands the response body stream back untouched.
//! Bodies of unknown size (stdin) go up in parts buffered one at a time.
//!
//! Why not aws-sdk-s3 inside the component: it cannot splice the host's stream into a request
//! nor return a response's WASI stream untouched (it copies every byte through wasm memory),
//! and it is 20 times the size. The S3 surface a target needs is small; it is all here.

mod http;
mod xml;

use std::cell::RefCell;

use warden_sdk::{
    Body, ByteRange, Check, Config, Error, Features, GetBody, Key, ListPage, ObjectMeta, PutOptions, Result, Target,
};

use http::{Held, Method, Request};

/// Most keys a listing page holds (S3's own maximum).
const MAX_PAGE: u32 = 1000;

struct S3 {
    client: http::Client,
    bucket: String,
    prefix: String,
    /// Keys escaped for filesystem-backed servers (see the `safe_keys` setting).
    safe_keys: bool,
    part_size: u64,
    threshold: u64,
    /// Response bodies whose streams the host is still reading; released at the next call.
    held: RefCell<Vec<Held>>,
}

warden_sdk::export_target!(S3);

impl S3 {
    /// The S3 key for a key: under the prefix, escaped when `safe_keys` is on.
    fn s3_key(&self, key: &str) -> Result<String> {
        if self.safe_keys {
            let encoded = warden_sdk::keymap::encode(key).map_err(Error::invalid_input)?;
            Ok(format!("{}{encoded}", self.prefix))
        } else {
            Ok(format!("{}{key}", self.prefix))
        }
    }

    fn object_path(&self, key: &str) -> Result<String> {
        Ok(format!("/{}/{}", self.bucket, http::encode_path(&self.s3_key(key)?)))
    }

    /// A key back from an S3 key, `None` for objects that are not ours.
    fn key_of(&self, s3_key: &str) -> Option<String> {
        let name = s3_key.strip_prefix(&self.prefix)?;
        if self.safe_keys { warden_sdk::keymap::decode(name) } else { Some(name.to_string()) }
    }

    /// One page of S3's own listing.
    fn list_raw(&self, s3_prefix: &str, start_after: Option<&str>, limit: u32) -> Result<xml::Listing> {
        let mut query =
            format!("/{}?list-type=2&max-keys={limit}&prefix={}", self.bucket, http::encode_query(s3_prefix));
        if let Some(after) = start_after {
            query.push_str(&format!("&start-after={}", http::encode_query(after)));
        }
        let response = self.client.send(Request::new(Method::Get, query))?;
        let status = response.status;
        let text = response.text()?;
        if status != 200 {
            return Err(http::error_from(status, &text, None, "list", s3_prefix, &self.bucket));
        }
        xml::list_page(&text).map_err(|e| Error::other(format!("list: the listing is not valid XML: {e}")))
    }

    /// Listing with escaped keys: escaping changes the order, so the plugin reads every key
    /// under the prefix's directory and keeps the smallest after the cursor.
    fn list_safe(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<ListPage> {
        let dir = match prefix.rfind('/') {
            Some(i) => format!("{}/", warden_sdk::keymap::encode(&prefix[..i]).map_err(Error::invalid_input)?),
            None => String::new(),
        };
        let s3_prefix = format!("{}{dir}", self.prefix);
        let mut best: std::collections::BTreeMap<String, ObjectMeta> = std::collections::BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list_raw(&s3_prefix, after.as_deref(), MAX_PAGE)?;
            let last_raw = page.objects.last().map(|o| o.key.clone());
            for mut object in page.objects {
                let Some(key) = self.key_of(&object.key) else { continue };
                if !key.starts_with(prefix) || cursor.is_some_and(|c| key.as_str() <= c) {
                    continue;
                }
                object.key = key.clone();
                best.insert(key, object);
                // Keep one more than a page, to know whether another page follows.
                if best.len() > limit as usize + 1 {
                    best.pop_last();
                }
            }
            // Page by start-after (not every server keeps continuation tokens).
            match last_raw {
                Some(last) if page.truncated => after = Some(last),
                _ => break,
            }
        }
        let more = best.len() > limit as usize;
        let mut objects: Vec<ObjectMeta> = best.into_values().collect();
        objects.truncate(limit as usize);
        let next = if more { objects.last().map(|o| o.key.clone()) } else { None };
        Ok(ListPage { objects, next })
    }

    /// Release the bodies of earlier gets: the host has finished with their streams, since it
    /// calls an instance one call at a time.
    fn release_held(&self) {
        self.held.borrow_mut().clear();
    }

    fn head_object(&self, key: &Key) -> Result<ObjectMeta> {
        let response = self.client.send(Request::new(Method::Head, self.object_path(key.as_str())?))?;
        match response.status {
            200 => Ok(ObjectMeta {
                key: key.to_string(),
                size: response.content_length().unwrap_or(0),
                modified_ns: response.header("last-modified").and_then(|d| xml::http_date_ns(&d)),
                etag: response.header("etag"),
            }),
            404 => Err(Error::not_found(format!("`{key}` does not exist"))),
            _ => Err(response.error("head", key.as_str(), &self.bucket)),
        }
    }

    fn put_single(&self, key: &Key, body: http::RequestBody<'_>, options: &PutOptions) -> Result<()> {
        let mut request = Request::new(Method::Put, self.object_path(key.as_str())?);
        if options.create_only {
            request = request.header("if-none-match", "*");
        }
        let response = self.client.send(request.body(body))?;
        match response.status {
            200 | 201 | 204 => Ok(()),
            412 => Err(Error::already_exists(format!("put `{key}` (create-only): the key already exists"))),
            _ => {
                let error = response.error("put", key.as_str(), &self.bucket);
                Err(self.explain_conflict(key).unwrap_or(error))
            }
        }
    }

    /// With escaped keys the server stores files: `a` and `a/b` cannot both exist. When a put
    /// fails, say so (the contract's `invalid-input`) if that is why.
    fn explain_conflict(&self, key: &Key) -> Option<Error> {
        if !self.safe_keys {
            return None;
        }
        let conflict = || {
            Error::invalid_input(format!(
                "put `{key}`: with safe_keys the server keeps objects as files and cannot hold an object at a key that is also a prefix of others"
            ))
        };
        let mut parent = key.as_str();
        while let Some(i) = parent.rfind('/') {
            parent = &parent[..i];
            if !parent.is_empty() && self.head_object(&Key::from(parent)).is_ok() {
                return Some(conflict());
            }
        }
        let below = format!("{}/", self.s3_key(key.as_str()).ok()?);
        let listing = self.list_raw(&below, None, 1).ok()?;
        (!listing.objects.is_empty()).then(conflict)
    }
}

impl Target for S3 {
    fn open(config: Config) -> Result<Self> {
        let endpoint = config.require("endpoint")?;
        let bucket = config.require("bucket")?.to_string();
        if bucket.is_empty() || bucket.contains('/') {
            return Err(Error::invalid_input(format!("the bucket name {bucket:?} is not valid")));
        }
        let part_size = config.parse::<u64>("part_size_mib")?.unwrap_or(16).clamp(5, 5120) << 20;
        let threshold = config.parse::<u64>("multipart_threshold_mib")?.unwrap_or(1024).clamp(1, 5120) << 20;
        Ok(S3 {
            client: http::Client::new(endpoint)?,
            bucket,
            prefix: config.get("prefix").unwrap_or_default().to_string(),
            safe_keys: config.flag("safe_keys", false)?,
            part_size,
            threshold: threshold.max(part_size),
            held: RefCell::new(Vec::new()),
        })
    }

    fn features(&self) -> Features {
        Features {
            ranges: true,
            create_only: true,
            max_object_size: Some(5 << 40),
            max_list_page: MAX_PAGE,
            // A filesystem-backed server cannot hold `a` beside `a/b`.
            prefix_keys: !self.safe_keys,
        }
    }

    fn test_connection(&self) -> Result<Vec<Check>> {
        self.release_held();
        let mut checks = Vec::new();
        let list = Request::new(
            Method::Get,
            format!("/{}?list-type=2&max-keys=1&prefix={}", self.bucket, http::encode_query(&self.prefix)),
        );
        match self.client.send(list) {
            Err(e) => {
                checks.push(Check::fail(
                    "endpoint is reachable",
                    format!(
                        "{e}; check the `endpoint` setting ({}) and that the service is up",
                        self.client.endpoint()
                    ),
                ));
                return Ok(checks);
            }
            Ok(response) => {
                checks.push(Check::pass("endpoint is reachable", format!("{} answered", self.client.endpoint())));
                let status = response.status;
                let text = response.text().unwrap_or_default();
                let code = xml::child_text(&text, "Code").unwrap_or_default();
                checks.push(match (status, code.as_str()) {
                    (200, _) => Check::pass("bucket can be listed", format!("bucket `{}` is there and readable", self.bucket)),
                    (404, _) | (_, "NoSuchBucket") => Check::fail(
                        "bucket exists",
                        format!("bucket `{}` does not exist at this endpoint; create it, or fix the `bucket` setting", self.bucket),
                    ),
                    (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AuthorizationHeaderMalformed") | (401, _) => {
                        Check::fail(
                            "credentials are accepted",
                            format!("the service rejected the credentials ({code}); check the access key and secret (and the `region` setting)"),
                        )
                    }
                    (403, _) => Check::fail(
                        "permission to list",
                        format!("access denied listing `{}`; the key needs s3:ListBucket on the bucket", self.bucket),
                    ),
                    _ => Check::fail("bucket can be listed", format!("the service answered {status} {code}")),
                });
            }
        }
        if checks.iter().all(|c| c.ok) {
            let probe =
                format!("{}.warden-probe-{:016x}", self.prefix, warden_sdk::wasip2::random::random::get_random_u64());
            let path = format!("/{}/{}", self.bucket, http::encode_path(&probe));
            let put = self
                .client
                .send(Request::new(Method::Put, path.clone()).body(http::RequestBody::Bytes(b"warden".to_vec())));
            let ok = matches!(&put, Ok(r) if r.status == 200);
            let _ = self.client.send(Request::new(Method::Delete, path));
            checks.push(if ok {
                Check::pass("objects can be written", "a probe object was written and deleted")
            } else {
                Check::fail(
                    "objects can be written",
                    "writing a probe object failed; the key needs s3:PutObject and s3:DeleteObject under the prefix",
                )
            });
        }
        Ok(checks)
    }

    fn put(&self, key: &Key, mut body: Body<'_>, options: PutOptions) -> Result<ObjectMeta> {
        self.release_held();
        match options.size {
            Some(size) if size <= self.threshold => {
                let splice = http::RequestBody::Splice { input: body.stream(), length: size, last: true };
                self.put_single(key, splice, &options)?;
            }
            Some(_) => {
                self.put_multipart(key, &mut body, &options, Vec::new())?;
            }
            None => {
                // Unknown size (stdin): read one part; a body that fits in it goes up in one
                // request, a longer one in parts read one at a time (memory stays one part).
                let first = http::read_up_to(body.stream(), self.part_size)?;
                if (first.len() as u64) < self.part_size {
                    options.check_size(key, first.len() as u64)?;
                    self.put_single(key, http::RequestBody::Bytes(first), &options)?;
                } else {
                    self.put_multipart(key, &mut body, &options, vec![first])?;
                }
            }
        }
        self.head_object(key)
    }

    fn get(&self, key: &Key, range: Option<ByteRange>) -> Result<GetBody> {
        self.release_held();
        let path = self.object_path(key.as_str())?;
        let mut request = Request::new(Method::Get, path);
        if let Some(r) = range {
            if r.length == Some(0) {
                let meta = self.head_object(key)?;
                ByteRange::resolve(range, meta.size, key)?;
                return Ok(GetBody::bytes(meta, Vec::new()));
            }
            let header = match r.length {
                Some(n) => format!("bytes={}-{}", r.offset, r.offset + n - 1),
                None => format!("bytes={}-", r.offset),
            };
            request = request.header("range", &header);
        }
        let response = self.client.send(request)?;
        match response.status {
            200 | 206 => {
                let etag = response.header("etag");
                let modified_ns = response.header("last-modified").and_then(|d| xml::http_date_ns(&d));
                let (size, length) = if response.status == 206 {
                    let (start, end, total) =
                        response.header("content-range").and_then(|v| xml::content_range(&v)).ok_or_else(|| {
                            Error::other(format!("get `{key}`: a partial answer without a valid Content-Range"))
                        })?;
                    let _ = start;
                    (total, end + 1 - start)
                } else {
                    let n = response.content_length().unwrap_or(0);
                    match range {
                        // A server that ignores Range: resolve against the whole object.
                        Some(_) => {
                            return Err(Error::unsupported(format!("get `{key}`: the server ignored the byte range")));
                        }
                        None => (n, n),
                    }
                };
                let meta = ObjectMeta { key: key.to_string(), size, modified_ns, etag };
                let (stream, held) = response.into_stream()?;
                self.held.borrow_mut().push(held);
                Ok(GetBody::stream(meta, length, stream))
            }
            416 => {
                // Past the end, or exactly at it (which is an empty body by the contract).
                let meta = self.head_object(key)?;
                ByteRange::resolve(range, meta.size, key)?;
                Ok(GetBody::bytes(meta, Vec::new()))
            }
            404 => Err(Error::not_found(format!("`{key}` does not exist"))),
            _ => Err(response.error("get", key.as_str(), &self.bucket)),
        }
    }

    fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.release_held();
        self.head_object(key)
    }

    fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<ListPage> {
        self.release_held();
        let limit = if limit == 0 { MAX_PAGE } else { limit.min(MAX_PAGE) };
        if self.safe_keys {
            return self.list_safe(prefix, cursor, limit);
        }
        let s3_prefix = format!("{}{prefix}", self.prefix);
        let start_after = cursor.map(|c| format!("{}{c}", self.prefix));
        let page = self.list_raw(&s3_prefix, start_after.as_deref(), limit)?;
        let objects: Vec<ObjectMeta> = page
            .objects
            .into_iter()
            .filter_map(|mut o| {
                o.key = self.key_of(&o.key)?;
                Some(o)
            })
            .collect();
        let next = if page.truncated { objects.last().map(|o| o.key.clone()) } else { None };
        Ok(ListPage { objects, next })
    }

    fn delete(&self, key: &Key) -> Result<()> {
        self.release_held();
        let response = self.client.send(Request::new(Method::Delete, self.object_path(key.as_str())?))?;
        match response.status {
            200 | 204 | 404 => Ok(()),
            _ => Err(response.error("delete", key.as_str(), &self.bucket)),
        }
    }

    /// Abort multipart uploads under the prefix started more than `idle_seconds` ago (a
    /// killed put leaves its parts on the server, billed, until someone does).
    fn gc(&self, idle_seconds: u64) -> Result<u64> {
        self.release_held();
        let now = warden_sdk::wasip2::clocks::wall_clock::now();
        let cutoff = (now.seconds.saturating_sub(idle_seconds)).saturating_mul(1_000_000_000);
        let mut removed = 0;
        let mut marker: Option<(String, String)> = None;
        loop {
            let mut query = format!("/{}?uploads&prefix={}", self.bucket, http::encode_query(&self.prefix));
            if let Some((key, upload)) = &marker {
                query.push_str(&format!(
                    "&key-marker={}&upload-id-marker={}",
                    http::encode_query(key),
                    http::encode_query(upload)
                ));
            }
            let response = self.client.send(Request::new(Method::Get, query))?;
            let status = response.status;
            let text = response.text()?;
            if status != 200 {
                return Err(http::error_from(status, &text, None, "gc (list uploads)", &self.prefix, &self.bucket));
            }
            let page = xml::uploads_page(&text)
                .map_err(|e| Error::other(format!("gc: the list of uploads is not valid XML: {e}")))?;
            for upload in &page.uploads {
                let old = upload.initiated.as_deref().and_then(xml::iso8601_ns).is_some_and(|ns| ns <= cutoff);
                if !old || !upload.key.starts_with(&self.prefix) {
                    continue;
                }
                let path = format!(
                    "/{}/{}?uploadId={}",
                    self.bucket,
                    http::encode_path(&upload.key),
                    http::encode_query(&upload.upload_id)
                );
                match self.client.send(Request::new(Method::Delete, path))?.status {
                    200 | 204 | 404 => removed += 1,
                    status => warden_sdk::warn!("gc: aborting the upload of {:?} answered {status}", upload.key),
                }
            }
            match page.next {
                Some(next) if page.truncated => marker = Some(next),
                _ => return Ok(removed),
            }
        }
    }
}

impl S3 {
    /// Upload in parts: `queue` first (parts already read into memory, all full but maybe the
    /// last), then from the body: spliced exact parts when the size is known, else parts read
    /// into memory one at a time. Any failure aborts the upload, so no part is left behind.
    fn put_multipart(&self, key: &Key, body: &mut Body<'_>, options: &PutOptions, queue: Vec<Vec<u8>>) -> Result<u64> {
        let path = self.object_path(key.as_str())?;
        let response = self.client.send(Request::new(Method::Post, format!("{path}?uploads")))?;
        if response.status != 200 {
            return Err(response.error("put (create upload)", key.as_str(), &self.bucket));
        }
        let text = response.text()?;
        let upload_id = xml::child_text(&text, "UploadId")
            .ok_or_else(|| Error::other(format!("put `{key}`: the server returned no upload id")))?;
        let result = self.upload_parts(key, &path, &upload_id, body, options, queue);
        if result.is_err() {
            let abort = Request::new(Method::Delete, format!("{path}?uploadId={}", http::encode_query(&upload_id)));
            if let Err(e) = self.client.send(abort) {
                warden_sdk::warn!("put `{key}`: aborting the upload failed too: {e}");
            }
        }
        result
    }

    fn upload_parts(
        &self,
        key: &Key,
        path: &str,
        upload_id: &str,
        body: &mut Body<'_>,
        options: &PutOptions,
        queue: Vec<Vec<u8>>,
    ) -> Result<u64> {
        let mut queue = std::collections::VecDeque::from(queue);
        let mut etags: Vec<String> = Vec::new();
        let mut total = 0u64;
        loop {
            let (part, length, last) = if let Some(buffer) = queue.pop_front() {
                let n = buffer.len() as u64;
                let last = queue.is_empty() && n < self.part_size;
                (http::RequestBody::Bytes(buffer), n, last)
            } else if let Some(size) = options.size {
                let n = (size - total).min(self.part_size);
                let last = total + n == size;
                (http::RequestBody::Splice { input: body.stream(), length: n, last }, n, last)
            } else {
                let buffer = http::read_up_to(body.stream(), self.part_size)?;
                let n = buffer.len() as u64;
                if n == 0 && !etags.is_empty() {
                    break;
                }
                (http::RequestBody::Bytes(buffer), n, n < self.part_size)
            };
            let part_path = format!("{path}?partNumber={}&uploadId={}", etags.len() + 1, http::encode_query(upload_id));
            let response = self.client.send(Request::new(Method::Put, part_path).body(part))?;
            if response.status != 200 {
                return Err(response.error("put (part)", key.as_str(), &self.bucket));
            }
            etags
                .push(response.header("etag").ok_or_else(|| Error::other(format!("put `{key}`: a part got no ETag")))?);
            total += length;
            if last {
                break;
            }
        }
        options.check_size(key, total)?;
        self.complete(key, path, upload_id, &etags, options)?;
        Ok(total)
    }

    fn complete(&self, key: &Key, path: &str, upload_id: &str, etags: &[String], options: &PutOptions) -> Result<()> {
        let mut complete = String::from("<CompleteMultipartUpload>");
        for (i, etag) in etags.iter().enumerate() {
            complete.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                i + 1,
                xml::escape(etag)
            ));
        }
        complete.push_str("</CompleteMultipartUpload>");
        let mut request = Request::new(Method::Post, format!("{path}?uploadId={}", http::encode_query(upload_id)))
            .body(http::RequestBody::Bytes(complete.into_bytes()));
        if options.create_only {
            request = request.header("if-none-match", "*");
        }
        let response = self.client.send(request)?;
        if response.status == 412 {
            return Err(Error::already_exists(format!("put `{key}` (create-only): the key already exists")));
        }
        // S3 can answer 200 with an error in the body.
        let status = response.status;
        let text = response.text()?;
        if status != 200 || text.contains("<Error>") {
            return Err(http::error_from(status, &text, None, "put (complete)", key.as_str(), &self.bucket));
        }
        Ok(())
    }
}
