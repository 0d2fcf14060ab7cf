//! The ways a [`Decision`] leaves the worker: SIP REFER headers with RFC 7433 User-to-User
//! data, a Microsoft Graph transfer request, an ACS Call Automation transfer request, and the
//! tenant webhook body.
//!
//! Every value put in a header goes through [`header_value`], which percent-encodes anything
//! but a small safe set, so CR, LF, control characters, non-ASCII and the separators `;` `=`
//! `,` cannot reach a header from caller-controlled text (slots, transcript): header injection
//! is impossible by construction. URIs are checked with the config validator and dropped if
//! they fail.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::config::{is_e164, is_sip_uri};
use crate::decision::{Decision, DecisionReason, TargetKind};

/// Largest User-to-User value [`Decision::sip_refer`] builds, in characters: 256 hex digits
/// (128 bytes of context, the ISDN UUS1 size that SBCs interworking with ISDN/QSIG pass on)
/// plus `;encoding=hex;purpose=call-context` (34 characters).
pub const UUI_MAX_VALUE_LEN: usize = 2 * 128 + UUI_PARAMS.len();

/// Largest User-to-User value in an ACS request: ACS takes custom SIP header values of at most
/// 256 characters, so ~111 bytes of context.
pub const ACS_SIP_VALUE_MAX: usize = 256;

/// Largest value of any `X-Attendant-*` header (ACS's custom SIP header value limit).
pub const HEADER_VALUE_MAX: usize = 256;

/// RFC 7433 §4.1 parameters: hex encoding; the purpose names what the data is.
const UUI_PARAMS: &str = ";encoding=hex;purpose=call-context";

/// Version of the UUI JSON and of the webhook body.
pub const CONTEXT_VERSION: u32 = 1;

/// A blind transfer by SIP REFER (RFC 3515).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipRefer {
    /// The SIP URI to refer to (`target.address.sip`), e.g. `sip:queue@cc.example.com`.
    pub refer_to: String,
    /// Headers of the REFER request: `User-to-User` and `X-Attendant-*`.
    pub headers: Vec<(String, String)>,
    /// Headers to embed in the Refer-To URI so the transferee copies them into its INVITE to
    /// the target (RFC 3515 §2.1, RFC 7433 §4.1): the `User-to-User` value.
    pub refer_to_headers: Vec<(String, String)>,
}

impl Decision {
    /// The REFER for this decision: None unless it transfers (agent, queue or voicemail) to a
    /// valid SIP URI. User-to-User is at most [`UUI_MAX_VALUE_LEN`] characters.
    ///
    /// Headers, in order, each present only when it has a value: `User-to-User`
    /// (`<hex of compact JSON>;encoding=hex;purpose=call-context`), `X-Attendant-Call-Id`,
    /// `X-Attendant-Tenant`, `X-Attendant-Reason`, `X-Attendant-Intent`,
    /// `X-Attendant-Confidence` (two decimals), `X-Attendant-Queue`, `X-Attendant-Agent`,
    /// `X-Attendant-Priority` (only `high`), `X-Attendant-Slots` (`k=v;k=v`, pairs that do not
    /// fit in [`HEADER_VALUE_MAX`] dropped whole).
    pub fn sip_refer(&self) -> Option<SipRefer> {
        self.sip_refer_with(UUI_MAX_VALUE_LEN)
    }

    /// [`Decision::sip_refer`] with another User-to-User size limit, for SBCs that take more.
    pub fn sip_refer_with(&self, max_uui: usize) -> Option<SipRefer> {
        if !self.transfers() {
            return None;
        }
        let refer_to = self.target.address.sip.as_deref().filter(|s| is_sip_uri(s))?.to_owned();
        let uui = self.uui_value(max_uui);
        let mut headers = Vec::new();
        if let Some(u) = &uui {
            headers.push(("User-to-User".to_owned(), u.clone()));
        }
        headers.extend(self.context_headers(true));
        let refer_to_headers = uui.into_iter().map(|u| ("User-to-User".to_owned(), u)).collect();
        Some(SipRefer { refer_to, headers, refer_to_headers })
    }

    /// The RFC 7433 User-to-User value: hex of a compact JSON context, then
    /// `;encoding=hex;purpose=call-context`, at most `max_len` characters.
    ///
    /// JSON keys (short to fit): `v` version, `c` call id, `t` tenant, `r` reason, `i` intent,
    /// `p` confidence, `q` queue, `a` agent id, `s` slots, `x` the caller's last utterance. When
    /// too long, `x` is shortened then dropped, then slots are dropped (last key first), then
    /// `a`, `q`, and `i`+`p`. None if even `v`, `c`, `t`, `r` do not fit.
    pub fn uui_value(&self, max_len: usize) -> Option<String> {
        let budget = max_len.checked_sub(UUI_PARAMS.len())? / 2;
        let conf = self.intent.as_ref().map(|_| (self.confidence * 100.0).round() / 100.0);
        let mut ctx = UuiContext {
            v: CONTEXT_VERSION,
            c: &self.call_id,
            t: &self.tenant,
            r: self.reason,
            i: self.intent.as_deref(),
            p: conf,
            q: self.target.queue.as_deref(),
            a: self.target.agent_id.as_deref(),
            s: self.slots.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            x: None,
        };
        let encode = |ctx: &UuiContext<'_>| serde_json::to_vec(ctx).ok().filter(|j| j.len() <= budget);
        let fitted = if let Some(said) = self.last_caller_text().filter(|s| !s.is_empty()) {
            // Longest prefix of the utterance that fits, by binary search over characters.
            let chars: Vec<(usize, char)> = said.char_indices().collect();
            let (mut lo, mut hi) = (0usize, chars.len());
            let end = |n: usize| chars.get(n).map_or(said.len(), |&(i, _)| i);
            let mut best = None;
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                ctx.x = Some(&said[..end(mid)]);
                match encode(&ctx) {
                    Some(j) => {
                        best = Some(j);
                        lo = mid;
                    }
                    None => hi = mid - 1,
                }
            }
            ctx.x = None;
            best
        } else {
            None
        };
        let json = match fitted {
            Some(j) => j,
            None => loop {
                if let Some(j) = encode(&ctx) {
                    break j;
                }
                if ctx.s.pop_last().is_some() {
                    continue;
                }
                if ctx.a.take().is_some() || ctx.q.take().is_some() {
                    continue;
                }
                if ctx.i.take().is_some() {
                    ctx.p = None;
                    continue;
                }
                return None;
            },
        };
        let mut out = hex(&json);
        out.push_str(UUI_PARAMS);
        Some(out)
    }

    /// The body of Graph `POST /communications/calls/{id}/transfer`
    /// (<https://learn.microsoft.com/graph/api/call-transfer>): a blind transfer to the Teams
    /// user or resource account `target.address.teams_user_id`, else to the E.164
    /// `target.address.phone` (needs an application instance with a number). None for
    /// callback and hangup, or without either address. Graph's transfer takes no custom
    /// context; the context goes to the webhook.
    pub fn graph_transfer_body(&self) -> Option<Value> {
        if !self.transfers() {
            return None;
        }
        let a = &self.target.address;
        let identity = if let Some(id) = a.teams_user_id.as_deref().filter(|s| !s.is_empty()) {
            let mut user = json!({"@odata.type": "#microsoft.graph.identity", "id": id});
            if let Some(name) = &self.target.agent_name {
                user["displayName"] = json!(name);
            }
            json!({"@odata.type": "#microsoft.graph.identitySet", "user": user})
        } else if let Some(phone) = a.phone.as_deref().filter(|p| is_e164(p)) {
            json!({"@odata.type": "#microsoft.graph.identitySet",
                   "phone": {"@odata.type": "#microsoft.graph.identity", "id": phone}})
        } else {
            return None;
        };
        Some(json!({
            "transferTarget": {
                "@odata.type": "#microsoft.graph.invitationParticipantInfo",
                "endpointType": "default",
                "identity": identity,
            }
        }))
    }

    /// The body of ACS Call Automation `POST /calling/callConnections/{id}:transferToParticipant`.
    /// The target is `acs_id` (kind from its raw-id prefix), else `teams_user_id`
    /// (microsoftTeamsUser, public cloud), else `phone`. `operationContext` is the decision id.
    /// Context goes in `customCallingContext`: for a phone number, `sipHeaders` (ACS allows at
    /// most 5: User-to-User of at most [`ACS_SIP_VALUE_MAX`] characters and
/// `X-Attendant-{Call-Id,Tenant,Intent,Queue}`); for VoIP targets
    /// `voipHeaders` with every `X-Attendant-*` header. None for callback and hangup, or
    /// without any of these addresses.
    pub fn acs_transfer_body(&self) -> Option<Value> {
        if !self.transfers() {
            return None;
        }
        let a = &self.target.address;
        let target = if let Some(raw) = a.acs_id.as_deref().filter(|s| !s.is_empty()) {
            acs_identifier(raw)
        } else if let Some(id) = a.teams_user_id.as_deref().filter(|s| !s.is_empty()) {
            json!({"kind": "microsoftTeamsUser", "rawId": format!("8:orgid:{id}"),
                   "microsoftTeamsUser": {"userId": id, "cloud": "public"}})
        } else if let Some(phone) = a.phone.as_deref().filter(|p| is_e164(p)) {
            json!({"kind": "phoneNumber", "rawId": format!("4:{phone}"), "phoneNumber": {"value": phone}})
        } else {
            return None;
        };
        let context = if target["kind"] == "phoneNumber" {
            let mut sip = serde_json::Map::new();
            if let Some(u) = self.uui_value(ACS_SIP_VALUE_MAX) {
                sip.insert("User-to-User".into(), json!(u));
            }
            for (name, value) in self.context_headers(false) {
                if matches!(name.as_str(), "X-Attendant-Call-Id" | "X-Attendant-Tenant" | "X-Attendant-Intent" | "X-Attendant-Queue") {
                    sip.insert(name, json!(value));
                }
            }
            json!({"sipHeaders": sip})
        } else {
            let voip: serde_json::Map<String, Value> = self.context_headers(true).into_iter().map(|(k, v)| (k, json!(v))).collect();
            json!({"voipHeaders": voip})
        };
        Some(json!({
            "targetParticipant": target,
            "operationContext": self.id(),
            "customCallingContext": context,
        }))
    }

    /// The JSON POSTed to the tenant webhook: every [`Decision`] field plus `type`
    /// (`"attendant.decision"`), `id` ([`Decision::id`], stable across retries) and `version`.
    pub fn webhook_body(&self) -> Value {
        let mut v = match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            // A Decision is a struct of strings, numbers and maps with string keys: it always
            // serializes to an object. Keep the envelope even if that ever changes.
            _ => serde_json::Map::new(),
        };
        v.insert("type".into(), json!("attendant.decision"));
        v.insert("id".into(), json!(self.id()));
        v.insert("version".into(), json!(CONTEXT_VERSION));
        Value::Object(v)
    }

    fn transfers(&self) -> bool {
        matches!(self.target.kind, TargetKind::Agent | TargetKind::Queue | TargetKind::Voicemail)
    }

    /// `X-Attendant-*` headers; `all` adds agent, priority and slots.
    fn context_headers(&self, all: bool) -> Vec<(String, String)> {
        let mut h = Vec::new();
        let mut push = |name: &str, value: String| {
            if !value.is_empty() {
                h.push((name.to_owned(), value));
            }
        };
        push("X-Attendant-Call-Id", header_value(&self.call_id, HEADER_VALUE_MAX));
        push("X-Attendant-Tenant", header_value(&self.tenant, HEADER_VALUE_MAX));
        push("X-Attendant-Reason", reason_name(self.reason).to_owned());
        if let Some(i) = &self.intent {
            push("X-Attendant-Intent", header_value(i, HEADER_VALUE_MAX));
            push("X-Attendant-Confidence", format!("{:.2}", self.confidence));
        }
        if let Some(q) = &self.target.queue {
            push("X-Attendant-Queue", header_value(q, HEADER_VALUE_MAX));
        }
        if all {
            if let Some(a) = &self.target.agent_id {
                push("X-Attendant-Agent", header_value(a, HEADER_VALUE_MAX));
            }
            if self.priority == crate::Priority::High {
                push("X-Attendant-Priority", "high".to_owned());
            }
            push("X-Attendant-Slots", slots_value(&self.slots, HEADER_VALUE_MAX));
        }
        h
    }
}

#[derive(serde::Serialize)]
struct UuiContext<'a> {
    v: u32,
    c: &'a str,
    t: &'a str,
    r: DecisionReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    i: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    q: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    a: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    s: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<&'a str>,
}

fn reason_name(r: DecisionReason) -> &'static str {
    match r {
        DecisionReason::Intent => "intent",
        DecisionReason::Dtmf => "dtmf",
        DecisionReason::Escalation => "escalation",
        DecisionReason::Closed => "closed",
        DecisionReason::NoInput => "no_input",
        DecisionReason::CallbackAccepted => "callback_accepted",
        DecisionReason::CallerHangup => "caller_hangup",
    }
}

/// An ACS CommunicationIdentifierModel from a raw id: `4:` phone number, `8:orgid:` /
/// `8:dod:` / `8:gcch:` Teams user (public / DoD / GCCH cloud), anything else a
/// communication user (`8:acs:`, `8:spool:`, ...).
fn acs_identifier(raw: &str) -> Value {
    if let Some(phone) = raw.strip_prefix("4:") {
        return json!({"kind": "phoneNumber", "rawId": raw, "phoneNumber": {"value": phone}});
    }
    for (prefix, cloud) in [("8:orgid:", "public"), ("8:dod:", "dod"), ("8:gcch:", "gcch")] {
        if let Some(id) = raw.strip_prefix(prefix) {
            return json!({"kind": "microsoftTeamsUser", "rawId": raw,
                          "microsoftTeamsUser": {"userId": id, "cloud": cloud}});
        }
    }
    json!({"kind": "communicationUser", "rawId": raw, "communicationUser": {"id": raw}})
}

/// Lower-case hex of `data`.
fn hex(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(data.len() * 2);
    for &b in data {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Bytes kept as they are in header values: RFC 3986 unreserved plus a few that mean nothing
/// to SIP header parsing (`@` and `:` keep Call-IDs and URIs readable).
fn is_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'!' | b'*' | b'\'' | b'(' | b')' | b'+' | b':' | b'@' | b'/' | b'$')
}

/// `s` with every byte outside the safe set percent-encoded (UTF-8 bytes, so non-ASCII
/// survives), cut to at most `max` characters at a character boundary (never inside an escape
/// or a UTF-8 sequence).
pub(crate) fn header_value(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut buf = [0u8; 4];
    for c in s.chars() {
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        let len: usize = bytes.iter().map(|&b| if is_safe(b) { 1 } else { 3 }).sum();
        if out.len() + len > max {
            break;
        }
        for &b in bytes {
            if is_safe(b) {
                out.push(char::from(b));
            } else {
                out.push('%');
                out.push_str(&hex(&[b]).to_ascii_uppercase());
            }
        }
    }
    out
}

/// `k=v;k=v` with keys and values escaped; pairs that would not fit in `max` are dropped whole
/// (a cut account number is worse than none).
fn slots_value(slots: &BTreeMap<String, String>, max: usize) -> String {
    let mut out = String::new();
    for (k, v) in slots {
        let pair = format!("{}={}", header_value(k, usize::MAX), header_value(v, usize::MAX));
        let needed = pair.len() + usize::from(!out.is_empty());
        if out.len() + needed > max {
            continue;
        }
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(&pair);
    }
    out
}

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod tests;
