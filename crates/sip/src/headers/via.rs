//! Via (RFC 3261 §20.42, §25.1) with `branch`, `received` (§18.2.1) and `rport` (RFC 3581).

use std::fmt;
use std::net::IpAddr;

use super::lex::{split_list, Cursor, Params};
use crate::uri::{parse_hostport, Host};

/// The branch magic cookie of RFC 3261 transaction identifiers (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via header field value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `protocol-name/protocol-version`, e.g. `SIP/2.0`.
    pub protocol: String,
    /// Upper-cased transport: UDP, TCP, TLS, SCTP or an extension.
    pub transport: String,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn new(transport: &str, host: Host, port: Option<u16>, branch: &str) -> Self {
        let mut params = Params::new();
        params.set("branch", Some(branch));
        Self {
            protocol: "SIP/2.0".into(),
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        }
    }

    /// Parses one via-parm. Whitespace around the slashes is allowed (SLASH = SWS "/" SWS).
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let mut c = Cursor::new(s.trim());
        let name = c.token().ok_or("bad protocol name")?;
        if !c.eat_sep(b'/') {
            return Err("bad sent-protocol");
        }
        let version = c.token().ok_or("bad protocol version")?;
        if !c.eat_sep(b'/') {
            return Err("bad sent-protocol");
        }
        let transport = c.token().ok_or("bad transport")?;
        if !c.skip_ws() {
            return Err("no space before sent-by");
        }
        let sent_by = c.take_while(|b| !matches!(b, b';' | b' ' | b'\t'));
        let (host, port) = parse_hostport(sent_by).map_err(|e| e.0)?;
        let params = Params::parse(&mut c)?;
        c.skip_ws();
        if !c.is_empty() {
            return Err("junk after Via parameters");
        }
        for p in &params.0 {
            let v = p.value.as_deref();
            match p.name.to_ascii_lowercase().as_str() {
                "received" => {
                    let v = v.ok_or("received without value")?;
                    let v = v.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(v);
                    v.parse::<IpAddr>().map_err(|_| "received is not an IP address")?;
                }
                "rport" => {
                    if let Some(v) = v {
                        v.parse::<u16>().map_err(|_| "bad rport")?;
                    }
                }
                "branch" if v.is_none() => return Err("branch without value"),
                "ttl" => {
                    v.and_then(|t| t.parse::<u8>().ok()).ok_or("bad ttl")?;
                }
                _ => {}
            }
        }
        Ok(Self {
            protocol: format!("{name}/{version}"),
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }

    /// Parses a whole Via header value (a comma list).
    pub fn parse_list(s: &str) -> Result<Vec<Self>, &'static str> {
        split_list(s).into_iter().map(Self::parse).collect()
    }

    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }

    /// True when the branch carries an RFC 3261 transaction id: the magic cookie and more.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }

    pub fn received(&self) -> Option<IpAddr> {
        let v = self.params.get("received").flatten()?;
        let v = v.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(v);
        v.parse().ok()
    }

    /// `None`: no rport; `Some(None)`: rport requested without value; `Some(Some(p))`: filled.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params.get("rport").map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// `sent-by` as written (host and port), used in transaction matching (§17.2.3).
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }

    /// Stamps `received` and fills `rport` from the packet's source (RFC 3261 §18.2.1,
    /// RFC 3581 §4).
    pub fn stamp_source(&mut self, source: std::net::SocketAddr) {
        let wants_rport = self.rport().is_some();
        if wants_rport || self.host.ip() != Some(source.ip()) {
            let ip = match source.ip() {
                IpAddr::V6(a) => format!("[{a}]"),
                IpAddr::V4(a) => a.to_string(),
            };
            self.params.set("received", Some(&ip));
        }
        if wants_rport {
            self.params.set("rport", Some(&source.port().to_string()));
        }
    }

    pub fn is_reliable(&self) -> bool {
        !self.transport.eq_ignore_ascii_case("UDP")
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {}", self.protocol, self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_spaces_around_slashes_parses() {
        let v = Via::parse("SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_rfc3261_branch());
        let l = Via::parse_list(
            "SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8  , \
             SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239",
        )
        .unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].branch(), Some("z9hG4bK30239"));
    }

    #[test]
    fn ipv6_received_with_or_without_brackets() {
        let a = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
        )
        .unwrap();
        let b =
            Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3")
                .unwrap();
        assert_eq!(a.received(), b.received());
        assert!(a.received().is_some());
    }

    #[test]
    fn empty_parameters_are_rejected() {
        assert!(Via::parse_list("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
        assert!(Via::parse("SIP/2.0/UDP host;received=not-an-ip").is_err());
    }

    #[test]
    fn source_stamping_fills_rport_and_received() {
        let mut v = Via::parse("SIP/2.0/UDP pc33.example.com;branch=z9hG4bKx;rport").unwrap();
        v.stamp_source("192.0.2.7:6000".parse().unwrap());
        assert_eq!(v.rport(), Some(Some(6000)));
        assert_eq!(v.received(), Some("192.0.2.7".parse().unwrap()));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP pc33.example.com;branch=z9hG4bKx;rport=6000;received=192.0.2.7"
        );
    }
}
