//! A tenant's routing configuration: queues, agents, the callback policy.
//!
//! serde with `deny_unknown_fields` everywhere, so a misspelt field is an error naming it.
//! [`RoutingConfig::validate`] checks values once at load, with errors naming the field's path
//! under the prefix the caller gives (e.g. `tenants[0].routing`).

use std::collections::HashMap;

use crate::presence::Presence;
use crate::RoutingError;

/// Routing for one tenant. The default has no queues and no agents.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Queues calls can be routed to, by name. Default none.
    pub queues: Vec<QueueConfig>,
    /// Agents. Default none: then the router does not model agents at all and every call is
    /// sent to its queue's target (the ACD, e.g. a Teams call queue, picks the agent); see
    /// [`crate::Router::route`].
    pub agents: Vec<AgentConfig>,
    /// When to offer a callback instead of queueing.
    pub callback: CallbackPolicy,
    /// Seconds a call routed to an agent keeps that agent reserved (Busy) unless a presence
    /// update that is not Available arrives first. Graph presence lags the transfer, so without
    /// this two calls a moment apart would go to the same agent; if the agent never answers,
    /// the reservation lapses and they are offered calls again. Default 30 (the Teams call
    /// queue's default agent alert time). 1 to 3600.
    pub reservation_s: u32,
    /// Seconds after which a call counted as waiting in a queue is assumed gone (answered,
    /// abandoned, overflowed by the ACD) if nobody reported it leaving. Keeps the waiting count
    /// from drifting when a call's end is never reported. Default 1200 (the Teams call queue's
    /// default maximum wait). 1 to 86400.
    pub queue_timeout_s: u32,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self { queues: Vec::new(), agents: Vec::new(), callback: CallbackPolicy::default(), reservation_s: 30, queue_timeout_s: 1200 }
    }
}

/// A queue.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Name, unique within the tenant; what the dialogue flow routes to. Required.
    pub name: String,
    /// Skills an agent must all have to serve this queue. Default none (any agent).
    #[serde(default)]
    pub skills: Vec<String>,
    /// Queue priority, higher first: where agents are shared between queues, calls waiting in
    /// a higher-priority queue are counted ahead of this one's (after the call priority; see
    /// [`crate::Priority`]). Default 0.
    #[serde(default)]
    pub priority: u8,
    /// Where a call that has to wait is transferred: the ACD queue (a Teams call queue's
    /// resource account, a SIP queue). Required, with at least one address.
    pub target: TransferTarget,
    /// Average handle time in seconds, for the wait estimate. Default 300. Must be at least 1.
    #[serde(default = "default_avg_handle_time_s")]
    pub avg_handle_time_s: u32,
}

fn default_avg_handle_time_s() -> u32 {
    300
}

/// An agent.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Id, unique within the tenant; presence updates name agents by it (or by
    /// `target.teams_user_id`). Required, not empty.
    pub id: String,
    /// Display name, sent with decisions. Required, not empty.
    pub name: String,
    /// Skills. Default none.
    #[serde(default)]
    pub skills: Vec<String>,
    /// How to reach the agent. Required, with at least one address.
    pub target: TransferTarget,
    /// Presence until Graph reports one. Default Offline.
    #[serde(default)]
    pub presence: Presence,
}

/// Addresses of a transfer target; each way out uses the one it can (SIP REFER `sip`, Graph
/// `teams_user_id` or `phone`, ACS `acs_id`, `teams_user_id` or `phone`). All default none;
/// configured targets need at least one.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransferTarget {
    /// SIP or SIPS URI for REFER, e.g. `sip:queue-7@cc.example.com`.
    pub sip: Option<String>,
    /// Entra object id of the Teams user or resource account, for a Graph transfer.
    pub teams_user_id: Option<String>,
    /// ACS raw id, e.g. `8:acs:<resource>_<user>`, `8:orgid:<oid>`, `4:+14255550123`.
    pub acs_id: Option<String>,
    /// E.164 number, e.g. `+14255550123`.
    pub phone: Option<String>,
}

/// When a caller is offered a callback instead of waiting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbackPolicy {
    /// Offer a callback when the estimated wait exceeds this many seconds. 0 offers one
    /// whenever the caller would wait at all. Default 300.
    pub offer_after_wait_s: u32,
    /// Offer a callback when no agent who can serve the queue is signed in (all Away or
    /// Offline). When false such calls are queued with an estimate as if one agent were
    /// staffed. Default true.
    pub offer_when_nobody_staffed: bool,
}

impl Default for CallbackPolicy {
    fn default() -> Self {
        Self { offer_after_wait_s: 300, offer_when_nobody_staffed: true }
    }
}

impl TransferTarget {
    /// No address at all.
    pub fn is_empty(&self) -> bool {
        self.sip.is_none() && self.teams_user_id.is_none() && self.acs_id.is_none() && self.phone.is_none()
    }

    /// Checks each address present; `path` names the target.
    pub fn validate(&self, path: &str) -> Result<(), RoutingError> {
        if self.is_empty() {
            return Err(RoutingError::config(path, "no address: set sip, teams_user_id, acs_id or phone"));
        }
        if let Some(sip) = &self.sip {
            if !is_sip_uri(sip) {
                return Err(RoutingError::config(
                    format!("{path}.sip"),
                    "not a sip: or sips: URI of visible ASCII without spaces, quotes or angle brackets",
                ));
            }
        }
        if let Some(id) = &self.teams_user_id {
            if !is_plain_id(id) {
                return Err(RoutingError::config(format!("{path}.teams_user_id"), "empty or has characters other than letters, digits and -"));
            }
        }
        if let Some(id) = &self.acs_id {
            let kind_ok = id.split_once(':').is_some_and(|(k, rest)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) && !rest.is_empty());
            if !kind_ok || !id.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\') {
                return Err(RoutingError::config(format!("{path}.acs_id"), "not an ACS raw id like 8:acs:... or 4:+1..."));
            }
        }
        if let Some(phone) = &self.phone {
            if !is_e164(phone) {
                return Err(RoutingError::config(format!("{path}.phone"), "not an E.164 number: + then 1 to 15 digits"));
            }
        }
        Ok(())
    }
}

/// `sip:`/`sips:` then visible ASCII with none of the characters that could end a header value,
/// a name-addr or a URI (so a REFER built from it cannot be broken open).
pub(crate) fn is_sip_uri(s: &str) -> bool {
    let lower = s.get(..5).map(str::to_ascii_lowercase);
    let rest = match lower.as_deref() {
        Some("sips:") => &s[5..],
        Some(p) if p.starts_with("sip:") => &s[4..],
        _ => return false,
    };
    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b','))
}

/// `+` then 1 to 15 digits (ITU-T E.164 §6).
pub(crate) fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| (1..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

fn is_plain_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl RoutingConfig {
    /// Checks the whole configuration; `path` prefixes every field path in errors, e.g.
    /// `tenants[0].routing` gives `tenants[0].routing.queues[2].name`.
    ///
    /// Errors: empty or duplicate queue names and agent ids; empty agent names and skills;
    /// targets without an address or with a malformed one; `avg_handle_time_s`,
    /// `reservation_s` or `queue_timeout_s` of 0; and a queue whose skills no configured agent
    /// has all of (when any agents are configured): presence changes but skills do not, so no
    /// call to it could ever reach an agent. A queue that only some Offline agents can serve is
    /// fine; those callers get a callback or the queue.
    pub fn validate(&self, path: &str) -> Result<(), RoutingError> {
        let p = |rest: String| if path.is_empty() { rest } else { format!("{path}.{rest}") };
        if !(1..=3600).contains(&self.reservation_s) {
            return Err(RoutingError::config(p("reservation_s".into()), "must be 1 to 3600"));
        }
        if !(1..=86_400).contains(&self.queue_timeout_s) {
            return Err(RoutingError::config(p("queue_timeout_s".into()), "must be 1 to 86400"));
        }
        let mut agent_ids: HashMap<&str, usize> = HashMap::new();
        for (i, a) in self.agents.iter().enumerate() {
            let at = p(format!("agents[{i}]"));
            if a.id.trim().is_empty() {
                return Err(RoutingError::config(format!("{at}.id"), "empty"));
            }
            if let Some(first) = agent_ids.insert(a.id.as_str(), i) {
                return Err(RoutingError::config(format!("{at}.id"), format!("duplicate agent id {:?} (also agents[{first}])", a.id)));
            }
            if a.name.trim().is_empty() {
                return Err(RoutingError::config(format!("{at}.name"), "empty"));
            }
            check_skills(&a.skills, &format!("{at}.skills"))?;
            a.target.validate(&format!("{at}.target"))?;
        }
        let mut queue_names: HashMap<&str, usize> = HashMap::new();
        for (i, q) in self.queues.iter().enumerate() {
            let at = p(format!("queues[{i}]"));
            if q.name.trim().is_empty() {
                return Err(RoutingError::config(format!("{at}.name"), "empty"));
            }
            if let Some(first) = queue_names.insert(q.name.as_str(), i) {
                return Err(RoutingError::config(format!("{at}.name"), format!("duplicate queue name {:?} (also queues[{first}])", q.name)));
            }
            if q.avg_handle_time_s == 0 {
                return Err(RoutingError::config(format!("{at}.avg_handle_time_s"), "must be at least 1"));
            }
            check_skills(&q.skills, &format!("{at}.skills"))?;
            q.target.validate(&format!("{at}.target"))?;
            let servable = self.agents.is_empty() || self.agents.iter().any(|a| q.skills.iter().all(|s| a.skills.contains(s)));
            if !servable {
                return Err(RoutingError::config(
                    format!("{at}.skills"),
                    format!("no agent has all of {:?}, so no call to queue {:?} could reach an agent", q.skills, q.name),
                ));
            }
        }
        Ok(())
    }
}

fn check_skills(skills: &[String], path: &str) -> Result<(), RoutingError> {
    for (i, s) in skills.iter().enumerate() {
        if s.trim().is_empty() {
            return Err(RoutingError::config(format!("{path}[{i}]"), "empty skill"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        reservation_s = 20
        [callback]
        offer_after_wait_s = 120
        [[queues]]
        name = "billing"
        skills = ["billing"]
        priority = 1
        target = { sip = "sip:billing@cc.example.com", teams_user_id = "0b7c1c52-6a5f-4bd5-8f9a-4ac1a0c1f2a1" }
        [[queues]]
        name = "general"
        target = { phone = "+14255550100" }
        avg_handle_time_s = 120
        [[agents]]
        id = "alice"
        name = "Alice"
        skills = ["billing", "fr"]
        target = { sip = "sip:alice@example.com", acs_id = "8:acs:r_alice" }
        presence = "Available"
    "#;

    fn parse(text: &str) -> RoutingConfig {
        toml::from_str(text).unwrap()
    }

    fn err(cfg: &RoutingConfig) -> String {
        cfg.validate("tenants[0].routing").unwrap_err().to_string()
    }

    #[test]
    fn good_config_parses_with_defaults() {
        let c = parse(GOOD);
        c.validate("tenants[0].routing").unwrap();
        assert_eq!(c.reservation_s, 20);
        assert_eq!(c.queue_timeout_s, 1200);
        assert_eq!(c.callback, CallbackPolicy { offer_after_wait_s: 120, offer_when_nobody_staffed: true });
        assert_eq!(c.queues[0].avg_handle_time_s, 300);
        assert_eq!(c.queues[1].priority, 0);
        assert!(c.queues[1].skills.is_empty());
        assert_eq!(c.agents[0].presence, Presence::Available);
        let d = RoutingConfig::default();
        assert!(d.queues.is_empty() && d.agents.is_empty());
        assert_eq!(d.callback.offer_after_wait_s, 300);
        assert_eq!((d.reservation_s, d.queue_timeout_s), (30, 1200));
        d.validate("x").unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn default_config_from_empty_text_has_documented_defaults() {
        let c = parse("");
        assert_eq!(c.reservation_s, 30);
        assert_eq!(c.queue_timeout_s, 1200);
        assert!(c.callback.offer_when_nobody_staffed);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(toml::from_str::<RoutingConfig>("queus = []").is_err());
        let bad = GOOD.replace("avg_handle_time_s = 120", "avg_handle_time = 120");
        assert!(toml::from_str::<RoutingConfig>(&bad).is_err());
        let bad = GOOD.replace("phone = ", "tel = ");
        assert!(toml::from_str::<RoutingConfig>(&bad).is_err());
    }

    #[test]
    fn duplicate_queue_name_names_the_second() {
        let mut c = parse(GOOD);
        c.queues[1].name = "billing".into();
        let e = err(&c);
        assert!(e.starts_with("tenants[0].routing.queues[1].name: duplicate"), "{e}");
        assert!(e.contains("queues[0]"), "{e}");
    }

    #[test]
    fn duplicate_and_empty_agent_ids() {
        let mut c = parse(GOOD);
        let mut b = c.agents[0].clone();
        c.agents.push(b.clone());
        assert!(err(&c).starts_with("tenants[0].routing.agents[1].id: duplicate"));
        b.id = " ".into();
        c.agents[1] = b;
        assert_eq!(err(&c), "tenants[0].routing.agents[1].id: empty");
        c.agents[1].id = "bob".into();
        c.agents[1].name = String::new();
        assert_eq!(err(&c), "tenants[0].routing.agents[1].name: empty");
    }

    #[test]
    fn targets_need_a_wellformed_address() {
        let mut c = parse(GOOD);
        c.queues[1].target = TransferTarget::default();
        assert!(err(&c).starts_with("tenants[0].routing.queues[1].target: no address"));
        c.queues[1].target.phone = Some("4255550100".into());
        assert!(err(&c).starts_with("tenants[0].routing.queues[1].target.phone:"));
        c.queues[1].target.phone = None;
        c.queues[1].target.sip = Some("sip:x@y\r\nVia: evil".into());
        assert!(err(&c).starts_with("tenants[0].routing.queues[1].target.sip:"));
        c.queues[1].target.sip = Some("tel:+1555".into());
        assert!(err(&c).starts_with("tenants[0].routing.queues[1].target.sip:"));
        c.queues[1].target.sip = Some("SIPS:q@example.com;transport=tls".into());
        c.validate("tenants[0].routing").unwrap();
        c.agents[0].target.acs_id = Some("acs-alice".into());
        assert!(err(&c).starts_with("tenants[0].routing.agents[0].target.acs_id:"));
        c.agents[0].target.acs_id = None;
        c.agents[0].target.teams_user_id = Some("a b".into());
        assert!(err(&c).starts_with("tenants[0].routing.agents[0].target.teams_user_id:"));
    }

    #[test]
    fn queue_no_agent_can_serve_is_an_error() {
        let mut c = parse(GOOD);
        c.queues[0].skills.push("de".into());
        let e = err(&c);
        assert!(e.starts_with("tenants[0].routing.queues[0].skills: no agent has all of"), "{e}");
        // Without agents the router does not model them: any skills are fine.
        c.agents.clear();
        c.validate("tenants[0].routing").unwrap();
    }

    #[test]
    fn zero_values_and_empty_skills_rejected() {
        let mut c = parse(GOOD);
        c.queues[1].avg_handle_time_s = 0;
        assert_eq!(err(&c), "tenants[0].routing.queues[1].avg_handle_time_s: must be at least 1");
        c.queues[1].avg_handle_time_s = 1;
        c.agents[0].skills.push(String::new());
        assert_eq!(err(&c), "tenants[0].routing.agents[0].skills[2]: empty skill");
        let mut c = parse(GOOD);
        c.reservation_s = 0;
        assert_eq!(err(&c), "tenants[0].routing.reservation_s: must be 1 to 3600");
        assert_eq!(c.validate("").unwrap_err().to_string(), "reservation_s: must be 1 to 3600");
        c.reservation_s = 30;
        c.queue_timeout_s = 100_000;
        assert_eq!(err(&c), "tenants[0].routing.queue_timeout_s: must be 1 to 86400");
    }
}
