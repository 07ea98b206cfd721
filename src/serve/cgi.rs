//! CGI/1.1 (RFC 3875) both ways: the meta-variables a request becomes, and
//! the response a CGI program writes (header fields, an empty line, the
//! body).

use std::net::SocketAddr;

/// What the server knows about one request to a script.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The request target's path, as received (still percent-encoded).
    pub raw_path: &'a str,
    /// The query string without `?`, as received.
    pub query: &'a str,
    pub headers: &'a http::HeaderMap,
    pub remote: SocketAddr,
    pub local: SocketAddr,
    /// Decoded URL path of the script (`/index.php`).
    pub script_name: &'a str,
    /// Guest path of the script file.
    pub script_filename: &'a str,
    /// Decoded path after the script (`/api/items/7`), if any.
    pub path_info: Option<&'a str>,
    /// Guest path of the document root.
    pub document_root: &'a str,
    /// Length of the body that goes to stdin.
    pub content_length: usize,
    pub server_software: &'a str,
}

/// The meta-variables of RFC 3875 section 4.1, plus what PHP and web
/// applications read beside them (`REQUEST_URI`, `DOCUMENT_ROOT`,
/// `SCRIPT_FILENAME`, `REDIRECT_STATUS`, `HTTPS`), and one `HTTP_*` per
/// request header (section 4.1.18). `Content-Type`/`Content-Length` are
/// given as `CONTENT_TYPE`/`CONTENT_LENGTH` only; `Proxy` is dropped
/// (httpoxy); repeated headers are joined with `, `.
pub fn meta_variables(r: &Request<'_>) -> Vec<(String, String)> {
    let host = r.headers.get(http::header::HOST).and_then(|h| h.to_str().ok());
    let server_name = match host.map(host_name) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => r.local.ip().to_string(),
    };
    let request_uri = if r.query.is_empty() {
        r.raw_path.to_string()
    } else {
        format!("{}?{}", r.raw_path, r.query)
    };
    let mut v: Vec<(String, String)> = vec![
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
        ("SERVER_SOFTWARE".into(), r.server_software.into()),
        ("SERVER_PROTOCOL".into(), "HTTP/1.1".into()),
        ("SERVER_NAME".into(), server_name),
        ("SERVER_ADDR".into(), r.local.ip().to_string()),
        ("SERVER_PORT".into(), r.local.port().to_string()),
        ("REMOTE_ADDR".into(), r.remote.ip().to_string()),
        ("REMOTE_PORT".into(), r.remote.port().to_string()),
        ("REQUEST_METHOD".into(), r.method.into()),
        ("REQUEST_URI".into(), request_uri),
        ("QUERY_STRING".into(), r.query.into()),
        ("SCRIPT_NAME".into(), r.script_name.into()),
        ("SCRIPT_FILENAME".into(), r.script_filename.into()),
        ("DOCUMENT_ROOT".into(), r.document_root.into()),
        ("REDIRECT_STATUS".into(), "200".into()),
        ("HTTPS".into(), "off".into()),
    ];
    if let Some(pi) = r.path_info {
        v.push(("PATH_INFO".into(), pi.into()));
        v.push(("PATH_TRANSLATED".into(), format!("{}{pi}", r.document_root.trim_end_matches('/'))));
    }
    if r.content_length > 0 || r.headers.contains_key(http::header::CONTENT_LENGTH) {
        v.push(("CONTENT_LENGTH".into(), r.content_length.to_string()));
    }
    if let Some(ct) = r.headers.get(http::header::CONTENT_TYPE).and_then(|h| h.to_str().ok()) {
        v.push(("CONTENT_TYPE".into(), ct.into()));
    }
    let mut names: Vec<&http::HeaderName> = r.headers.keys().collect();
    names.dedup();
    for name in names {
        if matches!(name.as_str(), "content-type" | "content-length" | "proxy") {
            continue;
        }
        let values: Vec<&str> = r.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        if values.is_empty() {
            continue;
        }
        let sep = if name == http::header::COOKIE { "; " } else { ", " };
        let key = format!("HTTP_{}", name.as_str().to_ascii_uppercase().replace('-', "_"));
        v.push((key, values.join(sep)));
    }
    v
}

/// The name part of a `Host` header: `[::1]:8080` -> `[::1]`,
/// `example.test:8080` -> `example.test`.
fn host_name(h: &str) -> &str {
    if h.starts_with('[') {
        return h.find(']').map_or(h, |i| &h[..=i]);
    }
    match h.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => h,
    }
}

/// A CGI program's response, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Header fields other than `Status`, in order.
    pub headers: Vec<(String, String)>,
    /// Where the body starts in the program's output.
    pub body_offset: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResponseError {
    #[error("the CGI program wrote no header block (no empty line after its header fields)")]
    NoHeaderEnd,
    #[error("the CGI program wrote a malformed header line: {0:?}")]
    BadHeader(String),
    #[error("the CGI program wrote a malformed Status: {0:?}")]
    BadStatus(String),
}

/// Parse a CGI response (RFC 3875 section 6): header lines ended by LF or
/// CRLF up to an empty line; `Status: NNN reason` sets the status, a
/// `Location` without a `Status` means 302, anything else 200.
pub fn parse_response(out: &[u8]) -> Result<Response, ResponseError> {
    let mut headers = Vec::new();
    let mut status = None;
    let mut pos = 0;
    loop {
        let Some(nl) = out[pos..].iter().position(|&b| b == b'\n') else {
            return Err(ResponseError::NoHeaderEnd);
        };
        let line = &out[pos..pos + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += nl + 1;
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        let Some((name, value)) = text.split_once(':') else {
            return Err(ResponseError::BadHeader(text.into_owned()));
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(ResponseError::BadHeader(text.into_owned()));
        }
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("");
            match code.parse::<u16>() {
                Ok(c) if (100..=999).contains(&c) => status = Some(c),
                _ => return Err(ResponseError::BadStatus(value.to_string())),
            }
        } else {
            headers.push((name.to_string(), value.to_string()));
        }
    }
    let status = status.unwrap_or_else(|| {
        if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("location")) {
            302
        } else {
            200
        }
    });
    Ok(Response {
        status,
        headers,
        body_offset: pos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(headers: &'a http::HeaderMap) -> Request<'a> {
        Request {
            method: "POST",
            raw_path: "/index.php/api/items/7",
            query: "a=1&b=%20",
            headers,
            remote: "127.0.0.1:50000".parse().unwrap(),
            local: "127.0.0.1:8080".parse().unwrap(),
            script_name: "/index.php",
            script_filename: "/srv/app/index.php",
            path_info: Some("/api/items/7"),
            document_root: "/srv/app",
            content_length: 5,
            server_software: "kiln",
        }
    }

    fn get<'a>(v: &'a [(String, String)], k: &str) -> Option<&'a str> {
        v.iter().find(|(n, _)| n == k).map(|(_, x)| x.as_str())
    }

    #[test]
    fn request_becomes_meta_variables() {
        let mut h = http::HeaderMap::new();
        h.insert("host", "example.test:8080".parse().unwrap());
        h.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        h.insert("content-length", "5".parse().unwrap());
        h.append("accept", "text/html".parse().unwrap());
        h.append("accept", "*/*".parse().unwrap());
        h.append("cookie", "a=1".parse().unwrap());
        h.append("cookie", "PHPSESSID=x".parse().unwrap());
        h.insert("proxy", "http://evil".parse().unwrap());
        h.insert("x-forwarded-for", "10.0.0.1".parse().unwrap());
        let v = meta_variables(&req(&h));
        assert_eq!(get(&v, "REQUEST_METHOD"), Some("POST"));
        assert_eq!(get(&v, "SERVER_NAME"), Some("example.test"));
        assert_eq!(get(&v, "SERVER_PORT"), Some("8080"));
        assert_eq!(get(&v, "REQUEST_URI"), Some("/index.php/api/items/7?a=1&b=%20"));
        assert_eq!(get(&v, "QUERY_STRING"), Some("a=1&b=%20"));
        assert_eq!(get(&v, "PATH_INFO"), Some("/api/items/7"));
        assert_eq!(get(&v, "PATH_TRANSLATED"), Some("/srv/app/api/items/7"));
        assert_eq!(get(&v, "CONTENT_LENGTH"), Some("5"));
        assert_eq!(get(&v, "CONTENT_TYPE"), Some("application/x-www-form-urlencoded"));
        assert_eq!(get(&v, "HTTP_ACCEPT"), Some("text/html, */*"));
        assert_eq!(get(&v, "HTTP_COOKIE"), Some("a=1; PHPSESSID=x"));
        assert_eq!(get(&v, "HTTP_X_FORWARDED_FOR"), Some("10.0.0.1"));
        assert_eq!(get(&v, "REDIRECT_STATUS"), Some("200"));
        assert_eq!(get(&v, "HTTPS"), Some("off"));
        assert_eq!(get(&v, "HTTP_PROXY"), None, "httpoxy");
        assert_eq!(get(&v, "HTTP_CONTENT_TYPE"), None);
        assert_eq!(v.iter().filter(|(k, _)| k == "HTTP_ACCEPT").count(), 1);
    }

    #[test]
    fn server_name_without_host_header_is_the_local_address() {
        let h = http::HeaderMap::new();
        let mut r = req(&h);
        r.path_info = None;
        r.content_length = 0;
        let v = meta_variables(&r);
        assert_eq!(get(&v, "SERVER_NAME"), Some("127.0.0.1"));
        assert_eq!(get(&v, "PATH_INFO"), None);
        assert_eq!(get(&v, "CONTENT_LENGTH"), None);
    }

    #[test]
    fn ipv6_host_keeps_its_brackets() {
        let mut h = http::HeaderMap::new();
        h.insert("host", "[::1]:8080".parse().unwrap());
        assert_eq!(get(&meta_variables(&req(&h)), "SERVER_NAME"), Some("[::1]"));
        h.insert("host", "[::1]".parse().unwrap());
        assert_eq!(get(&meta_variables(&req(&h)), "SERVER_NAME"), Some("[::1]"));
    }

    #[test]
    fn parses_status_location_and_body() {
        let out = b"Status: 404 Not Found\r\nContent-type: text/html\r\nX-A: 1\r\n\r\n<p>gone</p>";
        let r = parse_response(out).unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(
            r.headers,
            vec![("Content-type".into(), "text/html".into()), ("X-A".into(), "1".into())]
        );
        assert_eq!(&out[r.body_offset..], b"<p>gone</p>");
        let r = parse_response(b"Location: /next\nContent-type: text/html\n\n").unwrap();
        assert_eq!(r.status, 302);
        let r = parse_response(b"Content-type: text/plain\n\nhi").unwrap();
        assert_eq!(r.status, 200);
    }

    #[test]
    fn rejects_malformed_responses() {
        assert_eq!(parse_response(b"Content-type: text/html\r\n"), Err(ResponseError::NoHeaderEnd));
        assert_eq!(parse_response(b""), Err(ResponseError::NoHeaderEnd));
        assert!(matches!(parse_response(b"no colon here\n\n"), Err(ResponseError::BadHeader(_))));
        assert!(matches!(parse_response(b"Status: abc\n\n"), Err(ResponseError::BadStatus(_))));
        assert!(matches!(parse_response(b"Status: 42\n\n"), Err(ResponseError::BadStatus(_))));
    }
}
