//! The OTLP exporter's HTTP client: the blocking `ureq` agent the webhook already uses, in place
//! of reqwest (which would bring a second HTTP stack and TLS setup into the binary).
//!
//! The SDK's batch processor drives the export future on its own thread (`block_on`), so a
//! blocking request inside `send_bytes` holds up that thread only, never a call or the runtime.

use std::time::Duration;

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

/// Response bodies of a collector are a few bytes (an `ExportTraceServiceResponse`); more is
/// read up to this and the rest dropped with the connection.
const MAX_RESPONSE_BODY: u64 = 64 * 1024;

#[derive(Debug)]
pub struct UreqClient {
    agent: ureq::Agent,
}

impl UreqClient {
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            // The exporter classifies statuses itself (retryable 429/502/503/504, else failed).
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .user_agent(concat!("attendant/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self { agent }
    }
}

#[async_trait::async_trait]
impl HttpClient for UreqClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let request = Request::from_parts(parts, body.to_vec());
        let mut response = self.agent.run(request)?;
        let body = response.body_mut().with_config().limit(MAX_RESPONSE_BODY).read_to_vec().unwrap_or_default();
        let (parts, _) = response.into_parts();
        Ok(Response::from_parts(parts, Bytes::from(body)))
    }
}
