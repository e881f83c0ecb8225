//! Parsing `<ref|path>` arguments such as those of `forge release verify`.

use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::OciError;
use crate::layout::LayoutStore;
use crate::manifest::{ANNOTATION_REF_NAME, ARTIFACT_TYPE_RELEASE};

/// Where an image is: in an OCI image layout directory or in a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLocation {
    /// An OCI image layout. `reference` is `None` (every release manifest in `index.json`), a
    /// `ref.name` (`acme/shop/web:<sha>` or a plain tag) or a digest.
    Layout {
        /// The layout directory.
        path: PathBuf,
        /// Which manifest.
        reference: Option<String>,
    },
    /// A registry reference `<registry>/<repository>[:<tag>|@<digest>]` (tag defaults to
    /// `latest`).
    Registry {
        /// Host, port and optional path prefix.
        registry: forge_core::Registry,
        /// Repository path.
        repository: String,
        /// Tag or digest.
        reference: String,
    },
}

impl ImageLocation {
    /// Parses a target: an existing directory (optionally followed by `:<ref.name>` or
    /// `@<digest>`) is a layout; anything else a registry reference. `oci:` prefixes the
    /// layout form explicitly, as in skopeo.
    pub fn parse(target: &str) -> Result<Self, OciError> {
        if let Some(rest) = target.strip_prefix("oci:") {
            return Ok(Self::layout_form(rest).unwrap_or_else(|| Self::Layout { path: rest.into(), reference: None }));
        }
        if let Some(l) = Self::layout_form(target) {
            return Ok(l);
        }
        let bad = |m: &str| OciError::invalid("image reference", format!("`{target}`: {m}"));
        let (name, reference) = if let Some((n, d)) = target.split_once('@') {
            let _: Digest = d.parse()?;
            (n, d.to_owned())
        } else {
            match target.rsplit_once(':') {
                Some((n, t)) if !t.contains('/') => (n, t.to_owned()),
                _ => (target, "latest".to_owned()),
            }
        };
        let (registry, repository) = name
            .split_once('/')
            .ok_or_else(|| bad("expected `<registry>/<repository>[:<tag>]` or a layout directory"))?;
        if repository.is_empty() || reference.is_empty() {
            return Err(bad("empty repository or tag"));
        }
        Ok(Self::Registry {
            registry: registry.parse().map_err(|e: forge_core::IdError| bad(&e.to_string()))?,
            repository: repository.to_ascii_lowercase(),
            reference,
        })
    }

    fn layout_form(s: &str) -> Option<Self> {
        if Path::new(s).is_dir() {
            return Some(Self::Layout { path: s.into(), reference: None });
        }
        for sep in [':', '@'] {
            if let Some((p, r)) = s.split_once(sep)
                && Path::new(p).is_dir()
            {
                return Some(Self::Layout { path: p.into(), reference: Some(r.to_owned()) });
            }
        }
        None
    }
}

/// The `(repository, reference)` pairs to verify in a layout: the given reference, or every
/// index entry that is (or may be) a release image, by digest.
pub fn layout_targets(store: &LayoutStore, reference: Option<&str>) -> Result<Vec<(String, String)>, OciError> {
    if let Some(r) = reference {
        if Digest::is_digest_reference(r) && r.starts_with("sha256:") {
            return Ok(vec![(String::new(), r.to_owned())]);
        }
        return Ok(vec![match r.rsplit_once(':') {
            Some((repo, tag)) => (repo.to_owned(), tag.to_owned()),
            None => (String::new(), r.to_owned()),
        }]);
    }
    let mut out: Vec<(String, String)> = store
        .entries()?
        .into_iter()
        .filter(|e| e.descriptor.artifact_type.as_deref().is_none_or(|t| t == ARTIFACT_TYPE_RELEASE))
        .map(|e| {
            (e.descriptor.annotation(ANNOTATION_REF_NAME).unwrap_or("").to_owned(), e.descriptor.digest.to_string())
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.1 == b.1);
    Ok(out.into_iter().map(|(_, d)| (String::new(), d)).collect())
}
