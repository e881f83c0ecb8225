//! # forge-oci
//!
//! Everything that turns a release or an artifact's provenance into OCI content and moves it:
//!
//! - the **release image** of SPEC §5.2 ([`build_release_image`], read back with
//!   [`ReleaseImage`]) and the **artifact tracking image** of SPEC §4.5
//!   ([`build_tracking_image`], [`TrackingImage`]), byte-reproducible: the same inputs give
//!   the same manifest digest on any machine (sorted JSON keys and lists, tar entries with mode
//!   0644, uid/gid 0, empty owner names, mtime = commit time; the commit time is the only
//!   timestamp);
//! - an **SPDX 2.3** SBOM generator ([`SpdxDocument`]) and an **in-toto v1 Statement** with a
//!   **SLSA provenance v1** predicate ([`Statement`]);
//! - two [`ImageStore`](forge_core::ports::ImageStore) adapters: the on-disk OCI image layout
//!   [`LayoutStore`] (always available) and the distribution-API [`RegistryStore`] (feature
//!   `registry`), plus [`push_image`], [`pull_image`] and [`copy`] between any two stores;
//! - **safe reading**: every digest and size verified on pull; tar extraction refusing
//!   absolute paths, `..`, non-regular entries and anything over [`ExtractLimits`];
//! - **cosign-compatible signing** ([`sign`]: [`sign::sign_image`], [`sign::verify_signature`],
//!   [`sign::Policy`]);
//! - **offline verification**: [`verify_release`] re-derives every digest and
//!   [`reproduce_release`] rebuilds the image from its recorded inputs.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use forge_core::model::{AliasKind, ReleaseAlias, ReleaseTrigger, TriggerType};
//! use forge_oci::{LayoutStore, ReleaseInput, Resource, build_release_image, pull_release, push_image};
//!
//! let input = ReleaseInput {
//!     id: "acme/shop/web/0123456789abcdef0123456789abcdef01234567".parse()?,
//!     number: 42,
//!     aliases: vec![ReleaseAlias { kind: AliasKind::Numeric, alias: "42".into() }],
//!     trigger: ReleaseTrigger { kind: TriggerType::BranchPush, branch: Some("main".into()), tag: None, actor: "ci".into() },
//!     author: "Ada <ada@example.com>".into(),
//!     message: "Ship it".into(),
//!     committed_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
//!     artifacts: vec![],
//!     resources: vec![Resource::from_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n")?],
//! };
//! let image = build_release_image(&input)?;
//! assert_eq!(image.digest, build_release_image(&input)?.digest); // reproducible
//!
//! let dir = tempfile::tempdir()?;
//! let store = LayoutStore::open(dir.path())?;
//! let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! let release = rt.block_on(async {
//!     push_image(&store, "acme/shop/web", &image, &[input.id.commit.as_str()]).await?;
//!     pull_release(&store, "acme/shop/web", input.id.commit.as_str()).await
//! })?;
//! let files = release.extract_resources(&Default::default())?;
//! assert_eq!(files[0].name, "0001-ConfigMap-web.yaml");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Layout of the images
//!
//! Both are OCI image manifests (`schemaVersion: 2`, `mediaType`
//! `application/vnd.oci.image.manifest.v1+json`) with the OCI empty descriptor as config (the
//! 2-byte `{}` blob, without the optional `data` field) and the annotations
//! `org.opencontainers.image.created` (commit time, RFC 3339 UTC, seconds),
//! `org.opencontainers.image.revision` (commit SHA) and `org.opencontainers.image.source`
//! (`https://github.com/<owner>/<name>`). Every layer carries
//! `org.catalyst-forge.layer.type`. JSON documents are compact, with fields in declaration
//! order and maps sorted. Resource files are named `NNNN-<Kind>-<name>.yaml`, numbered from
//! `0001` in declaration order, the kind as written (so the inputs can be recovered from the
//! image for [`reproduce_release`]); at most 9,999 resources.
//!
//! ## Registry client: why not `oci-client`
//!
//! The [`RegistryStore`] is a thin client over `reqwest` (rustls, no native TLS) rather than
//! `oci-client`: the port needs blob-level primitives (HEAD a blob, upload one blob, PUT raw
//! manifest bytes under a tag or digest) with our own digest checks, retry policy (SPEC §10),
//! error mapping and a request counter, and `oci-client`'s image-level API would have to be
//! bent around them while pulling in `oci-spec` and its derive stack (compile time on a small
//! machine). The distribution API subset used is small: `GET /v2/`, `HEAD`/`GET` blobs,
//! `POST`+`PUT` uploads, `PUT`/`GET` manifests, `GET tags/list`, with Basic and Bearer-token
//! auth from a `WWW-Authenticate` challenge.
//!
//! ## Interoperability
//!
//! Checked by the tests against Debian's docker-registry 2.8.2, skopeo 1.9.3 and umoci 0.4.7:
//!
//! - The registry needs an `Accept` header listing the OCI manifest type on manifest reads,
//!   has no referrers API, and returns tags unsorted: [`RegistryStore`] always sends
//!   [`MANIFEST_ACCEPT`] and sorts tags.
//! - `skopeo copy docker://… oci:DIR:tag` of a pushed release or tracking image keeps the
//!   manifest digest byte for byte, and [`LayoutStore`] reads the result (tag `tag` of
//!   repository `""`); `skopeo inspect` (without `--raw`) refuses artifact manifests, so use
//!   `--raw`.
//! - `skopeo copy oci:DIR:tag docker://…` of a layout written by [`LayoutStore`] (repository
//!   `""`) keeps the digest too.
//! - `umoci unpack` refuses Forge images, as expected for artifacts: `config blob is not correct
//!   mediatype application/vnd.oci.image.config.v1+json: application/vnd.oci.empty.v1+json`.
//!   They are not runnable container images; read them with this crate or `skopeo copy`.
//!
//! ## Performance
//!
//! `cargo bench -p forge-oci --bench release` (1,000 resources, 5.2 MB of YAML, a 6.1 MB
//! resources layer; 2-core machine, shared): packaging 12.3 ms (target ≤ 100 ms);
//! verify + extract 8.5 ms against 8.0 ms for the SHA-256 of the same layer in process
//! (1.06×; target ≤ 2×) and 39.6 ms for the `sha256sum` tool on it (process start included).
//! Fuzzing (`fuzz/`, targets `oci_extract` and `oci_manifest`, 120 s each): 2.0 M and 0.78 M
//! runs, no crash.
//! Pushing an unchanged release sends one `HEAD` per blob and one manifest `PUT`, and uploads
//! nothing (tested with the store's request counter).
//!
//! ## Crate features
//! - `registry` (default): [`RegistryStore`], the OCI distribution registry adapter.

mod digest;
mod error;
mod image;
mod layout;
mod location;
mod manifest;
mod provenance;
#[cfg(feature = "registry")]
mod registry;
mod release;
mod sbom;
pub mod sign;
mod tarball;
mod tracking;
mod verify;

pub use digest::Digest;
pub use error::{OciError, Result};
pub use image::{BuiltImage, PullLimits, PulledImage, copy, copy_image, pull_image, pull_image_with, push_image};
pub use layout::{LayoutEntry, LayoutStore};
pub use location::{ImageLocation, layout_targets};
pub use manifest::*;
pub use provenance::*;
#[cfg(feature = "registry")]
pub use registry::{RegistryAuth, RegistryConfig, RegistryStore, RequestStats, Scheme};
pub use release::{
    ArtifactEntry, MAX_RESOURCES, RELEASE_API_VERSION, ReleaseImage, ReleaseInput, ReleaseMetadata, ReleaseSection,
    Resource, ResourcesSection, SourceSection, build_release_image,
};
pub use sbom::{
    SbomFile, SbomInput, SpdxChecksum, SpdxCreationInfo, SpdxDocument, SpdxFile, SpdxPackage, SpdxRelationship,
    sbom_files_from_tar, sbom_files_from_tar_gz,
};
pub use sign::{SignError, SignatureReport, sign_image, verify_signature};
pub use tarball::{ExtractLimits, ExtractedFile, extract_tar, extract_tar_to_dir, write_deterministic_tar};
pub use tracking::{
    BuildInfo, FORGE_BUILDER_ID, PublishedLocation, Sbom, SourceRef, TrackedArtifact, TrackingImage, TrackingInput,
    TrackingMetadata, build_tracking_image,
};
pub use verify::{
    Check, ReproduceReport, VerifyReport, is_content_error, pull_release, reproduce_image, reproduce_release,
    verify_release,
};
