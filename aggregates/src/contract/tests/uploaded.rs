//! Contracts made from the caller's own documents: the service reads and prepares the PDFs and
//! resolves each signer's places; the domain records them and keeps the rules between them.

use super::*;
use crate::values::{AnchorText, DocumentName, PlaceRect};

fn uploaded_document(number: u32, pages: u32) -> UploadedDocument {
    UploadedDocument {
        document: number,
        name: DocumentName::parse("服务协议.pdf").unwrap(),
        upload_hash: digest(70 + u64::from(number)),
        content_hash: digest(80 + u64::from(number)),
        size_bytes: 4096,
        page_count: pages,
    }
}

fn place(document: u32, page: u32, anchor: Option<&str>) -> SignaturePlace {
    SignaturePlace {
        document,
        page,
        rect: PlaceRect::at(100.0, 120.0, 150.0, 60.0).unwrap(),
        anchor: anchor.map(|text| AnchorText::parse(text).unwrap()),
    }
}

fn document_request() -> ContractRequest {
    let mut request = request();
    request.template_id = None;
    request.variables = BTreeMap::new();
    request.documents = vec![DocumentRequest {
        name: Some("服务协议.pdf".into()),
        content_base64: Some("JVBERi0=".into()),
    }];
    for signer in &mut request.signers {
        signer.sign_method = Some("FACE_AND_SMS".into());
        signer.places = vec![PlaceRequest {
            anchor: Some("甲方（盖章）".into()),
            ..PlaceRequest::default()
        }];
    }
    request
}

fn initiate_uploaded(
    request: ContractRequest,
    documents: Vec<UploadedDocument>,
    places: Vec<Vec<SignaturePlace>>,
) -> ContractCommand {
    match initiate_with(request) {
        ContractCommand::Initiate(mut command) => {
            command.template = None;
            command.preview_hash = None;
            command.documents = documents;
            command.places = places;
            ContractCommand::Initiate(command)
        }
        _ => unreachable!("initiate_with builds an initiation"),
    }
}

fn both_signers_placed() -> Vec<Vec<SignaturePlace>> {
    vec![
        vec![place(1, 3, Some("乙方（签字）"))],
        vec![place(1, 3, Some("甲方（盖章）"))],
    ]
}

/// A contract from one three-page document, both signers placed on page 3.
fn initiated() -> Vec<ContractEvent> {
    when(
        &ContractState::default(),
        initiate_uploaded(
            document_request(),
            vec![uploaded_document(1, 3)],
            both_signers_placed(),
        ),
    )
    .unwrap()
}

#[test]
fn a_contract_from_an_uploaded_document_records_it_and_each_signers_place() {
    let events = initiated();
    let ContractEvent::ContractInitiated {
        template_id,
        preview_hash,
        documents,
        signers,
        ..
    } = &events[0]
    else {
        panic!("expected the initiation first, got {:?}", events[0]);
    };
    assert_eq!(template_id, &None);
    assert_eq!(preview_hash, &None);
    assert_eq!(documents, &vec![uploaded_document(1, 3)]);
    assert_eq!(signers[1].places, vec![place(1, 3, Some("甲方（盖章）"))]);

    let state = ContractAggregate::replay(&events);
    let contract = state.contract().unwrap();
    assert_eq!(
        contract.content,
        ContractContent::Uploaded {
            documents: vec![uploaded_document(1, 3)]
        }
    );
    assert_eq!(contract.signers[0].places, both_signers_placed()[0]);
}

#[test]
fn the_initiation_event_of_an_uploaded_contract_reads_back_the_same() {
    let events = initiated();
    let json = serde_json::to_value(&events[0]).unwrap();
    assert!(json.get("templateId").is_none(), "{json}");
    assert_eq!(json["documents"][0]["pageCount"], 3);
    assert_eq!(
        json["signers"][1]["places"][0]["rect"],
        serde_json::json!([100.0, 120.0, 250.0, 180.0])
    );
    let back: ContractEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, events[0]);
}

#[test]
fn a_template_and_documents_together_are_refused() {
    let mut request = document_request();
    request.template_id = Some("TEMPLATE_COLLECTION_V1".into());
    request.variables = BTreeMap::from([("payerName".to_string(), serde_json::json!("X"))]);
    let result = when(
        &ContractState::default(),
        initiate_uploaded(
            request,
            vec![uploaded_document(1, 3)],
            both_signers_placed(),
        ),
    );
    assert_eq!(invalid_fields(result), ["templateId", "variables"]);
}

#[test]
fn every_signer_needs_a_place_and_signs_each_document_once() {
    let result = when(
        &ContractState::default(),
        initiate_uploaded(
            document_request(),
            vec![uploaded_document(1, 3)],
            vec![
                vec![],
                vec![place(1, 1, None), place(1, 2, Some("甲方（盖章）"))],
            ],
        ),
    );
    assert_eq!(
        invalid_fields(result),
        ["signers[0].places", "signers[1].places[1].document"]
    );
}

#[test]
fn a_place_off_the_documents_is_refused_naming_it() {
    let result = when(
        &ContractState::default(),
        initiate_uploaded(
            document_request(),
            vec![uploaded_document(1, 3)],
            vec![vec![place(2, 1, None)], vec![place(1, 4, None)]],
        ),
    );
    assert_eq!(
        invalid_fields(result),
        ["signers[0].places[0].document", "signers[1].places[0].page"]
    );
}

#[test]
fn places_belong_to_uploaded_documents_only() {
    let mut request = request();
    request.signers[0].places = vec![PlaceRequest {
        page: Some(1),
        x: Some(10.0),
        y: Some(10.0),
        ..PlaceRequest::default()
    }];
    let result = when(&ContractState::default(), initiate_with(request));
    assert_eq!(invalid_fields(result), ["signers[0].places"]);
}

#[test]
fn more_documents_than_a_contract_takes_are_refused() {
    let mut request = document_request();
    request.documents.push(request.documents[0].clone());
    let result = when(
        &ContractState::default(),
        initiate_uploaded(
            request,
            vec![uploaded_document(1, 3), uploaded_document(2, 1)],
            both_signers_placed(),
        ),
    );
    assert_eq!(invalid_fields(result), ["documents"]);
}

#[test]
fn an_initiation_event_with_both_a_template_and_documents_initiates_nothing() {
    let mut events = initiated();
    if let ContractEvent::ContractInitiated { template_id, .. } = &mut events[0] {
        *template_id = Some(TemplateId::parse("TEMPLATE_COLLECTION_V1").unwrap());
    }
    assert_eq!(ContractAggregate::replay(&events).contract(), None);
}
