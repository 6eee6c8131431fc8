//! The services handle every use case takes, and how it is put together from the configuration:
//! the store, the command pipeline, the providers, the trust pieces, delivery and the background
//! workers. It knows nothing of HTTP.

use std::sync::Arc;
use std::time::Duration;

use super::config::{Config, ConfigError, Mode};
use super::expiry::ExpiryScheduler;
use super::pipeline::{Pipeline, WriteMode};
use crate::delivery::Dispatcher;
use crate::documents::config::{DocumentSettings, DocumentStoreKind};
use crate::documents::seal::PlatformSeal;
use crate::documents::storage::{
    DocumentStore, DocumentStoreError, LocalDocumentStore, document_cipher_from_config,
};
use crate::metrics::Metrics;
use crate::pii::PiiCipher;
use crate::providers::archive::Archivers;
use crate::providers::s3::S3DocumentStore;
use crate::providers::sms::message_centre::MessageCentreSender;
use crate::providers::sms::{CountedSender, DevelopmentSmsSender, SenderKind, SmsSender};
use crate::store::clients::{ClientError, ClientRegistry, IssuedClient, NewClient};
use crate::store::nonces::NonceStore;
use crate::store::{Store, StoreError};
use crate::trust::Ca;
use crate::trust::timestamper::{LocalTimestamper, Timestamper};

/// What the use cases work with. Cheap to clone: every piece is shared.
#[derive(Debug, Clone)]
pub struct Services {
    pub store: Store,
    pub config: Arc<Config>,
    pub pii: Arc<PiiCipher>,
    pub pipeline: Pipeline,
    /// The API clients (configured and stored), who sign requests and receive callbacks.
    pub clients: ClientRegistry,
    /// Single-use nonces of signed requests and of face providers' callbacks.
    pub nonces: NonceStore,
    pub metrics: Arc<Metrics>,
    pub sms: Arc<dyn SmsSender>,
    /// The development sender behind `sms`, when it is the one in use: tests and the development
    /// message viewer read codes from it.
    pub development_sms: Option<Arc<DevelopmentSmsSender>>,
    /// Delivers the outbox (started by the workers when `[callbacks] enabled`).
    pub dispatcher: Dispatcher,
    /// Expires what passed its deadline (started when `[expiry] enabled`).
    pub expiry: ExpiryScheduler,
    /// The face providers in failover order (docs/face-providers.md).
    pub face: Arc<crate::providers::face::FaceProviders>,
    /// The platform CA (event certificates); `None` until one exists (production: `esign ca init`).
    pub ca: Option<Arc<crate::trust::Ca>>,
    /// esign's own RFC 3161 service behind `POST /tsa` (docs/trust.md); `None` without a CA.
    pub tsa: Option<Arc<crate::trust::tsa::TsaSigner>>,
    /// The CA's revocation status: CRLs and OCSP answers (`/ca/...`); `None` without a CA.
    pub revocations: Option<Arc<super::revocation::Revocations>>,
    /// Sealed contracts and archive certificates, encrypted at rest (docs/storage.md).
    pub documents: Arc<dyn crate::documents::storage::DocumentStore>,
    /// Signs download paths into short-lived URLs.
    pub links: Arc<crate::documents::links::Links>,
    /// The platform's seal and its timestamps; `None` without a CA.
    pub platform_seal: Option<Arc<PlatformSeal>>,
    pub archivers: Arc<Archivers>,
    /// What archive evidence must chain to when it is verified again.
    pub receipt_trust: Arc<crate::providers::archive::ReceiptTrust>,
    /// Wakes the sealing sweep (a contract was just signed).
    pub sealing: Arc<tokio::sync::Notify>,
    /// The CAs trusted for signers' own certificates (signMethod CA_CERT), and their CRLs.
    pub personal: Arc<super::signing::certificate::PersonalTrust>,
}

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Clients(#[from] ClientError),
    #[error(transparent)]
    Delivery(#[from] crate::delivery::DeliveryError),
    #[error(transparent)]
    Sandbox(#[from] crate::providers::sandbox::SandboxError),
    #[error(transparent)]
    Face(#[from] crate::providers::face::FaceSetupError),
    #[error("the platform CA: {0}")]
    Ca(#[from] crate::trust::CaError),
    #[error("document storage: {0}")]
    Documents(#[from] crate::documents::storage::DocumentStoreError),
    #[error("download links: {0}")]
    Links(#[from] crate::documents::links::UrlSigningKeyError),
    #[error("sealing: {0}")]
    Sealing(#[from] super::sealing::SealingError),
    #[error("archive providers: {0}")]
    Archive(String),
    #[error(transparent)]
    PersonalRoots(#[from] crate::trust::personal::RootsError),
    #[error("personal certificates: {0}")]
    Personal(String),
    #[error(
        "--bench-plain-crud keeps no audit trail and is for benchmarks only: refused in production mode"
    )]
    PlainCrudInProduction,
}

/// The personal CAs of `[trust] personal_ca_roots`; none configured is allowed (no CA_CERT signer
/// can then sign, and contracts naming one are refused), and said at start.
fn personal_trust(
    config: &Config,
) -> Result<super::signing::certificate::PersonalTrust, StartupError> {
    let roots = crate::trust::personal::PersonalRoots::load(&config.trust.personal_ca_roots)?;
    if roots.is_empty() {
        tracing::info!(
            "no personal CA is trusted ([trust] personal_ca_roots): signers with signMethod \
             CA_CERT cannot sign, and contracts naming one are refused"
        );
    }
    super::signing::certificate::PersonalTrust::new(
        roots,
        Duration::from_millis(config.trust.personal_revocation_timeout_ms),
    )
    .map_err(StartupError::Personal)
}

/// The services, and the development client made on this start (its secret exists nowhere else).
#[derive(Debug)]
pub struct Started {
    pub services: Services,
    pub development_client: Option<IssuedClient>,
}

impl Services {
    /// Opens the store (migrating it), the providers and the trust pieces; contracts are written as
    /// `write_mode` says (see [`WriteMode`]). In development with no face provider it starts the
    /// sandbox provider, and with no client at all it makes one.
    pub async fn start(mut config: Config, write_mode: WriteMode) -> Result<Started, StartupError> {
        if write_mode == WriteMode::PlainCrudBench {
            if config.server.mode == Mode::Production {
                return Err(StartupError::PlainCrudInProduction);
            }
            tracing::warn!(
                "BENCHMARK ONLY (--bench-plain-crud): contracts are written as plain rows with NO \
                 AUDIT TRAIL: no events, no hash chain, no callbacks; they cannot be signed, revoked \
                 or verified. Never use this service or its database for anything else."
            );
        }
        let sandbox = start_development_sandbox(&mut config).await?;
        let mut face = crate::providers::face::FaceProviders::from_config(&config.face)?;
        face.sandbox_url = sandbox;
        if config.face.providers.is_empty() && config.face.provider.is_empty() {
            tracing::warn!(
                "no face provider is configured ([face] providers): face verifications will answer 50001"
            );
        }
        let pii = Arc::new(config.pii_cipher()?);
        let store = Store::open_with(
            &config.database.url,
            config.database.max_connections,
            config.database.timeouts(),
        )
        .await?;
        let clients = ClientRegistry::new(&config.clients, store.clone(), Arc::clone(&pii))?;
        let development_client = bootstrap_development_client(&config, &clients).await?;
        let nonces = NonceStore::new(store.clone());
        nonces.spawn_periodic_purge(std::time::Duration::from_secs(60));
        let mut pipeline = Pipeline::new(store.clone(), Arc::clone(&pii));
        if write_mode != WriteMode::EventSourced {
            pipeline = pipeline.with_write_mode(write_mode);
        }
        if config.events.nats_url.is_some() {
            pipeline = pipeline.publishing_to_broker(&config.events.nats_subject_prefix);
        }
        let metrics = Arc::new(Metrics::new());
        let links = Arc::new(crate::documents::links::Links::from_config(
            &config.document_settings(),
        )?);
        let dispatcher = Dispatcher::new(
            store.clone(),
            Arc::clone(&pii),
            clients.clone(),
            Arc::clone(&metrics),
            config.server.mode,
            config.callbacks.clone(),
            config.events.nats_url.as_deref().map(|url| {
                (
                    url,
                    config.events.nats_stream.as_str(),
                    config.events.nats_subject_prefix.as_str(),
                )
            }),
            pipeline.outbox_written(),
            Some(Arc::clone(&links)),
        )?;
        let expiry = ExpiryScheduler::new(
            store.clone(),
            pipeline.clone(),
            Arc::clone(&metrics),
            config.expiry.batch_size,
        );
        config
            .sms
            .check(config.server.mode)
            .map_err(ConfigError::Invalid)?;
        let (sender, development_sms): (Arc<dyn SmsSender>, _) = match config.sms.sender {
            SenderKind::Development => {
                let development = Arc::new(DevelopmentSmsSender::new());
                (development.clone(), Some(development))
            }
            SenderKind::MessageCentre => {
                let centre = MessageCentreSender::new(&config.sms, Some(Arc::clone(&metrics)))
                    .map_err(|e| ConfigError::Invalid(e.to_string()))?;
                (Arc::new(centre), None)
            }
        };
        let sms: Arc<dyn SmsSender> = Arc::new(CountedSender::new(sender, Arc::clone(&metrics)));
        let (ca, tsa) = open_ca(&config)?;
        let documents = document_store(&config.document_settings())?;
        let platform_seal = match &ca {
            Some(ca) => Some(Arc::new(platform_seal(&config, Arc::clone(ca))?)),
            None => None,
        };
        let archivers = archivers(&config, &store, ca.as_ref(), tsa.as_ref())?;
        let revocations = ca.as_ref().map(|ca| {
            Arc::new(super::revocation::Revocations::new(
                store.clone(),
                Arc::clone(ca),
                &config,
            ))
        });
        let receipt_trust =
            crate::providers::archive::ReceiptTrust::from_config(&config.trust, ca.as_deref())
                .map_err(|error| StartupError::Archive(error.to_string()))?;
        let personal = personal_trust(&config)?;
        let services = Services {
            store,
            config: Arc::new(config),
            pii,
            pipeline,
            clients,
            nonces,
            metrics,
            sms,
            development_sms,
            dispatcher,
            expiry,
            face: Arc::new(face),
            ca,
            tsa,
            revocations,
            documents,
            links,
            platform_seal,
            archivers: Arc::new(archivers),
            receipt_trust: Arc::new(receipt_trust),
            sealing: Arc::default(),
            personal: Arc::new(personal),
        };
        Ok(Started {
            services,
            development_client,
        })
    }

    /// The domain's view of the deployment mode (callback URL rules).
    pub fn mode(&self) -> Mode {
        self.config.server.mode
    }

    /// Starts the background work every instance runs: outbox delivery, expiry, the text sweep,
    /// sealing and archiving, and the face provider retries. Abort the tasks to stop them; work in
    /// flight is safe to cut (a claimed callback is retried after its lease, an expiry is one
    /// command that either committed or did not).
    pub fn spawn_workers(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let config = &self.config;
        let mut workers = Vec::new();
        if config.callbacks.enabled {
            workers.push(self.dispatcher.spawn());
        }
        if config.expiry.enabled {
            workers.push(
                self.expiry
                    .spawn(Duration::from_secs(config.expiry.interval_seconds)),
            );
        }
        // Texts (notices, invitations) left between commit and send, or due for a retry, are sent by
        // every instance's sweep.
        workers.push(super::texts::spawn_sweep(self.clone()));
        if config.archive.enabled {
            workers.push(super::sealing::spawn(
                self.clone(),
                Duration::from_secs(config.archive.interval_seconds),
            ));
        }
        // Verifications whose provider task could not be created are retried by every instance.
        workers.push(super::verifications::spawn_provider_retry(self.clone()));
        workers
    }
}

/// In development with no face provider configured at all, starts the sandbox provider in-process on
/// its own listener and points provider `sandbox` at it with a generated (or `[sandbox] secret`)
/// secret. Returns the sandbox's URL when it started. Production never starts it.
async fn start_development_sandbox(config: &mut Config) -> Result<Option<String>, StartupError> {
    if config.server.mode != Mode::Development || !config.face.is_unconfigured() {
        return Ok(None);
    }
    let secret = config
        .sandbox
        .secret
        .clone()
        .unwrap_or_else(crate::providers::sandbox::generate_secret);
    let sandbox =
        crate::providers::sandbox::Sandbox::start(&config.sandbox, secret.clone()).await?;
    let base_url = sandbox.base_url();
    config.face.providers = vec!["sandbox".to_owned()];
    config.face.provider.insert(
        "sandbox".to_owned(),
        crate::providers::face::FaceProviderConfig {
            kind: crate::providers::face::FaceProviderKind::Http,
            base_url: base_url.clone(),
            app_id: "esign-development".to_owned(),
            secret,
        },
    );
    tokio::spawn(async move {
        if let Err(error) = sandbox.run_until_stopped(std::future::pending()).await {
            tracing::error!(%error, "the sandbox face provider stopped");
        }
    });
    tracing::info!(%base_url, "sandbox face provider started in-process (development mode)");
    Ok(Some(base_url))
}

/// The platform CA and the timestamp service on it. Development creates the CA on first start;
/// production without one starts anyway, with `/tsa` answering systemFailure until `esign ca init`.
#[allow(clippy::type_complexity)]
fn open_ca(
    config: &Config,
) -> Result<
    (
        Option<Arc<crate::trust::Ca>>,
        Option<Arc<crate::trust::tsa::TsaSigner>>,
    ),
    StartupError,
> {
    let Some(ca) = crate::trust::Ca::open_or_create_for_development(&config.trust_settings())?
    else {
        tracing::warn!(
            "no platform CA: run `esign ca init` (or configure [trust]); timestamps and event \
             certificates are unavailable until then"
        );
        return Ok((None, None));
    };
    let policy =
        crate::trust::parse_tsa_policy(&config.trust.tsa_policy).map_err(ConfigError::Invalid)?;
    let ca = Arc::new(ca);
    let tsa = Arc::new(ca.tsa_signer(policy));
    Ok((Some(ca), Some(tsa)))
}

/// The archive providers: `TSA` through `[trust] tsa_urls` (default: this service's own `/tsa`),
/// `LOCAL_CA` through the platform TSA in-process, `BLOCKCHAIN` through the Merkle log in the
/// database. Without a CA there are none, and archiving fails visibly (50003) until there is one.
fn archivers(
    config: &Config,
    store: &Store,
    ca: Option<&Arc<crate::trust::Ca>>,
    tsa: Option<&Arc<crate::trust::tsa::TsaSigner>>,
) -> Result<Archivers, StartupError> {
    let (Some(ca), Some(tsa)) = (ca, tsa) else {
        return Ok(Archivers::default());
    };
    let client = crate::providers::tsa::Client::from_config(
        &config.trust,
        &config.server.public_base_url,
        Some(ca),
    )
    .map_err(|error| StartupError::Archive(error.to_string()))?;
    Ok(Archivers::new(vec![
        Arc::new(crate::providers::archive::TsaArchiver::new(client)),
        Arc::new(crate::providers::archive::LocalCaArchiver::new(
            Arc::clone(tsa),
            ca,
        )),
        Arc::new(crate::providers::archive::MerkleLog::new(
            store.clone(),
            Arc::clone(ca),
        )),
    ]))
}

/// In development with no clients at all (none configured, none stored), creates an administrator
/// client `dev` so the API can be tried at once. Its secret is returned only this time.
async fn bootstrap_development_client(
    config: &Config,
    clients: &ClientRegistry,
) -> Result<Option<IssuedClient>, ClientError> {
    if config.server.mode != Mode::Development
        || !config.clients.is_empty()
        || !clients.list().await?.is_empty()
    {
        return Ok(None);
    }
    clients
        .add(NewClient {
            id: "dev".to_owned(),
            admin: true,
            allowed_ips: Vec::new(),
        })
        .await
        .map(Some)
}

/// The document store `[documents]` describes (a local directory or an S3-compatible bucket),
/// with its cipher.
pub fn document_store(
    settings: &DocumentSettings,
) -> Result<Arc<dyn DocumentStore>, DocumentStoreError> {
    let cipher = document_cipher_from_config(settings)?;
    match settings.config.store {
        DocumentStoreKind::Local => Ok(Arc::new(LocalDocumentStore::new(
            settings.documents_dir(),
            cipher,
        ))),
        DocumentStoreKind::S3 => {
            let s3 = settings.config.s3.as_ref().ok_or_else(|| {
                DocumentStoreError::Configuration(
                    "documents.store = \"s3\" needs a [documents.s3] section".into(),
                )
            })?;
            Ok(Arc::new(S3DocumentStore::new(s3, cipher)?))
        }
    }
}

/// The platform seal on `ca`: its timestamps from `[trust] seal_tsa_urls` when set, otherwise from
/// esign's own TSA in-process.
pub fn platform_seal(config: &Config, ca: Arc<Ca>) -> Result<PlatformSeal, StartupError> {
    let trust = &config.trust;
    let timestamper: Arc<dyn Timestamper> = if trust.seal_tsa_urls.is_empty() {
        let policy =
            crate::trust::parse_tsa_policy(&trust.tsa_policy).map_err(ConfigError::Invalid)?;
        Arc::new(LocalTimestamper::new(Arc::new(ca.tsa_signer(policy))))
    } else {
        Arc::new(
            crate::providers::tsa::Client::with_urls(trust, Some(&ca), trust.seal_tsa_urls.clone())
                .map_err(|error| StartupError::Archive(error.to_string()))?,
        )
    };
    Ok(PlatformSeal::new(
        ca,
        timestamper,
        trust.organization.clone(),
    ))
}

/// The platform seal on the CA the configuration points at; `None` without a CA.
pub fn platform_seal_from_config(config: &Config) -> Result<Option<PlatformSeal>, StartupError> {
    let Some(ca) = Ca::open(&config.trust_settings())? else {
        return Ok(None);
    };
    platform_seal(config, Arc::new(ca)).map(Some)
}
