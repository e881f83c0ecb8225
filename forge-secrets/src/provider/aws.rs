//! The `aws` provider: `{provider: aws, secretName, region?, key?}` reads AWS Secrets Manager.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::Region;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use forge_core::ports::{ProviderSchema, SecretProvider, SecretRef, SecretRefError, SecretValue};
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use super::{field, optional, required};
use crate::document::{Format, pick_key};
use crate::error::SecretsError;

/// How long one `GetSecretValue` may take, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Resolves `{provider: aws, secretName, region?, key?}` from AWS Secrets Manager.
///
/// Credentials come from the SDK's default chain (environment, profile, web identity / IRSA,
/// container and instance metadata). The endpoint can be overridden through the standard
/// variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`). The region is the
/// reference's `region`, else the provider's default region, else the SDK's (`AWS_REGION`,
/// profile). `secretName` may be a name or an ARN.
///
/// String secrets resolve to their text and binary secrets to their bytes; with `key`, the
/// secret (string or binary) is parsed as JSON and the field at `key` is the value.
pub struct AwsProvider {
    default_region: Option<String>,
    sdk: OnceCell<SdkConfig>,
    clients: Mutex<HashMap<String, Client>>,
}

impl AwsProvider {
    /// The provider name used in references.
    pub const NAME: &'static str = "aws";

    /// A provider configured from the environment on first use.
    pub fn new() -> Self {
        Self { default_region: None, sdk: OnceCell::new(), clients: Mutex::new(HashMap::new()) }
    }

    /// A provider using `region` for references without one.
    pub fn with_default_region(region: impl Into<String>) -> Self {
        Self { default_region: Some(region.into()), ..Self::new() }
    }

    /// Resolves a reference, with this crate's error.
    pub async fn fetch(&self, reference: &SecretRef) -> Result<SecretValue, SecretsError> {
        let name = required(reference, "secretName")?;
        let key = optional(reference, "key")?;
        let (region, client) = self.client(reference).await?;
        tracing::debug!(reference = %reference, region = %region, "reading secret from AWS Secrets Manager");
        let mut out =
            client.get_secret_value().secret_id(name).send().await.map_err(|e| map_sdk_error(reference, &region, e))?;
        let text = out.secret_string.take().map(Zeroizing::new);
        let binary = out.secret_binary.take().map(|b| Zeroizing::new(b.into_inner()));
        let bytes: Zeroizing<Vec<u8>> = match (text, binary) {
            (Some(t), _) => Zeroizing::new(t.as_bytes().to_vec()),
            (None, Some(b)) => b,
            (None, None) => {
                return Err(SecretsError::NotFound {
                    reference: reference.clone(),
                    message: format!("secret `{name}` has no current value in region {region}"),
                });
            }
        };
        match key {
            None => Ok(SecretValue::new(bytes.to_vec())),
            Some(key) => pick_key(reference, &bytes, Format::Json, key),
        }
    }

    /// The region for `reference` and a client for it.
    async fn client(&self, reference: &SecretRef) -> Result<(String, Client), SecretsError> {
        let sdk = self.sdk.get_or_init(load_sdk_config).await;
        let region = match (
            optional(reference, "region")?,
            self.default_region.as_ref().filter(|r| !r.is_empty()),
            sdk.region().filter(|r| !r.as_ref().is_empty()),
        ) {
            (Some(r), _, _) => r.to_owned(),
            (None, Some(r), _) => r.clone(),
            (None, None, Some(r)) => r.as_ref().to_owned(),
            (None, None, None) => {
                return Err(SecretsError::Configuration {
                    reference: reference.clone(),
                    message: "no AWS region: set `region` in the reference or AWS_REGION in the environment".to_owned(),
                });
            }
        };
        let mut clients = self.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let client = clients
            .entry(region.clone())
            .or_insert_with(|| {
                let conf =
                    aws_sdk_secretsmanager::config::Builder::from(sdk).region(Region::new(region.clone())).build();
                Client::from_conf(conf)
            })
            .clone();
        Ok((region, client))
    }
}

async fn load_sdk_config() -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder().operation_timeout(OPERATION_TIMEOUT).build();
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).load().await
}

impl Default for AwsProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AwsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsProvider")
            .field("default_region", &self.default_region)
            .field("configured", &self.sdk.initialized())
            .finish()
    }
}

/// Error codes meaning the credentials were refused.
const AUTH_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
];

/// Error codes worth retrying.
const TRANSIENT_CODES: &[&str] =
    &["ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "InternalServiceError"];

fn map_sdk_error(
    reference: &SecretRef,
    region: &str,
    e: SdkError<GetSecretValueError, aws_sdk_secretsmanager::config::http::HttpResponse>,
) -> SecretsError {
    let r = reference.clone();
    // The whole chain, for transport failures (no service message to quote).
    let context = match &e {
        SdkError::ServiceError(_) => String::new(),
        other => DisplayErrorContext(other).to_string(),
    };
    match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let err = se.into_err();
            let code = err.code().unwrap_or_default().to_owned();
            let text = err.message().unwrap_or("no message").trim_end_matches('.').to_owned();
            let message = match (code.is_empty(), err.to_string()) {
                (false, _) => format!("{code}: {text}"),
                (true, shown) if !shown.is_empty() && !shown.starts_with("unhandled error") => shown,
                (true, _) => format!("HTTP {status} without an error code: {text}"),
            };
            match err {
                GetSecretValueError::ResourceNotFoundException(_) => SecretsError::NotFound {
                    reference: r,
                    message: format!("{message}; looked in region {region}, check `secretName` and `region`"),
                },
                GetSecretValueError::InvalidRequestException(_)
                    if message.contains("deletion") || message.contains("deleted") =>
                {
                    SecretsError::Deleted { reference: r, message }
                }
                GetSecretValueError::DecryptionFailure(_) => SecretsError::AccessDenied {
                    reference: r,
                    message: format!("{message} (the caller may lack kms:Decrypt on the secret's key)"),
                },
                _ if code == "AccessDeniedException" || status == 403 && !AUTH_CODES.contains(&code.as_str()) => {
                    SecretsError::AccessDenied { reference: r, message }
                }
                _ if AUTH_CODES.contains(&code.as_str()) || status == 401 => SecretsError::Unauthorized {
                    reference: r,
                    message: format!("{message} (check the AWS credentials the default chain found)"),
                },
                _ if TRANSIENT_CODES.contains(&code.as_str()) || status >= 500 || status == 429 => {
                    SecretsError::Transient { reference: r, message }
                }
                _ => SecretsError::Provider { reference: r, provider: AwsProvider::NAME.to_owned(), message },
            }
        }
        SdkError::TimeoutError(_) => SecretsError::Transient {
            reference: r,
            message: format!("Secrets Manager in region {region} did not answer in time"),
        },
        SdkError::DispatchFailure(d) => {
            let message = format!("cannot reach Secrets Manager in region {region}: {context}");
            if d.is_user() {
                SecretsError::Configuration { reference: r, message }
            } else {
                SecretsError::Transient { reference: r, message }
            }
        }
        SdkError::ResponseError(_) => SecretsError::Transient {
            reference: r,
            message: format!("unreadable response from Secrets Manager: {context}"),
        },
        SdkError::ConstructionFailure(_) => SecretsError::Configuration {
            reference: r,
            message: format!("cannot build the request (region {region}): {context}"),
        },
        _ => SecretsError::Provider { reference: r, provider: AwsProvider::NAME.to_owned(), message: context },
    }
}

/// Whether `region` looks like an AWS region (`us-east-1`, `us-gov-west-1`, …).
fn looks_like_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.first().is_some_and(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

#[async_trait]
impl SecretProvider for AwsProvider {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            fields: vec![
                field("secretName", true, "the secret's name or ARN in AWS Secrets Manager"),
                field("region", false, "the AWS region (default: AWS_REGION or the profile's region)"),
                field("key", false, "a field of a JSON secret; a dotted path such as `db.password`"),
            ],
        }
    }

    fn validate(&self, reference: &SecretRef) -> Result<(), SecretRefError> {
        forge_core::ports::validate_secret_ref(&self.schema(), reference)?;
        match reference.field("region") {
            Some(region) if !looks_like_region(region) => Err(SecretRefError {
                field: "region".to_owned(),
                message: format!("`{region}` is not an AWS region (expected something like `us-east-1`)"),
            }),
            _ => Ok(()),
        }
    }

    async fn resolve(&self, reference: &SecretRef) -> forge_core::Result<SecretValue> {
        self.fetch(reference).await.map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aws_sdk_secretsmanager::config::http::HttpResponse;
    use aws_sdk_secretsmanager::error::ErrorMetadata;
    use aws_sdk_secretsmanager::types::error::{DecryptionFailure, InvalidRequestException, ResourceNotFoundException};

    use super::*;

    fn map(err: GetSecretValueError, status: u16) -> SecretsError {
        let mut fields = BTreeMap::new();
        fields.insert("secretName".to_owned(), serde_json::Value::String("app/db".to_owned()));
        let r = SecretRef { provider: "aws".into(), fields };
        let raw = HttpResponse::new(status.try_into().unwrap_or_else(|_| panic!("status {status}")), "".into());
        map_sdk_error(&r, "eu-west-1", SdkError::service_error(err, raw))
    }

    fn generic(code: &str, status: u16) -> SecretsError {
        map(GetSecretValueError::generic(ErrorMetadata::builder().code(code).message("the message").build()), status)
    }

    #[test]
    fn service_errors_map_to_semantic_variants() {
        let e = generic("AccessDeniedException", 400);
        assert!(matches!(e, SecretsError::AccessDenied { .. }), "{e:?}");
        assert_eq!(e.to_string(), "secret aws(secretName=app/db): access denied: AccessDeniedException: the message");
        assert!(matches!(generic("Anything", 403), SecretsError::AccessDenied { .. }));
        for code in ["UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"] {
            assert!(matches!(generic(code, 400), SecretsError::Unauthorized { .. }), "{code}");
        }
        assert!(matches!(generic("ThrottlingException", 400), SecretsError::Transient { .. }));
        assert!(matches!(generic("", 503), SecretsError::Transient { message, .. } if message.starts_with("HTTP 503")));
        assert!(matches!(generic("SomethingElse", 400), SecretsError::Provider { .. }));

        let nf = GetSecretValueError::ResourceNotFoundException(
            ResourceNotFoundException::builder().message("can't find it").build(),
        );
        let e = map(nf, 400);
        assert_eq!(
            e.to_string(),
            "secret aws(secretName=app/db): not found: ResourceNotFoundException: can't find it; \
             looked in region eu-west-1, check `secretName` and `region`"
        );
        let del = GetSecretValueError::InvalidRequestException(
            InvalidRequestException::builder().message("it was marked for deletion.").build(),
        );
        assert!(matches!(map(del, 400), SecretsError::Deleted { .. }));
        let kms = GetSecretValueError::DecryptionFailure(DecryptionFailure::builder().message("kms says no").build());
        assert!(matches!(map(kms, 400), SecretsError::AccessDenied { message, .. } if message.contains("kms:Decrypt")));
    }

    #[test]
    fn region_shapes() {
        for ok in ["us-east-1", "us-gov-west-1", "eu-central-2", "ap-southeast-4", "cn-north-1"] {
            assert!(looks_like_region(ok), "{ok}");
        }
        for bad in ["", "us", "us-east", "US-EAST-1", "us_east_1", "us-east-1a", "-east-1", "us--1"] {
            assert!(!looks_like_region(bad), "{bad}");
        }
    }
}
