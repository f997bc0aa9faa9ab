//! The bits of S3's XML and HTTP formats the plugin reads.

use warden_sdk::ObjectMeta;

/// The text of the first element named `name` anywhere in `xml`.
pub fn child_text(xml: &str, name: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    doc.descendants().find(|n| n.has_tag_name(name)).map(|n| n.text().unwrap_or_default().to_string())
}

/// Escape text for an XML element.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A parsed `ListObjectsV2` answer.
pub struct Listing {
    pub objects: Vec<ObjectMeta>,
    pub truncated: bool,
}

/// Parse a `ListBucketResult`.
pub fn list_page(xml: &str) -> Result<Listing, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    let text = |node: roxmltree::Node<'_, '_>, name: &str| {
        node.children().find(|c| c.has_tag_name(name)).and_then(|c| c.text()).map(str::to_string)
    };
    let mut objects = Vec::new();
    for contents in root.children().filter(|n| n.has_tag_name("Contents")) {
        let key = text(contents, "Key").ok_or("an entry without a key")?;
        let size = text(contents, "Size").and_then(|s| s.parse().ok()).ok_or("an entry without a size")?;
        objects.push(ObjectMeta {
            key,
            size,
            modified_ns: text(contents, "LastModified").and_then(|d| iso8601_ns(&d)),
            etag: text(contents, "ETag"),
        });
    }
    let truncated = text(root, "IsTruncated").is_some_and(|t| t == "true");
    Ok(Listing { objects, truncated })
}

/// `bytes START-END/TOTAL` as (start, end, total).
pub fn content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    Some((start.parse().ok()?, end.parse().ok()?, total.parse().ok()?))
}

/// An RFC 7231 date (`Wed, 21 Oct 2015 07:28:00 GMT`) in nanoseconds since the epoch.
pub fn http_date_ns(value: &str) -> Option<u64> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    if parts.len() != 6 {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| *m == parts[2])? as u64
        + 1;
    let year: i64 = parts[3].parse().ok()?;
    let hms: Vec<u64> = parts[4].split(':').filter_map(|p| p.parse().ok()).collect();
    if hms.len() != 3 {
        return None;
    }
    epoch_ns(year, month, day, hms[0], hms[1], hms[2], 0)
}

/// An ISO 8601 UTC time (`2009-10-12T17:50:30.000Z`) in nanoseconds since the epoch.
pub fn iso8601_ns(value: &str) -> Option<u64> {
    let v = value.trim().strip_suffix('Z')?;
    let (date, time) = v.split_once('T')?;
    let d: Vec<&str> = date.split('-').collect();
    if d.len() != 3 {
        return None;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<u64> = hms.split(':').filter_map(|p| p.parse().ok()).collect();
    if t.len() != 3 {
        return None;
    }
    let nanos: u64 = format!("{:0<9}", &frac[..frac.len().min(9)]).parse().ok()?;
    epoch_ns(d[0].parse().ok()?, d[1].parse().ok()?, d[2].parse().ok()?, t[0], t[1], t[2], nanos)
}

fn epoch_ns(year: i64, month: u64, day: u64, h: u64, m: u64, s: u64, nanos: u64) -> Option<u64> {
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some(secs * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_ranges_and_listings() {
        assert_eq!(http_date_ns("Thu, 01 Jan 1970 00:00:01 GMT"), Some(1_000_000_000));
        assert_eq!(iso8601_ns("2025-11-26T00:00:00.500Z"), Some(1_764_115_200 * 1_000_000_000 + 500_000_000));
        assert_eq!(content_range("bytes 10-29/1000"), Some((10, 29, 1000)));
        let xml = r#"<?xml version="1.0"?><ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a&amp;b</Key><Size>3</Size><ETag>"x"</ETag></Contents></ListBucketResult>"#;
        let page = list_page(xml).unwrap();
        assert!(page.truncated);
        assert_eq!(page.objects[0].key, "a&b");
        assert_eq!(child_text("<Error><Code>NoSuchKey</Code></Error>", "Code").as_deref(), Some("NoSuchKey"));
    }
}

/// One unfinished multipart upload.
pub struct Upload {
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<String>,
}

/// A page of ListMultipartUploads.
pub struct UploadsPage {
    pub uploads: Vec<Upload>,
    pub truncated: bool,
    /// (NextKeyMarker, NextUploadIdMarker) when truncated.
    pub next: Option<(String, String)>,
}

/// Parse a ListMultipartUploads answer.
pub fn uploads_page(xml: &str) -> Result<UploadsPage, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let text_of = |node: roxmltree::Node<'_, '_>, name: &str| {
        node.children().find(|n| n.has_tag_name(name)).map(|n| n.text().unwrap_or_default().to_string())
    };
    let root = doc.root_element();
    let uploads = root
        .children()
        .filter(|n| n.has_tag_name("Upload"))
        .filter_map(|u| {
            Some(Upload {
                key: text_of(u, "Key")?,
                upload_id: text_of(u, "UploadId")?,
                initiated: text_of(u, "Initiated"),
            })
        })
        .collect();
    let truncated = text_of(root, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next = match (text_of(root, "NextKeyMarker"), text_of(root, "NextUploadIdMarker")) {
        (Some(k), Some(u)) if !k.is_empty() => Some((k, u)),
        _ => None,
    };
    Ok(UploadsPage { uploads, truncated, next })
}
