//! The TLS configuration: rustls with the `ring` provider and the platform's
//! trust roots (on Linux the system CA bundle, honouring `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`), plus any extra roots the builder was given.
//!
//! Built here and handed to reqwest as a finished config so that no
//! process-wide default crypto provider has to be installed.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls_platform_verifier::Verifier;

use crate::BuildError;

/// Reads every certificate in a PEM bundle.
pub(crate) fn parse_pem_certificates(
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, BuildError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| BuildError::InvalidCertificate(error.to_string()))?;
    if certificates.is_empty() {
        return Err(BuildError::InvalidCertificate(
            "no `BEGIN CERTIFICATE` block found in the PEM text".to_owned(),
        ));
    }
    Ok(certificates)
}

pub(crate) fn client_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<ClientConfig, BuildError> {
    let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
    // Fails only over trust roots: none found, or an extra root rejected.
    let verifier =
        Verifier::new_with_extra_roots(extra_roots, provider.clone()).map_err(|error| {
            BuildError::Tls(format!(
                "cannot load trust roots ({error}); install the system CA bundle \
                 (ca-certificates), point SSL_CERT_FILE at a PEM bundle, or add roots \
                 with ClientBuilder::add_root_certificates_pem"
            ))
        })?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| BuildError::Tls(error.to_string()))?
        .dangerous()
        // Not dangerous: this is the platform's full WebPKI verification; the
        // `dangerous()` step is only how rustls lets a custom verifier in.
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // A preconfigured config is used as is, so ALPN is ours to set: HTTP/2
    // where the server offers it, else HTTP/1.1.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
