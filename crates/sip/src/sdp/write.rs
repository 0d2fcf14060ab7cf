//! [`SessionDescription`] to SDP text, lines in the order of RFC 8866 §5, CRLF line ends.

use std::fmt::{self, Display, Formatter, Write};

use super::{Attribute, Connection, MediaDescription, SessionDescription};

impl Display for SessionDescription {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(
            f,
            "v=0\r\no={} {} {} {} {} {}\r\ns={}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            o.net_type,
            o.addr_type,
            o.address,
            self.session_name
        )?;
        // i=, u=, e=, p= precede c=; r=, z=, k= follow t=.
        for (k, v) in self.other.iter().filter(|(k, _)| matches!(k, 'i' | 'u' | 'e' | 'p')) {
            write!(f, "{k}={v}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "{c}")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={b}\r\n")?;
        }
        if self.times.is_empty() {
            f.write_str("t=0 0\r\n")?;
        }
        for t in &self.times {
            write!(f, "t={t}\r\n")?;
        }
        for (k, v) in self.other.iter().filter(|(k, _)| !matches!(k, 'i' | 'u' | 'e' | 'p')) {
            write!(f, "{k}={v}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "{a}")?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

impl Display for Connection {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "c={} {} {}\r\n", self.net_type, self.addr_type, self.address)
    }
}

impl Display for Attribute {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "a={}:{v}\r\n", self.name),
            None => write!(f, "a={}\r\n", self.name),
        }
    }
}

impl Display for MediaDescription {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut port = self.port.to_string();
        if let Some(n) = self.port_count {
            let _ = write!(port, "/{n}");
        }
        write!(f, "m={} {port} {} {}\r\n", self.media, self.protocol, self.formats.join(" "))?;
        for (k, v) in self.other.iter().filter(|(k, _)| *k == 'i') {
            write!(f, "{k}={v}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "{c}")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={b}\r\n")?;
        }
        for (k, v) in self.other.iter().filter(|(k, _)| *k != 'i') {
            write!(f, "{k}={v}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "{a}")?;
        }
        Ok(())
    }
}
