//! Long-term validation data (PAdES B-LT, ETSI EN 319 142-1 5.4): a Document Security Store
//! (`/DSS` in the catalog) holding the certificates, CRLs and OCSP responses a verifier needs to
//! validate every signature and timestamp of the document without asking anyone, added in an
//! incremental update. A document timestamp after it (B-LTA) proves the data existed then, so the
//! document still validates once the certificates have expired or the CA is gone.
//!
//! A later update keeps what earlier stores held (the revocation data of the signing time is the
//! evidence) and adds the new data: [`append_dss`] reads the current catalog and store from the
//! file, copies the catalog with `/DSS` pointing at a new store listing the old streams and the new
//! ones, and changes nothing else.

use ::cms::cert::CertificateChoices;
use ::cms::content_info::ContentInfo;
use ::cms::signed_data::SignedData;
use der::{Decode, Encode};
use x509_cert::Certificate;

use super::pades::{PadesError, Revision, Update};
use super::pdf::SignatureField;
use super::validate::syntax::{self, Dictionary, Object};
use crate::trust::oid;

#[derive(Debug, thiserror::Error)]
pub enum LtvError {
    #[error(transparent)]
    Pades(#[from] PadesError),
    #[error("the document's catalog (object {0}) cannot be read")]
    NoCatalog(i32),
    #[error("the document's structure is not one esign writes: {0}")]
    Unsupported(&'static str),
}

/// What goes into the store: DER certificates, DER `OCSPResponse`s and DER CRLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationData {
    pub certificates: Vec<Vec<u8>>,
    pub ocsps: Vec<Vec<u8>>,
    pub crls: Vec<Vec<u8>>,
}

impl ValidationData {
    /// Each item once, in first-seen order.
    fn deduplicated(&self) -> Self {
        fn unique(items: &[Vec<u8>]) -> Vec<Vec<u8>> {
            let mut seen: Vec<Vec<u8>> = Vec::new();
            for item in items {
                if !seen.contains(item) {
                    seen.push(item.clone());
                }
            }
            seen
        }
        Self {
            certificates: unique(&self.certificates),
            ocsps: unique(&self.ocsps),
            crls: unique(&self.crls),
        }
    }
}

/// Every certificate the document's signatures and timestamps carry (their signers' and the
/// chains they embed, and those of the timestamp tokens inside them), each once, in file order.
/// What cannot be read is left out: validation reports it, this only gathers what to vouch for.
pub fn certificates_in(pdf: &[u8]) -> Vec<Certificate> {
    let mut found: Vec<Certificate> = Vec::new();
    for object in syntax::scan(pdf).objects {
        let Some(dictionary) = object.value.as_dictionary() else {
            continue;
        };
        let signature = matches!(
            dictionary.get(b"Type").and_then(Object::as_name),
            Some(b"Sig" | b"DocTimeStamp")
        );
        let Some(contents) = dictionary.get(b"Contents").and_then(Object::as_string) else {
            continue;
        };
        if signature {
            collect_certificates(contents, &mut found, 0);
        }
    }
    found
}

/// What the document's current store holds (empty when it has none): the streams of `/Certs`,
/// `/OCSPs` and `/CRLs` as the latest catalog names them.
pub fn validation_data_in(pdf: &[u8]) -> ValidationData {
    let objects = syntax::scan(pdf).objects;
    let latest = |number: u32| objects.iter().rev().find(|object| object.number == number);
    let catalog = syntax::last_trailer(pdf)
        .and_then(|trailer| trailer.get(b"Root").and_then(Object::as_reference))
        .and_then(|(number, _)| latest(number))
        .and_then(|object| object.value.as_dictionary());
    let store = catalog
        .and_then(|catalog| catalog.get(b"DSS"))
        .and_then(Object::as_reference)
        .and_then(|(number, _)| latest(number))
        .and_then(|object| object.value.as_dictionary());
    let streams = |key: &[u8]| -> Vec<Vec<u8>> {
        let Some(Object::Array(items)) = store.and_then(|store| store.get(key)) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(Object::as_reference)
            .filter_map(|(number, _)| latest(number))
            .filter_map(|object| stream_data(pdf, object))
            .map(<[u8]>::to_vec)
            .collect()
    };
    ValidationData {
        certificates: streams(b"Certs"),
        ocsps: streams(b"OCSPs"),
        crls: streams(b"CRLs"),
    }
}

/// The data of a stream object with a direct `/Length` (as the store's streams are written).
fn stream_data<'a>(pdf: &'a [u8], object: &syntax::IndirectObject) -> Option<&'a [u8]> {
    let length = match object.value.as_dictionary()?.get(b"Length")? {
        Object::Integer(length) => usize::try_from(*length).ok()?,
        _ => return None,
    };
    let after = pdf.get(object.value_end..object.end)?;
    let keyword = after.windows(6).position(|window| window == b"stream")?;
    let mut start = object.value_end + keyword + 6;
    if pdf.get(start) == Some(&b'\r') {
        start += 1;
    }
    if pdf.get(start) == Some(&b'\n') {
        start += 1;
    }
    pdf.get(start..start.checked_add(length)?)
}

/// The certificates of the CMS `SignedData` at the start of `der` (placeholder zeros after it are
/// ignored), and of the signature timestamp tokens in its signers' unsigned attributes.
fn collect_certificates(der: &[u8], found: &mut Vec<Certificate>, depth: u8) {
    let Ok(mut reader) = der::SliceReader::new(der) else {
        return;
    };
    let Ok(content_info) = ContentInfo::decode(&mut reader) else {
        return;
    };
    let Ok(signed_data) = content_info.content.decode_as::<SignedData>() else {
        return;
    };
    for choice in signed_data.certificates.iter().flat_map(|set| set.0.iter()) {
        if let CertificateChoices::Certificate(certificate) = choice
            && !found.contains(certificate)
        {
            found.push(certificate.clone());
        }
    }
    if depth > 0 {
        return;
    }
    for signer in signed_data.signer_infos.0.iter() {
        for attribute in signer.unsigned_attrs.iter().flat_map(|set| set.iter()) {
            if attribute.oid != oid::SIGNATURE_TIME_STAMP_TOKEN {
                continue;
            }
            for value in attribute.values.iter() {
                if let Ok(token) = value.to_der() {
                    collect_certificates(&token, found, depth + 1);
                }
            }
        }
    }
}

/// The store's array keys, in the order written.
const KEYS: [&[u8]; 3] = [b"Certs", b"OCSPs", b"CRLs"];

/// What [`append_dss`] wrote.
#[derive(Debug)]
pub struct Appended {
    pub bytes: Vec<u8>,
    /// The facts the next update builds on.
    pub revision: Revision,
    /// The empty signature field added for the next document timestamp, when one was asked for.
    pub field: Option<SignatureField>,
}

/// Appends an update that adds `data` to the document's store (creating it on the first call) and,
/// when `new_timestamp_field` names one, an empty invisible signature field on the first page for
/// a document timestamp to fill next: a document is closed again years later with a timestamp of
/// its own, and every field a document was rendered with is filled by then.
pub fn append_dss(
    pdf: &[u8],
    revision: &Revision,
    data: &ValidationData,
    new_timestamp_field: Option<&str>,
) -> Result<Appended, LtvError> {
    let objects = syntax::scan(pdf).objects;
    let latest = |number: u32| {
        objects
            .iter()
            .rev()
            .find(|object| object.number == number)
            .and_then(|object| object.value.as_dictionary())
    };
    let catalog_number =
        u32::try_from(revision.catalog).map_err(|_| LtvError::NoCatalog(revision.catalog))?;
    let catalog = latest(catalog_number).ok_or(LtvError::NoCatalog(revision.catalog))?;
    let previous_store = catalog
        .get(b"DSS")
        .and_then(Object::as_reference)
        .and_then(|(number, _)| latest(number));
    let kept = |key: &[u8]| -> Vec<String> {
        previous_store
            .and_then(|store| store.get(key))
            .and_then(|value| match value {
                Object::Array(items) => Some(items),
                _ => None,
            })
            .map(|items| {
                items
                    .iter()
                    .filter_map(Object::as_reference)
                    .map(|(number, generation)| format!("{number} {generation} R"))
                    .collect()
            })
            .unwrap_or_default()
    };

    let mut update = Update::begin(pdf)?;
    let mut next = revision.size;
    let data = data.deduplicated();
    let mut arrays: Vec<Vec<String>> = Vec::new();
    for (key, items) in KEYS
        .iter()
        .zip([&data.certificates, &data.ocsps, &data.crls])
    {
        let mut references = kept(key);
        for item in items {
            let mut stream =
                format!("{next} 0 obj\n<< /Length {} >>\nstream\n", item.len()).into_bytes();
            stream.extend_from_slice(item);
            stream.extend_from_slice(b"\nendstream\nendobj\n");
            update.object(next, &stream);
            references.push(format!("{next} 0 R"));
            next += 1;
        }
        arrays.push(references);
    }
    let store_number = next;
    next += 1;
    let mut store = String::from("<< /Type /DSS");
    for (key, references) in KEYS.iter().zip(&arrays) {
        if !references.is_empty() {
            store.push_str(&format!(
                " /{} [{}]",
                String::from_utf8_lossy(key),
                references.join(" ")
            ));
        }
    }
    store.push_str(" >>");
    update.object(
        store_number,
        format!("{store_number} 0 obj\n{store}\nendobj\n").as_bytes(),
    );

    let mut catalog = catalog.clone();
    catalog.0.retain(|(key, _)| key != b"DSS");
    catalog.0.push((
        b"DSS".to_vec(),
        Object::Reference(store_number.unsigned_abs(), 0),
    ));
    let mut field = None;
    if let Some(name) = new_timestamp_field {
        let widget = next;
        next += 1;
        let (page_number, mut page) = first_page(pdf, &catalog, &latest)?;
        let reference = Object::Reference(widget.unsigned_abs(), 0);
        add_to_fields(&mut catalog, reference.clone())?;
        push_to_array(&mut page, b"Annots", reference)?;
        let page_object = i32::try_from(page_number).map_err(|_| LtvError::Unsupported("page"))?;
        update.object(
            page_object,
            format!("{page_object} 0 obj\n{}\nendobj\n", write_dictionary(&page)).as_bytes(),
        );
        let written = SignatureField {
            name: name.to_owned(),
            object: widget,
            page: page_object,
            rect: [0.0; 4],
        };
        update.object(widget, empty_field(&written).as_bytes());
        field = Some(written);
    }
    update.object(
        revision.catalog,
        format!(
            "{} 0 obj\n{}\nendobj\n",
            revision.catalog,
            write_dictionary(&catalog)
        )
        .as_bytes(),
    );
    let bytes = update.finish(revision, next);
    Ok(Appended {
        bytes,
        revision: Revision {
            size: next,
            ..revision.clone()
        },
        field,
    })
}

/// The first page of the document (object number and dictionary), down the page tree's first
/// kids. A node the scan does not see is read from the object streams an uploaded document may
/// keep it in.
fn first_page<'a>(
    pdf: &[u8],
    catalog: &Dictionary,
    latest: &impl Fn(u32) -> Option<&'a Dictionary>,
) -> Result<(u32, Dictionary), LtvError> {
    let mut node = catalog
        .get(b"Pages")
        .and_then(Object::as_reference)
        .ok_or(LtvError::Unsupported("a catalog without a page tree"))?
        .0;
    // A page tree deeper than this is not one esign wrote.
    for _ in 0..16 {
        let dictionary = latest(node)
            .cloned()
            .or_else(|| super::uploaded::compressed_dictionary(pdf, node))
            .ok_or(LtvError::Unsupported("a page tree node"))?;
        match dictionary.get(b"Kids") {
            Some(Object::Array(kids)) => {
                node = kids
                    .first()
                    .and_then(Object::as_reference)
                    .ok_or(LtvError::Unsupported("a page tree without pages"))?
                    .0;
            }
            _ => return Ok((node, dictionary)),
        }
    }
    Err(LtvError::Unsupported("a page tree deeper than 16 levels"))
}

/// Adds `field` to the catalog's `/AcroForm /Fields` (an inline form, as esign writes it).
fn add_to_fields(catalog: &mut Dictionary, field: Object) -> Result<(), LtvError> {
    let form = catalog
        .0
        .iter_mut()
        .find(|(key, _)| key == b"AcroForm")
        .map(|(_, value)| value)
        .ok_or(LtvError::Unsupported("a document without a form"))?;
    let Object::Dictionary(form) = form else {
        return Err(LtvError::Unsupported("a form that is not inline"));
    };
    push_to_array(form, b"Fields", field)
}

/// Appends `item` to the inline array `key` of `dictionary`, creating it when absent.
fn push_to_array(dictionary: &mut Dictionary, key: &[u8], item: Object) -> Result<(), LtvError> {
    match dictionary.0.iter_mut().find(|(name, _)| name == key) {
        Some((_, Object::Array(items))) => items.push(item),
        Some(_) => return Err(LtvError::Unsupported("an array that is not inline")),
        None => dictionary.0.push((key.to_vec(), Object::Array(vec![item]))),
    }
    Ok(())
}

/// An empty, invisible, printable and locked signature field (a merged field and widget).
fn empty_field(field: &SignatureField) -> String {
    format!(
        "{} 0 obj\n<< /Type /Annot /Subtype /Widget /FT /Sig /T {} /Rect [0 0 0 0] /F 132 /P {} 0 R >>\nendobj\n",
        field.object,
        super::pades::text_string(&field.name),
        field.page
    )
}

/// A dictionary as PDF syntax again (the values a catalog holds: names, numbers, strings,
/// references, arrays and dictionaries).
fn write_dictionary(dictionary: &Dictionary) -> String {
    let mut out = String::from("<<");
    for (key, value) in &dictionary.0 {
        out.push(' ');
        out.push_str(&write_name(key));
        out.push(' ');
        out.push_str(&write_object(value));
    }
    out.push_str(" >>");
    out
}

fn write_object(object: &Object) -> String {
    match object {
        Object::Null => "null".to_owned(),
        Object::Boolean(value) => value.to_string(),
        Object::Integer(value) => value.to_string(),
        Object::Real(value) => value.to_string(),
        Object::Name(name) => write_name(name),
        Object::String { bytes, .. } => format!("<{}>", hex::encode_upper(bytes)),
        Object::Array(items) => format!(
            "[{}]",
            items.iter().map(write_object).collect::<Vec<_>>().join(" ")
        ),
        Object::Dictionary(dictionary) => write_dictionary(dictionary),
        Object::Reference(number, generation) => format!("{number} {generation} R"),
    }
}

/// `/Name`, with anything outside the regular characters written as `#xx`.
fn write_name(name: &[u8]) -> String {
    let mut out = String::from("/");
    for &byte in name {
        let regular = byte.is_ascii_graphic()
            && !matches!(
                byte,
                b'#' | b'/' | b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'%'
            );
        if regular {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("#{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::pdf::{Block, Layout, render};

    fn document() -> (Vec<u8>, Revision) {
        let rendered = render(&Layout {
            title: "协议".into(),
            footer: "C1".into(),
            blocks: vec![Block::Paragraph("甲方同意。".into())],
            signature_fields: vec!["Signer_A".into()],
        })
        .unwrap();
        (rendered.bytes.clone(), Revision::of(&rendered))
    }

    /// The dictionary object `number` as the file's last update wrote it.
    fn latest(pdf: &[u8], number: u32) -> Dictionary {
        syntax::scan(pdf)
            .objects
            .iter()
            .rev()
            .find(|object| object.number == number)
            .unwrap()
            .value
            .as_dictionary()
            .unwrap()
            .clone()
    }

    fn store_of(pdf: &[u8], catalog: u32) -> Dictionary {
        let (store, _) = latest(pdf, catalog)
            .get(b"DSS")
            .unwrap()
            .as_reference()
            .unwrap();
        latest(pdf, store)
    }

    fn count(store: &Dictionary, key: &[u8]) -> usize {
        match store.get(key) {
            Some(Object::Array(items)) => items.len(),
            _ => 0,
        }
    }

    #[test]
    fn a_store_is_added_and_a_later_one_keeps_what_it_held() {
        let (pdf, revision) = document();
        let first = ValidationData {
            certificates: vec![b"cert-a".to_vec(), b"cert-b".to_vec(), b"cert-a".to_vec()],
            ocsps: vec![b"ocsp-a".to_vec()],
            crls: vec![b"crl-1".to_vec()],
        };
        let Appended {
            bytes: with_store,
            revision: next,
            field,
        } = append_dss(&pdf, &revision, &first, None).unwrap();
        assert!(field.is_none());
        assert!(with_store.starts_with(&pdf), "an incremental update");
        let catalog = u32::try_from(revision.catalog).unwrap();
        let store = store_of(&with_store, catalog);
        assert_eq!(store.get(b"Type").unwrap().as_name(), Some(&b"DSS"[..]));
        assert_eq!(count(&store, b"Certs"), 2, "duplicates are written once");
        assert_eq!(count(&store, b"OCSPs"), 1);
        assert_eq!(count(&store, b"CRLs"), 1);
        assert_eq!(
            crate::documents::pades::last_trailer_size(&with_store).unwrap(),
            next.size
        );
        // The catalog keeps everything else it said.
        let objects = syntax::scan(&with_store).objects;
        let catalogs: Vec<&Dictionary> = objects
            .iter()
            .filter(|object| object.number == catalog)
            .filter_map(|object| object.value.as_dictionary())
            .collect();
        let (original, updated) = (catalogs[0], catalogs[catalogs.len() - 1]);
        for (key, value) in &original.0 {
            assert_eq!(
                updated.get(key),
                Some(value),
                "{}",
                String::from_utf8_lossy(key)
            );
        }

        assert_eq!(validation_data_in(&with_store), first.deduplicated());
        assert_eq!(validation_data_in(&pdf), ValidationData::default());

        let later = ValidationData {
            crls: vec![b"crl-2".to_vec()],
            ..ValidationData::default()
        };
        let renewed = append_dss(&with_store, &next, &later, None).unwrap().bytes;
        let store = store_of(&renewed, catalog);
        assert_eq!(count(&store, b"Certs"), 2);
        assert_eq!(count(&store, b"OCSPs"), 1);
        assert_eq!(count(&store, b"CRLs"), 2, "the first CRL stays evidence");
    }

    #[test]
    fn a_new_timestamp_field_joins_the_form_and_the_first_page() {
        let (pdf, revision) = document();
        let appended = append_dss(
            &pdf,
            &revision,
            &ValidationData::default(),
            Some("DocumentTimestamp2"),
        )
        .unwrap();
        let field = appended.field.expect("the field was added");
        assert_eq!(field.name, "DocumentTimestamp2");
        assert_eq!(field.rect, [0.0; 4], "invisible");
        assert_eq!(
            Revision::of_file(&appended.bytes).unwrap(),
            appended.revision,
            "the trailer names what the next update builds on"
        );
        let latest = |number: u32| latest(&appended.bytes, number);
        let widget = Object::Reference(u32::try_from(field.object).unwrap(), 0);
        let catalog = latest(u32::try_from(revision.catalog).unwrap());
        let Some(Object::Dictionary(form)) = catalog.get(b"AcroForm") else {
            panic!("no form");
        };
        let Some(Object::Array(fields)) = form.get(b"Fields") else {
            panic!("no fields");
        };
        assert_eq!(fields.len(), 2, "the rendered field and the new one");
        assert!(fields.contains(&widget));
        let page = latest(u32::try_from(field.page).unwrap());
        let Some(Object::Array(annotations)) = page.get(b"Annots") else {
            panic!("no annotations");
        };
        assert!(annotations.contains(&widget));
        assert_eq!(
            page.get(b"Type").and_then(Object::as_name),
            Some(&b"Page"[..])
        );
    }

    #[tokio::test]
    async fn the_certificates_of_every_signature_and_its_timestamp_are_found() {
        use crate::documents::pades::SignatureInfo;
        use crate::documents::sign::{FieldSignature, sign_field_timestamped};
        let now = chrono::Utc::now();
        let ca = std::sync::Arc::new(crate::trust::ca::NewCa::generate("esign", now).unwrap().ca);
        let policy = crate::trust::parse_tsa_policy(crate::trust::DEFAULT_TSA_POLICY).unwrap();
        let timestamper = crate::trust::timestamper::LocalTimestamper::new(std::sync::Arc::new(
            ca.tsa_signer(policy),
        ));
        let rendered = render(&Layout {
            title: "协议".into(),
            footer: "C1".into(),
            blocks: vec![Block::Paragraph("甲方同意。".into())],
            signature_fields: vec!["PlatformSeal".into()],
        })
        .unwrap();
        let seal = ca.seal();
        let signed = sign_field_timestamped(
            &rendered.bytes,
            &Revision::of(&rendered),
            FieldSignature {
                field: &rendered.fields[0],
                info: &SignatureInfo {
                    name: "esign".into(),
                    reason: "seal".into(),
                    location: None,
                    signed_at: now,
                },
                appearance: None,
                signer: crate::trust::cms::Signer {
                    certificate: &seal.certificate,
                    key: &seal.key,
                },
                chain: &[ca.intermediate().clone(), ca.root().clone()],
            },
            &timestamper,
        )
        .await
        .unwrap();
        let found = certificates_in(&signed.bytes);
        for expected in [
            &seal.certificate,
            ca.intermediate(),
            ca.root(),
            &ca.tsa().certificate,
        ] {
            assert!(
                found.contains(expected),
                "{:?} missing",
                expected.tbs_certificate().subject()
            );
        }
        assert_eq!(found.len(), 4, "each once");
    }

    #[test]
    fn names_with_delimiters_are_escaped() {
        assert_eq!(write_name(b"A B/C"), "/A#20B#2FC");
        assert_eq!(write_name(b"DSS"), "/DSS");
    }
}
