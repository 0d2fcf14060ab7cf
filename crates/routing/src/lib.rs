//! Routing for the contact center: queues, skills, agents and their Teams presence; the
//! routing decision a call ends with, in the shapes each way out needs (SIP REFER headers and
//! User-to-User data, a Graph or ACS transfer request, a webhook body); and a sans-IO outbox
//! that delivers decisions to the tenant's webhook with retries.
//!
//! Nothing here does IO or reads a clock: times come in as `now`, and the worker owns sockets,
//! HTTP and files.
//!
//! - [`RoutingConfig`]: a tenant's queues, agents and callback policy (serde, validated once).
//! - [`Router`]: shared per tenant (`Arc<Router>`); picks the longest-idle available agent with
//!   the queue's skills, or a queue position with an estimated wait, or a callback.
//! - [`Decision`]: what a call ended with; [`Decision::sip_refer`],
//!   [`Decision::graph_transfer_body`], [`Decision::acs_transfer_body`],
//!   [`Decision::webhook_body`].
//! - [`Outbox`]: webhook delivery with jittered exponential backoff and a dead-letter output.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod decision;
mod hash;
mod presence;
mod router;
mod transfer;
mod webhook;

pub use config::{AgentConfig, CallbackPolicy, QueueConfig, RoutingConfig, TransferTarget};
pub use decision::{
    Decision, DecisionReason, DecisionTarget, Speaker, TargetKind, Timings, TranscriptLine,
};
pub use presence::{Presence, PresenceUpdate};
pub use router::{AgentStatus, CallbackReason, Priority, QueueStatus, RouteOutcome, Router};
pub use transfer::{SipRefer, ACS_SIP_VALUE_MAX, CONTEXT_VERSION, HEADER_VALUE_MAX, UUI_MAX_VALUE_LEN};
pub use webhook::{parse_retry_after, Attempt, AttemptResult, DeadLetter, Outbox, RetryPolicy, MAX_RETRY_AFTER};

/// Errors of the routing crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// A configuration value is wrong; `field` is its path, e.g.
    /// `tenants[0].routing.queues[2].name`.
    #[error("{field}: {reason}")]
    Config { field: String, reason: String },
    /// A Graph presence availability this crate does not know.
    #[error("unknown presence availability {0:?}")]
    UnknownPresence(String),
    /// A presence document that is not the Graph presence shape.
    #[error("bad presence document: {0}")]
    BadPresence(String),
    /// No agent with this id (or Teams user id) is configured.
    #[error("unknown agent {0:?}")]
    UnknownAgent(String),
    /// No queue with this name is configured.
    #[error("unknown queue {0:?}")]
    UnknownQueue(String),
}

impl RoutingError {
    pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config { field: field.into(), reason: reason.into() }
    }
}
