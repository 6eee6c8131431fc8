//! Contracts made from the caller's own PDFs (docs/documents.md, "Uploaded documents").
//!
//! At initiation each `documents[i]` is decoded and read ([`crate::documents::uploaded`] refuses
//! what cannot be signed: too large, not a PDF, encrypted, already signed), each signer's
//! `places` are resolved on it (anchor text found, the page and the box checked), and its first
//! revision is prepared: the upload with one update adding a signature field per signer who signs
//! it, and the platform's seal and document timestamp fields (invisible). The upload is stored
//! encrypted under its hash; the log records the hashes and the resolved places, from which
//! [`first_revision`] rebuilds the same first revision byte for byte whenever a signer signs.
//!
//! Every refusal is a 40001 naming the document or place, and nothing is stored or recorded: the
//! initiation is decided before any upload is stored.

use aggregates::ValidationErrors;
use aggregates::contract::{
    Contract, ContractRequest, MAX_DOCUMENTS, PlaceRequest, SignaturePlace, SignerRequest,
    UploadedDocument,
};
use aggregates::values::{AnchorText, Digest, DocumentName, PartyId, PlaceRect, SealAppearance};
use base64::Engine as _;

use super::{AppError, Services};
use crate::documents::contract::{
    DOCUMENT_TIMESTAMP_FIELD, PLATFORM_SEAL_FIELD, signer_field_name,
};
use crate::documents::pdf::RenderedPdf;
use crate::documents::storage::{DocumentStoreError, sha256_hex};
use crate::documents::uploaded::{
    self, AnchorHit, Placement, UploadError, UploadLimits, centred_on,
};

/// The largest document a contract takes: 10 MiB (its base64 fits a request of
/// [`MAX_INITIATE_BODY_BYTES`]).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// The most pages a document may have.
pub const MAX_DOCUMENT_PAGES: u32 = 500;
/// The largest body `POST /api/v1/contract/initiate` takes: the documents in base64 and the rest.
pub const MAX_INITIATE_BODY_BYTES: usize = MAX_DOCUMENT_BYTES * 4 / 3 + 1024 * 1024;

/// A person's handwritten signature box, in points (about 53 × 21 mm).
const SIGNATURE_SIZE: (f32, f32) = (150.0, 60.0);
/// A seal's box: a round seal is about 42 mm across.
const SEAL_SIZE: (f32, f32) = (120.0, 120.0);
/// The seal and the handwriting side by side.
const SEAL_AND_SIGNATURE_SIZE: (f32, f32) = (240.0, 120.0);

fn limits() -> UploadLimits {
    UploadLimits {
        max_bytes: MAX_DOCUMENT_BYTES,
        max_pages: MAX_DOCUMENT_PAGES,
    }
}

/// The request's documents as read and prepared, and each signer's resolved places, in request
/// order: what `InitiateContract` takes. The uploads are not stored yet: see [`Self::store`].
#[derive(Default)]
pub struct PreparedDocuments {
    pub documents: Vec<UploadedDocument>,
    pub places: Vec<Vec<SignaturePlace>>,
    /// Each document's bytes as uploaded, in request order.
    uploads: Vec<Vec<u8>>,
}

impl std::fmt::Debug for PreparedDocuments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedDocuments")
            .field("documents", &self.documents)
            .field("places", &self.places)
            .finish_non_exhaustive()
    }
}

impl PreparedDocuments {
    /// Stores each upload encrypted under its hash, once the initiation is known to be valid
    /// and before its event names them.
    pub async fn store(&self, services: &Services) -> Result<(), AppError> {
        for (document, bytes) in self.documents.iter().zip(&self.uploads) {
            services
                .documents
                .put(&upload_storage_key(document.upload_hash.as_hex()), bytes)
                .await
                .map_err(AppError::internal)?;
        }
        Ok(())
    }
}

/// Reads and prepares the request's documents (none for a template contract) and resolves the
/// signers' places; a 40001 naming every bad document and place. Nothing is stored.
pub fn prepare(request: &ContractRequest) -> Result<PreparedDocuments, AppError> {
    // Too many documents, or none, is the domain's to name; nothing is read for it.
    if request.documents.is_empty() || request.documents.len() > MAX_DOCUMENTS {
        return Ok(PreparedDocuments::default());
    }
    let mut errors = ValidationErrors::new();
    let uploads: Vec<Option<Upload>> = request
        .documents
        .iter()
        .enumerate()
        .map(|(index, document)| read_upload(index, document, &mut errors))
        .collect();
    let places: Vec<Vec<SignaturePlace>> = request
        .signers
        .iter()
        .enumerate()
        .map(|(index, signer)| resolve_places(index, signer, &uploads, &mut errors))
        .collect();
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let parties = party_ids(&request.signers);
    let mut documents = Vec::with_capacity(uploads.len());
    let mut bytes = Vec::with_capacity(uploads.len());
    for (index, upload) in uploads.into_iter().enumerate() {
        let Some(upload) = upload else {
            return Err(AppError::internal(
                "an upload without an error was not read",
            ));
        };
        let number = document_number(index)?;
        let placements = placements(
            number,
            parties
                .iter()
                .zip(&places)
                .filter_map(|(party, places)| Some((party.as_ref()?, places.as_slice()))),
        );
        let first = upload.read.prepare(&placements).map_err(|error| {
            AppError::invalid(format!("documents[{index}].contentBase64"), error)
        })?;
        let pdf = upload.read.pdf();
        documents.push(UploadedDocument {
            document: number,
            name: upload.name,
            upload_hash: Digest::parse(&pdf.sha256).map_err(AppError::internal)?,
            content_hash: Digest::parse(&sha256_hex(&first.bytes)).map_err(AppError::internal)?,
            size_bytes: u64::try_from(upload.read.bytes().len()).map_err(AppError::internal)?,
            page_count: pdf.page_count,
        });
        bytes.push(upload.read.into_bytes());
    }
    Ok(PreparedDocuments {
        documents,
        places,
        uploads: bytes,
    })
}

/// The first revision of uploaded document `number` of `contract`, rebuilt from the stored upload
/// and the places the log recorded, and checked against the hash recorded at initiation.
pub async fn first_revision(
    services: &Services,
    contract: &Contract,
    number: u32,
) -> Result<RenderedPdf, FirstRevisionError> {
    let document = contract
        .content
        .uploaded()
        .iter()
        .find(|document| document.document == number)
        .ok_or(FirstRevisionError::NoSuchDocument(number))?;
    let upload_hash = document.upload_hash.as_hex();
    let bytes = services
        .documents
        .get(&upload_storage_key(upload_hash), upload_hash)
        .await?;
    let placements = placements(
        number,
        contract
            .signers
            .iter()
            .map(|signer| (&signer.party_id, signer.places.as_slice())),
    );
    let first = uploaded::prepare(&bytes, &placements)
        .map_err(|error| FirstRevisionError::Prepare { number, error })?;
    let found = sha256_hex(&first.bytes);
    if found != document.content_hash.as_hex() {
        return Err(FirstRevisionError::Mismatch {
            number,
            found,
            recorded: document.content_hash.as_hex().to_owned(),
        });
    }
    Ok(first)
}

/// Why an uploaded document's first revision cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum FirstRevisionError {
    #[error("the contract has no uploaded document {0}")]
    NoSuchDocument(u32),
    #[error("the upload cannot be read back: {0}")]
    Storage(#[from] DocumentStoreError),
    #[error("document {number} cannot be prepared again: {error}")]
    Prepare { number: u32, error: UploadError },
    #[error("document {number} rebuilds to {found}, not the recorded {recorded}")]
    Mismatch {
        number: u32,
        found: String,
        recorded: String,
    },
}

/// Where an upload is kept: by its hash, so a retried initiation stores nothing twice.
pub fn upload_storage_key(sha256_hex: &str) -> String {
    format!("uploads/{sha256_hex}.pdf")
}

/// The signature fields of document `number`: each signer's, in request order, then the
/// platform's two invisible ones. The same places give the same fields, so the first revision
/// rebuilds byte for byte.
fn placements<'a>(
    number: u32,
    signers: impl Iterator<Item = (&'a PartyId, &'a [SignaturePlace])>,
) -> Vec<Placement> {
    let mut placements: Vec<Placement> = signers
        .filter_map(|(party_id, places)| {
            let place = places.iter().find(|place| place.document == number)?;
            Some(Placement {
                field: signer_field_name(party_id.as_str()),
                page: place.page,
                rect: place.rect.corners(),
            })
        })
        .collect();
    placements.extend(
        [PLATFORM_SEAL_FIELD, DOCUMENT_TIMESTAMP_FIELD].map(|field| Placement {
            field: field.to_owned(),
            page: 1,
            rect: uploaded::INVISIBLE,
        }),
    );
    placements
}

/// The parties' ids in request order; `None` for an id that does not parse or repeats an
/// earlier one (the domain refuses the request for it; no field is made for it here).
fn party_ids(signers: &[SignerRequest]) -> Vec<Option<PartyId>> {
    let mut seen = Vec::new();
    signers
        .iter()
        .map(|signer| {
            let party = PartyId::parse(signer.party_id.as_deref()?).ok()?;
            if seen.contains(&party) {
                return None;
            }
            seen.push(party.clone());
            Some(party)
        })
        .collect()
}

/// An upload as read, once.
struct Upload {
    name: DocumentName,
    read: uploaded::Upload,
}

fn read_upload(
    index: usize,
    request: &aggregates::contract::DocumentRequest,
    errors: &mut ValidationErrors,
) -> Option<Upload> {
    let path = format!("documents[{index}]");
    let name = errors.required(
        format!("{path}.name"),
        request.name.as_deref(),
        DocumentName::parse,
    );
    let field = format!("{path}.contentBase64");
    let Some(encoded) = request.content_base64.as_deref() else {
        errors.push(field, "is required");
        return None;
    };
    // Refused before decoding: the base64 of a document over the limit is longer than this.
    if encoded.len() > MAX_DOCUMENT_BYTES.div_ceil(3) * 4 {
        errors.push(
            field,
            format!("the document is more than the {MAX_DOCUMENT_BYTES} bytes allowed"),
        );
        return None;
    }
    let bytes = match base64::engine::general_purpose::STANDARD.decode(encoded.trim()) {
        Ok(bytes) => bytes,
        Err(_) => {
            errors.push(
                field,
                "must be the PDF in base64 (standard alphabet, padded)",
            );
            return None;
        }
    };
    let read = match uploaded::Upload::read(bytes, &limits()) {
        Ok(read) => read,
        Err(error) => {
            errors.push(field, error);
            return None;
        }
    };
    Some(Upload { name: name?, read })
}

/// A signer's places, each resolved on its document; errors name `signers[i].places[j]` fields.
fn resolve_places(
    signer_index: usize,
    signer: &SignerRequest,
    uploads: &[Option<Upload>],
    errors: &mut ValidationErrors,
) -> Vec<SignaturePlace> {
    signer
        .places
        .iter()
        .enumerate()
        .filter_map(|(index, place)| {
            let path = format!("signers[{signer_index}].places[{index}]");
            resolve_place(&path, place, default_size(signer), uploads, errors)
        })
        .collect()
}

/// The box a signer's place gets when the request gives no size: what they apply decides it.
fn default_size(signer: &SignerRequest) -> (f32, f32) {
    match &signer.organization {
        None => SIGNATURE_SIZE,
        Some(organization) => match organization
            .appearance
            .as_deref()
            .and_then(|code| SealAppearance::parse(code).ok())
        {
            Some(SealAppearance::SealAndHandwritten) => SEAL_AND_SIGNATURE_SIZE,
            _ => SEAL_SIZE,
        },
    }
}

fn resolve_place(
    path: &str,
    request: &PlaceRequest,
    default_size: (f32, f32),
    uploads: &[Option<Upload>],
    errors: &mut ValidationErrors,
) -> Option<SignaturePlace> {
    let document_index = match request.document {
        None => 0,
        Some(number) => match usize::try_from(number)
            .ok()
            .filter(|number| (1..=uploads.len()).contains(number))
        {
            Some(number) => number - 1,
            None => {
                errors.push(
                    format!("{path}.document"),
                    format!("must be between 1 and {}", uploads.len()),
                );
                return None;
            }
        },
    };
    // A document that could not be read is named already.
    let upload = uploads.get(document_index)?.as_ref()?;
    let number = document_number(document_index).ok()?;
    let pages = upload.read.pdf().page_count;
    let page = match request.page {
        None => None,
        Some(page) => match u32::try_from(page)
            .ok()
            .filter(|page| (1..=pages).contains(page))
        {
            Some(page) => Some(page),
            None => {
                errors.push(
                    format!("{path}.page"),
                    format!("must be between 1 and {pages} (the pages of document {number})"),
                );
                return None;
            }
        },
    };
    let mut size = |field: &str, given: Option<f64>, default: f32| -> Option<f32> {
        match given {
            None => Some(default),
            Some(value) if value.is_finite() => Some(value as f32),
            Some(_) => {
                errors.push(format!("{path}.{field}"), "must be a number");
                None
            }
        }
    };
    let width = size("width", request.width, default_size.0);
    let height = size("height", request.height, default_size.1);
    let (width, height) = (width?, height?);
    let (page, corners, anchor) = match (&request.anchor, request.x, request.y) {
        (Some(anchor), None, None) => {
            let anchor = errors.check(format!("{path}.anchor"), AnchorText::parse(anchor))?;
            let hit = match find_anchor(upload, &anchor, page) {
                Ok(Some(hit)) => hit,
                Ok(None) => {
                    errors.push(
                        format!("{path}.anchor"),
                        match page {
                            Some(page) => format!(
                                "\"{anchor}\" is not found on page {page} of document {number}"
                            ),
                            None => format!("\"{anchor}\" is not found in document {number}"),
                        },
                    );
                    return None;
                }
                Err(error) => {
                    errors.push(format!("{path}.anchor"), error);
                    return None;
                }
            };
            let page_box = upload.read.pdf().pages.get(hit.page as usize - 1)?;
            (
                hit.page,
                centred_on(&hit, page_box, width, height),
                Some(anchor),
            )
        }
        (None, Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
            let Some(page) = page else {
                errors.push(format!("{path}.page"), "is required with x and y");
                return None;
            };
            let (x, y) = (x as f32, y as f32);
            (page, [x, y, x + width, y + height], None)
        }
        (None, Some(_), Some(_)) => {
            errors.push(format!("{path}.x"), "x and y must be numbers");
            return None;
        }
        _ => {
            errors.push(
                path.to_owned(),
                "give either anchor, or page with x and y (points from the page's bottom-left \
                 corner)",
            );
            return None;
        }
    };
    let rect = match PlaceRect::parse(corners) {
        Ok(rect) => rect,
        Err(error) => {
            errors.push(format!("{path}.width"), error);
            return None;
        }
    };
    let page_box = upload.read.pdf().pages.get(page as usize - 1)?;
    if !page_box.contains(corners) {
        errors.push(
            format!("{path}.x"),
            format!(
                "the box {corners:?} is not inside page {page} of document {number} ({:?})",
                page_box.rect
            ),
        );
        return None;
    }
    Some(SignaturePlace {
        document: number,
        page,
        rect,
        anchor,
    })
}

/// The first place `anchor` is drawn in the upload (on `page` only, when given).
fn find_anchor(
    upload: &Upload,
    anchor: &AnchorText,
    page: Option<u32>,
) -> Result<Option<AnchorHit>, UploadError> {
    let hits = upload.read.find_anchor(anchor.as_str())?;
    Ok(hits
        .into_iter()
        .find(|hit| page.is_none_or(|page| hit.page == page)))
}

fn document_number(index: usize) -> Result<u32, AppError> {
    u32::try_from(index + 1).map_err(AppError::internal)
}
