use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{AgentConfig, QueueConfig};

fn target(user: &str) -> TransferTarget {
    TransferTarget { sip: Some(format!("sip:{user}@example.com")), ..Default::default() }
}

fn agent(id: &str, skills: &[&str], presence: Presence) -> AgentConfig {
    AgentConfig { id: id.into(), name: id.to_uppercase(), skills: skills.iter().map(|s| s.to_string()).collect(), target: target(id), presence }
}

fn queue(name: &str, skills: &[&str], priority: u8, aht_s: u32) -> QueueConfig {
    QueueConfig { name: name.into(), skills: skills.iter().map(|s| s.to_string()).collect(), priority, target: target(name), avg_handle_time_s: aht_s }
}

fn config(queues: Vec<QueueConfig>, agents: Vec<AgentConfig>) -> RoutingConfig {
    RoutingConfig { queues, agents, ..Default::default() }
}

fn agent_id(o: &RouteOutcome) -> &str {
    match o {
        RouteOutcome::Agent { agent_id, .. } => agent_id,
        other => panic!("expected an agent, got {other:?}"),
    }
}

fn position(o: &RouteOutcome) -> (u32, Duration) {
    match o {
        RouteOutcome::Queue { position, estimated_wait, .. } => (*position, *estimated_wait),
        other => panic!("expected a queue, got {other:?}"),
    }
}

#[test]
fn router_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Router>();
    check::<Arc<Router>>();
}

#[test]
fn longest_idle_available_agent_wins() {
    let t0 = Instant::now();
    let r = Router::new(&config(
        vec![queue("q", &[], 0, 300)],
        vec![agent("a", &[], Presence::Offline), agent("b", &[], Presence::Offline), agent("c", &[], Presence::Offline)],
    ))
    .unwrap();
    r.set_presence("b", Presence::Available, t0).unwrap();
    r.set_presence("a", Presence::Available, t0 + Duration::from_secs(10)).unwrap();
    r.set_presence("c", Presence::Available, t0 + Duration::from_secs(20)).unwrap();
    let now = t0 + Duration::from_secs(30);
    assert_eq!(agent_id(&r.route("q", Priority::Normal, now).unwrap()), "b");
    assert_eq!(agent_id(&r.route("q", Priority::Normal, now).unwrap()), "a");
    assert_eq!(agent_id(&r.route("q", Priority::Normal, now).unwrap()), "c");
    let status = r.agents(now);
    assert!(status.iter().all(|s| s.presence == Presence::Busy && s.reserved));
}

#[test]
fn agents_available_from_config_count_as_longest_idle_in_config_order() {
    let t0 = Instant::now();
    let r = Router::new(&config(vec![queue("q", &[], 0, 300)], vec![agent("a", &[], Presence::Offline), agent("b", &[], Presence::Available), agent("c", &[], Presence::Available)])).unwrap();
    r.set_presence("a", Presence::Available, t0).unwrap();
    assert_eq!(agent_id(&r.route("q", Priority::Normal, t0).unwrap()), "b");
    assert_eq!(agent_id(&r.route("q", Priority::Normal, t0).unwrap()), "c");
    assert_eq!(agent_id(&r.route("q", Priority::Normal, t0).unwrap()), "a");
}

#[test]
fn skills_filter_requires_all_queue_skills() {
    let t0 = Instant::now();
    let r = Router::new(&config(
        vec![queue("fr-billing", &["billing", "fr"], 0, 300)],
        vec![agent("en", &["billing"], Presence::Available), agent("fr", &["fr"], Presence::Available), agent("both", &["fr", "billing", "de"], Presence::Offline)],
    ))
    .unwrap();
    // Only "both" qualifies and is Offline: nobody staffed.
    let o = r.route("fr-billing", Priority::Normal, t0).unwrap();
    assert_eq!(o, RouteOutcome::Callback { queue: "fr-billing".into(), estimated_wait: None, reason: CallbackReason::NobodyStaffed });
    r.set_presence("both", Presence::Available, t0).unwrap();
    assert_eq!(agent_id(&r.route("fr-billing", Priority::Normal, t0).unwrap()), "both");
}

#[test]
fn reservation_holds_until_non_available_update_or_lapse() {
    let t0 = Instant::now();
    let mut c = config(vec![queue("q", &[], 0, 60)], vec![agent("a", &[], Presence::Available)]);
    c.reservation_s = 30;
    let r = Router::new(&c).unwrap();
    assert_eq!(agent_id(&r.route("q", Priority::Normal, t0).unwrap()), "a");
    // A second call at once does not get the same agent.
    let (pos, wait) = position(&r.route("q", Priority::Normal, t0 + Duration::from_secs(1)).unwrap());
    assert_eq!((pos, wait), (1, Duration::from_secs(60)));
    assert!(!r.call_ended("nobody", t0));
    assert!(r.left_queue("q", Priority::Normal, t0));
    // A stale Available inside the hold does not free the agent.
    r.set_presence("a", Presence::Available, t0 + Duration::from_secs(2)).unwrap();
    assert!(matches!(r.route("q", Priority::Normal, t0 + Duration::from_secs(3)).unwrap(), RouteOutcome::Queue { .. }));
    assert!(r.left_queue("q", Priority::Normal, t0));
    // No answer: the reservation lapses and the agent is offered calls again.
    assert_eq!(agent_id(&r.route("q", Priority::Normal, t0 + Duration::from_secs(31)).unwrap()), "a");
    // Busy (took the call) ends the reservation; Available afterwards frees the agent at once.
    let t1 = t0 + Duration::from_secs(35);
    r.set_presence("a", Presence::Busy, t1).unwrap();
    assert!(!r.agents(t1)[0].reserved);
    r.set_presence("a", Presence::Available, t1 + Duration::from_secs(1)).unwrap();
    let st = &r.agents(t1 + Duration::from_secs(4))[0];
    assert_eq!((st.presence, st.idle_for_s), (Presence::Available, Some(3)));
    assert_eq!(agent_id(&r.route("q", Priority::Normal, t1 + Duration::from_secs(4)).unwrap()), "a");
}

#[test]
fn unknown_agent_and_queue_are_errors() {
    let r = Router::new(&config(vec![queue("q", &[], 0, 60)], vec![agent("a", &[], Presence::Available)])).unwrap();
    let now = Instant::now();
    assert_eq!(r.set_presence("zed", Presence::Busy, now), Err(RoutingError::UnknownAgent("zed".into())));
    assert_eq!(r.route("nope", Priority::Normal, now), Err(RoutingError::UnknownQueue("nope".into())));
    assert!(r.has_queue("q") && !r.has_queue("Q"));
    assert_eq!(r.queue_names(), vec!["q".to_string()]);
}

#[test]
fn invalid_config_is_refused_with_a_path() {
    let c = config(vec![queue("q", &["x"], 0, 60)], vec![agent("a", &[], Presence::Available)]);
    let e = Router::new(&c).unwrap_err().to_string();
    assert!(e.starts_with("routing.queues[0].skills:"), "{e}");
}

/// One busy agent, so nothing is routed directly and positions accumulate.
fn busy_router(queues: Vec<QueueConfig>, agents_skills: &[&[&str]]) -> Router {
    let agents = agents_skills.iter().enumerate().map(|(i, s)| agent(&format!("a{i}"), s, Presence::Busy)).collect();
    let mut c = config(queues, agents);
    c.callback.offer_after_wait_s = u32::MAX;
    Router::new(&c).unwrap()
}

#[test]
fn high_priority_calls_go_ahead_of_normal() {
    let now = Instant::now();
    let r = busy_router(vec![queue("q", &[], 0, 100)], &[&[]]);
    assert_eq!(position(&r.route("q", Priority::Normal, now).unwrap()).0, 1);
    assert_eq!(position(&r.route("q", Priority::Normal, now).unwrap()).0, 2);
    // A High call is counted behind High calls only.
    assert_eq!(position(&r.route("q", Priority::High, now).unwrap()).0, 1);
    assert_eq!(position(&r.route("q", Priority::High, now).unwrap()).0, 2);
    // A Normal call is behind everyone.
    assert_eq!(position(&r.route("q", Priority::Normal, now).unwrap()).0, 5);
    assert!(r.left_queue("q", Priority::High, now));
    assert_eq!(position(&r.route("q", Priority::Normal, now).unwrap()).0, 5);
    assert_eq!(r.queues(now)[0].waiting, 5);
}

#[test]
fn queue_priority_breaks_ties_between_queues_sharing_agents() {
    let now = Instant::now();
    let r = busy_router(vec![queue("vip", &["s"], 5, 100), queue("std", &["s"], 0, 100), queue("other", &["o"], 9, 100)], &[&["s"], &["o"]]);
    r.route("std", Priority::Normal, now).unwrap();
    r.route("std", Priority::Normal, now).unwrap();
    r.route("other", Priority::High, now).unwrap();
    // vip outranks std and does not share agents with "other".
    assert_eq!(position(&r.route("vip", Priority::Normal, now).unwrap()).0, 1);
    // A std call waits behind both std calls and the vip call.
    assert_eq!(position(&r.route("std", Priority::Normal, now).unwrap()).0, 4);
    // Call priority comes first: a High std call beats Normal vip calls.
    assert_eq!(position(&r.route("std", Priority::High, now).unwrap()).0, 1);
}

#[test]
fn estimated_wait_divides_by_staffed_agents() {
    let now = Instant::now();
    let r = busy_router(vec![queue("q", &[], 0, 120)], &[&[], &[], &[]]);
    r.set_presence("a2", Presence::Away, now).unwrap();
    // Two staffed (Busy) agents: position × 120 s / 2.
    assert_eq!(position(&r.route("q", Priority::Normal, now).unwrap()), (1, Duration::from_secs(60)));
    assert_eq!(position(&r.route("q", Priority::Normal, now).unwrap()), (2, Duration::from_secs(120)));
    assert_eq!(position(&r.route("q", Priority::Normal, now).unwrap()), (3, Duration::from_secs(180)));
    let qs = &r.queues(now)[0];
    assert_eq!((qs.waiting, qs.staffed, qs.available, qs.estimated_wait_s), (3, 2, 0, 240));
}

#[test]
fn callback_offered_when_wait_exceeds_policy() {
    let now = Instant::now();
    let mut c = config(vec![queue("q", &[], 0, 100)], vec![agent("a", &[], Presence::Busy)]);
    c.callback.offer_after_wait_s = 250;
    let r = Router::new(&c).unwrap();
    assert_eq!(position(&r.route("q", Priority::Normal, now).unwrap()).1, Duration::from_secs(100));
    assert_eq!(position(&r.route("q", Priority::Normal, now).unwrap()).1, Duration::from_secs(200));
    let o = r.route("q", Priority::Normal, now).unwrap();
    assert_eq!(o, RouteOutcome::Callback { queue: "q".into(), estimated_wait: Some(Duration::from_secs(300)), reason: CallbackReason::WaitTooLong });
    // Offering a callback does not count the call; declining it queues the call anyway.
    assert_eq!(r.queues(now)[0].waiting, 2);
    assert_eq!(position(&r.enqueue(Some("c3"), "q", Priority::Normal, now).unwrap()).0, 3);
    assert!(r.call_ended("c3", now));
    assert!(!r.call_ended("c3", now));
    assert_eq!(r.queues(now)[0].waiting, 2);
}

#[test]
fn callback_when_nobody_staffed_follows_policy() {
    let now = Instant::now();
    let mut c = config(vec![queue("q", &[], 0, 100)], vec![agent("a", &[], Presence::Away), agent("b", &[], Presence::Offline)]);
    let r = Router::new(&c).unwrap();
    assert!(matches!(r.route("q", Priority::Normal, now).unwrap(), RouteOutcome::Callback { reason: CallbackReason::NobodyStaffed, estimated_wait: None, .. }));
    c.callback.offer_when_nobody_staffed = false;
    let r = Router::new(&c).unwrap();
    // Queued with the one-agent estimate.
    assert_eq!(position(&r.route("q", Priority::Normal, now).unwrap()), (1, Duration::from_secs(100)));
}

#[test]
fn waiting_calls_expire_after_queue_timeout() {
    let t0 = Instant::now();
    let mut c = config(vec![queue("q", &[], 0, 10)], vec![agent("a", &[], Presence::Busy)]);
    c.queue_timeout_s = 60;
    let r = Router::new(&c).unwrap();
    r.route_call("c1", "q", Priority::Normal, t0).unwrap();
    assert_eq!(position(&r.route("q", Priority::Normal, t0 + Duration::from_secs(59)).unwrap()).0, 2);
    assert_eq!(position(&r.route("q", Priority::Normal, t0 + Duration::from_secs(60)).unwrap()).0, 2);
    assert!(!r.call_ended("c1", t0 + Duration::from_secs(61)));
}

#[test]
fn without_agents_every_call_goes_to_the_queue_target() {
    let now = Instant::now();
    let mut c = config(vec![queue("q", &["anything"], 0, 90)], vec![]);
    c.callback.offer_after_wait_s = 0;
    let r = Router::new(&c).unwrap();
    for n in 1..=3 {
        match r.route("q", Priority::Normal, now).unwrap() {
            RouteOutcome::Queue { position, estimated_wait, target, .. } => {
                assert_eq!(position, n);
                assert_eq!(estimated_wait, Duration::from_secs(90 * u64::from(n)));
                assert_eq!(target.sip.as_deref(), Some("sip:q@example.com"));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn graph_presence_update_finds_agent_by_teams_id() {
    let now = Instant::now();
    let mut a = agent("alice", &[], Presence::Offline);
    a.target.teams_user_id = Some("FA8BF3DC-ECA7-46B7-BAD1-DB199B62AFC3".into());
    let r = Router::new(&config(vec![queue("q", &[], 0, 60)], vec![a])).unwrap();
    let u = PresenceUpdate { availability: "AvailableIdle".into(), activity: None, id: Some("fa8bf3dc-eca7-46b7-bad1-db199b62afc3".into()) };
    assert_eq!(r.apply_presence_update(&u, now).unwrap(), "alice");
    assert_eq!(r.agents(now)[0].presence, Presence::Available);
    let u = PresenceUpdate { availability: "Busy".into(), activity: None, id: Some("someone-else".into()) };
    assert!(matches!(r.apply_presence_update(&u, now), Err(RoutingError::UnknownAgent(_))));
}

#[test]
fn agent_status_serializes() {
    let now = Instant::now();
    let r = Router::new(&config(vec![queue("q", &[], 0, 60)], vec![agent("a", &["x"], Presence::Available)])).unwrap();
    r.set_presence("a", Presence::Away, now).unwrap();
    r.set_presence("a", Presence::Available, now).unwrap();
    let v = serde_json::to_value(r.agents(now + Duration::from_secs(7))).unwrap();
    assert_eq!(v, serde_json::json!([{"id": "a", "name": "A", "skills": ["x"], "presence": "Available", "reserved": false, "idle_for_s": 7}]));
}
