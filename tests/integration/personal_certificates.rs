//! Signers with signMethod CA_CERT sign with their own certificate, whose key never reaches the
//! service: a personal PKI made with openssl at test time (a root the deployment trusts, a
//! sub-CA with a CRL served over HTTP by the test, and personal certificates: the signer's, another
//! person's, an expired one, a revoked one, one from an untrusted CA, one that may not sign, one
//! whose CRL cannot be reached), driven through the H5 JSON steps with openssl signing the
//! prepared bytes the way the page's WebCrypto does. The signed, sealed document then shows the
//! signer's signature made by their certificate to pdfsig and pyHanko. The browser journey (the
//! PKCS#12 file opened in Chromium) is in `e2e_certificate.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::h5_sign::{Browser, data_url, signature_png};
use crate::helpers::{ADMIN, CALLER, RunningService, TestStore, json_of, start_service_with};

crate::backend_tests!(
    a_ca_cert_signer_signs_with_their_own_certificate_and_validators_name_it,
    every_refused_certificate_signs_nothing_and_the_link_signs_afterwards,
    without_trusted_personal_cas_a_ca_cert_contract_is_refused,
    a_signer_whose_document_moved_on_prepares_again_and_both_signatures_hold,
);

/// The CA_CERT signer of these tests.
pub(crate) const SIGNER_NAME: &str = "李四";
pub(crate) const SIGNER_ID: &str = "440304199001010011";
pub(crate) const PARTY: &str = "PAYER_001";
/// The password of every PKCS#12 file made here.
pub(crate) const P12_PASSWORD: &str = "证书密码-123";

/// A personal PKI in a temporary directory, the HTTP server publishing its CRL and, once started,
/// its OCSP responder (`openssl ocsp`).
pub(crate) struct PersonalPki {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    ocsp_port: u16,
    ocsp: std::sync::Mutex<Option<tokio::process::Child>>,
    _crl_server: tokio::task::JoinHandle<()>,
}

/// One personal certificate: its key, certificate and chain (PEM), and a PKCS#12 of all three.
pub(crate) struct Personal {
    pub key: PathBuf,
    pub chain_der: Vec<Vec<u8>>,
    pub p12: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const CA_CONFIG: &str = "\
[ ca ]
default_ca = sub

[ sub ]
dir = .
database = index.txt
new_certs_dir = issued
certificate = sub.pem
private_key = sub.key
serial = serial
crlnumber = crlnumber
default_md = sha256
default_days = 30
default_crl_days = 7
policy = anything
unique_subject = no
string_mask = utf8only
utf8 = yes

[ anything ]
commonName = supplied
serialNumber = optional

[ ca_extensions ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ personal ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:CRL_URL

[ encipherment ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
crlDistributionPoints = URI:CRL_URL

[ ocsp_only ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
authorityInfoAccess = OCSP;URI:OCSP_URL

[ unreachable ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
crlDistributionPoints = URI:http://127.0.0.1:9/gone.crl
";

impl PersonalPki {
    /// A root, its sub-CA and an empty CRL, published at `http://127.0.0.1:<port>/personal.crl`.
    pub async fn create() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let crl_url = format!("http://{}/personal.crl", listener.local_addr().unwrap());
        // A port for the OCSP responder, named in certificates before it runs.
        let ocsp_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = dir.path();
        std::fs::write(
            path.join("ca.cnf"),
            CA_CONFIG
                .replace("CRL_URL", &crl_url)
                .replace("OCSP_URL", &format!("http://127.0.0.1:{ocsp_port}")),
        )
        .unwrap();
        std::fs::create_dir(path.join("issued")).unwrap();
        std::fs::write(path.join("index.txt"), "").unwrap();
        std::fs::write(path.join("serial"), "1000\n").unwrap();
        std::fs::write(path.join("crlnumber"), "1000\n").unwrap();
        for (name, subject) in [
            ("root", "/CN=Test Personal Root CA/O=Test CA"),
            ("untrusted", "/CN=Untrusted Personal Root CA/O=Elsewhere"),
        ] {
            openssl(
                path,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.pem"),
                    "-days",
                    "365",
                    "-subj",
                    subject,
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            );
        }
        openssl(
            path,
            &[
                "req",
                "-new",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "sub.key",
                "-out",
                "sub.csr",
                "-subj",
                "/CN=Test Personal Sub CA/O=Test CA",
            ],
        );
        openssl(
            path,
            &[
                "x509",
                "-req",
                "-in",
                "sub.csr",
                "-CA",
                "root.pem",
                "-CAkey",
                "root.key",
                "-CAcreateserial",
                "-days",
                "365",
                "-extfile",
                "ca.cnf",
                "-extensions",
                "ca_extensions",
                "-out",
                "sub.pem",
            ],
        );
        let pki_dir = path.to_path_buf();
        let crl_server = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let crl = std::fs::read(pki_dir.join("crl.der")).unwrap_or_default();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request).await;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n",
                        crl.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(&crl).await;
                });
            }
        });
        let pki = Self {
            root: path.join("root.pem"),
            dir,
            ocsp_port,
            ocsp: std::sync::Mutex::new(None),
            _crl_server: crl_server,
        };
        pki.publish_crl();
        pki
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Signs a new CRL of the sub-CA and publishes it (DER).
    pub fn publish_crl(&self) {
        openssl(
            self.path(),
            &[
                "ca", "-batch", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem",
            ],
        );
        openssl(
            self.path(),
            &[
                "crl", "-in", "crl.pem", "-outform", "DER", "-out", "crl.der",
            ],
        );
    }

    /// Issues `name`'s certificate for `subject` from the sub-CA with `extensions` (a section of
    /// the configuration) and `dates` (openssl ca's options), with an RSA or P-256 key.
    pub fn issue(
        &self,
        name: &str,
        subject: &str,
        extensions: &str,
        dates: &[&str],
        ec: bool,
    ) -> Personal {
        let key = format!("{name}.key");
        let algorithm: &[&str] = if ec {
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        } else {
            &["-newkey", "rsa:2048"]
        };
        let mut request = vec!["req", "-new", "-nodes", "-utf8", "-keyout", &key];
        request.extend_from_slice(algorithm);
        let csr = format!("{name}.csr");
        request.extend_from_slice(&["-subj", subject, "-out", &csr]);
        openssl(self.path(), &request);
        let pem = format!("{name}.pem");
        let mut sign = vec![
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-utf8",
            "-notext",
            "-extensions",
            extensions,
            "-in",
            &csr,
            "-out",
            &pem,
        ];
        sign.extend_from_slice(dates);
        openssl(self.path(), &sign);
        self.personal(name, "sub.pem")
    }

    /// A certificate for the signer from a root nobody trusts.
    pub fn issue_untrusted(&self, name: &str) -> Personal {
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let subject = format!("/CN={SIGNER_NAME}/serialNumber={SIGNER_ID}");
        openssl(
            self.path(),
            &[
                "req", "-new", "-nodes", "-utf8", "-newkey", "rsa:2048", "-keyout", &key, "-subj",
                &subject, "-out", &csr,
            ],
        );
        std::fs::write(
            self.path().join("leaf.ext"),
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n",
        )
        .unwrap();
        openssl(
            self.path(),
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "untrusted.pem",
                "-CAkey",
                "untrusted.key",
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                "leaf.ext",
                "-out",
                &pem,
            ],
        );
        self.personal(name, "untrusted.pem")
    }

    fn personal(&self, name: &str, issuer: &str) -> Personal {
        let p12 = format!("{name}.p12");
        openssl(
            self.path(),
            &[
                "pkcs12",
                "-export",
                "-inkey",
                &format!("{name}.key"),
                "-in",
                &format!("{name}.pem"),
                "-certfile",
                issuer,
                "-name",
                name,
                "-passout",
                &format!("pass:{P12_PASSWORD}"),
                "-out",
                &p12,
            ],
        );
        let der = |file: &str| {
            let out = format!("{file}.der");
            openssl(
                self.path(),
                &["x509", "-in", file, "-outform", "DER", "-out", &out],
            );
            std::fs::read(self.path().join(out)).unwrap()
        };
        Personal {
            key: self.path().join(format!("{name}.key")),
            chain_der: vec![der(&format!("{name}.pem")), der(issuer)],
            p12: self.path().join(p12),
        }
    }

    /// Revokes `name`'s certificate and publishes the new CRL.
    pub fn revoke(&self, name: &str) {
        openssl(
            self.path(),
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-revoke",
                &format!("{name}.pem"),
                "-crl_reason",
                "keyCompromise",
            ],
        );
        self.publish_crl();
    }

    /// Starts the sub-CA's OCSP responder (`openssl ocsp`, signing with the sub-CA's own key) on
    /// the port the `ocsp_only` certificates name, with the revocations made so far; it stops
    /// with the test.
    pub async fn start_ocsp(&self) {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new("openssl")
            .args([
                "ocsp",
                "-index",
                "index.txt",
                "-port",
                &self.ocsp_port.to_string(),
                "-rsigner",
                "sub.pem",
                "-rkey",
                "sub.key",
                "-CA",
                "sub.pem",
                "-nmin",
                "60",
            ])
            .current_dir(self.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("openssl ocsp starts");
        // It says when it listens. (A bare connection to find out would stall it: it serves one
        // connection at a time and waits for that one's request.)
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let ready = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("waiting for OCSP client connections") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready, Ok(true), "the OCSP responder never listened");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        *self.ocsp.lock().unwrap() = Some(child);
    }

    /// The signer's own, valid certificate (RSA, or P-256 with `ec`).
    pub fn signer(&self, name: &str, ec: bool) -> Personal {
        self.issue(
            name,
            &format!("/CN={SIGNER_NAME}/serialNumber={SIGNER_ID}"),
            "personal",
            &[],
            ec,
        )
    }

    /// Signs `message` with `personal`'s key as WebCrypto would (PKCS#1 v1.5 or DER ECDSA, SHA-256).
    pub fn sign(&self, personal: &Personal, message: &[u8]) -> Vec<u8> {
        let input = self.path().join("to-sign.der");
        let output = self.path().join("signed.bin");
        std::fs::write(&input, message).unwrap();
        openssl(
            self.path(),
            &[
                "dgst",
                "-sha256",
                "-sign",
                personal.key.to_str().unwrap(),
                "-out",
                output.to_str().unwrap(),
                input.to_str().unwrap(),
            ],
        );
        std::fs::read(output).unwrap()
    }
}

/// Whether openssl is here; otherwise the test is skipped (or fails in CI).
pub(crate) fn have_openssl() -> bool {
    match Command::new("openssl").arg("version").output() {
        Ok(output) if output.status.success() => true,
        other => {
            crate::helpers::skip("openssl", format_args!("{other:?}"));
            false
        }
    }
}

/// The service trusting `roots` for personal certificates, sealing at once.
pub(crate) async fn service(t: &TestStore, roots: Vec<PathBuf>) -> RunningService {
    start_service_with(t, &[CALLER, ADMIN], |config| {
        config.callbacks.enabled = false;
        config.archive.interval_seconds = 1;
        config.trust.personal_ca_roots = roots;
        config.trust.personal_revocation_timeout_ms = 2_000;
    })
    .await
}

/// A contract with one CA_CERT signer (李四); answers its id and the signer's link.
pub(crate) async fn ca_cert_contract(service: &RunningService, name: &str) -> (String, String) {
    let template = format!("TPL_{name}");
    crate::journey::publish_template(&service.client(ADMIN), &template).await;
    let contract_id = initiate(service, &initiation(name, &template)).await;
    let url = sign_url(service, &contract_id, PARTY).await;
    (contract_id, url)
}

async fn initiate(service: &RunningService, request: &Value) -> String {
    let (status, body) = json_of(
        service
            .client(CALLER)
            .post_json("/api/v1/contract/initiate", request)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["contractId"].as_str().unwrap().to_owned()
}

async fn sign_url(service: &RunningService, contract_id: &str, party: &str) -> String {
    let (status, body) = json_of(
        service
            .client(CALLER)
            .post_json(
                &format!("/api/v1/contract/{contract_id}/signers/{party}/sign-url"),
                &json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["signUrl"].as_str().unwrap().to_owned()
}

fn initiation(name: &str, template: &str) -> Value {
    json!({
        "archiveConfig": {"needArchive": false},
        "bizId": format!("REL_{name}"),
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": template,
        "title": "天财分账资金归集授权协议",
        "variables": {"payerName": "XX品牌总部"},
        "signers": [{"partyId": PARTY, "partyType": "PAYER", "name": SIGNER_NAME,
                     "idCardNo": SIGNER_ID, "mobile": "13900139000",
                     "signMethod": "CA_CERT", "notifyType": "H5_LINK", "sequence": 1}],
        "callbackUrl": "https://auth.example.com/callback/e-sign",
        "expireDays": 7
    })
}

/// The signing page opened as the signer, ready for the JSON steps.
struct SignerPage {
    browser: Browser,
    csrf: String,
    token: String,
}

impl SignerPage {
    async fn open(service: &RunningService, url: &str) -> Self {
        let browser = Browser::new(&service.base);
        let page = browser.open(url).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.has("step-certificate"), "{}", page.html);
        assert!(page.has("certificate-file"), "{}", page.html);
        let token = url.split("token=").nth(1).unwrap().to_owned();
        Self {
            csrf: page.csrf(),
            browser,
            token,
        }
    }

    async fn prepare(&self, chain: &[Vec<u8>]) -> (StatusCode, Value) {
        self.browser
            .post_json(
                &format!("/h5/sign/certificate/prepare?token={}", self.token),
                &json!({
                    "csrf": self.csrf,
                    "certificates": chain.iter().map(|der| STANDARD.encode(der)).collect::<Vec<_>>(),
                    "signature": data_url(&signature_png()),
                }),
            )
            .await
    }

    async fn complete(
        &self,
        chain: &[Vec<u8>],
        prepared: &Value,
        signed: &[u8],
    ) -> (StatusCode, Value) {
        self.browser
            .post_json(
                &format!("/h5/sign/certificate/complete?token={}", self.token),
                &json!({
                    "csrf": self.csrf,
                    "preparation": prepared["preparation"],
                    "certificates": chain.iter().map(|der| STANDARD.encode(der)).collect::<Vec<_>>(),
                    "signature": data_url(&signature_png()),
                    "signed": STANDARD.encode(signed),
                }),
            )
            .await
    }

    /// Both steps with `personal`'s key signing what the service prepared.
    async fn sign(&self, pki: &PersonalPki, personal: &Personal) -> (StatusCode, Value) {
        let (status, prepared) = self.prepare(&personal.chain_der).await;
        if status != StatusCode::OK {
            return (status, prepared);
        }
        let attributes = STANDARD
            .decode(prepared["signedAttributes"].as_str().unwrap())
            .unwrap();
        let signed = pki.sign(personal, &attributes);
        self.complete(&personal.chain_der, &prepared, &signed).await
    }
}

fn assert_refused(answer: (StatusCode, Value), status: StatusCode, code: u64, reason: &str) {
    let (got, body) = answer;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|text| !text.is_empty()),
        "{body}"
    );
}

async fn signer_status(service: &RunningService, contract_id: &str) -> Value {
    let (status, body) = json_of(
        service
            .client(CALLER)
            .get(&format!("/api/v1/contract/{contract_id}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["signers"][0]["signStatus"].clone()
}

/// pdfsig (an NSS database trusting the platform root and the personal root) and pyHanko (both
/// roots) find every signature valid and trusted, the signer's made by their own certificate
/// (their full ID number in its subject) and trusted through `anchor`.
pub(crate) fn check_signed_document(
    service: &RunningService,
    pki: &PersonalPki,
    pdf: &[u8],
    anchor: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, pdf).unwrap();
    let platform_root = dir.path().join("platform-root.pem");
    let ca = service.state.ca.as_ref().expect("the platform CA");
    std::fs::write(&platform_root, ca.root_pem().unwrap()).unwrap();
    if let Some(nss_db) = crate::pades::nss_database(dir.path(), &platform_root) {
        let added = crate::pades::tool(
            "certutil",
            &[
                "-A",
                "-d",
                &nss_db,
                "-n",
                "personal-root",
                "-t",
                "CT,C,C",
                "-i",
                pki.root.to_str().unwrap(),
            ],
        )
        .unwrap();
        assert!(
            added.status.success(),
            "{}",
            String::from_utf8_lossy(&added.stderr)
        );
        if let Some(report) = crate::pades::pdfsig(&nss_db, &path) {
            // The signer's signature and the platform seal; the document timestamp after them.
            crate::pades::assert_all_valid_and_trusted_with_document_timestamps(&report, 2, 1);
            let first = report.split("Signature #2").next().unwrap();
            assert!(first.contains(SIGNER_NAME), "{report}");
            // The full ID number: the signer's own certificate, not an event certificate (masked).
            assert!(
                first.contains(SIGNER_ID),
                "the signer's own certificate: {report}"
            );
        }
    }
    if let Some(output) = crate::pades::pyhanko_validate(
        &platform_root,
        &path,
        &["--trust", pki.root.to_str().unwrap(), "--pretty-print"],
    ) {
        let text = crate::pades::text_of(&output);
        assert!(output.status.success(), "pyHanko refused: {text}");
        // The signer's field names their own certificate, trusted through the personal root.
        let signer_field = text.split("Field 2").next().unwrap();
        assert!(signer_field.contains(SIGNER_ID), "{text}");
        assert!(signer_field.contains(anchor), "{text}");
    }
}

async fn a_ca_cert_signer_signs_with_their_own_certificate_and_validators_name_it(t: TestStore) {
    if !have_openssl() {
        return;
    }
    let pki = PersonalPki::create().await;
    let service = service(&t, vec![pki.root.clone()]).await;
    let (contract_id, url) = ca_cert_contract(&service, "CACERT_SIGNS").await;
    let page = SignerPage::open(&service, &url).await;
    let own = pki.signer("own", false);
    let (status, prepared) = page.prepare(&own.chain_der).await;
    assert_eq!(status, StatusCode::OK, "{prepared}");
    assert!(
        prepared["certificate"]["subject"]
            .as_str()
            .unwrap()
            .contains(SIGNER_NAME),
        "{prepared}"
    );
    let attributes = STANDARD
        .decode(prepared["signedAttributes"].as_str().unwrap())
        .unwrap();
    let signed = pki.sign(&own, &attributes);
    let (status, done) = page.complete(&own.chain_der, &prepared, &signed).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["contractSigned"], true, "{done}");
    assert_eq!(signer_status(&service, &contract_id).await, "SIGNED");

    // The log names the signer's own certificate, not an event certificate of the platform.
    let signings = crate::signing_moments::signings(&service, &contract_id).await;
    let revision = signings[0].1.as_ref().expect("the signer's revision");
    assert!(
        revision
            .certificate
            .issuer
            .as_str()
            .contains("Test Personal Sub CA"),
        "{revision:?}"
    );
    assert!(
        revision.timestamped_at.is_some(),
        "a signature timestamp: {revision:?}"
    );

    let pdf = crate::signing_moments::document_when_sealed(&service, &contract_id).await;
    check_signed_document(&service, &pki, &pdf, "Test Personal Root CA");

    // The verify API trusts the personal roots for signers' signatures, as the document's readers do.
    let answer = crate::sealing::verify(
        &service.client(CALLER),
        json!({"method": "CONTRACT_ID", "contractId": contract_id}),
    )
    .await;
    assert_eq!(answer["valid"], true, "{answer}");
    let signer = &answer["signatureInfo"][0];
    assert_eq!(signer["kind"], "SIGNER_SIGNATURE", "{answer}");
    assert_eq!(signer["valid"], true, "{answer}");
    assert!(
        signer["certificateIssuerName"]
            .as_str()
            .unwrap()
            .contains("Test Personal Sub CA"),
        "{answer}"
    );
}

async fn every_refused_certificate_signs_nothing_and_the_link_signs_afterwards(t: TestStore) {
    if !have_openssl() {
        return;
    }
    let pki = PersonalPki::create().await;
    let service = service(&t, vec![pki.root.clone()]).await;
    let (contract_id, url) = ca_cert_contract(&service, "CACERT_REFUSALS").await;
    let page = SignerPage::open(&service, &url).await;
    let refused = StatusCode::UNPROCESSABLE_ENTITY;

    let other = pki.issue(
        "other",
        "/CN=王五/serialNumber=11010519491231002X",
        "personal",
        &[],
        false,
    );
    assert_refused(
        page.sign(&pki, &other).await,
        refused,
        40006,
        "CERTIFICATE_MISMATCH",
    );
    let same_name = pki.issue(
        "namesake",
        &format!("/CN={SIGNER_NAME}/serialNumber=11010519491231002X"),
        "personal",
        &[],
        false,
    );
    assert_refused(
        page.sign(&pki, &same_name).await,
        refused,
        40006,
        "CERTIFICATE_MISMATCH",
    );
    let expired = pki.issue(
        "expired",
        &format!("/CN={SIGNER_NAME}/serialNumber={SIGNER_ID}"),
        "personal",
        &[
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20210101000000Z",
        ],
        false,
    );
    assert_refused(
        page.sign(&pki, &expired).await,
        refused,
        40006,
        "CERTIFICATE_NOT_VALID",
    );
    let revoked = pki.signer("revoked", false);
    pki.revoke("revoked");
    assert_refused(
        page.sign(&pki, &revoked).await,
        refused,
        40006,
        "CERTIFICATE_REVOKED",
    );
    let untrusted = pki.issue_untrusted("untrusted-leaf");
    assert_refused(
        page.sign(&pki, &untrusted).await,
        refused,
        40006,
        "CERTIFICATE_UNTRUSTED",
    );
    let encipherment = pki.issue(
        "encipherment",
        &format!("/CN={SIGNER_NAME}/serialNumber={SIGNER_ID}"),
        "encipherment",
        &[],
        false,
    );
    assert_refused(
        page.sign(&pki, &encipherment).await,
        refused,
        40006,
        "CERTIFICATE_KEY_USAGE",
    );
    let unreachable = pki.issue(
        "unreachable",
        &format!("/CN={SIGNER_NAME}/serialNumber={SIGNER_ID}"),
        "unreachable",
        &[],
        false,
    );
    assert_refused(
        page.sign(&pki, &unreachable).await,
        StatusCode::SERVICE_UNAVAILABLE,
        50001,
        "CERTIFICATE_STATUS_UNAVAILABLE",
    );
    // A CA that answers by OCSP: a revoked certificate is refused, a good one passes the checks.
    let subject = format!("/CN={SIGNER_NAME}/serialNumber={SIGNER_ID}");
    let ocsp_revoked = pki.issue("ocsp-revoked", &subject, "ocsp_only", &[], false);
    let ocsp_good = pki.issue("ocsp-good", &subject, "ocsp_only", &[], true);
    assert_refused(
        page.sign(&pki, &ocsp_good).await,
        StatusCode::SERVICE_UNAVAILABLE,
        50001,
        "CERTIFICATE_STATUS_UNAVAILABLE",
    );
    pki.revoke("ocsp-revoked");
    pki.start_ocsp().await;
    assert_refused(
        page.sign(&pki, &ocsp_revoked).await,
        refused,
        40006,
        "CERTIFICATE_REVOKED",
    );
    let (status, prepared) = page.prepare(&ocsp_good.chain_der).await;
    assert_eq!(status, StatusCode::OK, "{prepared}");
    // The signer's certificate with a signature made by another key.
    let own = pki.signer("own-ec", true);
    let (status, prepared) = page.prepare(&own.chain_der).await;
    assert_eq!(status, StatusCode::OK, "{prepared}");
    let attributes = STANDARD
        .decode(prepared["signedAttributes"].as_str().unwrap())
        .unwrap();
    let forged = pki.sign(&other, &attributes);
    assert_refused(
        page.complete(&own.chain_der, &prepared, &forged).await,
        refused,
        40006,
        "SIGNATURE_INVALID",
    );
    // A token changed by a byte is not one the service issued.
    let mut tampered = prepared.clone();
    tampered["preparation"] = json!(format!("x{}", prepared["preparation"].as_str().unwrap()));
    let signed = pki.sign(&own, &attributes);
    assert_refused(
        page.complete(&own.chain_der, &tampered, &signed).await,
        StatusCode::CONFLICT,
        40900,
        "PREPARATION_INVALID",
    );
    assert_eq!(signer_status(&service, &contract_id).await, "PENDING");

    // Nothing above signed anything: the same link signs with the signer's own certificate (P-256).
    let (status, done) = page.complete(&own.chain_der, &prepared, &signed).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(signer_status(&service, &contract_id).await, "SIGNED");
    let pdf = crate::signing_moments::document_when_sealed(&service, &contract_id).await;
    check_signed_document(&service, &pki, &pdf, "Test Personal Root CA");
}

async fn without_trusted_personal_cas_a_ca_cert_contract_is_refused(t: TestStore) {
    // Two instances on one database share its personal-data keys, as a deployment's do.
    let (personal_key, index_key) = (
        esign::pii::PiiCipher::generate_key().unwrap(),
        esign::pii::PiiCipher::generate_key().unwrap(),
    );
    let shared_keys = |config: &mut esign::app::config::Config| {
        config.callbacks.enabled = false;
        config.security.pii_active_key = Some("k1".into());
        config.security.pii_keys =
            std::collections::BTreeMap::from([("k1".to_owned(), personal_key.clone())]);
        config.security.pii_index_key = Some(index_key.clone());
    };
    let service = start_service_with(&t, &[CALLER, ADMIN], shared_keys).await;
    let template = "TPL_NO_PERSONAL_CA";
    crate::journey::publish_template(&service.client(ADMIN), template).await;
    let (status, body) = json_of(
        service
            .client(CALLER)
            .post_json(
                "/api/v1/contract/initiate",
                &initiation("NO_PERSONAL_CA", template),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], 40001, "{body}");
    assert!(body.to_string().contains("signers[0].signMethod"), "{body}");
    assert!(body.to_string().contains("personal_ca_roots"), "{body}");

    // A contract made while roots were trusted, signed where none are (another instance on the
    // same database): the page and the step say so, and nothing is recorded.
    let (_roots, root) = root_file();
    let trusting = start_service_with(&t, &[CALLER, ADMIN], |config| {
        shared_keys(config);
        config.trust.personal_ca_roots = vec![root];
    })
    .await;
    let (contract_id, url) = ca_cert_contract(&trusting, "ROOTS_REMOVED").await;
    let url = url.replace(&trusting.base, &service.base);
    let browser = Browser::new(&service.base);
    let page = browser.open(&url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.text_of("certificate-status")
            .contains("未配置信任的个人证书颁发机构"),
        "{}",
        page.html
    );
    assert!(!page.has("certificate-file"), "{}", page.html);
    let token = url.split("token=").nth(1).unwrap();
    let answer = browser
        .post_json(
            &format!("/h5/sign/certificate/prepare?token={token}"),
            &json!({"csrf": page.csrf(), "certificates": ["AA=="], "signature": data_url(&signature_png())}),
        )
        .await;
    assert_refused(answer, StatusCode::CONFLICT, 40900, "NO_TRUSTED_CA");
    assert_eq!(signer_status(&service, &contract_id).await, "PENDING");
}

/// A root certificate file of the platform's making (any CA will do where nothing is signed), in
/// a directory that lives as long as the answer.
fn root_file() -> (tempfile::TempDir, PathBuf) {
    let new = esign::trust::ca::NewCa::generate("Roots", chrono::Utc::now()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("root.pem");
    std::fs::write(&path, new.ca.root_pem().unwrap()).unwrap();
    (dir, path)
}

async fn a_signer_whose_document_moved_on_prepares_again_and_both_signatures_hold(t: TestStore) {
    if !have_openssl() {
        return;
    }
    let pki = PersonalPki::create().await;
    let service = service(&t, vec![pki.root.clone()]).await;
    let template = "TPL_CACERT_PARALLEL";
    crate::journey::publish_template(&service.client(ADMIN), template).await;
    let mut request = initiation("CACERT_PARALLEL", template);
    request["signers"] = json!([
        {"partyId": "RECEIVER_001", "partyType": "RECEIVER", "name": "张三",
         "idCardNo": "11010519491231002X", "mobile": "13800138000",
         "signMethod": "CA_CERT", "notifyType": "H5_LINK", "sequence": 1},
        request["signers"][0].clone(),
    ]);
    let contract_id = initiate(&service, &request).await;
    let first = SignerPage::open(&service, &sign_url(&service, &contract_id, PARTY).await).await;
    let second = SignerPage::open(
        &service,
        &sign_url(&service, &contract_id, "RECEIVER_001").await,
    )
    .await;
    let own = pki.signer("own", false);
    let theirs = pki.issue(
        "zhang",
        "/CN=张三/serialNumber=11010519491231002X",
        "personal",
        &[],
        true,
    );

    // 李四 prepares; 张三 signs in between; 李四's signature no longer fits the document.
    let (status, prepared) = first.prepare(&own.chain_der).await;
    assert_eq!(status, StatusCode::OK, "{prepared}");
    let (status, done) = second.sign(&pki, &theirs).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let attributes = STANDARD
        .decode(prepared["signedAttributes"].as_str().unwrap())
        .unwrap();
    let signed = pki.sign(&own, &attributes);
    assert_refused(
        first.complete(&own.chain_der, &prepared, &signed).await,
        StatusCode::CONFLICT,
        40900,
        "DOCUMENT_CHANGED",
    );
    // What the page does then: prepare again on the new head, sign, complete.
    let (status, done) = first.sign(&pki, &own).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["contractSigned"], true, "{done}");

    let signings = crate::signing_moments::signings(&service, &contract_id).await;
    let revisions: Vec<_> = signings
        .iter()
        .map(|(_, revision)| revision.clone().unwrap())
        .collect();
    assert!(
        revisions[0].document_hash == revisions[1].previous_hash
            || revisions[1].document_hash == revisions[0].previous_hash,
        "one chain of revisions: {revisions:?}"
    );
    let pdf = crate::signing_moments::document_when_sealed(&service, &contract_id).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let platform_root = dir.path().join("platform-root.pem");
    std::fs::write(
        &platform_root,
        service.state.ca.as_ref().unwrap().root_pem().unwrap(),
    )
    .unwrap();
    if let Some(output) = crate::pades::pyhanko_validate(
        &platform_root,
        &path,
        &["--trust", pki.root.to_str().unwrap()],
    ) {
        assert!(
            output.status.success(),
            "pyHanko refused: {}",
            crate::pades::text_of(&output)
        );
    }
}
