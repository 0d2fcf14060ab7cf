//! `attendant serve` configuration: listen addresses, the RTP port range, where call events go,
//! and the tenants (who may call, their limits, prompt and transfer rule, graph settings).
//!
//! TOML, `deny_unknown_fields` everywhere: a misspelt field is an error naming it. Values are
//! checked once at load by [`ServeConfig::validate`], with errors that name the field's path.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::graph::GraphConfig;

/// What `attendant serve` runs with when no `--config` is given: calls from loopback only.
pub const EMBEDDED_DEFAULT: &str = r#"
# Embedded default: SIP on 127.0.0.1:5060 (UDP and TCP), calls accepted from loopback only,
# the HTTP API (health, readiness, metrics, calls, media streams) on 127.0.0.1:8080.
[http]
listen = "127.0.0.1:8080"

[[tenants]]
name = "loopback"
sources = ["127.0.0.0/8", "::1/128"]
"#;

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    #[serde(default)]
    pub sip: SipConfig,
    #[serde(default)]
    pub rtp: RtpConfig,
    #[serde(default)]
    pub events: EventsConfig,
    #[serde(default)]
    pub compute: ComputeConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub drain: DrainConfig,
    #[serde(default)]
    pub logs: LogsConfig,
    #[serde(default)]
    pub otel: super::telemetry::otel::OtelConfig,
    /// Graph settings for tenants that have none of their own.
    #[serde(default)]
    pub graph: GraphConfig,
    pub tenants: Vec<TenantConfig>,
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// UDP listen addresses. Default `127.0.0.1:5060`.
    pub udp: Vec<SocketAddr>,
    /// TCP listen addresses. Default `127.0.0.1:5060`.
    pub tcp: Vec<SocketAddr>,
    /// Host put in Via/Contact/SDP when the listen address is a wildcard. Default: the first
    /// UDP listen address. `${NAME}` takes it from the environment variable NAME (a pod's
    /// `status.podIP`, which a config file cannot know).
    pub advertised_host: Option<String>,
    /// Ring time: 180 Ringing at once, 200 OK after this many ms (the caller can still CANCEL).
    /// Default 0.
    pub answer_after_ms: u32,
}

impl Default for SipConfig {
    fn default() -> Self {
        let loopback = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5060);
        Self { udp: vec![loopback], tcp: vec![loopback], advertised_host: None, answer_after_ms: 0 }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtpConfig {
    /// Address media sockets bind to. Default `127.0.0.1`.
    pub address: IpAddr,
    /// First port of the media range (even: RTP on even ports, RFC 3550 §11). Default 20000.
    pub port_min: u16,
    /// Last port of the media range. Default 20999.
    pub port_max: u16,
}

impl Default for RtpConfig {
    fn default() -> Self {
        Self { address: IpAddr::V4(Ipv4Addr::LOCALHOST), port_min: 20_000, port_max: 20_999 }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// JSON-lines file the call events are appended to. Default none.
    pub file: Option<PathBuf>,
    /// Print events to standard output in a readable form. Default true.
    pub stdout: bool,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self { file: None, stdout: true }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of the worker's HTTP API (health, agents' presence for routing, media streams,
    /// the WebRTC page). Default none: no API.
    pub listen: Option<SocketAddr>,
    /// Media streams from loopback peers need no token while `listen` is a loopback address.
    /// Default true. Ignored on any other address: there every stream needs a token.
    pub loopback_without_token: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { listen: None, loopback_without_token: true }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComputeConfig {
    /// Whisper decoders: decoding states on their own threads, the most turns decoded at once.
    /// 0, the default: one per core of `cores`.
    pub decoders: u16,
    /// Cores the decoders share. Each decode runs on 1 to `asr.threads` threads, as many as
    /// are free with the queue shared out: one turn alone gets `asr.threads`, turns that queue
    /// get one each. 0, the default: the CPUs this process may use (its cgroup's quota in a
    /// container).
    pub cores: u16,
    /// Recognition jobs (finals; partials never wait) that may wait for a decoder before new
    /// ones are refused. 0, the default: `limits.max_calls`, one per call the process admits,
    /// so a burst of callers ending their turns together is queued (and, if too late, moved to
    /// the keypad) rather than refused.
    pub queue: u16,
    /// An assistant call whose final transcript comes later than this after the end of the
    /// caller's turn (or whose turn the full queue refused) goes on by keypad only: it stops
    /// loading the recognizer, its question is asked again as keys, and a caller who keys
    /// nothing reaches an agent. 0: never. Default 3000.
    pub keypad_after_ms: u32,
    /// Nice value of the recognition threads (whisper's compute threads inherit it), 0 to 19.
    /// Above 0 the media thread and the network tasks go first when the cores are busy: a late
    /// transcript costs a turn's latency, a late media tick costs every call's audio. Default 10.
    pub decoder_nice: u8,
}

impl ComputeConfig {
    /// The recognition pool's cores and decoders, 0s resolved.
    pub fn pool_shape(&self) -> (usize, usize) {
        let cores = match self.cores {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => usize::from(n),
        };
        let decoders = match self.decoders {
            0 => cores.min(64),
            n => usize::from(n),
        };
        (cores, decoders)
    }

    /// The recognition queue's capacity: `queue`, or the process's call limit when 0.
    pub fn queue_capacity(&self, limits: &LimitsConfig) -> usize {
        match self.queue {
            0 => usize::try_from(limits.max_calls).unwrap_or(usize::MAX).max(1),
            n => usize::from(n),
        }
    }
}

impl Default for ComputeConfig {
    fn default() -> Self {
        Self { decoders: 0, cores: 0, queue: 0, keypad_after_ms: 3000, decoder_nice: 10 }
    }
}

impl ComputeConfig {
    pub fn keypad_after(&self) -> Option<std::time::Duration> {
        (self.keypad_after_ms > 0).then(|| std::time::Duration::from_millis(u64::from(self.keypad_after_ms)))
    }
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Concurrent calls in this process, all tenants and transports together; beyond it new
    /// calls get SIP 503 / HTTP 503 with Retry-After and `/readyz` says not ready. Default 200.
    pub max_calls: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { max_calls: 200 }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrainConfig {
    /// After SIGTERM (or SIGINT): the most time live calls get to finish, in seconds, before
    /// the worker hangs up what is left and exits. New calls are refused meanwhile. Default
    /// 300 (keep the pod's terminationGracePeriodSeconds above it).
    pub timeout_s: u32,
}

impl Default for DrainConfig {
    fn default() -> Self {
        Self { timeout_s: 300 }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// `text` (one readable line per record) or `json` (one JSON object per line, with the
    /// call and turn spans), on standard output when `events.stdout` is on. Default `text`.
    pub format: LogFormat,
    /// Mask phone numbers in logs and in `/v1/calls` (the events file keeps them). Default true.
    pub redact: bool,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, redact: true }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub name: String,
    /// SBC source addresses (CIDR) this tenant's calls may come from. Empty: any source.
    #[serde(default)]
    pub sources: Vec<IpNet>,
    /// Domains (Request-URI or From host) this tenant's calls may be addressed from. Empty: any.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Concurrent calls; beyond it new calls get 503 with Retry-After. Default 50.
    #[serde(default = "default_max_calls")]
    pub max_calls: u32,
    /// WAV prompt played when the call is answered. Default none.
    #[serde(default)]
    pub prompt: Option<PathBuf>,
    /// A DTMF key that transfers the call (blind, SIP REFER). Default none.
    #[serde(default)]
    pub transfer: Option<TransferRule>,
    /// This tenant's graph settings; default the top-level `[graph]`.
    #[serde(default)]
    pub graph: Option<GraphConfig>,
    /// The tenant's assistant: a file with its dialogue flow, routing and webhook (`[flow]`,
    /// `[routing]`, `[webhook]`; see config/contoso.flow.toml). Relative to this file. Without
    /// it calls are transcribed only. Default none.
    #[serde(default)]
    pub assistant: Option<PathBuf>,
    /// Bearer tokens that open media streams (WebSocket, WebRTC) for this tenant. Default none.
    #[serde(default)]
    pub media_tokens: Vec<String>,
    /// Key for HMAC-signed media tokens (`attendant media-token`), at least 32 bytes. Default
    /// none.
    #[serde(default)]
    pub media_hmac_key: Option<String>,
}

fn default_max_calls() -> u32 {
    50
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRule {
    /// The key: 0-9, *, #, A-D.
    pub dtmf: String,
    /// SIP or SIPS URI the caller is referred to.
    pub target: String,
}

/// A setting that is wrong, named by its path (`tenants[1].transfer.target`).
#[derive(Debug, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
}

fn error(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), reason: reason.into() }
}

impl ServeConfig {
    /// Parses and validates a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).with_context(|| format!("config {}", path.display()))
    }

    /// Parses and validates configuration text; relative prompt paths resolve against `base`.
    pub fn parse(text: &str, base: &Path) -> anyhow::Result<Self> {
        let mut config: Self = toml::from_str(text)?;
        for t in &mut config.tenants {
            for p in [&mut t.prompt, &mut t.assistant].into_iter().flatten() {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        config.expand_env()?;
        config.validate()?;
        // A broken flow is refused at load, naming the tenant and the place in its file.
        for (i, t) in config.tenants.iter().enumerate() {
            if let Some(path) = &t.assistant {
                crate::assistant::AssistantFile::load(path, &format!("tenants[{i}].assistant"))?;
            }
        }
        Ok(config)
    }

    pub fn embedded_default() -> Self {
        // The embedded text is a constant checked by a test; it cannot fail to parse.
        Self::parse(EMBEDDED_DEFAULT, Path::new(".")).unwrap_or_else(|e| unreachable!("embedded config: {e:#}"))
    }

    /// `${NAME}` in `sip.advertised_host` replaced by the environment variable's value.
    fn expand_env(&mut self) -> Result<(), ConfigError> {
        if let Some(host) = &self.sip.advertised_host {
            if let Some(name) = host.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                let value = std::env::var(name).map_err(|_| error("sip.advertised_host", format!("environment variable {name} is not set")))?;
                if value.trim().is_empty() {
                    return Err(error("sip.advertised_host", format!("environment variable {name} is empty")));
                }
                self.sip.advertised_host = Some(value.trim().to_owned());
            }
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sip.udp.is_empty() && self.sip.tcp.is_empty() {
            return Err(error("sip", "needs at least one udp or tcp listen address"));
        }
        if self.sip.answer_after_ms > 60_000 {
            return Err(error("sip.answer_after_ms", "must be at most 60000"));
        }
        let r = &self.rtp;
        if r.port_min % 2 != 0 || r.port_min < 1024 || r.port_max <= r.port_min {
            return Err(error("rtp.port_min", "must be even, at least 1024 and below rtp.port_max"));
        }
        if self.limits.max_calls == 0 {
            return Err(error("limits.max_calls", "must be at least 1"));
        }
        if self.drain.timeout_s > 86_400 {
            return Err(error("drain.timeout_s", "must be at most 86400 (a day)"));
        }
        if self.compute.decoder_nice > 19 {
            return Err(error("compute.decoder_nice", "must be between 0 and 19"));
        }
        if self.compute.decoders > 64 {
            return Err(error("compute.decoders", "must be between 0 (one per core) and 64"));
        }
        if self.compute.cores > 1024 {
            return Err(error("compute.cores", "must be between 0 (the CPUs this process may use) and 1024"));
        }
        self.otel.validate().map_err(|(field, why)| error(format!("otel.{field}"), why))?;
        crate::validate(&self.graph).map_err(|e| error("graph", e.to_string()))?;
        if self.tenants.is_empty() {
            return Err(error("tenants", "at least one tenant is needed"));
        }
        for (i, t) in self.tenants.iter().enumerate() {
            let at = |f: &str| format!("tenants[{i}].{f}");
            if t.name.trim().is_empty() {
                return Err(error(at("name"), "must not be empty"));
            }
            if self.tenants[..i].iter().any(|o| o.name == t.name) {
                return Err(error(at("name"), format!("\"{}\" is used by an earlier tenant", t.name)));
            }
            if t.sources.is_empty() && t.domains.is_empty() {
                return Err(error(at("sources"), "a tenant needs sources or domains (or both)"));
            }
            if t.max_calls == 0 {
                return Err(error(at("max_calls"), "must be at least 1"));
            }
            if let Some(p) = &t.prompt {
                codec::WavFile::open(p).map_err(|e| error(at("prompt"), format!("{}: {e}", p.display())))?;
            }
            if let Some(rule) = &t.transfer {
                let key_ok = rule.dtmf.len() == 1 && rule.dtmf.chars().all(|c| "0123456789*#ABCD".contains(c));
                if !key_ok {
                    return Err(error(at("transfer.dtmf"), "must be one key: 0-9, *, #, A-D"));
                }
                if !(rule.target.starts_with("sip:") || rule.target.starts_with("sips:")) || rule.target.len() < 6 {
                    return Err(error(at("transfer.target"), "must be a sip: or sips: URI"));
                }
            }
            if let Some(g) = &t.graph {
                crate::validate(g).map_err(|e| error(at("graph"), e.to_string()))?;
            }
            for (j, token) in t.media_tokens.iter().enumerate() {
                // Short tokens can be guessed; a token shared by two tenants would be ambiguous.
                if token.len() < 16 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(error(at(&format!("media_tokens[{j}]")), "must be at least 16 characters, without spaces"));
                }
                if self.tenants[..=i].iter().flat_map(|o| &o.media_tokens).filter(|o| *o == token).count() > 1 {
                    return Err(error(at(&format!("media_tokens[{j}]")), "is already a token of this or an earlier tenant"));
                }
            }
            if t.media_hmac_key.as_ref().is_some_and(|k| k.len() < 32) {
                return Err(error(at("media_hmac_key"), "must be at least 32 bytes"));
            }
        }
        Ok(())
    }

    /// The tenant a call belongs to: the first whose sources contain `source` (when it lists
    /// sources) and whose domains contain `domain` (when it lists domains).
    pub fn tenant_for(&self, source: IpAddr, domain: Option<&str>) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| {
            let source_ok = t.sources.is_empty() || t.sources.iter().any(|net| net.contains(&source));
            let domain_ok = t.domains.is_empty()
                || domain.is_some_and(|d| t.domains.iter().any(|allowed| allowed.eq_ignore_ascii_case(d)));
            source_ok && domain_ok
        })
    }

    /// The graph settings of `tenant`.
    pub fn graph_for<'a>(&'a self, tenant: &'a TenantConfig) -> &'a GraphConfig {
        tenant.graph.as_ref().unwrap_or(&self.graph)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<ServeConfig> {
        ServeConfig::parse(text, Path::new("."))
    }

    #[test]
    fn embedded_default_accepts_loopback_only() {
        let c = ServeConfig::embedded_default();
        assert_eq!(c.sip.udp, vec!["127.0.0.1:5060".parse().unwrap()]);
        assert_eq!(c.sip.tcp, vec!["127.0.0.1:5060".parse().unwrap()]);
        assert!(c.tenant_for("127.0.0.1".parse().unwrap(), None).is_some());
        assert!(c.tenant_for("::1".parse().unwrap(), None).is_some());
        assert!(c.tenant_for("192.0.2.7".parse().unwrap(), None).is_none());
    }

    #[test]
    fn unknown_field_is_named() {
        let e = parse("[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\nmax_cals = 3\n").unwrap_err();
        assert!(format!("{e:#}").contains("max_cals"), "{e:#}");
        let e = parse("[rtp]\nport_mn = 3\n[[tenants]]\nname = \"a\"\nsources = []\n").unwrap_err();
        assert!(format!("{e:#}").contains("port_mn"), "{e:#}");
    }

    #[test]
    fn invalid_values_name_their_path() {
        let cases = [
            ("[[tenants]]\nname = \"a\"\n", "tenants[0].sources"),
            ("[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n[[tenants]]\nname = \"a\"\ndomains = [\"x\"]\n", "tenants[1].name"),
            ("[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\ntransfer = { dtmf = \"00\", target = \"sip:x@y\" }\n", "tenants[0].transfer.dtmf"),
            ("[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\ntransfer = { dtmf = \"0\", target = \"tel:+1\" }\n", "tenants[0].transfer.target"),
            ("[rtp]\nport_min = 20001\n[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n", "rtp.port_min"),
            ("[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\nprompt = \"/nonexistent.wav\"\n", "tenants[0].prompt"),
            ("[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n[tenants.graph.endpointer]\nthreshold = 2.0\n", "tenants[0].graph"),
            ("[limits]\nmax_calls = 0\n[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n", "limits.max_calls"),
            ("[drain]\ntimeout_s = 100000\n[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n", "drain.timeout_s"),
            ("[compute]\ndecoder_nice = 20\n[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n", "compute.decoder_nice"),
            ("[otel]\nendpoint = \"collector:4318\"\n[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n", "otel.endpoint"),
            ("[otel]\nendpoint = \"http://c:4318/v1/traces\"\nheaders = { \"bad header\" = \"x\" }\n[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n", "otel.headers"),
            ("[otel]\nendpoint = \"http://c:4318/v1/traces\"\ntimeout_ms = 0\n[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n", "otel.timeout_ms"),
            ("[logs]\nformat = \"xml\"\n[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n", "xml"),
            ("[sip]\nadvertised_host = \"${ATTENDANT_TEST_UNSET_VARIABLE}\"\n[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.0/8\"]\n", "ATTENDANT_TEST_UNSET_VARIABLE is not set"),
        ];
        for (text, field) in cases {
            let e = parse(text).unwrap_err();
            assert!(format!("{e:#}").contains(field), "{field}: {e:#}");
        }
        let e = parse("[[tenants]]\nname = \"a\"\nsources = [\"10.0.0.300/8\"]\n").unwrap_err();
        assert!(format!("{e:#}").contains("sources"), "{e:#}");
    }

    #[test]
    fn tenants_match_by_source_and_domain() {
        let c = parse(
            "[[tenants]]\nname = \"acme\"\nsources = [\"198.51.100.0/24\"]\ndomains = [\"acme.example\"]\n\
             [[tenants]]\nname = \"any-from-sbc\"\nsources = [\"198.51.100.0/24\"]\n\
             [[tenants]]\nname = \"by-domain\"\ndomains = [\"globex.example\"]\n",
        )
        .unwrap();
        let ip = "198.51.100.9".parse().unwrap();
        assert_eq!(c.tenant_for(ip, Some("ACME.example")).unwrap().name, "acme");
        assert_eq!(c.tenant_for(ip, Some("other.example")).unwrap().name, "any-from-sbc");
        assert_eq!(c.tenant_for("203.0.113.1".parse().unwrap(), Some("globex.example")).unwrap().name, "by-domain");
        assert!(c.tenant_for("203.0.113.1".parse().unwrap(), Some("acme.example")).is_none());
    }
}
