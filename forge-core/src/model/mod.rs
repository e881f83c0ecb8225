//! The domain entities of SPEC §3.1, §5, §6 and §9, with the serde shapes the API uses.

mod deploy;
mod job;
mod release;
mod run;

pub use deploy::*;
pub use job::*;
pub use release::*;
pub use run::*;
