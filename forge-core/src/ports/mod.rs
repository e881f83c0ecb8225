//! Ports: the traits adapters implement (ARCHITECTURE "Ports and adapters").
//!
//! All ports are dyn-compatible ([`async_trait`](async_trait::async_trait)) and are held as
//! `Arc<dyn Port>`. Required methods are the primitive operations; conveniences live on `…Ext`
//! traits with blanket impls. Every method returns the core [`Error`](crate::Error).

mod blob;
mod commit_status;
mod events;
mod executor;
mod gitops;
mod identity;
mod image;
mod queue;
mod secret;
mod store;
mod workflow;

pub use blob::*;
pub use commit_status::*;
pub use events::*;
pub use executor::*;
pub use gitops::*;
pub use identity::*;
pub use image::*;
pub use queue::*;
pub use secret::*;
pub use store::*;
pub use workflow::*;
