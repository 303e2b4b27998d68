//! The seams between the application and the world: small traits, one job each.
//! Adapters (`crate::adapters`) implement them for SQLite, DynamoDB and SQS.

mod email;
mod outbound;
mod queue;
mod store;

pub use email::{EmailError, EmailMessage, EmailSender, NO_EMAIL_TRANSPORT, NoEmailTransport};
pub use outbound::{
    HttpSender, OutboundError, OutboundRequest, OutboundResponse, PublishError, SnsAttribute,
    SnsPublishRequest, SnsPublisher,
};

pub use queue::{DelayedQueue, MAX_QUEUE_DELAY, QueueError, Redelivery, WorkItem, WorkQueue};
pub use store::{
    AdminKeyStore, ApiKeyStore, CallbackStore, ExecutionQuery, ExecutionStore, ItemStore,
    KeyUsageStore, Outbox, PendingDispatch, Recorded, RefusalSampleStore, RejectionStore,
    SecretStore, Store, StoreError, SubscriptionStore, WorkflowStore, WorkflowVersionStore,
};
