//! The router: one per tenant, shared by its calls (`Arc<Router>`).
//!
//! Model, in virtual time (`now` comes in):
//! - **Idle since**: when an agent last became Available (from another state) or was last
//!   given a call. The longest-idle Available agent with all of a queue's skills gets the call;
//!   configuration order breaks ties, and agents Available since before the router learnt of
//!   them count as idle the longest.
//! - **Reservation**: an agent given a call is Busy for `reservation_s` unless a presence
//!   update that is not Available comes first (the real state takes over). Graph presence lags
//!   a transfer; without this, two calls a moment apart would reach the same agent.
//! - **Waiting calls**: a call sent to a queue's target is counted as waiting until
//!   [`Router::left_queue`] / [`Router::call_ended`] says it left, or `queue_timeout_s` passes.
//! - **Position**: 1 + the waiting calls ahead: those in queues sharing an agent with this one
//!   whose rank (call [`Priority`], then queue priority) is at least this call's.
//! - **Estimated wait**: `position × avg_handle_time / max(1, staffed)`, staffed = agents with
//!   the queue's skills who are Available or Busy.
//! - **Callback**: offered instead of queueing when nobody with the skills is staffed (if the
//!   policy says so) or when the estimated wait exceeds `offer_after_wait_s`.
//! - **No agents configured**: the router does not model agents; every call goes to its queue's
//!   target with position counted in that queue alone, the estimate assumes one agent, and no
//!   callback is offered (there is nothing to base it on).

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::{CallbackPolicy, RoutingConfig, TransferTarget};
use crate::presence::{Presence, PresenceUpdate};
use crate::RoutingError;

/// A call's priority. High calls are counted ahead of Normal ones in every queue's position and
/// wait estimate; within one priority, queue priority ([`crate::QueueConfig::priority`]) decides,
/// then arrival order. Serialized `"normal"` / `"high"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    Normal,
    High,
}

/// Why a callback is offered. Serialized snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackReason {
    /// The estimated wait exceeds the policy's `offer_after_wait_s`.
    WaitTooLong,
    /// No agent with the queue's skills is signed in.
    NobodyStaffed,
}

/// Where a call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOutcome {
    /// Straight to an agent (now reserved for this call).
    Agent { queue: String, agent_id: String, agent_name: String, target: TransferTarget },
    /// To the queue's target, to wait; `position` counts from 1.
    Queue { queue: String, target: TransferTarget, position: u32, estimated_wait: Duration },
    /// Offer the caller a callback instead. Nothing was counted: if the caller declines, call
    /// [`Router::enqueue`].
    Callback { queue: String, estimated_wait: Option<Duration>, reason: CallbackReason },
}

impl RouteOutcome {
    /// The queue routed to.
    pub fn queue(&self) -> &str {
        match self {
            Self::Agent { queue, .. } | Self::Queue { queue, .. } | Self::Callback { queue, .. } => queue,
        }
    }
}

/// An agent as the router sees it now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentStatus {
    pub id: String,
    pub name: String,
    pub skills: Vec<String>,
    /// Effective presence: Busy while reserved, else the last reported.
    pub presence: Presence,
    /// Reserved by a call routed to them.
    pub reserved: bool,
    /// Seconds since they became idle; only for Available agents whose idle start is known.
    pub idle_for_s: Option<u64>,
}

/// A queue as the router sees it now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueStatus {
    pub name: String,
    /// Calls counted as waiting in this queue.
    pub waiting: u32,
    /// Agents with the queue's skills who are Available or Busy.
    pub staffed: u32,
    /// Agents with the queue's skills who are Available.
    pub available: u32,
    /// What a Normal call arriving now would be told.
    pub estimated_wait_s: u64,
}

/// Routes a tenant's calls; `&self` methods over an internal mutex, so `Send + Sync`.
#[derive(Debug)]
pub struct Router {
    queues: Vec<Queue>,
    policy: CallbackPolicy,
    reservation: Duration,
    queue_timeout: Duration,
    model_agents: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct Queue {
    name: String,
    priority: u8,
    target: TransferTarget,
    avg_handle_time: Duration,
    /// Indexes of agents with all the queue's skills.
    agents: BTreeSet<usize>,
}

#[derive(Debug)]
struct State {
    agents: Vec<Agent>,
    waiting: Vec<Waiting>,
}

#[derive(Debug)]
struct Agent {
    id: String,
    name: String,
    skills: Vec<String>,
    target: TransferTarget,
    teams_user_id: Option<String>,
    reported: Presence,
    /// None: Available since before the router knew (longest idle of all).
    idle_since: Option<Instant>,
    reserved_until: Option<Instant>,
}

impl Agent {
    fn presence(&self, now: Instant) -> Presence {
        match self.reserved_until {
            Some(until) if now < until => Presence::Busy,
            _ => self.reported,
        }
    }
}

#[derive(Debug)]
struct Waiting {
    queue: usize,
    priority: Priority,
    call_id: Option<String>,
    expires: Instant,
}

impl Router {
    /// Builds the router; validates `config` first (errors name paths under `routing`).
    pub fn new(config: &RoutingConfig) -> Result<Router, RoutingError> {
        config.validate("routing")?;
        let queues = config
            .queues
            .iter()
            .map(|q| Queue {
                name: q.name.clone(),
                priority: q.priority,
                target: q.target.clone(),
                avg_handle_time: Duration::from_secs(u64::from(q.avg_handle_time_s)),
                agents: config
                    .agents
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| q.skills.iter().all(|s| a.skills.contains(s)))
                    .map(|(i, _)| i)
                    .collect(),
            })
            .collect();
        let agents = config
            .agents
            .iter()
            .map(|a| Agent {
                id: a.id.clone(),
                name: a.name.clone(),
                skills: a.skills.clone(),
                target: a.target.clone(),
                teams_user_id: a.target.teams_user_id.clone(),
                reported: a.presence,
                idle_since: None,
                reserved_until: None,
            })
            .collect();
        Ok(Router {
            queues,
            policy: config.callback.clone(),
            reservation: Duration::from_secs(u64::from(config.reservation_s)),
            queue_timeout: Duration::from_secs(u64::from(config.queue_timeout_s)),
            model_agents: !config.agents.is_empty(),
            state: Mutex::new(State { agents, waiting: Vec::new() }),
        })
    }

    /// Sets an agent's reported presence. Becoming Available from another state restarts their
    /// idle time; a state other than Available ends a reservation early.
    pub fn set_presence(&self, agent_id: &str, presence: Presence, now: Instant) -> Result<(), RoutingError> {
        let mut state = self.lock();
        let agent = state
            .agents
            .iter_mut()
            .find(|a| a.id == agent_id)
            .ok_or_else(|| RoutingError::UnknownAgent(agent_id.chars().take(64).collect()))?;
        apply_presence(agent, presence, now);
        Ok(())
    }

    /// Applies a Graph presence document: the agent is the one whose id or
    /// `target.teams_user_id` equals the document's `id`. Returns that agent's id.
    pub fn apply_presence_update(&self, update: &PresenceUpdate, now: Instant) -> Result<String, RoutingError> {
        let presence = update.presence()?;
        let id = update.id.as_deref().ok_or_else(|| RoutingError::BadPresence("no id".into()))?;
        let mut state = self.lock();
        let agent = state
            .agents
            .iter_mut()
            .find(|a| a.id == id || a.teams_user_id.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(id)))
            .ok_or_else(|| RoutingError::UnknownAgent(id.chars().take(64).collect()))?;
        apply_presence(agent, presence, now);
        Ok(agent.id.clone())
    }

    /// Every agent, in configuration order.
    pub fn agents(&self, now: Instant) -> Vec<AgentStatus> {
        let state = self.lock();
        state
            .agents
            .iter()
            .map(|a| {
                let presence = a.presence(now);
                AgentStatus {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    skills: a.skills.clone(),
                    presence,
                    reserved: a.reserved_until.is_some_and(|u| now < u),
                    idle_for_s: (presence == Presence::Available)
                        .then_some(a.idle_since)
                        .flatten()
                        .map(|t| now.saturating_duration_since(t).as_secs()),
                }
            })
            .collect()
    }

    /// Every queue, in configuration order.
    pub fn queues(&self, now: Instant) -> Vec<QueueStatus> {
        let mut state = self.lock();
        state.waiting.retain(|w| now < w.expires);
        (0..self.queues.len())
            .map(|qi| {
                let (staffed, available) = self.staffing(&state, qi, now);
                let waiting = state.waiting.iter().filter(|w| w.queue == qi).count();
                let position = self.position(&state, qi, Priority::Normal);
                QueueStatus {
                    name: self.queues[qi].name.clone(),
                    waiting: u32::try_from(waiting).unwrap_or(u32::MAX),
                    staffed,
                    available,
                    estimated_wait_s: self.estimate(qi, position, staffed).as_secs(),
                }
            })
            .collect()
    }

    /// Queue names, in configuration order.
    pub fn queue_names(&self) -> Vec<String> {
        self.queues.iter().map(|q| q.name.clone()).collect()
    }

    /// Whether a queue of this name is configured.
    pub fn has_queue(&self, name: &str) -> bool {
        self.queues.iter().any(|q| q.name == name)
    }

    /// Routes a call to `queue`: an Available agent with the skills (longest idle), else a
    /// callback if the policy says so, else the queue with a position and estimated wait.
    pub fn route(&self, queue: &str, priority: Priority, now: Instant) -> Result<RouteOutcome, RoutingError> {
        self.route_inner(None, queue, priority, true, now)
    }

    /// [`Router::route`], remembering the call so [`Router::call_ended`] can take it out of the
    /// waiting count.
    pub fn route_call(&self, call_id: &str, queue: &str, priority: Priority, now: Instant) -> Result<RouteOutcome, RoutingError> {
        self.route_inner(Some(call_id), queue, priority, true, now)
    }

    /// Like [`Router::route_call`] but never offers a callback: for a caller who declined one.
    pub fn enqueue(&self, call_id: Option<&str>, queue: &str, priority: Priority, now: Instant) -> Result<RouteOutcome, RoutingError> {
        self.route_inner(call_id, queue, priority, false, now)
    }

    /// A call that was counted as waiting in `queue` left it (answered, hung up, took a
    /// callback). Removes the oldest waiting entry of that queue and priority; false if none.
    pub fn left_queue(&self, queue: &str, priority: Priority, now: Instant) -> bool {
        let Some(qi) = self.queue_index(queue) else { return false };
        let mut state = self.lock();
        state.waiting.retain(|w| now < w.expires);
        match state.waiting.iter().position(|w| w.queue == qi && w.priority == priority) {
            Some(i) => {
                state.waiting.remove(i);
                true
            }
            None => false,
        }
    }

    /// The call routed with [`Router::route_call`] / [`Router::enqueue`] under `call_id` ended
    /// or left its queue: it is no longer counted as waiting. False if it was not.
    pub fn call_ended(&self, call_id: &str, now: Instant) -> bool {
        let mut state = self.lock();
        state.waiting.retain(|w| now < w.expires);
        let before = state.waiting.len();
        state.waiting.retain(|w| w.call_id.as_deref() != Some(call_id));
        state.waiting.len() != before
    }

    fn route_inner(&self, call_id: Option<&str>, queue: &str, priority: Priority, offer_callback: bool, now: Instant) -> Result<RouteOutcome, RoutingError> {
        let qi = self.queue_index(queue).ok_or_else(|| RoutingError::UnknownQueue(queue.chars().take(64).collect()))?;
        let q = &self.queues[qi];
        let mut state = self.lock();
        state.waiting.retain(|w| now < w.expires);

        if let Some(ai) = longest_idle(&state.agents, &q.agents, now) {
            let agent = &mut state.agents[ai];
            agent.reserved_until = Some(now.checked_add(self.reservation).unwrap_or(now));
            agent.idle_since = Some(now);
            return Ok(RouteOutcome::Agent {
                queue: q.name.clone(),
                agent_id: agent.id.clone(),
                agent_name: agent.name.clone(),
                target: agent.target.clone(),
            });
        }

        let (staffed, _) = self.staffing(&state, qi, now);
        let position = self.position(&state, qi, priority);
        let estimated_wait = self.estimate(qi, position, staffed);
        if offer_callback && self.model_agents {
            if staffed == 0 && self.policy.offer_when_nobody_staffed {
                return Ok(RouteOutcome::Callback { queue: q.name.clone(), estimated_wait: None, reason: CallbackReason::NobodyStaffed });
            }
            if estimated_wait > Duration::from_secs(u64::from(self.policy.offer_after_wait_s)) {
                return Ok(RouteOutcome::Callback { queue: q.name.clone(), estimated_wait: Some(estimated_wait), reason: CallbackReason::WaitTooLong });
            }
        }
        state.waiting.push(Waiting { queue: qi, priority, call_id: call_id.map(str::to_owned), expires: now.checked_add(self.queue_timeout).unwrap_or(now) });
        Ok(RouteOutcome::Queue { queue: q.name.clone(), target: q.target.clone(), position, estimated_wait })
    }

    fn queue_index(&self, name: &str) -> Option<usize> {
        self.queues.iter().position(|q| q.name == name)
    }

    /// (staffed, available) agents of queue `qi`.
    fn staffing(&self, state: &State, qi: usize, now: Instant) -> (u32, u32) {
        let mut staffed = 0u32;
        let mut available = 0u32;
        for &ai in &self.queues[qi].agents {
            let p = state.agents[ai].presence(now);
            staffed += u32::from(p.is_staffed());
            available += u32::from(p == Presence::Available);
        }
        (staffed, available)
    }

    /// Position a new call of `priority` in queue `qi` would get.
    fn position(&self, state: &State, qi: usize, priority: Priority) -> u32 {
        let q = &self.queues[qi];
        let rank = (priority, q.priority);
        let ahead = state
            .waiting
            .iter()
            .filter(|w| {
                let other = &self.queues[w.queue];
                let competes = w.queue == qi || (self.model_agents && !other.agents.is_disjoint(&q.agents));
                competes && (w.priority, other.priority) >= rank
            })
            .count();
        u32::try_from(ahead).unwrap_or(u32::MAX).saturating_add(1)
    }

    fn estimate(&self, qi: usize, position: u32, staffed: u32) -> Duration {
        self.queues[qi].avg_handle_time.saturating_mul(position) / staffed.max(1)
    }

    /// The state is plain data left consistent by every method (no method panics half-way), so
    /// a poisoned lock is still safe to use.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn apply_presence(agent: &mut Agent, presence: Presence, now: Instant) {
    if presence == Presence::Available && agent.reported != Presence::Available {
        agent.idle_since = Some(now);
    }
    if presence != Presence::Available {
        agent.reserved_until = None;
    }
    agent.reported = presence;
}

/// The Available agent among `candidates` idle the longest; ties go to configuration order.
fn longest_idle(agents: &[Agent], candidates: &BTreeSet<usize>, now: Instant) -> Option<usize> {
    candidates
        .iter()
        .copied()
        .filter(|&i| agents[i].presence(now) == Presence::Available)
        // Option<Instant> orders None first: idle since before we knew beats any known time.
        .min_by_key(|&i| (agents[i].idle_since, i))
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
