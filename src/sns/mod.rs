//! Amazon SNS HTTP(S) message verification, with no knowledge of workflows or storage.
//!
//! A delivery goes through, in order:
//! 1. [`is_raw_delivery`] on `x-amz-sns-rawdelivery`: raw messages have no signature and are
//!    refused with [`SnsError::RawDelivery`].
//! 2. [`SnsMessage::parse`]: the envelope, kept exactly as received.
//! 3. [`SnsVerifier::verify`]: topic policy, freshness, certificate host, certificate and
//!    signature. It returns a [`VerifiedMessage`].
//! 4. For a `SubscriptionConfirmation`, [`confirm_subscription`] GETs the signed,
//!    host-pinned `SubscribeURL`.
//!
//! Every network access goes through [`HttpFetcher`]; [`HttpsFetcher::with_endpoint`] takes
//! a transport override (the configuration reads it from `AWS_ENDPOINT_URL_SNS` /
//! `AWS_ENDPOINT_URL`) that applies after the URL rules have passed, which is how tests play
//! SNS on loopback. [`SnsError::kind`] classes each failure; `crate::http::error` turns the class into a status.

mod certificate;
mod confirmation;
mod error;
mod fetcher;
mod message;
mod signing;
mod topic_arn;
mod url_rules;
mod verifier;

pub use certificate::{CertificateCache, MAX_CERTIFICATE_BYTES, SigningCertificate};
pub use confirmation::{MAX_CONFIRMATION_BYTES, confirm_subscription, subscription_arn};
pub use error::SnsError;
pub use fetcher::{
    FetchError, FetchedBody, FetcherConfig, HttpFetcher, HttpsFetcher, LazyHttpsFetcher,
};
pub use message::{MessageType, SnsMessage, is_raw_delivery};
pub use signing::SignatureVersion;
pub use topic_arn::{Partition, TopicArn, is_region};
pub use url_rules::{host_and_path, validate_signing_cert_url, validate_subscribe_url};
pub use verifier::{SnsPolicy, SnsVerifier, VerifiedMessage, VerifierConfig};
