//! Where the service may connect on an agency's behalf: the rules for webhook targets.
//!
//! A webhook URL is chosen by an agency, and the notifier connects to it from inside our
//! network. Without rules, that is a way to reach what is not meant to be reachable from
//! outside (server-side request forgery): the loopback interface, private networks, the cloud
//! metadata service at 169.254.169.254. The rules are applied twice: to the URL when it is
//! registered ([`WebhookTarget::parse`]), and to every address a name resolves to when the
//! notifier connects ([`AddressClass::of`]), because a name that is public today may resolve to
//! a private address tomorrow (DNS rebinding).
//!
//! The URL is read as the WHATWG URL Standard reads it (the `url` crate implements it, and the
//! HTTP client uses the same crate), so `https://2130706433/`, `https://0x7f000001/` and
//! `https://127.1/` are all seen as the 127.0.0.1 they become.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an IP address is, for the purpose of connecting to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressClass {
    /// A public unicast address on the internet.
    Public,
    /// This machine or the operator's own network: loopback (RFC 1122), private IPv4
    /// (RFC 1918), shared address space (RFC 6598) and unique local IPv6 (RFC 4193). Reachable
    /// only when private targets are allowed, for receivers on the premises.
    Private(&'static str),
    /// Never a receiver: unspecified, link-local (the cloud metadata service), multicast,
    /// broadcast, documentation, benchmarking and reserved ranges (RFC 6890, RFC 5735,
    /// RFC 6890's IPv6 registry).
    Forbidden(&'static str),
}

impl AddressClass {
    /// Classifies `ip`. IPv4 addresses written as IPv6 (IPv4-mapped `::ffff:a.b.c.d`,
    /// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and 6to4 `2002:abcd:…`) are
    /// classified by the IPv4 address inside, which is where a connection to them ends up.
    pub fn of(ip: IpAddr) -> AddressClass {
        match ip {
            IpAddr::V4(v4) => classify_v4(v4),
            IpAddr::V6(v6) => classify_v6(v6),
        }
    }

    /// Whether a connection to this class is allowed.
    pub fn is_allowed(self, allow_private: bool) -> bool {
        match self {
            AddressClass::Public => true,
            AddressClass::Private(_) => allow_private,
            AddressClass::Forbidden(_) => false,
        }
    }

    /// Says what the address is, for an error message.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Public => "a public address",
            AddressClass::Private(what) | AddressClass::Forbidden(what) => what,
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    use AddressClass::{Forbidden, Private, Public};
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        // RFC 1122 3.2.1.3: "this network"; 0.0.0.0 reaches this machine on Linux.
        (0, _, _) => Forbidden("an unspecified (\"this network\") address"),
        (127, _, _) => Private("a loopback address"),
        (10, _, _) | (192, 168, _) => Private("a private address (RFC 1918)"),
        (172, 16..=31, _) => Private("a private address (RFC 1918)"),
        (100, 64..=127, _) => Private("a shared (carrier-grade NAT) address (RFC 6598)"),
        (169, 254, _) => Forbidden("a link-local address (RFC 3927; the cloud metadata service is one)"),
        (192, 0, 0) => Forbidden("an IETF protocol address (RFC 6890)"),
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Forbidden("a documentation address (RFC 5737)"),
        (192, 88, 99) => Forbidden("a 6to4 relay anycast address (RFC 7526)"),
        (198, 18..=19, _) => Forbidden("a benchmarking address (RFC 2544)"),
        (224..=239, _, _) => Forbidden("a multicast address"),
        (255, 255, 255) if ip == Ipv4Addr::BROADCAST => Forbidden("the broadcast address"),
        (240..=255, _, _) => Forbidden("a reserved address (RFC 1112)"),
        _ => Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    use AddressClass::{Forbidden, Private, Public};
    let s = ip.segments();
    if ip.is_unspecified() {
        return Forbidden("the unspecified address");
    }
    if ip.is_loopback() {
        return Private("a loopback address");
    }
    // ::ffff:a.b.c.d (RFC 4291 2.5.5.2) and the deprecated ::a.b.c.d (2.5.5.1).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if s[..6] == [0; 6] {
        return classify_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): the gateway connects to the IPv4 inside.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    // 6to4 2002::/16 (RFC 3056) carries an IPv4 address in its second and third groups.
    if s[0] == 0x2002 {
        return classify_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    match s[0] {
        0xfc00..=0xfdff => return Private("a unique local address (RFC 4193)"),
        0xfe80..=0xfebf => return Forbidden("a link-local address"),
        0xfec0..=0xfeff => return Forbidden("a site-local address (deprecated, RFC 3879)"),
        0xff00..=0xffff => return Forbidden("a multicast address"),
        _ => {}
    }
    // Global unicast is 2000::/3; everything else is unassigned or special (IANA IPv6
    // address space registry), including 64:ff9b:1::/48 (RFC 8215) and 100::/64 (RFC 6666).
    if !(0x2000..=0x3fff).contains(&s[0]) {
        return Forbidden("a reserved IPv6 address");
    }
    match (s[0], s[1]) {
        (0x2001, 0x0db8) => Forbidden("a documentation address (RFC 3849)"),
        (0x3fff, 0x0000..=0x0fff) => Forbidden("a documentation address (RFC 9637)"),
        // 2001::/23 IETF protocol assignments, among them Teredo 2001::/32 (RFC 4380), whose
        // server reaches an address we cannot check here.
        (0x2001, 0x0000..=0x01ff) => Forbidden("an IETF protocol address (RFC 6890)"),
        _ => Public,
    }
}

/// Names that never reach a receiver: cloud metadata services, whatever they resolve to.
const METADATA_NAMES: [&str; 4] =
    ["metadata.google.internal", "metadata.goog", "instance-data.ec2.internal", "metadata.azure.internal"];

/// Suffixes of names that are local by definition: RFC 6761 `localhost`, RFC 6762 `.local`
/// (multicast DNS), RFC 8375 `.home.arpa`, ICANN's private-use `.internal`, and the common
/// `.localdomain` and `.lan`.
const LOCAL_SUFFIXES: [&str; 6] = ["localhost", "local", "home.arpa", "internal", "localdomain", "lan"];

/// The TCP ports a browser refuses to fetch from (WHATWG Fetch, "bad port"): other protocols
/// listen there, and a request to them is an attack on that protocol, not a webhook.
const BAD_PORTS: [u16; 81] = [
    0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109,
    110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531,
    532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060,
    5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6697,
];

/// Longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2000;

/// A webhook URL that passed the rules, in the form the WHATWG parser gives it: this form is
/// stored and connected to, so what was checked is what is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookTarget {
    url: url::Url,
}

impl WebhookTarget {
    /// Checks `raw` as a webhook URL: `https://` to a public host, or — only when
    /// `allow_private` — `http://` or `https://` to a private address or a local name. The
    /// error says why, in words an agency can act on.
    pub fn parse(raw: &str, allow_private: bool) -> Result<WebhookTarget, String> {
        if raw.len() > MAX_URL_BYTES {
            return Err(format!("is {} bytes long, the limit is {MAX_URL_BYTES}", raw.len()));
        }
        // The WHATWG parser silently drops tabs and newlines and trims control characters at
        // the ends; a URL carrying them was not meant as written, so it is refused instead.
        if let Some((i, c)) = raw.chars().enumerate().find(|(_, c)| c.is_control() || c.is_whitespace()) {
            return Err(format!(
                "character {} is U+{:04X}: a URL has no spaces or control characters",
                i + 1,
                c as u32
            ));
        }
        let url = url::Url::parse(raw).map_err(|e| format!("is not an absolute URL ({e})"))?;
        let scheme = url.scheme();
        if scheme != "https" && scheme != "http" {
            return Err(format!("webhooks go over https://, not {scheme}://"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password; use the signing secret to authenticate".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a #fragment".into());
        }
        let port = url.port_or_known_default().ok_or("has no port")?;
        if BAD_PORTS.contains(&port) {
            return Err(format!("port {port} belongs to another protocol and cannot receive webhooks"));
        }
        let private = match url.host().ok_or("has no host")? {
            url::Host::Ipv4(v4) => check_address(IpAddr::V4(v4), allow_private)?,
            url::Host::Ipv6(v6) => check_address(IpAddr::V6(v6), allow_private)?,
            url::Host::Domain(name) => check_name(name, allow_private)?,
        };
        if scheme == "http" && !private {
            return Err(if allow_private {
                "webhooks go over https:// (http:// only to a private address or a local name)".into()
            } else {
                "webhooks go over https:// only".into()
            });
        }
        Ok(WebhookTarget { url })
    }

    /// The URL as stored and connected to.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The host name, when the host is a name rather than an address.
    pub fn domain(&self) -> Option<&str> {
        self.url.domain()
    }
}

/// Ok(true) when `ip` is private and allowed, Ok(false) when public.
fn check_address(ip: IpAddr, allow_private: bool) -> Result<bool, String> {
    match AddressClass::of(ip) {
        AddressClass::Public => Ok(false),
        AddressClass::Private(_) if allow_private => Ok(true),
        class => Err(format!("{ip} is {}, which webhooks may not reach", class.describe())),
    }
}

/// Ok(true) when `name` is local and allowed, Ok(false) when it may be public.
fn check_name(name: &str, allow_private: bool) -> Result<bool, String> {
    // A fully qualified name may end in a dot (RFC 1034 3.1); it names the same host.
    let bare = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if bare.is_empty() || bare.contains("..") {
        return Err(format!("{} is not a host name", crate::quoted(name)));
    }
    if METADATA_NAMES.iter().any(|m| bare == *m || bare.ends_with(&format!(".{m}"))) {
        return Err(format!("{name} is a cloud metadata service, which webhooks may not reach"));
    }
    let local_suffix = LOCAL_SUFFIXES.iter().any(|s| bare == *s || bare.ends_with(&format!(".{s}")));
    // A name without a dot is completed with the machine's search domains: inside the network.
    let single_label = !bare.contains('.');
    if local_suffix || single_label {
        return if allow_private {
            Ok(true)
        } else {
            Err(format!("{name} is a name on the local network, which webhooks may not reach"))
        };
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_urls_pass_in_their_parsed_form() {
        for (raw, stored) in [
            ("https://agency.example.go.th/hooks", "https://agency.example.go.th/hooks"),
            ("HTTPS://Agency.Example.GO.TH:8443/h?x=1", "https://agency.example.go.th:8443/h?x=1"),
            ("https://8.8.8.8/hook", "https://8.8.8.8/hook"),
            ("https://[2001:4860:4860::8888]/hook", "https://[2001:4860:4860::8888]/hook"),
            ("https://หน่วยงาน.ไทย/hook", "https://xn--72c9ab8ayaw7cwk.xn--o3cw4h/hook"),
        ] {
            let target = WebhookTarget::parse(raw, false).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(target.as_str(), stored);
        }
    }

    #[test]
    fn urls_into_the_network_or_of_odd_form_are_refused() {
        for bad in [
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]/hook",
            "https://127.0.0.1/hook",
            "https://localhost/hook",
            "https://localhost./hook",
            "https://LOCALHOST/hook",
            "https://api.localhost/hook",
            "https://[::1]/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/hook",
            "https://172.16.0.1/hook",
            "https://172.31.255.255/hook",
            "https://192.168.1.1/hook",
            "https://0.0.0.0/hook",
            "https://0/hook",
            "https://2130706433/hook",
            "https://0x7f000001/hook",
            "https://0x7f.1/hook",
            "https://0177.0.0.1/hook",
            "https://127.1/hook",
            "https://127.0.1/hook",
            "https://%31%32%37.0.0.1/hook",
            "https://１２７.０.０.１/hook",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://metadata.google.internal./computeMetadata/v1/",
            "https://metadata/hook",
            "https://intranet/hook",
            "https://printer.local/hook",
            "https://router.home.arpa/hook",
            "https://100.64.0.1/hook",
            "https://100.127.255.255/hook",
            "https://198.18.0.1/hook",
            "https://198.19.255.255/hook",
            "https://192.0.2.1/hook",
            "https://198.51.100.7/hook",
            "https://203.0.113.9/hook",
            "https://192.0.0.8/hook",
            "https://224.0.0.1/hook",
            "https://239.255.255.250/hook",
            "https://255.255.255.255/hook",
            "https://240.0.0.1/hook",
            "https://[::]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://[::ffff:7f00:1]/hook",
            "https://[::ffff:169.254.169.254]/hook",
            "https://[::127.0.0.1]/hook",
            "https://[64:ff9b::a9fe:a9fe]/hook",
            "https://[64:ff9b::10.0.0.1]/hook",
            "https://[64:ff9b:1::1]/hook",
            "https://[2002:7f00:1::]/hook",
            "https://[2002:a9fe:a9fe::1]/hook",
            "https://[fc00::1]/hook",
            "https://[fd12:3456:789a::1]/hook",
            "https://[fe80::1]/hook",
            "https://[fe80::1%25eth0]/hook",
            "https://[fec0::1]/hook",
            "https://[ff02::1]/hook",
            "https://[2001:db8::1]/hook",
            "https://[2001::1]/hook",
            "https://[3fff::1]/hook",
            "https://[100::1]/hook",
            "https://agency.example:99999/hook",
            "https://agency.example:0/hook",
            "https://agency.example:22/hook",
            "https://agency.example:25/hook",
            "https://agency.example/ho\0ok",
            "\0https://agency.example/hook",
            "https://agency.example/hook\n",
            "https://agency.example/\thook",
            "https://agency.example/h ook",
            "https://agency.exa\u{85}mple/hook",
            "http://agency.example/hook",
            "ftp://agency.example/hook",
            "file:///etc/passwd",
            "gopher://agency.example:70/",
            "https://",
            "https:///hook",
            "agency.example/hook",
            "//agency.example/hook",
            "https://u:p@agency.example/hook",
            "https://u@agency.example/hook",
            "https://agency.example/hook#frag",
            "http://127.0.0.1.evil/x",
        ] {
            assert!(WebhookTarget::parse(bad, false).is_err(), "{bad:?} must be refused");
        }
        let long = format!("https://agency.example/{}", "a".repeat(MAX_URL_BYTES));
        assert!(WebhookTarget::parse(&long, false).is_err());
    }

    #[test]
    fn the_reason_names_what_the_address_became() {
        let err = WebhookTarget::parse("https://0x7f000001/hook", false).expect_err("loopback");
        assert!(err.contains("127.0.0.1 is a loopback address"), "{err}");
        let err = WebhookTarget::parse("https://[::ffff:169.254.169.254]/", false).expect_err("metadata");
        assert!(err.contains("link-local"), "{err}");
        let err = WebhookTarget::parse("https://agency.example:99999/", false).expect_err("port");
        assert!(err.contains("invalid port"), "{err}");
        let err = WebhookTarget::parse("https://a.example/\0", false).expect_err("NUL");
        assert!(err.contains("U+0000"), "{err}");
    }

    #[test]
    fn private_targets_pass_only_when_allowed_and_never_the_forbidden_ones() {
        for ok in [
            "http://127.0.0.1:9000/hook",
            "http://localhost:9000/hook",
            "http://[::1]:9000/hook",
            "https://10.1.2.3/hook",
            "http://192.168.1.10:8080/hook",
            "http://receiver:8080/hook",
            "http://receiver.agency.internal/hook",
            "http://[fd00::5]/hook",
        ] {
            assert!(WebhookTarget::parse(ok, true).is_ok(), "{ok} with private targets allowed");
            assert!(WebhookTarget::parse(ok, false).is_err(), "{ok} without");
        }
        for still_bad in [
            "http://agency.example/hook",
            "http://8.8.8.8/hook",
            "https://169.254.169.254/",
            "https://metadata.google.internal/",
            "https://0.0.0.0/",
            "https://[fe80::1]/",
            "https://224.0.0.1/",
            "https://127.0.0.1:22/",
        ] {
            assert!(WebhookTarget::parse(still_bad, true).is_err(), "{still_bad} even with private targets allowed");
        }
    }

    #[test]
    fn resolved_addresses_are_classified_like_literal_ones() {
        let class = |s: &str| AddressClass::of(s.parse().expect("an address"));
        assert_eq!(class("93.184.215.14"), AddressClass::Public);
        assert_eq!(class("2606:2800:21f:cb07:6820:80da:af6b:8b2c"), AddressClass::Public);
        assert!(matches!(class("127.0.0.53"), AddressClass::Private(_)));
        assert!(matches!(class("::ffff:10.0.0.1"), AddressClass::Private(_)));
        assert!(matches!(class("169.254.169.254"), AddressClass::Forbidden(_)));
        assert!(matches!(class("fe80::1"), AddressClass::Forbidden(_)));
        assert!(!class("127.0.0.1").is_allowed(false) && class("127.0.0.1").is_allowed(true));
        assert!(!class("169.254.169.254").is_allowed(true));
    }
}
