//! SDES `a=crypto` (RFC 4568 §9.1): `<tag> <crypto-suite> inline:<key||salt>[|lifetime][|MKI:len]
//! [session-params]`, the key and salt decoded to bytes.

use std::fmt;

use super::base64;

/// Crypto suites (RFC 4568 §6.2). Both AES_CM_128 suites carry a 16-byte key and a 14-byte salt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoSuite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
    Other(String),
}

impl CryptoSuite {
    pub fn parse(s: &str) -> Self {
        match s {
            "AES_CM_128_HMAC_SHA1_80" => CryptoSuite::AesCm128HmacSha1_80,
            "AES_CM_128_HMAC_SHA1_32" => CryptoSuite::AesCm128HmacSha1_32,
            other => CryptoSuite::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            CryptoSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            CryptoSuite::Other(s) => s,
        }
    }

    /// Length of key || salt for the suites we implement.
    pub fn key_salt_len(&self) -> Option<usize> {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 | CryptoSuite::AesCm128HmacSha1_32 => Some(30),
            CryptoSuite::Other(_) => None,
        }
    }
}

/// Why an `a=crypto` line was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("a=crypto is not <tag> <suite> <key-params>")]
    Syntax,
    #[error("a=crypto tag is not 1 to 9 digits")]
    Tag,
    #[error("a=crypto key method is not inline")]
    KeyMethod,
    #[error("a=crypto key is not base64")]
    Base64,
    #[error("a=crypto key||salt is {actual} bytes, the suite needs {expected}")]
    KeyLength { expected: usize, actual: usize },
}

/// One parsed `a=crypto` attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub suite: CryptoSuite,
    /// Master key followed by master salt.
    pub key_salt: Vec<u8>,
    /// Lifetime as written (`2^31` or a number), tolerated and echoed only.
    pub lifetime: Option<String>,
    /// `MKI:length` as written, tolerated.
    pub mki: Option<String>,
    pub session_params: Vec<String>,
}

impl Crypto {
    pub fn new(tag: u32, suite: CryptoSuite, key_salt: &[u8]) -> Self {
        Self {
            tag,
            suite,
            key_salt: key_salt.to_vec(),
            lifetime: None,
            mki: None,
            session_params: Vec::new(),
        }
    }

    pub fn parse(value: &str) -> Result<Self, CryptoError> {
        let mut f = value.split_whitespace();
        let (tag, suite, key_params) = match (f.next(), f.next(), f.next()) {
            (Some(t), Some(s), Some(k)) => (t, s, k),
            _ => return Err(CryptoError::Syntax),
        };
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CryptoError::Tag);
        }
        let tag = tag.parse().map_err(|_| CryptoError::Tag)?;
        let suite = CryptoSuite::parse(suite);
        // Several key-params may follow, separated by ';': the first one is used.
        let first = key_params.split(';').next().unwrap_or_default();
        let inline = first.strip_prefix("inline:").ok_or(CryptoError::KeyMethod)?;
        let mut parts = inline.split('|');
        let key_salt =
            base64::decode(parts.next().unwrap_or_default()).ok_or(CryptoError::Base64)?;
        if let Some(expected) = suite.key_salt_len() {
            if key_salt.len() != expected {
                return Err(CryptoError::KeyLength { expected, actual: key_salt.len() });
            }
        }
        let (mut lifetime, mut mki) = (None, None);
        for p in parts {
            if p.contains(':') {
                mki = Some(p.to_owned());
            } else {
                lifetime = Some(p.to_owned());
            }
        }
        Ok(Self {
            tag,
            suite,
            key_salt,
            lifetime,
            mki,
            session_params: f.map(str::to_owned).collect(),
        })
    }

    /// The 16-byte master key of the AES_CM_128 suites.
    pub fn master_key(&self) -> &[u8] {
        &self.key_salt[..self.key_salt.len().min(16)]
    }

    /// The 14-byte master salt of the AES_CM_128 suites.
    pub fn master_salt(&self) -> &[u8] {
        &self.key_salt[self.key_salt.len().min(16)..]
    }
}

impl fmt::Display for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} inline:{}",
            self.tag,
            self.suite.as_str(),
            base64::encode(&self.key_salt)
        )?;
        if let Some(l) = &self.lifetime {
            write!(f, "|{l}")?;
        }
        if let Some(m) = &self.mki {
            write!(f, "|{m}")?;
        }
        for p in &self.session_params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4568_example_decodes_to_thirty_bytes() {
        let c = Crypto::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32",
        )
        .unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(c.suite, CryptoSuite::AesCm128HmacSha1_80);
        assert_eq!(c.key_salt.len(), 30);
        assert_eq!((c.master_key().len(), c.master_salt().len()), (16, 14));
        assert_eq!(c.lifetime.as_deref(), Some("2^20"));
        assert_eq!(c.mki.as_deref(), Some("1:32"));
        assert_eq!(
            c.to_string(),
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32"
        );
    }

    #[test]
    fn bad_keys_are_typed_errors() {
        assert_eq!(
            Crypto::parse("1 AES_CM_128_HMAC_SHA1_32 inline:AAAA"),
            Err(CryptoError::KeyLength { expected: 30, actual: 3 })
        );
        assert_eq!(Crypto::parse("x AES_CM_128_HMAC_SHA1_32 inline:AAAA"), Err(CryptoError::Tag));
        assert_eq!(Crypto::parse("1 AES_CM_128_HMAC_SHA1_32 uri:x"), Err(CryptoError::KeyMethod));
        assert_eq!(Crypto::parse("1 AES_CM_128_HMAC_SHA1_32 inline:*"), Err(CryptoError::Base64));
        assert!(Crypto::parse("2 AEAD_AES_256_GCM inline:AAAA").is_ok());
    }
}
