//! Forge secrets (SPEC §7): the provider registry, the `env`, `file` and `aws` providers, a
//! short-lived value cache and `forge secrets check`.
//!
//! A reference is `{provider, ...fields}` ([`SecretRef`]); the [`ProviderRegistry`] checks it
//! against its provider's schema when configuration loads (it is a
//! [`forge_core::ports::SecretRefValidator`]) and resolves it at the point of use only. Values
//! are [`SecretValue`]s: zeroed on drop, redacted in `Debug`, `Display` and serde, and never
//! put into logs or errors: errors name the reference and the provider's message instead.
//!
//! # Example
//!
//! ```
//! use forge_secrets::{ProviderRegistry, SecretRef};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("db.json");
//! std::fs::write(&path, r#"{"db": {"user": "forge", "password": "hunter2"}}"#)?;
//!
//! let registry = ProviderRegistry::with_defaults();
//! let reference: SecretRef = serde_json::from_value(serde_json::json!({
//!     "provider": "file", "path": path, "key": "db.password",
//! }))?;
//! registry.check(&reference)?; // what configuration loading does
//!
//! let value = registry.resolve(&reference).await?;
//! assert_eq!(value.expose(), b"hunter2");
//! assert_eq!(format!("{value:?}"), "SecretValue(<redacted>)");
//!
//! // A missing key is an error that names the reference, not the value.
//! let mut wrong = reference.clone();
//! wrong.fields.insert("key".into(), "db.pasword".into());
//! let err = registry.resolve(&wrong).await.err().ok_or("expected an error")?;
//! assert!(err.to_string().contains("db.pasword"));
//! assert!(!err.to_string().contains("hunter2"));
//! # Ok(())
//! # }
//! ```
//!
//! # Providers
//!
//! | provider | fields | value |
//! |---|---|---|
//! | `env` | `name` | the environment variable |
//! | `file` | `path`, `key?` | the file's bytes, or the field `key` of a JSON/YAML file |
//! | `aws` | `secretName`, `region?`, `key?` | the AWS Secrets Manager secret (string or binary), or its JSON field `key` |
//!
//! `key` is a top-level key or a dotted path (`db.password`, `hosts.0`). Register your own
//! provider (`vault`, `kubernetes`, …) with [`ProviderRegistry::register`].
//!
//! # Features
//!
//! - `aws`: the `aws` provider (`AwsProvider`), with aws-sdk-secretsmanager over rustls; credentials
//!   from the default chain (IRSA included), endpoint override through `AWS_ENDPOINT_URL`.
//! - `conformance`: the `conformance` module, a test suite every provider should pass.

mod cache;
mod check;
#[cfg(feature = "conformance")]
pub mod conformance;
mod document;
mod error;
mod provider;
mod registry;

pub use cache::{DEFAULT_TTL, SecretCache};
pub use check::{CheckEntry, CheckOutcome, CheckReport, check_references};
pub use error::{COMPONENT, SecretsError};
pub use forge_core::ports::{SecretProvider, SecretRef, SecretRefValidator, SecretValue};
#[cfg(feature = "aws")]
pub use provider::aws::AwsProvider;
pub use provider::env::EnvProvider;
pub use provider::file::FileProvider;
pub use registry::ProviderRegistry;
