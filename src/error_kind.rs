//! The class of a failure, decided once by the layer that raises it. `crate::http::error`
//! turns each class into a status code, the CLI into an exit status; neither re-decides it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is unusable.
    BadRequest,
    /// No credential, or the wrong one.
    Unauthorized,
    /// Understood and refused (a forged or disallowed SNS message).
    Forbidden,
    NotFound,
    /// Existed, and is no longer usable (a used or expired resume URL).
    Gone,
    Conflict,
    /// A change that must say what it was based on did not (`If-Match`).
    PreconditionRequired,
    PayloadTooLarge,
    /// Well-formed, and refused for what it says: a body that does not match the workflow's
    /// `payload_schema`, or a dry-run or test run with nothing to work on.
    Unprocessable,
    /// The client did not send the body within the time allowed (local `serve` only).
    RequestTimeout,
    UnsupportedMediaType,
    /// A dependency outside the service failed (AWS for SNS certificates); retrying may work.
    BadGateway,
    /// Our own store or queue is down; nothing was accepted, retrying later works.
    Unavailable,
}
