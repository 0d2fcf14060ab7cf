//! Agent presence, from Microsoft Graph.
//!
//! Graph reports `availability` as one of nine values
//! (<https://learn.microsoft.com/graph/api/resources/presence>); routing needs four states:
//! can take a call now, signed in but occupied, stepped away, not working.

use crate::RoutingError;

/// An agent's presence as routing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub enum Presence {
    /// Can be offered a call now.
    Available,
    /// Signed in and working but occupied (in a call, do-not-disturb); counts as staffed for
    /// the wait estimate, since a busy agent frees up after a call.
    Busy,
    /// Stepped away; not staffed.
    Away,
    /// Signed out or unknown; not staffed. The default for a configured agent until Graph says
    /// otherwise.
    #[default]
    Offline,
}

impl Presence {
    /// Maps a Graph `availability` value. Matching ignores ASCII case.
    ///
    /// | Graph | routing | why |
    /// |---|---|---|
    /// | Available, AvailableIdle | Available | idle on the device is still free for a call |
    /// | Busy, BusyIdle | Busy | |
    /// | DoNotDisturb | Busy | signed in and working (presenting, focusing): staffed, not offered calls |
    /// | Away, BeRightBack | Away | |
    /// | Offline, PresenceUnknown | Offline | |
    pub fn from_graph(availability: &str) -> Result<Presence, RoutingError> {
        const MAP: [(&str, Presence); 9] = [
            ("Available", Presence::Available),
            ("AvailableIdle", Presence::Available),
            ("Busy", Presence::Busy),
            ("BusyIdle", Presence::Busy),
            ("DoNotDisturb", Presence::Busy),
            ("Away", Presence::Away),
            ("BeRightBack", Presence::Away),
            ("Offline", Presence::Offline),
            ("PresenceUnknown", Presence::Offline),
        ];
        let a = availability.trim();
        MAP.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(a))
            .map(|&(_, p)| p)
            .ok_or_else(|| RoutingError::UnknownPresence(availability.chars().take(64).collect()))
    }

    /// Signed in and working: Available or Busy.
    pub fn is_staffed(self) -> bool {
        matches!(self, Presence::Available | Presence::Busy)
    }
}

/// A Graph presence resource, as `GET /users/{id}/presence` returns it or a change notification
/// carries it. Fields Graph adds (`@odata.context`, `statusMessage`, ...) are ignored: this is
/// someone else's schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PresenceUpdate {
    /// Graph `availability`, e.g. `"Available"`; see [`Presence::from_graph`].
    pub availability: String,
    /// Graph `activity`, e.g. `"InACall"`; informational.
    #[serde(default)]
    pub activity: Option<String>,
    /// Graph `id`: the user's Entra object id. Absent when the URL already names the agent.
    #[serde(default)]
    pub id: Option<String>,
}

impl PresenceUpdate {
    /// The routing presence of this update.
    pub fn presence(&self) -> Result<Presence, RoutingError> {
        Presence::from_graph(&self.availability)
    }

    /// Parses one presence object, a JSON array of them, or the `{"value": [...]}` collection
    /// that `POST /communications/getPresencesByUserId` returns.
    pub fn parse_batch(json: &[u8]) -> Result<Vec<PresenceUpdate>, RoutingError> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Shape {
            One(PresenceUpdate),
            Many(Vec<PresenceUpdate>),
            Collection { value: Vec<PresenceUpdate> },
        }
        let shape: Shape =
            serde_json::from_slice(json).map_err(|e| RoutingError::BadPresence(e.to_string()))?;
        Ok(match shape {
            Shape::One(p) => vec![p],
            Shape::Many(v) | Shape::Collection { value: v } => v,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_nine_graph_availabilities_map() {
        use Presence::*;
        let cases = [
            ("Available", Available),
            ("AvailableIdle", Available),
            ("Away", Away),
            ("BeRightBack", Away),
            ("Busy", Busy),
            ("BusyIdle", Busy),
            ("DoNotDisturb", Busy),
            ("Offline", Offline),
            ("PresenceUnknown", Offline),
        ];
        for (graph, want) in cases {
            assert_eq!(Presence::from_graph(graph).unwrap(), want, "{graph}");
        }
        assert_eq!(Presence::from_graph("available").unwrap(), Available);
        assert!(matches!(Presence::from_graph("OnThePhone"), Err(RoutingError::UnknownPresence(_))));
        assert!(Presence::from_graph("").is_err());
    }

    #[test]
    fn presence_serializes_by_name() {
        assert_eq!(serde_json::to_string(&Presence::Available).unwrap(), "\"Available\"");
        let p: Presence = serde_json::from_str("\"Away\"").unwrap();
        assert_eq!(p, Presence::Away);
        assert_eq!(Presence::default(), Presence::Offline);
    }

    #[test]
    fn graph_presence_documents_parse_single_array_and_collection() {
        let one = br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users('x')/presence/$entity",
            "id":"fa8bf3dc-eca7-46b7-bad1-db199b62afc3","availability":"Available","activity":"Available",
            "statusMessage":null}"#;
        let v = PresenceUpdate::parse_batch(one).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].id.as_deref(), Some("fa8bf3dc-eca7-46b7-bad1-db199b62afc3"));
        assert_eq!(v[0].presence().unwrap(), Presence::Available);

        let arr = br#"[{"availability":"Busy","activity":"InACall"},{"availability":"Away"}]"#;
        let v = PresenceUpdate::parse_batch(arr).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].activity.as_deref(), Some("InACall"));
        assert_eq!(v[1].activity, None);

        let coll = br#"{"value":[{"id":"a","availability":"DoNotDisturb","activity":"Presenting"}]}"#;
        let v = PresenceUpdate::parse_batch(coll).unwrap();
        assert_eq!(v[0].presence().unwrap(), Presence::Busy);

        assert!(PresenceUpdate::parse_batch(b"{\"activity\":\"x\"}").is_err());
        assert!(PresenceUpdate::parse_batch(b"not json").is_err());
    }
}
