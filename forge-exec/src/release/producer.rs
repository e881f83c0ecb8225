//! Producers (SPEC §4.2): build an artifact into a staging directory and describe it.
//!
//! - [`ScriptProducer`] (platform extension for local use and tests) runs the artifact's
//!   `script.run` with `shell -c` in the project directory, `$FORGE_STAGING` pointing at an
//!   empty staging directory.
//! - [`EarthlyProducer`] runs `earthly --ci --artifact ./<project>+<target>/* <staging>/` (the
//!   target must `SAVE ARTIFACT` its outputs); it needs `earthly` on `PATH`.
//!
//! Both then inspect the staging directory with [`collect_output`]: a container is an OCI image
//! layout (a folder holding `oci-layout`), a binary or an archive is the single regular file
//! left there. Binaries are identified from their ELF/Mach-O/PE header with `goblin`; archives
//! from their magic bytes (tar.gz entries are counted).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use async_trait::async_trait;
use forge_core::model::ArtifactType;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::ReleaseError;

/// What a producer is asked to build.
#[derive(Debug, Clone)]
pub struct ProducerRequest {
    /// Project name.
    pub project: String,
    /// Project directory relative to the repository root.
    pub project_path: String,
    /// `owner/name`.
    pub repository: String,
    /// Repository root on disk.
    pub repository_path: PathBuf,
    /// Commit SHA.
    pub commit_sha: String,
    /// Release id (the canonical triplet).
    pub release_id: String,
    /// Artifact name.
    pub artifact: String,
    /// Artifact type.
    pub kind: ArtifactType,
    /// The artifact's producer configuration.
    pub config: forge_config::schema::Producer,
    /// Empty staging directory the outputs go into.
    pub staging_path: PathBuf,
}

/// What a producer made (SPEC §4.2 response).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProducerResponse {
    /// Artifact name.
    pub name: String,
    /// Project.
    pub project: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: ArtifactType,
    /// Type-specific output (container: image_ref, image_id, digest, size; binary: path,
    /// executable, arch, os, size, digest, static; archive: path, format, size, digest,
    /// entries, content_type). `path` and `location_type` are internal.
    pub output: serde_json::Map<String, Value>,
    /// Producer metadata.
    pub metadata: BTreeMap<String, String>,
    /// Where the output is on disk (file, or OCI layout folder for containers).
    #[serde(skip)]
    pub location: PathBuf,
    /// The artifact digest (`sha256:…`): file digest, or image manifest digest.
    #[serde(skip)]
    pub digest: String,
}

impl ProducerResponse {
    /// The output fields `@artifact` may see (internal `path` and `location_type` removed).
    pub fn public_output(&self) -> serde_json::Map<String, Value> {
        let mut o = self.output.clone();
        o.remove("path");
        o.remove("location_type");
        o
    }
}

/// Builds artifacts.
#[async_trait]
pub trait Producer: Send + Sync {
    /// The producer kind (`script`, `earthly`).
    fn kind(&self) -> &'static str;
    /// Builds the artifact into `req.staging_path` and describes it.
    async fn produce(&self, req: &ProducerRequest) -> Result<ProducerResponse, ReleaseError>;
}

async fn run_command(mut cmd: tokio::process::Command, what: &str, artifact: &str) -> Result<(), ReleaseError> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let out = cmd.output().await.map_err(|e| ReleaseError::Producer {
        artifact: artifact.to_owned(),
        message: format!("cannot start {what}: {e}"),
    })?;
    for line in String::from_utf8_lossy(&out.stdout).lines().chain(String::from_utf8_lossy(&out.stderr).lines()) {
        tracing::info!(target: "forge::producer", artifact, "{line}");
    }
    if !out.status.success() {
        let tail: String = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().to_owned();
        return Err(ReleaseError::Producer {
            artifact: artifact.to_owned(),
            message: format!(
                "{what} exited with {}{}",
                out.status,
                if tail.is_empty() { String::new() } else { format!(": {tail}") }
            ),
        });
    }
    Ok(())
}

/// The `script` producer.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScriptProducer;

#[async_trait]
impl Producer for ScriptProducer {
    fn kind(&self) -> &'static str {
        "script"
    }
    async fn produce(&self, req: &ProducerRequest) -> Result<ProducerResponse, ReleaseError> {
        let forge_config::schema::Producer::Script { run, shell, .. } = &req.config else {
            return Err(ReleaseError::Producer {
                artifact: req.artifact.clone(),
                message: "not a script producer".into(),
            });
        };
        let mut cmd = tokio::process::Command::new(shell);
        cmd.arg("-c")
            .arg(run)
            .current_dir(req.repository_path.join(&req.project_path))
            .env("FORGE_STAGING", &req.staging_path)
            .env("FORGE_ARTIFACT", &req.artifact)
            .env("FORGE_PROJECT", &req.project)
            .env("FORGE_COMMIT", &req.commit_sha)
            .env("FORGE_REPOSITORY", &req.repository);
        run_command(cmd, "the script producer", &req.artifact).await?;
        collect_output(req, "script")
    }
}

/// The `earthly` producer.
#[derive(Debug, Clone)]
pub struct EarthlyProducer {
    program: String,
}

impl Default for EarthlyProducer {
    fn default() -> Self {
        Self { program: "earthly".into() }
    }
}

impl EarthlyProducer {
    /// The exact command line for a request (without the program).
    pub fn command_line(req: &ProducerRequest) -> Vec<String> {
        let (target, args) = match &req.config {
            forge_config::schema::Producer::Earthly { target, args } => (target.as_str(), args.as_slice()),
            forge_config::schema::Producer::Script { .. } => ("", &[][..]),
        };
        let project = if req.project_path == "." { String::new() } else { req.project_path.clone() };
        let mut v = vec![
            "--ci".to_owned(),
            "--artifact".to_owned(),
            format!("./{project}{target}/*"),
            format!("{}/", req.staging_path.display()),
        ];
        v.extend(args.iter().cloned());
        v
    }
}

#[async_trait]
impl Producer for EarthlyProducer {
    fn kind(&self) -> &'static str {
        "earthly"
    }
    async fn produce(&self, req: &ProducerRequest) -> Result<ProducerResponse, ReleaseError> {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(Self::command_line(req)).current_dir(&req.repository_path);
        run_command(cmd, "earthly (is it installed and on PATH?)", &req.artifact).await?;
        collect_output(req, "earthly")
    }
}

/// How much of a file's start is kept for header inspection (executable and archive formats).
const INSPECT_BYTES: usize = 64 * 1024 * 1024;

/// Hashes a file in one pass, keeping its first [`INSPECT_BYTES`] for inspection:
/// `(digest, size, head)`.
fn sha256_file(path: &Path) -> Result<(String, u64, Vec<u8>), std::io::Error> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = Vec::new();
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
        let room = INSPECT_BYTES.saturating_sub(head.len());
        head.extend_from_slice(&buf[..n.min(room)]);
    }
    Ok((format!("sha256:{}", hex::encode(h.finalize())), size, head))
}

fn io_err(artifact: &str, action: &str, path: &Path, e: std::io::Error) -> ReleaseError {
    ReleaseError::Producer { artifact: artifact.to_owned(), message: format!("{action} {}: {e}", path.display()) }
}

fn regular_files(dir: &Path, artifact: &str) -> Result<Vec<PathBuf>, ReleaseError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| io_err(artifact, "reading", dir, e))? {
        let e = e.map_err(|e| io_err(artifact, "reading", dir, e))?;
        let ft = e.file_type().map_err(|err| io_err(artifact, "inspecting", &e.path(), err))?;
        if ft.is_file() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

fn find_layout(dir: &Path) -> Option<PathBuf> {
    if dir.join("oci-layout").is_file() {
        return Some(dir.to_path_buf());
    }
    let mut subdirs: Vec<PathBuf> =
        std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    subdirs.sort();
    subdirs.into_iter().find(|d| d.join("oci-layout").is_file())
}

/// Binary facts from an executable header: `(os, arch, static)`.
pub fn inspect_binary(data: &[u8]) -> (String, String, bool) {
    use goblin::Object;
    match Object::parse(data) {
        Ok(Object::Elf(elf)) => {
            let arch = match elf.header.e_machine {
                goblin::elf::header::EM_X86_64 => "amd64",
                goblin::elf::header::EM_AARCH64 => "arm64",
                goblin::elf::header::EM_386 => "386",
                goblin::elf::header::EM_ARM => "arm",
                goblin::elf::header::EM_RISCV => "riscv64",
                _ => "unknown",
            };
            let is_static = elf.interpreter.is_none() && elf.dynamic.is_none();
            ("linux".into(), arch.into(), is_static)
        }
        Ok(Object::Mach(goblin::mach::Mach::Binary(m))) => {
            let arch = match m.header.cputype() {
                goblin::mach::cputype::CPU_TYPE_X86_64 => "amd64",
                goblin::mach::cputype::CPU_TYPE_ARM64 => "arm64",
                _ => "unknown",
            };
            ("darwin".into(), arch.into(), false)
        }
        Ok(Object::Mach(_)) => ("darwin".into(), "universal".into(), false),
        Ok(Object::PE(pe)) => {
            let arch = match pe.header.coff_header.machine {
                goblin::pe::header::COFF_MACHINE_X86_64 => "amd64",
                goblin::pe::header::COFF_MACHINE_ARM64 => "arm64",
                goblin::pe::header::COFF_MACHINE_X86 => "386",
                _ => "unknown",
            };
            ("windows".into(), arch.into(), false)
        }
        // Scripts and anything else: an interpreter decides.
        _ => ("any".into(), "any".into(), false),
    }
}

/// Archive facts from magic bytes: `(format, content_type, entries)`.
pub fn inspect_archive(data: &[u8]) -> (String, String, Option<u64>) {
    if data.starts_with(&[0x1f, 0x8b]) {
        let entries = tar::Archive::new(flate2::read::GzDecoder::new(data))
            .entries()
            .ok()
            .map(|it| it.filter_map(|e| e.ok()).filter(|e| e.header().entry_type().is_file()).count() as u64);
        ("tar.gz".into(), "application/gzip".into(), entries)
    } else if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        ("zip".into(), "application/zip".into(), None)
    } else if data.starts_with(b"BZh") {
        ("tar.bz2".into(), "application/x-bzip2".into(), None)
    } else {
        ("unknown".into(), "application/octet-stream".into(), None)
    }
}

/// Describes what a producer left in the staging directory.
pub fn collect_output(req: &ProducerRequest, producer: &str) -> Result<ProducerResponse, ReleaseError> {
    let a = req.artifact.as_str();
    let missing = |what: &str| ReleaseError::Producer {
        artifact: a.to_owned(),
        message: format!("the producer left no {what} in {} ($FORGE_STAGING)", req.staging_path.display()),
    };
    let mut metadata = BTreeMap::from([("producer".to_owned(), producer.to_owned())]);
    let (output, location, digest) = match req.kind {
        ArtifactType::Container => {
            let layout = find_layout(&req.staging_path).ok_or_else(|| missing("OCI image layout"))?;
            let index_path = layout.join("index.json");
            let index: Value =
                serde_json::from_slice(&std::fs::read(&index_path).map_err(|e| io_err(a, "reading", &index_path, e))?)
                    .map_err(|e| ReleaseError::Producer {
                        artifact: a.to_owned(),
                        message: format!("invalid index.json: {e}"),
                    })?;
            let m = &index["manifests"][0];
            let digest = m["digest"].as_str().ok_or_else(|| missing("image manifest"))?.to_owned();
            let tag = m["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap_or("latest").to_owned();
            let manifest_path = layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
            let manifest: Value = serde_json::from_slice(
                &std::fs::read(&manifest_path).map_err(|e| io_err(a, "reading", &manifest_path, e))?,
            )
            .map_err(|e| ReleaseError::Producer {
                artifact: a.to_owned(),
                message: format!("invalid manifest: {e}"),
            })?;
            let size: u64 =
                manifest["layers"].as_array().map(|l| l.iter().filter_map(|x| x["size"].as_u64()).sum()).unwrap_or(0);
            metadata.insert("layout_tag".into(), tag.clone());
            let mut o = serde_json::Map::new();
            o.insert("image_ref".into(), json!(format!("oci:{}:{tag}", layout.display())));
            o.insert("image_id".into(), manifest["config"]["digest"].clone());
            o.insert("digest".into(), json!(digest));
            o.insert("size".into(), json!(size));
            o.insert("layers".into(), json!(manifest["layers"].as_array().map_or(0, Vec::len)));
            o.insert("location_type".into(), json!("oci-layout"));
            o.insert("path".into(), json!(layout.display().to_string()));
            (o, layout, digest)
        }
        ArtifactType::Binary | ArtifactType::Archive => {
            let files = regular_files(&req.staging_path, a)?;
            let file = match files.as_slice() {
                [one] => one.clone(),
                [] => return Err(missing("file")),
                many => {
                    return Err(ReleaseError::Producer {
                        artifact: a.to_owned(),
                        message: format!(
                            "the producer left {} files in $FORGE_STAGING; a {} artifact is one file",
                            many.len(),
                            req.kind.as_str()
                        ),
                    });
                }
            };
            let (digest, size, head) = sha256_file(&file).map_err(|e| io_err(a, "reading", &file, e))?;
            let mut o = serde_json::Map::new();
            o.insert("path".into(), json!(file.display().to_string()));
            o.insert("location_type".into(), json!("file"));
            o.insert("size".into(), json!(size));
            o.insert("digest".into(), json!(digest));
            o.insert("filename".into(), json!(file.file_name().map(|n| n.to_string_lossy().into_owned())));
            if req.kind == ArtifactType::Binary {
                let (os, arch, is_static) = inspect_binary(&head);
                let executable = executable(&file);
                o.insert("executable".into(), json!(executable));
                o.insert("os".into(), json!(os));
                o.insert("arch".into(), json!(arch));
                o.insert("static".into(), json!(is_static));
            } else {
                let (format, content_type, entries) = inspect_archive(&head);
                o.insert("format".into(), json!(format));
                o.insert("content_type".into(), json!(content_type));
                if let Some(n) = entries {
                    o.insert("entries".into(), json!(n));
                }
            }
            (o, file, digest)
        }
    };
    Ok(ProducerResponse {
        name: req.artifact.clone(),
        project: req.project.clone(),
        kind: req.kind,
        output,
        metadata,
        location,
        digest,
    })
}

#[cfg(unix)]
fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(not(unix))]
fn executable(_p: &Path) -> bool {
    false
}
