//! Header names (case-insensitive, compact forms of RFC 3261 §7.3.3 and later RFCs) and the
//! ordered header list of a message with typed accessors.

use std::fmt;

use crate::headers::{CSeq, Contact, Interval, MediaType, NameAddr, TokenParams, Via};

macro_rules! header_names {
    ($( $variant:ident => $canon:literal $(, $compact:literal)? ; )*) => {
        /// A header field name. Known names are variants; others keep their spelling and
        /// compare case-insensitively (RFC 3261 §7.3.1).
        #[derive(Debug, Clone)]
        pub enum HeaderName {
            $( $variant, )*
            Other(String),
        }

        impl HeaderName {
            /// Maps a received name, long or compact, in any case.
            pub fn parse(name: &str) -> Self {
                $(
                    if name.eq_ignore_ascii_case($canon) $(|| name.eq_ignore_ascii_case($compact))? {
                        return HeaderName::$variant;
                    }
                )*
                HeaderName::Other(name.to_owned())
            }

            /// The canonical long form used when serializing.
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other(n) => n,
                }
            }
        }
    };
}

header_names! {
    Accept => "Accept";
    AcceptEncoding => "Accept-Encoding";
    Allow => "Allow";
    AllowEvents => "Allow-Events", "u";
    Authorization => "Authorization";
    CallId => "Call-ID", "i";
    Contact => "Contact", "m";
    ContentDisposition => "Content-Disposition";
    ContentEncoding => "Content-Encoding", "e";
    ContentLength => "Content-Length", "l";
    ContentType => "Content-Type", "c";
    CSeq => "CSeq";
    Date => "Date";
    Event => "Event", "o";
    Expires => "Expires";
    From => "From", "f";
    MaxForwards => "Max-Forwards";
    MinSe => "Min-SE";
    ProxyRequire => "Proxy-Require";
    Reason => "Reason";
    RecordRoute => "Record-Route";
    ReferTo => "Refer-To", "r";
    ReferredBy => "Referred-By", "b";
    Require => "Require";
    RetryAfter => "Retry-After";
    Route => "Route";
    Server => "Server";
    SessionExpires => "Session-Expires", "x";
    Subject => "Subject", "s";
    SubscriptionState => "Subscription-State";
    Supported => "Supported", "k";
    To => "To", "t";
    Unsupported => "Unsupported";
    UserAgent => "User-Agent";
    UserToUser => "User-to-User";
    Via => "Via", "v";
    Warning => "Warning";
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl Eq for HeaderName {}

impl std::hash::Hash for HeaderName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        if let HeaderName::Other(n) = self {
            for b in n.bytes() {
                state.write_u8(b.to_ascii_lowercase());
            }
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for HeaderName {
    fn from(s: &str) -> Self {
        HeaderName::parse(s)
    }
}

/// One header field line (after unfolding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: String,
}

impl Header {
    pub fn new(name: impl Into<HeaderName>, value: impl Into<String>) -> Self {
        Self { name: name.into(), value: value.into() }
    }
}

/// Header fields in received order. Repeated headers stay separate lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// First value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0.iter().find(|h| &h.name == name).map(|h| h.value.as_str())
    }

    /// All lines of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |h| &h.name == name).map(|h| h.value.as_str())
    }

    /// All list elements of `name` across its lines (comma lists split).
    pub fn list(&self, name: &HeaderName) -> Vec<&str> {
        let mut out = Vec::new();
        for h in self.0.iter().filter(|h| &h.name == name) {
            out.extend(
                crate::headers::lex::split_list(&h.value).into_iter().filter(|v| !v.is_empty()),
            );
        }
        out
    }

    pub fn count(&self, name: &HeaderName) -> usize {
        self.0.iter().filter(|h| &h.name == name).count()
    }

    pub fn contains(&self, name: &HeaderName) -> bool {
        self.0.iter().any(|h| &h.name == name)
    }

    pub fn push(&mut self, name: impl Into<HeaderName>, value: impl Into<String>) {
        self.0.push(Header::new(name, value));
    }

    /// Replaces every line of `name` by one line with `value` (at the first line's place).
    pub fn set(&mut self, name: impl Into<HeaderName>, value: impl Into<String>) {
        let name = name.into();
        let pos = self.0.iter().position(|h| h.name == name);
        self.remove(&name);
        let h = Header { name, value: value.into() };
        match pos {
            Some(p) => self.0.insert(p, h),
            None => self.0.push(h),
        }
    }

    pub fn remove(&mut self, name: &HeaderName) {
        self.0.retain(|h| &h.name != name);
    }

    /// Via values, top first.
    pub fn vias(&self) -> Vec<Via> {
        self.list(&HeaderName::Via).into_iter().filter_map(|v| Via::parse(v).ok()).collect()
    }

    pub fn top_via(&self) -> Option<Via> {
        self.list(&HeaderName::Via).first().and_then(|v| Via::parse(v).ok())
    }

    /// Replaces the topmost Via value, keeping the others of its line.
    pub fn set_top_via(&mut self, via: &Via) {
        if let Some(h) = self.0.iter_mut().find(|h| h.name == HeaderName::Via) {
            let list = crate::headers::lex::split_list(&h.value);
            let mut value = via.to_string();
            for rest in list.iter().skip(1) {
                value.push_str(", ");
                value.push_str(rest);
            }
            h.value = value;
        }
    }

    pub fn from(&self) -> Option<NameAddr> {
        self.get(&HeaderName::From).and_then(|v| NameAddr::parse(v).ok())
    }

    pub fn to(&self) -> Option<NameAddr> {
        self.get(&HeaderName::To).and_then(|v| NameAddr::parse(v).ok())
    }

    pub fn call_id(&self) -> Option<&str> {
        self.get(&HeaderName::CallId)
    }

    pub fn cseq(&self) -> Option<CSeq> {
        self.get(&HeaderName::CSeq).and_then(|v| CSeq::parse(v).ok())
    }

    pub fn contacts(&self) -> Vec<Contact> {
        self.get_all(&HeaderName::Contact)
            .filter_map(|v| Contact::parse_list(v).ok())
            .flatten()
            .collect()
    }

    /// First Contact name-addr.
    pub fn contact(&self) -> Option<NameAddr> {
        self.contacts().into_iter().find_map(|c| match c {
            Contact::Addr(a) => Some(a),
            Contact::Star => None,
        })
    }

    pub fn content_type(&self) -> Option<MediaType> {
        self.get(&HeaderName::ContentType).and_then(|v| MediaType::parse(v).ok())
    }

    pub fn session_expires(&self) -> Option<Interval> {
        self.get(&HeaderName::SessionExpires).and_then(|v| Interval::parse(v).ok())
    }

    pub fn event(&self) -> Option<TokenParams> {
        self.get(&HeaderName::Event).and_then(|v| TokenParams::parse(v).ok())
    }

    pub fn subscription_state(&self) -> Option<TokenParams> {
        self.get(&HeaderName::SubscriptionState).and_then(|v| TokenParams::parse(v).ok())
    }

    /// Option tags of a token-list header (Require, Supported, ...), in order.
    pub fn tokens(&self, name: &HeaderName) -> Vec<&str> {
        self.list(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive_names_map_to_one_variant() {
        for n in ["Via", "v", "V", "vIA"] {
            assert_eq!(HeaderName::parse(n), HeaderName::Via);
        }
        for (c, h) in [
            ("i", HeaderName::CallId),
            ("m", HeaderName::Contact),
            ("f", HeaderName::From),
            ("t", HeaderName::To),
            ("l", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("k", HeaderName::Supported),
            ("s", HeaderName::Subject),
            ("o", HeaderName::Event),
            ("e", HeaderName::ContentEncoding),
            ("r", HeaderName::ReferTo),
            ("b", HeaderName::ReferredBy),
            ("u", HeaderName::AllowEvents),
            ("x", HeaderName::SessionExpires),
        ] {
            assert_eq!(HeaderName::parse(c), h);
        }
        assert_eq!(HeaderName::parse("C%6Fntact"), HeaderName::Other("C%6Fntact".into()));
        assert_eq!(HeaderName::parse("user-TO-user"), HeaderName::UserToUser);
    }

    #[test]
    fn list_values_span_repeated_lines() {
        let mut h = Headers::new();
        h.push("Via", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b");
        h.push("v", "SIP/2.0/TCP c");
        assert_eq!(h.list(&HeaderName::Via).len(), 3);
        let mut top = h.top_via().unwrap();
        top.params.set("received", Some("192.0.2.1"));
        h.set_top_via(&top);
        assert_eq!(
            h.get(&HeaderName::Via),
            Some("SIP/2.0/UDP a;branch=z9hG4bK1;received=192.0.2.1, SIP/2.0/UDP b")
        );
    }
}
