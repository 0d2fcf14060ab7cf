//! Typed header values and the syntax check the parser runs on every known header, so that a
//! malformed value is rejected with the header's name (RFC 3261 §25.1 grammar).

pub mod lex;
mod name_addr;
mod values;
mod via;

pub use lex::{Param, Params};
pub use name_addr::{Contact, NameAddr};
pub use values::{
    accept_list, check_date, check_warning, delta_seconds, max_forwards, token_list, CSeq,
    Interval, MediaType, TokenParams,
};
pub use via::{Via, MAGIC_COOKIE};

use crate::message::HeaderName;

/// Checks the syntax of one header line's value. Unknown headers are not checked.
pub fn check(name: &HeaderName, value: &str) -> Result<(), &'static str> {
    use HeaderName as H;
    match name {
        H::Via => Via::parse_list(value).map(drop),
        H::From | H::To | H::ReferTo | H::ReferredBy => NameAddr::parse(value).map(drop),
        H::Contact => Contact::parse_list(value).map(drop),
        H::Route | H::RecordRoute => NameAddr::parse_list(value).map(drop),
        H::CallId => check_call_id(value),
        H::CSeq => CSeq::parse(value).map(drop),
        H::MaxForwards => max_forwards(value).map(drop),
        H::ContentType => MediaType::parse(value).map(drop),
        H::Accept => accept_list(value).map(drop),
        H::Date => check_date(value),
        H::Expires => delta_seconds(value).map(drop),
        H::MinSe | H::SessionExpires | H::RetryAfter => Interval::parse(value).map(drop),
        H::Require | H::Supported | H::Unsupported | H::ProxyRequire | H::Allow => {
            token_list(value).map(drop)
        }
        H::ContentEncoding => token_list(value).map(drop),
        H::Warning => check_warning(value),
        H::Event | H::SubscriptionState => TokenParams::parse(value).map(drop),
        H::AllowEvents | H::Reason => {
            lex::split_list(value).into_iter().try_for_each(|v| TokenParams::parse(v).map(drop))
        }
        H::UserToUser => check_uui(value),
        _ => Ok(()),
    }
}

/// `callid = word [ "@" word ]` (RFC 3261 §25.1).
fn check_call_id(value: &str) -> Result<(), &'static str> {
    let mut parts = value.split('@');
    let ok = parts.by_ref().take(2).all(|w| !w.is_empty() && w.bytes().all(lex::is_word_char))
        && parts.next().is_none();
    if ok {
        Ok(())
    } else {
        Err("Call-ID is not word[@word]")
    }
}

/// `uui-value = uui-data *(SEMI uui-param)`, uui-data a token or quoted string (RFC 7433 §4).
fn check_uui(value: &str) -> Result<(), &'static str> {
    let mut c = lex::Cursor::new(value.trim());
    if c.peek() == Some(b'"') {
        c.quoted_string()?;
    } else {
        c.token().ok_or("bad User-to-User data")?;
    }
    Params::parse(&mut c)?;
    c.skip_ws();
    if c.is_empty() {
        Ok(())
    } else {
        Err("junk after User-to-User parameters")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_id_allows_word_characters() {
        assert!(check(&HeaderName::CallId, r#"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#).is_ok());
        assert!(check(&HeaderName::CallId, "a@b@c").is_err());
        assert!(check(&HeaderName::CallId, "has space").is_err());
    }

    #[test]
    fn user_to_user_carries_hex_and_parameters() {
        assert!(check(&HeaderName::UserToUser, "56a390f3d2b7310023a2;encoding=hex;purpose=call")
            .is_ok());
        assert!(check(&HeaderName::UserToUser, "").is_err());
    }

    #[test]
    fn unknown_headers_are_not_checked() {
        assert!(check(&HeaderName::Other("X-Anything".into()), ";;,,;;,;").is_ok());
    }
}
