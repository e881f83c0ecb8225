//! Cosign-compatible signing: our verifier on both stores, skopeo (containers/image) on the
//! registry, tampering, keys through the secret port, and redaction of key material.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use async_trait::async_trait;
use bytes::Bytes;
use common::*;
use forge_core::ports::{ImageStore, ProviderSchema, SecretProvider, SecretRef, SecretValue};
use forge_core::retry::RetryPolicy;
use forge_oci::sign::*;
use forge_oci::*;
use p256::pkcs8::{EncodePrivateKey, LineEnding};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn new_key() -> SigningKey {
    SigningKey::random(&mut rand::rngs::OsRng)
}

fn signer() -> KeySigner {
    KeySigner::from_signing_key(new_key())
}

fn image(message: &str) -> BuiltImage {
    let mut input = release_input();
    input.message = message.into();
    build_release_image(&input).unwrap()
}

/// Replaces the signature artifact of `to` with the one of `from` (an attacker copying a
/// valid signature onto another manifest).
async fn copy_signature(store: &dyn ImageStore, repo: &str, from: &Digest, to: &Digest) {
    let m = store.get_manifest(repo, &signature_tag(from)).await.unwrap();
    store.put_manifest(repo, &signature_tag(to), &m.media_type, m.bytes).await.unwrap();
}

/// Rewrites the payload of the first signature (keeping its signature annotation).
async fn tamper_payload(store: &dyn ImageStore, repo: &str, digest: &Digest, edit: impl Fn(String) -> String) {
    let tag = signature_tag(digest);
    let stored = store.get_manifest(repo, &tag).await.unwrap();
    let mut m = ImageManifest::parse(&stored.bytes).unwrap();
    let payload = store.get_blob(repo, m.layers[0].digest.as_str()).await.unwrap();
    let changed = edit(String::from_utf8(payload.to_vec()).unwrap());
    assert_ne!(changed.as_bytes(), &payload[..], "the edit must change the payload");
    let d = Descriptor::of(MEDIA_TYPE_SIMPLE_SIGNING, changed.as_bytes());
    store.put_blob(repo, d.digest.as_str(), Bytes::from(changed)).await.unwrap();
    m.layers[0].digest = d.digest;
    m.layers[0].size = d.size;
    store.put_manifest(repo, &tag, MEDIA_TYPE_OCI_MANIFEST, Bytes::from(m.to_bytes())).await.unwrap();
}

// ---------------------------------------------------------------- layout store

#[test]
fn layout_sign_and_verify_round_trip_in_cosign_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::open(dir.path()).unwrap();
    let s = signer();
    rt().block_on(async {
        let img = image("one");
        let digest = push_image(&store, REPO, &img, &["v1"]).await.unwrap();
        let signed = sign_image(&store, REPO, &digest, &s).await.unwrap();
        assert!(signed.written);
        assert_eq!(signed.signature_tag, format!("sha256-{}.sig", digest.hex()));

        // The artifact, as cosign lays it out.
        let stored = store.get_manifest(REPO, &signed.signature_tag).await.unwrap();
        assert_eq!(stored.digest, signed.signature_manifest_digest);
        let m = ImageManifest::parse(&stored.bytes).unwrap();
        assert_eq!(m.media_type.as_deref(), Some(MEDIA_TYPE_OCI_MANIFEST));
        assert_eq!(m.config.media_type, MEDIA_TYPE_OCI_CONFIG);
        assert_eq!(m.layers.len(), 1);
        assert_eq!(m.layers[0].media_type, "application/vnd.dev.cosign.simplesigning.v1+json");
        let sig = m.layers[0].annotation("dev.cosignproject.cosign/signature").unwrap();
        let payload = store.get_blob(REPO, m.layers[0].digest.as_str()).await.unwrap();
        assert_eq!(
            std::str::from_utf8(&payload).unwrap(),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"{REPO}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        // The signature is base64 DER ECDSA over the payload, checked independently of our
        // verifier with the p256 primitives.
        use base64::Engine as _;
        use p256::ecdsa::signature::Verifier as _;
        let der = base64::engine::general_purpose::STANDARD.decode(sig).unwrap();
        let sig = p256::ecdsa::DerSignature::try_from(der.as_slice()).unwrap();
        s.verifying_key().verify(&payload, &sig).unwrap();

        let report = verify_signature(&store, REPO, &digest, &[*s.verifying_key()]).await.unwrap();
        assert!(report.ok, "{report:?}");
        assert!(report.signed);
        assert_eq!(report.signatures[0].key_id.as_deref(), Some(s.key_id().as_str()));
        assert_eq!(report.reason(), None);
        // The layout index holds the tag scheme.
        let names: Vec<String> = store.entries().unwrap().into_iter().filter_map(|e| e.ref_name).collect();
        assert!(names.contains(&format!("{REPO}:{}", signed.signature_tag)), "{names:?}");
    });
}

#[test]
fn resigning_is_idempotent_and_more_keys_append() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::open(dir.path()).unwrap();
    let (a, b) = (signer(), signer());
    rt().block_on(async {
        let digest = push_image(&store, REPO, &image("x"), &["v1"]).await.unwrap();
        let first = sign_image(&store, REPO, &digest, &a).await.unwrap();
        let again = sign_image(&store, REPO, &digest, &a).await.unwrap();
        assert!(!again.written);
        assert_eq!(first.signature_manifest_digest, again.signature_manifest_digest);
        sign_image(&store, REPO, &digest, &b).await.unwrap();
        let r = verify_signature(&store, REPO, &digest, &[*b.verifying_key()]).await.unwrap();
        assert!(r.ok);
        assert_eq!(r.signatures.len(), 2);
        assert!(!r.signatures[0].ok && r.signatures[1].ok, "{r:?}");
        let r = verify_signature(&store, REPO, &digest, &[*a.verifying_key()]).await.unwrap();
        assert!(r.ok);
    });
}

#[test]
fn layout_rejects_every_tampered_case() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::open(dir.path()).unwrap();
    let s = signer();
    let keys = [*s.verifying_key()];
    rt().block_on(async {
        // Unsigned.
        let unsigned = push_image(&store, REPO, &image("unsigned"), &["u"]).await.unwrap();
        let r = verify_signature(&store, REPO, &unsigned, &keys).await.unwrap();
        assert!(!r.ok && !r.signed);
        assert!(r.reason().unwrap().contains("no signature artifact"));

        // Wrong key.
        let a = push_image(&store, REPO, &image("a"), &["a"]).await.unwrap();
        sign_image(&store, REPO, &a, &s).await.unwrap();
        let other = signer();
        let r = verify_signature(&store, REPO, &a, &[*other.verifying_key()]).await.unwrap();
        assert!(!r.ok && r.signed);
        assert!(r.reason().unwrap().contains("not valid for any"), "{r:?}");

        // Changed manifest: the tag now points at another manifest, the attacker copies the
        // old signature onto it.
        let changed = push_image(&store, REPO, &image("a, changed"), &["a"]).await.unwrap();
        copy_signature(&store, REPO, &a, &changed).await;
        let r = verify_signature(&store, REPO, &changed, &keys).await.unwrap();
        assert!(!r.ok);
        assert!(r.reason().unwrap().contains("signed for another manifest"), "{r:?}");

        // Signature for another digest: a valid signature of B stored as C's.
        let b = push_image(&store, REPO, &image("b"), &["b"]).await.unwrap();
        let c = push_image(&store, REPO, &image("c"), &["c"]).await.unwrap();
        sign_image(&store, REPO, &b, &s).await.unwrap();
        copy_signature(&store, REPO, &b, &c).await;
        assert!(!verify_signature(&store, REPO, &c, &keys).await.unwrap().ok);
        assert!(verify_signature(&store, REPO, &b, &keys).await.unwrap().ok);

        // Changed payload: the digest claim edited to the target, the signature kept.
        let d = push_image(&store, REPO, &image("d"), &["d"]).await.unwrap();
        sign_image(&store, REPO, &b, &s).await.unwrap();
        copy_signature(&store, REPO, &b, &d).await;
        let (bs, ds) = (b.to_string(), d.to_string());
        tamper_payload(&store, REPO, &d, |p| p.replace(&bs, &ds)).await;
        let r = verify_signature(&store, REPO, &d, &keys).await.unwrap();
        assert!(!r.ok);
        assert!(r.reason().unwrap().contains("not valid"), "{r:?}");

        // Changed payload: another repository identity.
        let e = push_image(&store, REPO, &image("e"), &["e"]).await.unwrap();
        sign_image(&store, REPO, &e, &s).await.unwrap();
        tamper_payload(&store, REPO, &e, |p| p.replace(REPO, "acme/shop/api")).await;
        assert!(!verify_signature(&store, REPO, &e, &keys).await.unwrap().ok);

        // Signed for another repository (validly, by the trusted key).
        let f = push_image(&store, REPO, &image("f"), &["f"]).await.unwrap();
        let opts =
            SignOptions { docker_reference: Some("registry.example/acme/shop/api".into()), ..Default::default() };
        sign_image_with(&store, REPO, &f, &s, &opts).await.unwrap();
        let r = verify_signature(&store, REPO, &f, &keys).await.unwrap();
        assert!(!r.ok);
        assert!(r.reason().unwrap().contains("signed for repository"), "{r:?}");

        // A garbage signature annotation.
        let g = push_image(&store, REPO, &image("g"), &["g"]).await.unwrap();
        sign_image(&store, REPO, &g, &s).await.unwrap();
        let tag = signature_tag(&g);
        let mut m = ImageManifest::parse(&store.get_manifest(REPO, &tag).await.unwrap().bytes).unwrap();
        m.layers[0] = m.layers[0].clone().with_annotation(ANNOTATION_SIGNATURE, "bm90IGEgc2lnbmF0dXJl");
        store.put_manifest(REPO, &tag, MEDIA_TYPE_OCI_MANIFEST, Bytes::from(m.to_bytes())).await.unwrap();
        assert!(!verify_signature(&store, REPO, &g, &keys).await.unwrap().ok);
    });
}

#[test]
fn policy_enforces_with_one_line_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::open(dir.path()).unwrap();
    let s = signer();
    rt().block_on(async {
        let signed = push_image(&store, REPO, &image("s"), &["s"]).await.unwrap();
        let unsigned = push_image(&store, REPO, &image("u"), &["u"]).await.unwrap();
        sign_image(&store, REPO, &signed, &s).await.unwrap();
        let policy = Policy { required_keys: vec![*s.verifying_key()] };
        policy.enforce(&store, REPO, &signed).await.unwrap();
        let e = policy.enforce(&store, REPO, &unsigned).await.unwrap_err();
        assert!(matches!(e, SignError::Unsigned { .. }) && e.is_verdict());
        assert!(!e.to_string().contains('\n'));
        let wrong = Policy { required_keys: vec![*signer().verifying_key()] };
        let e = wrong.enforce(&store, REPO, &signed).await.unwrap_err();
        assert!(matches!(e, SignError::Untrusted { .. }), "{e}");
        assert!(!e.to_string().contains('\n'));
        assert!(e.to_string().contains("no valid signature from a trusted key"), "{e}");
        let none = Policy { required_keys: vec![] };
        assert!(matches!(none.enforce(&store, REPO, &signed).await.unwrap_err(), SignError::NoKeys));
        assert!(format!("{policy:?}").contains(&s.key_id()));
    });
}

#[test]
fn policy_from_environment_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (signer(), signer());
    let pa = dir.path().join("a.pub");
    let pb = dir.path().join("b.pub");
    std::fs::write(&pa, a.public_key_pem().unwrap()).unwrap();
    std::fs::write(&pb, b.public_key_pem().unwrap()).unwrap();
    let both = format!("{}, {} ,", pa.display(), pb.display());
    let env = |app: Option<&str>, sidecar: Option<&str>| {
        let (app, sidecar) = (app.map(str::to_owned), sidecar.map(str::to_owned));
        move |name: &str| match name {
            ENV_APP_KEYS => app.clone(),
            ENV_SIDECAR_KEYS => sidecar.clone(),
            _ => None,
        }
    };
    assert!(Policy::from_lookup(env(None, None)).unwrap().is_none());
    assert!(Policy::from_lookup(env(Some(" , "), None)).unwrap().is_none());
    let p = Policy::from_lookup(env(Some(&both), None)).unwrap().unwrap();
    assert_eq!(p.required_keys, vec![*a.verifying_key(), *b.verifying_key()]);
    // The sidecar's setting wins over the Application's.
    let p = Policy::from_lookup(env(Some(&both), Some(&pb.display().to_string()))).unwrap().unwrap();
    assert_eq!(p.required_keys, vec![*b.verifying_key()]);
    let e = Policy::from_lookup(env(Some("/nonexistent/key.pub"), None)).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/key.pub"), "{e}");
    assert_eq!(ENV_APP_KEYS, "ARGOCD_ENV_FORGE_SIGNATURE_KEYS");
}

// ---------------------------------------------------------------- keys and secrets

/// An in-memory secret provider (the port; forge-secrets adapters are tested on their own).
struct Mem(BTreeMap<String, SecretValue>);

#[async_trait]
impl SecretProvider for Mem {
    fn name(&self) -> &str {
        "mem"
    }
    fn schema(&self) -> ProviderSchema {
        ProviderSchema::default()
    }
    async fn resolve(&self, r: &SecretRef) -> forge_core::Result<SecretValue> {
        let name = r.field("name").unwrap_or_default();
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| forge_core::Error::NotFound { component: "mem", what: format!("secret {name}") })
    }
}

fn mem_ref(name: &str) -> SecretRef {
    SecretRef { provider: "mem".into(), fields: [("name".to_owned(), serde_json::json!(name))].into() }
}

fn pkcs8_pem(key: &SigningKey) -> String {
    key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
}

/// PBES2 (PBKDF2-SHA256, AES-256-CBC) with few iterations: scrypt's defaults take a minute in
/// a debug build.
fn encrypted_pem(key: &SigningKey, password: &str) -> String {
    use p256::pkcs8::der::EncodePem as _;
    let der = p256::SecretKey::from(key).to_pkcs8_der().unwrap();
    let info = p256::pkcs8::PrivateKeyInfo::try_from(der.as_bytes()).unwrap();
    let params =
        p256::pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsaltsalt", &[7u8; 16]).unwrap();
    let enc = info.encrypt_with_params(params, password).unwrap();
    let enc = p256::pkcs8::EncryptedPrivateKeyInfo::try_from(enc.as_bytes()).unwrap();
    enc.to_pem(LineEnding::LF).unwrap()
}

#[test]
fn keys_load_through_the_secret_port_in_every_supported_format() {
    let key = new_key();
    let pem = pkcs8_pem(&key);
    let enc = encrypted_pem(&key, "hunter2-password");
    let sec1 = p256::SecretKey::from(&key).to_sec1_pem(LineEnding::LF).unwrap().to_string();
    let provider = Mem(
        [
            ("plain".to_owned(), SecretValue::from_string(pem.clone())),
            ("enc".to_owned(), SecretValue::from_string(enc.clone())),
            ("sec1".to_owned(), SecretValue::from_string(sec1)),
            ("pw".to_owned(), SecretValue::from_string("hunter2-password".into())),
            ("badpw".to_owned(), SecretValue::from_string("wrong-password".into())),
            ("cosign".to_owned(), SecretValue::from_string(
                "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n".into(),
            )),
        ]
        .into(),
    );
    let want = *key.verifying_key();
    rt().block_on(async {
        for (k, pw) in [("plain", None), ("enc", Some("pw")), ("sec1", None)] {
            let pw = pw.map(mem_ref);
            let s = KeySigner::from_secrets(&provider, &mem_ref(k), pw.as_ref()).await.unwrap();
            assert_eq!(s.verifying_key(), &want, "{k}");
        }
        let mut errors = Vec::new();
        // Encrypted without a password, with the wrong one, cosign's format, a missing secret.
        for (k, pw) in
            [("enc", None), ("enc", Some("badpw")), ("cosign", None), ("missing", None), ("plain", Some("nope"))]
        {
            let pw = pw.map(mem_ref);
            let e = KeySigner::from_secrets(&provider, &mem_ref(k), pw.as_ref()).await.unwrap_err();
            errors.push(format!("{e} {e:?}"));
        }
        assert!(errors[0].contains("encrypted: configure a password"), "{}", errors[0]);
        assert!(errors[1].contains("cannot decrypt"), "{}", errors[1]);
        assert!(errors[2].contains("not supported"), "{}", errors[2]);
        assert!(errors[3].contains("mem(name=missing)"), "{}", errors[3]);
        assert!(errors[4].contains("signing key password"), "{}", errors[4]);
        // No error, and no Debug, shows key material or a password.
        let body = |p: &str| p.lines().filter(|l| !l.starts_with("-----")).collect::<String>();
        let scalar = hex::encode(key.to_bytes());
        let s = KeySigner::from_pem("k", &SecretValue::from_string(pem.clone()), None).unwrap();
        errors.push(format!("{s:?}"));
        for text in &errors {
            for secret in [body(&pem), body(&enc), scalar.clone(), "hunter2".into(), "wrong-password".into()] {
                assert!(!text.contains(&secret[..20.min(secret.len())]), "leak in {text}");
            }
        }
    });
}

#[test]
fn public_keys_parse_and_bad_ones_are_refused() {
    let s = signer();
    let pem = s.public_key_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(&parse_public_key("k", &pem).unwrap(), s.verifying_key());
    let priv_pem = pkcs8_pem(&new_key());
    let e = parse_public_key("k.pem", &priv_pem).unwrap_err().to_string();
    assert!(e.contains("found a private key") && !e.contains(&priv_pem[40..60]), "{e}");
    assert!(parse_public_key("k", "junk").is_err());
    let e = KeySigner::from_pem("k", &SecretValue::from_string(pem), None).unwrap_err();
    assert!(e.to_string().contains("public key"), "{e}");
}

// ---------------------------------------------------------------- registry + skopeo

fn registry(addr: &str) -> RegistryStore {
    let retry = RetryPolicy { attempts: 3, ..RetryPolicy::fast() };
    RegistryStore::new(addr.parse().unwrap(), RegistryConfig { retry, ..RegistryConfig::default() }).unwrap()
}

fn unique_repo(name: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("forge-test/sign-{name}-{n}")
}

/// skopeo copy with a `sigstoreSigned` policy for `repo` trusting `pub_pem`; Ok(()) when
/// skopeo accepts, Err(stderr) when it refuses.
fn skopeo_copy(addr: &str, repo: &str, reference: &str, pub_pem: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cosign.pub");
    std::fs::write(&key, pub_pem).unwrap();
    let policy = serde_json::json!({
        "default": [{"type": "reject"}],
        "transports": {"docker": {format!("{addr}/{repo}"): [{
            "type": "sigstoreSigned",
            "keyPath": key,
            "signedIdentity": {"type": "matchRepository"},
        }]}},
    });
    let policy_path = dir.path().join("policy.json");
    std::fs::write(&policy_path, serde_json::to_vec(&policy).unwrap()).unwrap();
    let regd = dir.path().join("registries.d");
    std::fs::create_dir(&regd).unwrap();
    std::fs::write(regd.join("forge.yaml"), format!("docker:\n  {addr}:\n    use-sigstore-attachments: true\n"))
        .unwrap();
    let sep = if reference.starts_with("sha256:") { "@" } else { ":" };
    let out = Command::new("skopeo")
        .arg("--policy")
        .arg(&policy_path)
        .arg("--registries.d")
        .arg(&regd)
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{addr}/{repo}{sep}{reference}"))
        .arg(format!("oci:{}:x", dir.path().join("out").display()))
        .output()
        .expect("running skopeo");
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

/// An independent verifier of the cosign layout: Python's standard library reads the registry
/// (manifest digest, `sha256-<hex>.sig`, payload blobs, strict payload checks) and the OpenSSL
/// CLI checks the ECDSA signature. Exit 0 when one signature is valid.
const PY_VERIFY: &str = r#"
import base64, hashlib, json, subprocess, sys, tempfile, os, urllib.request
addr, repo, ref, pub = sys.argv[1:5]
A = 'application/vnd.oci.image.manifest.v1+json'
def get(path, accept=None):
    req = urllib.request.Request(f'http://{addr}/v2/{repo}/{path}')
    if accept: req.add_header('Accept', accept)
    try:
        with urllib.request.urlopen(req) as r: return r.read()
    except urllib.error.HTTPError as e:
        if e.code == 404: return None
        raise
m = get(f'manifests/{ref}', A)
digest = 'sha256:' + hashlib.sha256(m).hexdigest()
sig = get(f'manifests/sha256-{digest[7:]}.sig', A)
if sig is None: sys.exit('no signature artifact')
reasons = []
for layer in json.loads(sig)['layers']:
    if layer['mediaType'] != 'application/vnd.dev.cosign.simplesigning.v1+json': continue
    payload = get(f"blobs/{layer['digest']}")
    if 'sha256:' + hashlib.sha256(payload).hexdigest() != layer['digest']: reasons.append('blob digest'); continue
    p = json.loads(payload)
    c = p['critical']
    if c['type'] != 'cosign container image signature': reasons.append('type'); continue
    if c['image']['docker-manifest-digest'] != digest: reasons.append('digest mismatch'); continue
    if c['identity']['docker-reference'] != f'{addr}/{repo}': reasons.append('identity'); continue
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, 'p'), 'wb').write(payload)
        open(os.path.join(d, 's'), 'wb').write(base64.b64decode(layer['annotations']['dev.cosignproject.cosign/signature']))
        r = subprocess.run(['openssl', 'dgst', '-sha256', '-verify', pub, '-signature', os.path.join(d, 's'), os.path.join(d, 'p')], capture_output=True)
        if r.returncode == 0: sys.exit(0)
        reasons.append('bad signature')
sys.exit('refused: ' + ', '.join(reasons))
"#;

fn openssl_verify(addr: &str, repo: &str, reference: &str, pub_pem: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cosign.pub");
    std::fs::write(&key, pub_pem).unwrap();
    let out = Command::new("python3")
        .args(["-c", PY_VERIFY, addr, repo, reference])
        .arg(&key)
        .output()
        .expect("running python3");
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

fn skopeo_available() -> bool {
    let ok = Command::new("skopeo").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("FORGE_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "skopeo is required (FORGE_TEST_REQUIRE_SERVICES=1): apt-get install skopeo"
        );
        eprintln!("note: skipping the skopeo checks, skopeo is not installed");
    }
    ok
}

/// Debian's skopeo 1.9.3 is built with sigstore support patched out: every sigstoreSigned
/// requirement is refused with this message (fail-closed).
const DEBIAN_SIGSTORE_DISABLED: &str = "sigstore disabled";

/// Independent verdicts on `reference`: the Python+OpenSSL verifier always; skopeo's when it
/// supports sigstore (`skopeo` is `None` otherwise).
fn independent(
    addr: &str,
    repo: &str,
    reference: &str,
    pub_pem: &str,
    skopeo: bool,
) -> Vec<(&'static str, Result<(), String>)> {
    let mut out = vec![("python+openssl", openssl_verify(addr, repo, reference, pub_pem))];
    if skopeo {
        out.push(("skopeo", skopeo_copy(addr, repo, reference, pub_pem)));
    }
    out
}

fn accepted(verdicts: Vec<(&'static str, Result<(), String>)>) {
    for (who, v) in verdicts {
        if let Err(e) = v {
            panic!("{who} refused a valid signature: {e}");
        }
    }
}

fn refused(verdicts: Vec<(&'static str, Result<(), String>)>, what: &str) {
    for (who, v) in verdicts {
        assert!(v.is_err(), "{who} accepted the {what} image");
    }
}

#[test]
fn registry_signatures_verify_with_our_code_and_independent_tools_and_tampering_is_refused() {
    let Some(addr) = service("FORGE_TEST_REGISTRY") else { return };
    let reg = registry(&addr);
    let s = signer();
    let public = s.public_key_pem().unwrap();
    let keys = [*s.verifying_key()];
    let repo = unique_repo("web");
    let opts = SignOptions { docker_reference: Some(registry_reference(&reg, &repo)), ..Default::default() };
    let rt = rt();
    // Signed: every verifier accepts (by tag and by digest).
    let signed = rt.block_on(async {
        let d = push_image(&reg, &repo, &image("signed"), &["v1"]).await.unwrap();
        let out = sign_image_with(&reg, &repo, &d, &s, &opts).await.unwrap();
        assert_eq!(out.docker_reference, format!("{addr}/{repo}"));
        let r = verify_signature(&reg, &repo, &d, &keys).await.unwrap();
        assert!(r.ok, "{r:?}");
        Policy { required_keys: keys.to_vec() }.enforce(&reg, &repo, &d).await.unwrap();
        d
    });
    // Does this skopeo verify sigstore signatures at all?
    let skopeo = skopeo_available()
        && match skopeo_copy(&addr, &repo, "v1", &public) {
            Ok(()) => true,
            Err(e) if e.contains(DEBIAN_SIGSTORE_DISABLED) => {
                eprintln!("note: this skopeo refuses every sigstoreSigned policy: {}", e.trim());
                // Fail-closed: an unsigned image is refused the same way.
                false
            }
            Err(e) => panic!("skopeo refused a signed image: {e}"),
        };
    accepted(independent(&addr, &repo, "v1", &public, skopeo));
    accepted(independent(&addr, &repo, signed.as_str(), &public, skopeo));

    // Wrong key.
    let wrong = signer();
    assert!(!rt.block_on(verify_signature(&reg, &repo, &signed, &[*wrong.verifying_key()])).unwrap().ok);
    refused(independent(&addr, &repo, "v1", &wrong.public_key_pem().unwrap(), skopeo), "wrong-key");

    // Unsigned.
    let unsigned = rt.block_on(push_image(&reg, &repo, &image("unsigned"), &["unsigned"])).unwrap();
    assert!(!rt.block_on(verify_signature(&reg, &repo, &unsigned, &keys)).unwrap().signed);
    refused(independent(&addr, &repo, "unsigned", &public, skopeo), "unsigned");

    // Changed manifest: `v1` re-pointed to another manifest, the old signature copied onto it.
    let changed = rt.block_on(async {
        let d = push_image(&reg, &repo, &image("signed, changed"), &["v1"]).await.unwrap();
        copy_signature(&reg, &repo, &signed, &d).await;
        let r = verify_signature(&reg, &repo, &d, &keys).await.unwrap();
        assert!(!r.ok && r.reason().unwrap().contains("another manifest"), "{r:?}");
        d
    });
    refused(independent(&addr, &repo, "v1", &public, skopeo), "changed-manifest");
    refused(independent(&addr, &repo, changed.as_str(), &public, skopeo), "changed-manifest");

    // Signature for another digest: a valid signature of `other` stored as `target`'s.
    rt.block_on(async {
        let other = push_image(&reg, &repo, &image("other"), &["other"]).await.unwrap();
        let target = push_image(&reg, &repo, &image("target"), &["target"]).await.unwrap();
        sign_image_with(&reg, &repo, &other, &s, &opts).await.unwrap();
        copy_signature(&reg, &repo, &other, &target).await;
        assert!(!verify_signature(&reg, &repo, &target, &keys).await.unwrap().ok);
    });
    accepted(independent(&addr, &repo, "other", &public, skopeo));
    refused(independent(&addr, &repo, "target", &public, skopeo), "other-digest");

    // Changed payload: the digest claim rewritten to the victim's, signature kept.
    rt.block_on(async {
        let victim = push_image(&reg, &repo, &image("victim"), &["victim"]).await.unwrap();
        let other = push_image(&reg, &repo, &image("other"), &["other"]).await.unwrap();
        copy_signature(&reg, &repo, &other, &victim).await;
        let (o, v) = (other.to_string(), victim.to_string());
        tamper_payload(&reg, &repo, &victim, |p| p.replace(&o, &v)).await;
        let r = verify_signature(&reg, &repo, &victim, &keys).await.unwrap();
        assert!(!r.ok && r.reason().unwrap().contains("not valid"), "{r:?}");
    });
    refused(independent(&addr, &repo, "victim", &public, skopeo), "changed-payload");
}

#[test]
fn default_identity_is_the_store_repository() {
    // Signed without the registry host: our verifier accepts it; containers/image would need
    // `<registry>/<repo>` for matchRepository (see the module docs).
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::open(dir.path()).unwrap();
    let s = signer();
    rt().block_on(async {
        let d = push_image(&store, REPO, &image("id"), &["t"]).await.unwrap();
        let out = sign_image(&store, REPO, &d, &s).await.unwrap();
        assert_eq!(out.docker_reference, REPO);
        let e = sign_image(&store, "", &d, &s).await.unwrap_err();
        assert!(matches!(e, SignError::InvalidInput { .. }));
    });
}

// ---------------------------------------------------------------- CLI glue

/// `forge release verify --key` (bins/forge/src/cmd/release_verify.rs), compiled here.
#[path = "../../bins/forge/src/cmd/release_verify.rs"]
mod release_verify;

#[test]
fn cli_release_verify_with_keys_on_a_layout() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    let store = LayoutStore::open(&layout).unwrap();
    let s = signer();
    let key = dir.path().join("cosign.pub");
    let other = dir.path().join("other.pub");
    std::fs::write(&key, s.public_key_pem().unwrap()).unwrap();
    std::fs::write(&other, signer().public_key_pem().unwrap()).unwrap();
    let target = format!("{}:{REPO}:{SHA}", layout.display());
    rt().block_on(async {
        let img = build_release_image(&release_input()).unwrap();
        push_image(&store, REPO, &img, &[SHA]).await.unwrap();
    });
    // Unsigned: the digests pass, the signature check fails.
    assert_eq!(release_verify::run(&target, false).unwrap(), 0);
    assert_eq!(release_verify::run_with_keys(&target, std::slice::from_ref(&key), true).unwrap(), 1);
    rt().block_on(async {
        let d = store.get_manifest(REPO, SHA).await.unwrap().digest.parse::<Digest>().unwrap();
        sign_image(&store, REPO, &d, &s).await.unwrap();
    });
    assert_eq!(release_verify::run_with_keys(&target, std::slice::from_ref(&key), false).unwrap(), 0);
    assert_eq!(release_verify::run_with_keys(&target, &[other.clone(), key.clone()], true).unwrap(), 0);
    assert_eq!(release_verify::run_with_keys(&target, std::slice::from_ref(&other), false).unwrap(), 1);
    assert!(release_verify::run_with_keys(&target, &[], false).is_err());
    assert!(release_verify::run_with_keys(&target, &[dir.path().join("missing.pub")], false).is_err());
}

#[test]
fn cli_release_verify_with_keys_on_a_registry() {
    let Some(addr) = service("FORGE_TEST_REGISTRY") else { return };
    let reg = registry(&addr);
    let repo = unique_repo("cli");
    let s = signer();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cosign.pub");
    std::fs::write(&key, s.public_key_pem().unwrap()).unwrap();
    let opts = SignOptions { docker_reference: Some(registry_reference(&reg, &repo)), ..Default::default() };
    rt().block_on(async {
        let d = push_image(&reg, &repo, &build_release_image(&release_input()).unwrap(), &[SHA]).await.unwrap();
        sign_image_with(&reg, &repo, &d, &s, &opts).await.unwrap();
    });
    assert_eq!(release_verify::run_with_keys(&format!("{addr}/{repo}:{SHA}"), &[key], true).unwrap(), 0);
}
