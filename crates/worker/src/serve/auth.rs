//! Who may open a media stream (WebSocket `/v1/media/*`, WebRTC offers): a bearer token or an
//! HMAC-signed token, each belonging to one tenant, checked before any audio is accepted.
//!
//! - Bearer: one of the tenant's `media_tokens`, as `Authorization: Bearer <token>` or the
//!   `token` query parameter (browsers cannot set headers on a WebSocket).
//! - Signed: `v1.<tenant>.<expiry unix seconds>.<hex HMAC-SHA256(media_hmac_key, "v1.<tenant>.<expiry>")>`,
//!   minted by whoever holds the tenant's key (`attendant media-token`), valid until its expiry.
//!   A media bot or an SDK's back end can mint short-lived tokens without the worker storing
//!   each one.
//!
//! Without a token, a connection is accepted only when the HTTP API listens on a loopback
//! address and the peer is on loopback too (the embedded default's trust model, as for SIP);
//! `[http] loopback_without_token = false` turns that off. Any other listen address needs tokens.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::config::ServeConfig;

type HmacSha256 = Hmac<Sha256>;

/// Why a stream was refused, with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("a media token is required (Authorization: Bearer, or the token query parameter)")]
    Missing,
    #[error("the media token is not accepted")]
    Rejected,
    #[error("the signed media token expired at {0} (unix seconds)")]
    Expired(u64),
    #[error("the token belongs to another tenant than {0:?}")]
    WrongTenant(String),
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
}

impl AuthError {
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Missing => 401,
            Self::Rejected | Self::Expired(_) | Self::WrongTenant(_) => 403,
            Self::UnknownTenant(_) => 404,
        }
    }
}

struct TenantKeys {
    name: String,
    tokens: Vec<Vec<u8>>,
    hmac_key: Option<Vec<u8>>,
}

/// The tenants' media credentials, built once from the configuration.
pub struct MediaAuth {
    tenants: Vec<TenantKeys>,
    /// Loopback peers may connect without a token (see the module comment).
    open_loopback: bool,
}

impl std::fmt::Debug for MediaAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("MediaAuth").field("tenants", &self.tenants.len()).field("open_loopback", &self.open_loopback).finish()
    }
}

impl MediaAuth {
    /// Credentials of `config`'s tenants, for an HTTP API listening on `listen`.
    pub fn new(config: &ServeConfig, listen: SocketAddr) -> Self {
        let tenants = config
            .tenants
            .iter()
            .map(|t| TenantKeys {
                name: t.name.clone(),
                tokens: t.media_tokens.iter().map(|s| s.as_bytes().to_vec()).collect(),
                hmac_key: t.media_hmac_key.as_ref().map(|k| k.as_bytes().to_vec()),
            })
            .collect();
        Self { tenants, open_loopback: listen.ip().is_loopback() && config.http.loopback_without_token }
    }

    /// The tenant `token` (if any) from `peer` may open a call for. `tenant_hint` (the `tenant`
    /// query parameter) picks the tenant of a tokenless loopback call, and must match the
    /// token's tenant when both are given.
    pub fn authorize(&self, token: Option<&str>, peer: SocketAddr, tenant_hint: Option<&str>) -> Result<String, AuthError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let tenant = match token {
            Some(token) => self.tenant_of(token, now)?,
            None if self.open_loopback && peer.ip().is_loopback() => match tenant_hint {
                Some(hint) => return self.tenants.iter().find(|t| t.name == hint).map(|t| t.name.clone()).ok_or_else(|| AuthError::UnknownTenant(hint.to_owned())),
                None => return self.tenants.first().map(|t| t.name.clone()).ok_or(AuthError::Rejected),
            },
            None => return Err(AuthError::Missing),
        };
        match tenant_hint {
            Some(hint) if hint != tenant => Err(AuthError::WrongTenant(hint.to_owned())),
            _ => Ok(tenant),
        }
    }

    fn tenant_of(&self, token: &str, now: u64) -> Result<String, AuthError> {
        // Every tenant's every token is compared, in constant time, so the time taken says
        // nothing about which bytes matched.
        let mut found = None;
        for t in &self.tenants {
            for known in &t.tokens {
                if constant_time_eq(known, token.as_bytes()) {
                    found = Some(t.name.clone());
                }
            }
        }
        if let Some(name) = found {
            return Ok(name);
        }
        let signed = SignedToken::parse(token).ok_or(AuthError::Rejected)?;
        let tenant = self.tenants.iter().find(|t| t.name == signed.tenant).ok_or(AuthError::Rejected)?;
        let key = tenant.hmac_key.as_ref().ok_or(AuthError::Rejected)?;
        let mut mac = HmacSha256::new_from_slice(key).map_err(|_| AuthError::Rejected)?;
        mac.update(signed.signed_part.as_bytes());
        mac.verify_slice(&signed.signature).map_err(|_| AuthError::Rejected)?;
        // Checked after the signature: an expired token still proves who made it.
        if signed.expires <= now {
            return Err(AuthError::Expired(signed.expires));
        }
        Ok(tenant.name.clone())
    }
}

/// `v1.<tenant>.<expiry>.<hex signature>`, split.
struct SignedToken<'a> {
    tenant: &'a str,
    expires: u64,
    /// `v1.<tenant>.<expiry>`: what the signature covers.
    signed_part: &'a str,
    signature: Vec<u8>,
}

impl<'a> SignedToken<'a> {
    fn parse(token: &'a str) -> Option<Self> {
        // Tenant names may contain dots: the expiry and signature are the last two fields.
        let (signed_part, signature) = token.rsplit_once('.')?;
        let (head, expires) = signed_part.rsplit_once('.')?;
        let tenant = head.strip_prefix("v1.")?;
        let expires = expires.parse().ok()?;
        let signature = decode_hex(signature)?;
        Some(Self { tenant, expires, signed_part, signature })
    }
}

/// A signed token for `tenant`, valid until `expires` (unix seconds).
pub fn mint_token(tenant: &str, key: &[u8], expires: u64) -> String {
    let signed_part = format!("v1.{tenant}.{expires}");
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(signed_part.as_bytes());
    let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("{signed_part}.{signature}")
}

/// The request's token: `Authorization: Bearer ...`, else the `token` query parameter.
pub fn token_from(headers: &axum::http::HeaderMap, query: Option<&str>) -> Option<String> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_owned());
    bearer.filter(|t| !t.is_empty()).or_else(|| query_param(query, "token"))
}

/// One query parameter, percent-decoded (`+` as space).
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v)).filter(|v| !v.is_empty())
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(http: &str) -> ServeConfig {
        let text = format!(
            r#"{http}
[[tenants]]
name = "acme"
sources = ["127.0.0.0/8"]
media_tokens = ["acme-token-0123456789"]
[[tenants]]
name = "contoso.eu"
sources = ["10.0.0.0/8"]
media_hmac_key = "contoso-key-0123456789abcdef0123456789"
"#
        );
        ServeConfig::parse(&text, std::path::Path::new(".")).unwrap()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn bearer_tokens_name_their_tenant() {
        let auth = MediaAuth::new(&config(""), addr("0.0.0.0:8080"));
        let peer = addr("192.0.2.7:5000");
        assert_eq!(auth.authorize(Some("acme-token-0123456789"), peer, None), Ok("acme".into()));
        assert_eq!(auth.authorize(Some("acme-token-0123456789"), peer, Some("acme")), Ok("acme".into()));
        assert_eq!(auth.authorize(Some("acme-token-0123456789"), peer, Some("contoso.eu")), Err(AuthError::WrongTenant("contoso.eu".into())));
        assert_eq!(auth.authorize(Some("acme-token-012345678"), peer, None), Err(AuthError::Rejected));
        assert_eq!(auth.authorize(None, peer, None).map_err(|e| e.http_status()), Err(401));
    }

    #[test]
    fn signed_tokens_check_signature_tenant_and_expiry() {
        let auth = MediaAuth::new(&config(""), addr("0.0.0.0:8080"));
        let peer = addr("192.0.2.7:5000");
        let key = b"contoso-key-0123456789abcdef0123456789";
        let later = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 600;
        let token = mint_token("contoso.eu", key, later);
        assert_eq!(auth.authorize(Some(&token), peer, None), Ok("contoso.eu".into()));
        // Another key, another tenant named in the token, a changed expiry: all refused.
        assert_eq!(auth.authorize(Some(&mint_token("contoso.eu", b"wrong key", later)), peer, None), Err(AuthError::Rejected));
        assert_eq!(auth.authorize(Some(&mint_token("acme", key, later)), peer, None), Err(AuthError::Rejected));
        let tampered = token.replace(&format!(".{later}."), &format!(".{}.", later + 1));
        assert_eq!(auth.authorize(Some(&tampered), peer, None), Err(AuthError::Rejected));
        let expired = mint_token("contoso.eu", key, 1000);
        assert_eq!(auth.authorize(Some(&expired), peer, None), Err(AuthError::Expired(1000)));
        for junk in ["v1.", "v1.contoso.eu.x.zz", "v1..1.", "...", "v2.contoso.eu.99999999999.00"] {
            assert_eq!(auth.authorize(Some(junk), peer, None), Err(AuthError::Rejected), "{junk}");
        }
    }

    #[test]
    fn loopback_without_token_only_on_a_loopback_listener() {
        let local = addr("127.0.0.1:40000");
        let open = MediaAuth::new(&config(""), addr("127.0.0.1:8080"));
        assert_eq!(open.authorize(None, local, None), Ok("acme".into()));
        assert_eq!(open.authorize(None, local, Some("contoso.eu")), Ok("contoso.eu".into()));
        assert_eq!(open.authorize(None, local, Some("nobody")), Err(AuthError::UnknownTenant("nobody".into())));
        assert_eq!(open.authorize(None, addr("192.0.2.7:5000"), None), Err(AuthError::Missing));
        // A wrong token is refused even from loopback: a token given is always checked.
        assert_eq!(open.authorize(Some("nope"), local, None), Err(AuthError::Rejected));
        let public = MediaAuth::new(&config(""), addr("0.0.0.0:8080"));
        assert_eq!(public.authorize(None, local, None), Err(AuthError::Missing));
        let closed = MediaAuth::new(&config("[http]\nloopback_without_token = false"), addr("127.0.0.1:8080"));
        assert_eq!(closed.authorize(None, local, None), Err(AuthError::Missing));
    }

    #[test]
    fn tokens_come_from_the_header_or_the_query() {
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(token_from(&headers, Some("tenant=acme&token=a%2Bb+c")), Some("a+b c".into()));
        assert_eq!(token_from(&headers, Some("token=")), None);
        headers.insert(axum::http::header::AUTHORIZATION, "Bearer xyz".parse().unwrap());
        assert_eq!(token_from(&headers, Some("token=abc")), Some("xyz".into()));
        assert_eq!(query_param(Some("a=1&tenant=contoso.eu"), "tenant"), Some("contoso.eu".into()));
        assert_eq!(query_param(Some("x=%zz%4"), "x"), Some("%zz%4".into()));
    }
}
