//! Reading a request body within bounds: at most `limit` bytes, and all of
//! it within `http.request_timeout_ms` of the handler's start, so a client
//! that sends its body a byte a second holds a connection no longer than a
//! client that sends nothing (actix bounds the request head by the same
//! setting).
//!
//! Owns: the read loop and why it stopped ([`BodyError`], with the status
//! each reason is answered with).
//! Must never: hold more than `limit` bytes, or wait past the deadline.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use tokio::time::Instant;

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body could not be read")]
    Unreadable,
    #[error(
        "the request body did not arrive within {} ms (`http.request_timeout_ms`); send the request at once",
        .timeout.as_millis()
    )]
    TimedOut { timeout: Duration },
}

impl BodyError {
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Unreadable => StatusCode::BAD_REQUEST,
            BodyError::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// Whether the connection must be closed after the answer: the rest of
    /// a late body is not worth waiting for.
    pub fn closes(&self) -> bool {
        matches!(self, BodyError::TimedOut { .. })
    }
}

/// Reads the body of `request`: at most `limit` bytes (a larger declared
/// `Content-Length` is refused before reading), all within `timeout`.
pub async fn read(
    request: &HttpRequest,
    payload: &mut web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<web::BytesMut, BodyError> {
    let deadline = Instant::now() + timeout;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = web::BytesMut::new();
    loop {
        let chunk = tokio::time::timeout_at(deadline, payload.next())
            .await
            .map_err(|_| BodyError::TimedOut { timeout })?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::FromRequest;
    use actix_web::dev::Payload;
    use actix_web::error::PayloadError;
    use actix_web::test::TestRequest;
    use futures_util::{Stream, stream};
    use std::pin::Pin;

    fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(work)
    }

    /// Reads, within `timeout`, a body that arrives as `chunks`, each after
    /// `gap`.
    async fn read_chunks(
        chunks: &'static [&'static [u8]],
        gap: Duration,
        limit: usize,
        timeout: Duration,
    ) -> Result<web::BytesMut, BodyError> {
        let arriving = stream::iter(chunks).then(move |chunk| async move {
            tokio::time::sleep(gap).await;
            Ok::<_, PayloadError>(web::Bytes::from_static(chunk))
        });
        let request = TestRequest::post().to_http_request();
        let stream: Pin<Box<dyn Stream<Item = Result<web::Bytes, PayloadError>>>> =
            Box::pin(arriving);
        let mut payload = web::Payload::from_request(&request, &mut Payload::from(stream))
            .await
            .unwrap();
        read(&request, &mut payload, limit, timeout).await
    }

    #[test]
    fn a_body_is_read_whole_within_its_limit_and_its_deadline() {
        let second = Duration::from_secs(1);
        let gap = Duration::from_millis(5);
        let body = block_on(read_chunks(&[b"{\"site\":", b"\"a\"}"], gap, 64, second));
        assert_eq!(&body.unwrap()[..], b"{\"site\":\"a\"}");
        let large = block_on(read_chunks(
            &[b"0123456789", b"0123456789"],
            gap,
            16,
            second,
        ));
        assert_eq!(large, Err(BodyError::TooLarge { limit: 16 }));
    }

    #[test]
    fn a_body_that_trickles_in_past_the_deadline_times_out() {
        // Each chunk comes well within the timeout; all of them do not.
        static SLOW: [&[u8]; 40] = [b"{"; 40];
        let timeout = Duration::from_millis(300);
        let answer = block_on(read_chunks(&SLOW, Duration::from_millis(50), 64, timeout));
        let error = answer.unwrap_err();
        assert_eq!(error, BodyError::TimedOut { timeout });
        assert_eq!(error.status(), StatusCode::REQUEST_TIMEOUT);
        assert!(error.closes());
        assert!(error.to_string().contains("`http.request_timeout_ms`"));
    }
}
