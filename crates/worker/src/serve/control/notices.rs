//! Media notices that are not the dialogue's: prompt and mark reports of calls without an
//! assistant, and the tenant's DTMF transfer rule (a key that REFERs a SIP call with its
//! context).

use std::time::Instant;

use serde_json::json;
use sip::refer::ReferOptions;
use sip::uri::Uri;
use sip::Header;

use super::{CallKey, Control};
use crate::serve::media::MediaNotice;
use crate::serve::session::hex;

impl Control {
    pub(super) fn on_notice(&mut self, notice: MediaNotice) {
        let id = match &notice {
            MediaNotice::Dtmf { call_id, .. }
            | MediaNotice::PromptFinished { call_id }
            | MediaNotice::PromptInterrupted { call_id, .. }
            | MediaNotice::MarkReached { call_id, .. }
            | MediaNotice::Transcript { call_id, .. }
            | MediaNotice::FinalIsSpeculative { call_id, .. }
            | MediaNotice::SpeechStarted { call_id, .. }
            | MediaNotice::SpeechPaused { call_id, .. }
            | MediaNotice::RecognitionBehind { call_id, .. } => call_id.clone(),
        };
        if let Some(&call) = self.by_call_id.get(&id) {
            if self.dialogue_notice(call, &notice, Instant::now()) {
                if matches!(notice, MediaNotice::PromptFinished { .. }) {
                    self.emit(call, json!({"event": "prompt_finished"}));
                }
                return;
            }
        }
        let (call_id, digit) = match notice {
            MediaNotice::Transcript { .. }
            | MediaNotice::FinalIsSpeculative { .. }
            | MediaNotice::SpeechStarted { .. }
            | MediaNotice::SpeechPaused { .. }
            | MediaNotice::RecognitionBehind { .. }
            | MediaNotice::PromptInterrupted { .. } => return,
            MediaNotice::MarkReached { call_id, name, played } => {
                if let Some(&call) = self.by_call_id.get(&call_id) {
                    self.emit(call, json!({"event": "mark", "name": name, "played": played}));
                }
                return;
            }
            MediaNotice::Dtmf { call_id, digit } => (call_id, digit),
            MediaNotice::PromptFinished { call_id } => {
                if let Some(&call) = self.by_call_id.get(&call_id) {
                    self.emit(call, json!({"event": "prompt_finished"}));
                }
                return;
            }
        };
        let Some(&call) = self.by_call_id.get(&call_id) else { return };
        // The DTMF transfer rule REFERs: SIP calls only.
        let CallKey::Sip(handle) = call else { return };
        let Some(info) = self.calls.get(&call) else { return };
        let Some(tenant) = self.config.tenants.iter().find(|t| t.name == info.tenant) else { return };
        let Some(rule) = &tenant.transfer else { return };
        if info.transferring || !rule.dtmf.starts_with(digit) {
            return;
        }
        let target = match Uri::parse(&rule.target) {
            Ok(t) => t,
            Err(e) => {
                self.emit(call, json!({"event": "transfer_failed", "error": e.to_string()}));
                return;
            }
        };
        let context = format!("call={};tenant={};reason=dtmf;key={digit}", info.call_id, info.tenant);
        // RFC 7433: hex-encoded User-to-User data; purpose names the kind of context.
        let uui = format!("{};encoding=hex;purpose=call-context", hex(context.as_bytes()));
        let options = ReferOptions {
            referred_by: Some(format!("<sip:attendant@{}>", self.core.config().local_host)),
            headers: vec![
                Header::new("User-to-User", uui.clone()),
                Header::new("X-Attendant-Call-Id", info.call_id.clone()),
                Header::new("X-Attendant-Tenant", info.tenant.clone()),
                Header::new("X-Attendant-Reason", format!("dtmf {digit}")),
            ],
            refer_to_headers: vec![("User-to-User".into(), uui)],
        };
        let target_text = rule.target.clone();
        match self.core.refer(handle, &target, options, Instant::now()) {
            Ok(()) => {
                if let Some(info) = self.calls.get_mut(&call) {
                    info.transferring = true;
                }
                self.emit(call, json!({"event": "transfer_started", "target": target_text, "trigger": format!("dtmf {digit}")}));
            }
            Err(e) => self.emit(call, json!({"event": "transfer_failed", "error": e.to_string()})),
        }
    }
}
