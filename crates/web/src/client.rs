//! Who is asking: the client's address, for limits counted per client.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, HeaderName};

/// The client's IP address: the last entry of the configured proxy header when there is one
/// (the address the trusted proxy saw; earlier entries are the client's own claims), else the
/// connection's address, else `unknown` when the router runs without connection info
/// (in-process tests).
///
/// Without a configured header, forwarding headers are ignored: a client that sends its own
/// `X-Forwarded-For` cannot pose as many clients.
pub fn client_address(extensions: &Extensions, headers: &HeaderMap, proxy_header: Option<&HeaderName>) -> String {
    if let Some(name) = proxy_header {
        let forwarded = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty())
            .and_then(|v| v.parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip.to_string();
        }
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(addr)| addr.ip().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: &str, forwarded: Option<&str>) -> (Extensions, HeaderMap) {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 40000)));
        let mut headers = HeaderMap::new();
        if let Some(f) = forwarded {
            headers.insert("x-forwarded-for", f.parse().unwrap());
        }
        (extensions, headers)
    }

    #[test]
    fn the_peer_address_counts_unless_a_trusted_proxy_header_is_configured() {
        let xff = HeaderName::from_static("x-forwarded-for");
        let (ext, headers) = request("10.0.0.1", Some("203.0.113.9, 198.51.100.7"));
        assert_eq!(client_address(&ext, &headers, None), "10.0.0.1");
        assert_eq!(client_address(&ext, &headers, Some(&xff)), "198.51.100.7");
        let (ext, headers) = request("10.0.0.1", Some("not an address"));
        assert_eq!(client_address(&ext, &headers, Some(&xff)), "10.0.0.1");
        assert_eq!(client_address(&Extensions::new(), &HeaderMap::new(), None), "unknown");
    }
}
