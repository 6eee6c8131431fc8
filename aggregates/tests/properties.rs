//! Property tests: random command sequences against each aggregate, checking the invariants that must
//! hold whatever happens: states only move forward, final states absorb, no signature out of order,
//! signed count never exceeds signers, and the accepted events replay (also through JSON) to the state
//! they produced.

// Helpers outside `#[test]` functions are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(
    clippy::unwrap_used,
    reason = "test fixtures: a bad fixture should fail loudly"
)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use aggregates::contract::{
    ArchiveConfigRequest, CertificateFacts, ContractAggregate, ContractCommand, ContractEvent,
    ContractRequest, ContractState, Expire, InitiateContract, IssueSignLink, NewSignLink,
    OpenSignLink, RecordArchiveFailure, RecordArchiveSuccess, RecordFaceVerification, Reject,
    RequestArchive, Revoke, SealDocument, SendSmsCode, Sign, SignerRequest, SignerStatus, SmsCheck,
    VerifyCertificate, VerifySmsCode,
};
use aggregates::face_verification::{
    ExpireVerification, FaceVerificationAggregate, FaceVerificationFacts, InitiateVerification,
    RecordProviderResult, StartProviderTask, UserInfoRequest, Verdict, VerificationCommand,
    VerificationEvent, VerificationRequest, VerificationState,
};
use aggregates::template::{
    ChangeActivation, PublishVersion, SignerConfig, SignerConfigRequest, TemplateAggregate,
    TemplateCommand, TemplateEvent, TemplateRequest, TemplateState, TemplateVersionFacts,
    VariableDefinition, VariableDefinitionRequest, VariableKey,
};
use aggregates::values::{
    ArchiveId, ArchiveProvider, CertificateSerial, ClientId, ContractId, DeviceInfo, Digest,
    DisplayName, FaceScore, FailReason, LinkId, LongText, Mode, Operator, PartyId, PersonName,
    ProviderName, ProviderTaskId, Reason, SignMethod, TemplateId, TemplateVersion, TransactionNo,
    UserAgent, VerificationId, VerificationStatus,
};
use aggregates::{Aggregate, DomainEvent};
use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestCaseError;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T10:00:00Z")
        .unwrap()
        .to_utc()
}

fn digest(n: u64) -> Digest {
    Digest::parse(&format!("{n:064x}")).unwrap()
}

/// Replays the history from scratch and through its JSON form; both must give `state`.
fn check_fold<A>(history: &[A::Event], state: &A::State) -> Result<(), TestCaseError>
where
    A: Aggregate,
    A::State: PartialEq,
    A::Event: PartialEq,
{
    let replayed = A::replay(history);
    prop_assert_eq!(
        &replayed,
        state,
        "replaying the accepted events gives another state"
    );
    let mut stored = Vec::with_capacity(history.len());
    for event in history {
        let json = serde_json::to_value(event).unwrap();
        prop_assert_eq!(json["type"].as_str(), Some(event.event_type()));
        let back: A::Event = serde_json::from_value(json).unwrap();
        prop_assert_eq!(&back, event);
        stored.push(back);
    }
    prop_assert_eq!(
        &A::replay(&stored),
        state,
        "events read back from JSON replay to another state"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Contract

const PARTIES: [&str; 4] = ["RECEIVER_001", "PAYER_001", "WITNESS_001", "NOBODY"];
const NAMES: [&str; 3] = ["张三", "李四", "王五"];
const ID_CARDS: [&str; 3] = [
    "11010519491231002X",
    "440304199001010011",
    "320102198512120022",
];
const PROVIDERS: [ArchiveProvider; 3] = [
    ArchiveProvider::Tsa,
    ArchiveProvider::Blockchain,
    ArchiveProvider::LocalCa,
];

#[derive(Clone, Debug)]
enum Step {
    Advance(i64),
    Issue(usize),
    Open {
        party: usize,
        stale: bool,
    },
    SendSms(usize),
    VerifySms {
        party: usize,
        correct: bool,
    },
    Face {
        party: usize,
        success: bool,
        matching: bool,
    },
    Certificate {
        party: usize,
        matching: bool,
    },
    Sign(usize),
    /// The next step that moves this signer towards a signature.
    Progress(usize),
    Reject(usize),
    Revoke,
    Expire,
    Seal(u64),
    Archive(usize),
    ArchiveSucceeded(usize),
    ArchiveFailed(usize),
}

fn step() -> impl Strategy<Value = Step> {
    let party = 0..PARTIES.len();
    let provider = 0..PROVIDERS.len();
    prop_oneof![
        3 => prop_oneof![0..40i64, 0..3000i64, Just(7 * 24 * 60)].prop_map(Step::Advance),
        1 => party.clone().prop_map(Step::Issue),
        1 => (party.clone(), any::<bool>()).prop_map(|(party, stale)| Step::Open { party, stale }),
        1 => party.clone().prop_map(Step::SendSms),
        2 => (party.clone(), any::<bool>()).prop_map(|(party, correct)| Step::VerifySms { party, correct }),
        1 => (party.clone(), any::<bool>(), any::<bool>())
            .prop_map(|(party, success, matching)| Step::Face { party, success, matching }),
        1 => (party.clone(), any::<bool>()).prop_map(|(party, matching)| Step::Certificate { party, matching }),
        2 => party.clone().prop_map(Step::Sign),
        12 => party.clone().prop_map(Step::Progress),
        1 => party.prop_map(Step::Reject),
        1 => Just(Step::Revoke),
        1 => Just(Step::Expire),
        2 => (0..2u64).prop_map(Step::Seal),
        2 => provider.clone().prop_map(Step::Archive),
        2 => provider.clone().prop_map(Step::ArchiveSucceeded),
        1 => provider.prop_map(Step::ArchiveFailed),
    ]
}

fn template_facts() -> TemplateVersionFacts {
    TemplateVersionFacts {
        template_id: TemplateId::parse("T1").unwrap(),
        version: TemplateVersion::parse("1.0").unwrap(),
        active: true,
        variable_definitions: vec![VariableDefinition {
            key: VariableKey::parse("payerName").unwrap(),
            name: DisplayName::parse("付款方").unwrap(),
            required: true,
            sample: None,
        }],
        signer_config: SignerConfig::new(1, 3, vec![SignMethod::FaceAndSms]).unwrap(),
    }
}

/// Receiver first (face + SMS), then payer (CA certificate) and witness (face + SMS) in parallel.
fn contract_request() -> ContractRequest {
    let signer = |index: usize, method: &str, notify: &str, sequence: i64| SignerRequest {
        party_id: Some(PARTIES[index].into()),
        party_type: Some(if index == 1 { "PAYER" } else { "RECEIVER" }.into()),
        name: Some(NAMES[index].into()),
        id_card_no: Some(ID_CARDS[index].into()),
        mobile: Some("13800138000".into()),
        sign_method: Some(method.into()),
        notify_type: Some(notify.into()),
        sequence: Some(sequence),
        link_expire_minutes: None,
        organization: None,
        places: Vec::new(),
    };
    ContractRequest {
        biz_id: Some("REL_1".into()),
        biz_type: Some("RELATIONSHIP_AGREEMENT".into()),
        template_id: Some("T1".into()),
        template_version: None,
        title: Some("协议".into()),
        variables: BTreeMap::from([("payerName".to_string(), serde_json::json!("XX总部"))]),
        signers: vec![
            signer(0, "FACE_AND_SMS", "H5_LINK", 1),
            signer(1, "CA_CERT", "SMS", 2),
            signer(2, "FACE_AND_SMS", "SMS", 2),
        ],
        callback_url: Some("https://auth.example.com/cb".into()),
        webhook_config: None,
        expire_days: Some(2),
        archive_config: Some(ArchiveConfigRequest {
            need_archive: Some(true),
            archive_provider: None,
            archive_providers: None,
        }),
        documents: Vec::new(),
    }
}

struct ContractWorld {
    state: ContractState,
    history: Vec<ContractEvent>,
    now: DateTime<Utc>,
    counter: u64,
}

impl ContractWorld {
    fn initiated() -> Self {
        let command = ContractCommand::Initiate(InitiateContract {
            contract_id: ContractId::parse("C1").unwrap(),
            client_id: ClientId::parse("client").unwrap(),
            request: contract_request(),
            template: Some(template_facts()),
            preview_hash: Some(digest(1)),
            documents: Vec::new(),
            places: Vec::new(),
            sign_links: (0..3)
                .map(|index| NewSignLink {
                    link_id: LinkId::parse(&format!("L{index}")).unwrap(),
                    token_hash: digest(100 + index),
                })
                .collect(),
            archive_id: aggregates::values::ArchiveId::parse("ARCHIVE_TEST").unwrap(),
            link_lifetimes: aggregates::values::LinkLifetimes::default(),
            other_archive_ids: Vec::new(),
            seals: std::collections::BTreeMap::new(),
            mode: Mode::Production,
            now: t0(),
        });
        let mut world = ContractWorld {
            state: ContractState::default(),
            history: Vec::new(),
            now: t0(),
            counter: 1000,
        };
        for event in ContractAggregate::decide(&world.state, command).unwrap() {
            ContractAggregate::evolve(&mut world.state, &event);
            world.history.push(event);
        }
        world
    }

    fn fresh(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn party(index: usize) -> PartyId {
        PartyId::parse(PARTIES[index]).unwrap()
    }

    fn live_link(&self, index: usize) -> Option<&aggregates::contract::SignLink> {
        self.state.contract()?.signer(&Self::party(index))?.link()
    }

    fn link_id(&self, index: usize) -> LinkId {
        self.live_link(index)
            .map(|link| link.link_id.clone())
            .unwrap_or_else(|| LinkId::parse("NO_LINK").unwrap())
    }

    fn command(&mut self, step: &Step) -> Option<ContractCommand> {
        let now = self.now;
        let command = match *step {
            Step::Advance(minutes) => {
                self.now += TimeDelta::minutes(minutes);
                return None;
            }
            Step::Issue(party) => {
                let id = self.fresh();
                ContractCommand::IssueSignLink(IssueSignLink {
                    party_id: Self::party(party),
                    link: NewSignLink {
                        link_id: LinkId::parse(&format!("L{id}")).unwrap(),
                        token_hash: digest(id),
                    },
                    ttl: None,
                    defaults: aggregates::values::LinkLifetimes::default(),
                    now,
                })
            }
            Step::Open { party, stale } => ContractCommand::OpenSignLink(OpenSignLink {
                party_id: Self::party(party),
                link_id: if stale {
                    LinkId::parse("L0").unwrap()
                } else {
                    self.link_id(party)
                },
                ip_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                user_agent: Some(UserAgent::parse("test").unwrap()),
                now,
            }),
            Step::SendSms(party) => {
                let code = self.fresh();
                ContractCommand::SendSmsCode(SendSmsCode {
                    party_id: Self::party(party),
                    link_id: self.link_id(party),
                    code_hash: digest(code),
                    policy: Default::default(),
                    now,
                })
            }
            Step::VerifySms { party, correct } => {
                let sent = match self.live_link(party).map(|link| &link.sms) {
                    Some(SmsCheck::Sent { code_hash, .. }) => Some(code_hash.clone()),
                    _ => None,
                };
                let code_hash = match (correct, sent) {
                    (true, Some(hash)) => hash,
                    _ => digest(999_999),
                };
                ContractCommand::VerifySmsCode(VerifySmsCode {
                    party_id: Self::party(party),
                    link_id: self.link_id(party),
                    code_hash,
                    policy: Default::default(),
                    now,
                })
            }
            Step::Face {
                party,
                success,
                matching,
            } => {
                let person = if matching {
                    party.min(2)
                } else {
                    (party + 1) % 3
                };
                ContractCommand::RecordFaceVerification(RecordFaceVerification {
                    party_id: Self::party(party),
                    link_id: self.link_id(party),
                    verification: FaceVerificationFacts {
                        verification_id: VerificationId::parse(&format!("V{}", self.fresh()))
                            .unwrap(),
                        status: if success {
                            VerificationStatus::Success
                        } else {
                            VerificationStatus::Failed
                        },
                        name: PersonName::parse(NAMES[person]).unwrap(),
                        id_card_no: ID_CARDS[person].parse().unwrap(),
                        verified_at: Some(now),
                    },
                    now,
                })
            }
            Step::Certificate { party, matching } => {
                let person = if matching {
                    party.min(2)
                } else {
                    (party + 1) % 3
                };
                ContractCommand::VerifyCertificate(VerifyCertificate {
                    party_id: Self::party(party),
                    link_id: self.link_id(party),
                    certificate: CertificateFacts {
                        serial_number: CertificateSerial::parse(&format!("S{}", self.fresh()))
                            .unwrap(),
                        issuer: LongText::parse("CFCA").unwrap(),
                        subject_name: PersonName::parse(NAMES[person]).unwrap(),
                        subject_id_card_no: Some(ID_CARDS[person].parse().unwrap()),
                        not_before: t0() - TimeDelta::days(365),
                        not_after: t0() + TimeDelta::days(365),
                    },
                    now,
                })
            }
            Step::Sign(party) => ContractCommand::Sign(Sign {
                party_id: Self::party(party),
                link_id: self.link_id(party),
                signature_image: Some(signature_image()),
                signature_image_hash: Some(digest(7)),
                ip_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                device_info: DeviceInfo::parse("test").unwrap(),
                transaction_no: TransactionNo::parse("TX").unwrap(),
                revision: None,
                now,
            }),
            Step::Progress(party) => return self.command(&self.progress(party)),
            Step::Reject(party) => ContractCommand::Reject(Reject {
                party_id: Self::party(party),
                link_id: self.link_id(party),
                reason: Reason::parse("no").unwrap(),
                ip_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                now,
            }),
            Step::Revoke => ContractCommand::Revoke(Revoke {
                reason: Reason::parse("cancel").unwrap(),
                operator: Operator::parse("admin").unwrap(),
                now,
            }),
            Step::Expire => ContractCommand::Expire(Expire { now }),
            Step::Seal(hash) => ContractCommand::SealDocument(SealDocument {
                document_hash: digest(50 + hash),
                details: Default::default(),
                now,
            }),
            Step::Archive(provider) => ContractCommand::RequestArchive(RequestArchive {
                archive_id: ArchiveId::parse(&format!("A{provider}")).unwrap(),
                provider: PROVIDERS[provider],
                now,
            }),
            Step::ArchiveSucceeded(provider) => {
                ContractCommand::RecordArchiveSuccess(RecordArchiveSuccess {
                    provider: PROVIDERS[provider],
                    transaction_no: TransactionNo::parse("ARCHIVE_TX").unwrap(),
                    certificate_url: None,
                    authority: None,
                    evidence: None,
                    now,
                })
            }
            Step::ArchiveFailed(provider) => {
                ContractCommand::RecordArchiveFailure(RecordArchiveFailure {
                    provider: PROVIDERS[provider],
                    reason: Reason::parse("timeout").unwrap(),
                    now,
                })
            }
        };
        Some(command)
    }

    fn progress(&self, party: usize) -> Step {
        let Some(link) = self.live_link(party) else {
            return Step::Issue(party);
        };
        if self.now >= link.expires_at {
            return Step::Issue(party);
        }
        if party == 1 {
            return if link.certificate.is_none() {
                Step::Certificate {
                    party,
                    matching: true,
                }
            } else {
                Step::Sign(party)
            };
        }
        match &link.sms {
            SmsCheck::NotSent => Step::SendSms(party),
            SmsCheck::Sent { expires_at, .. } if self.now >= *expires_at => Step::SendSms(party),
            SmsCheck::Sent { .. } => Step::VerifySms {
                party,
                correct: true,
            },
            SmsCheck::Locked { .. } => Step::Issue(party),
            SmsCheck::Verified { .. } if link.face.is_none() => Step::Face {
                party,
                success: true,
                matching: true,
            },
            SmsCheck::Verified { .. } => Step::Sign(party),
        }
    }
}

/// NotInitiated 0, CREATED 1, PARTIAL_SIGNED 2, any final state 3.
fn contract_rank(state: &ContractState) -> u8 {
    match state {
        ContractState::NotInitiated => 0,
        ContractState::Created { .. } => 1,
        ContractState::PartiallySigned { .. } => 2,
        ContractState::Signed { .. }
        | ContractState::Rejected { .. }
        | ContractState::Revoked { .. }
        | ContractState::Expired { .. } => 3,
    }
}

fn is_signing_step(command: &ContractCommand) -> bool {
    !matches!(
        command,
        ContractCommand::SealDocument(_)
            | ContractCommand::RequestArchive(_)
            | ContractCommand::RecordArchiveSuccess(_)
            | ContractCommand::RecordArchiveFailure(_)
    )
}

fn check_contract_event(
    before: &ContractState,
    event: &ContractEvent,
    after: &ContractState,
) -> Result<(), TestCaseError> {
    prop_assert!(
        contract_rank(after) >= contract_rank(before),
        "{before:?} moved back to {after:?}"
    );
    if contract_rank(before) == 3 {
        prop_assert_eq!(
            after.status(),
            before.status(),
            "a final state changed status"
        );
    }
    if let ContractEvent::SignerSigned { party_id, .. } = event {
        let contract = before.contract().unwrap();
        let signer = contract.signer(party_id).unwrap();
        prop_assert!(
            contract.waiting_before(signer).is_empty(),
            "{party_id} signed before {:?}",
            contract.waiting_before(signer)
        );
        prop_assert!(
            matches!(signer.status, SignerStatus::Pending { .. }),
            "{party_id} signed twice"
        );
    }
    if let Some(contract) = after.contract() {
        prop_assert!(contract.signed_count() <= contract.signers.len());
    }
    Ok(())
}

fn run_contract(steps: &[Step]) -> Result<ContractWorld, TestCaseError> {
    let mut world = ContractWorld::initiated();
    for step in steps {
        let Some(command) = world.command(step) else {
            continue;
        };
        let before = world.state.clone();
        let decision = ContractAggregate::decide(&before, command.clone());
        if before.is_terminal()
            || (matches!(before, ContractState::Signed { .. }) && is_signing_step(&command))
        {
            prop_assert!(
                decision.is_err(),
                "{:?} absorbed nothing: {command:?} -> {decision:?}",
                before.status()
            );
        }
        let Ok(events) = decision else {
            continue;
        };
        for event in events {
            let previous = world.state.clone();
            ContractAggregate::evolve(&mut world.state, &event);
            check_contract_event(&previous, &event, &world.state)?;
            world.history.push(event);
        }
        if let ContractState::Signed { contract, .. } = &world.state {
            prop_assert_eq!(
                contract.signed_count(),
                contract.signers.len(),
                "SIGNED with signers missing"
            );
        }
    }
    check_fold::<ContractAggregate>(&world.history, &world.state)?;
    Ok(world)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn contract_invariants_hold_for_any_command_sequence(steps in prop::collection::vec(step(), 1..80)) {
        run_contract(&steps)?;
    }
}

#[test]
fn the_contract_generator_reaches_every_outcome() {
    // Guards the property test against a generator that never gets past CREATED.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut reached = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let steps = prop::collection::vec(step(), 1..80)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let world = run_contract(&steps).unwrap();
        reached.insert(world.state.status().unwrap().as_str());
        if let ContractState::Signed { archives, .. } = &world.state
            && !archives.is_empty()
        {
            reached.insert("ARCHIVED");
        }
    }
    for status in [
        "SIGNED",
        "PARTIAL_SIGNED",
        "REJECTED",
        "REVOKED",
        "EXPIRED",
        "ARCHIVED",
    ] {
        assert!(
            reached.contains(status),
            "never reached {status}: {reached:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// FaceVerification

#[derive(Clone, Debug)]
enum VerificationStep {
    Initiate {
        valid: bool,
    },
    Start {
        provider: usize,
        task: usize,
    },
    Result {
        provider: usize,
        pass: bool,
        transaction: usize,
    },
    Expire,
    Advance(i64),
}

fn verification_step() -> impl Strategy<Value = VerificationStep> {
    prop_oneof![
        1 => any::<bool>().prop_map(|valid| VerificationStep::Initiate { valid }),
        2 => (0..2usize, 0..2usize).prop_map(|(provider, task)| VerificationStep::Start { provider, task }),
        3 => (0..2usize, any::<bool>(), 0..2usize)
            .prop_map(|(provider, pass, transaction)| VerificationStep::Result { provider, pass, transaction }),
        1 => Just(VerificationStep::Expire),
        2 => (0..40i64).prop_map(VerificationStep::Advance),
    ]
}

fn verification_rank(state: &VerificationState) -> u8 {
    match state {
        VerificationState::NotInitiated => 0,
        VerificationState::Pending { .. } | VerificationState::Degraded { .. } => 1,
        VerificationState::Processing { .. } => 2,
        VerificationState::Succeeded { .. }
        | VerificationState::SucceededDegraded { .. }
        | VerificationState::Failed { .. }
        | VerificationState::Expired { .. } => 3,
    }
}

fn verification_command(step: &VerificationStep, now: DateTime<Utc>) -> VerificationCommand {
    let provider = |index: usize| ProviderName::parse(["sandbox", "other"][index]).unwrap();
    match *step {
        VerificationStep::Initiate { valid } => {
            VerificationCommand::Initiate(InitiateVerification {
                verification_id: VerificationId::parse("V1").unwrap(),
                client_id: ClientId::parse("client").unwrap(),
                request: VerificationRequest {
                    biz_id: Some("B1".into()),
                    biz_type: Some(
                        if valid {
                            "PAYER_AUTHORIZATION"
                        } else {
                            "UNKNOWN"
                        }
                        .into(),
                    ),
                    user_info: Some(UserInfoRequest {
                        name: Some("张三".into()),
                        id_card_no: Some(ID_CARDS[0].into()),
                        mobile: None,
                    }),
                    callback_url: Some("https://auth.example.com/cb".into()),
                    webhook_config: None,
                    expire_minutes: Some(20),
                    ui_config: None,
                    archive_config: None,
                },
                mode: Mode::Production,
                now,
            })
        }
        VerificationStep::Start {
            provider: index,
            task,
        } => VerificationCommand::StartProviderTask(StartProviderTask {
            provider: provider(index),
            task_id: ProviderTaskId::parse(&format!("T{task}")).unwrap(),
            h5_url: None,
            now,
        }),
        VerificationStep::Result {
            provider: index,
            pass,
            transaction,
        } => VerificationCommand::RecordResult(RecordProviderResult {
            provider: provider(index),
            transaction_no: TransactionNo::parse(&format!("X{transaction}")).unwrap(),
            verdict: if pass {
                Verdict::Passed {
                    score: FaceScore::parse(0.9).unwrap(),
                }
            } else {
                Verdict::Failed {
                    score: None,
                    reason: FailReason::FaceMismatch,
                }
            },
            now,
        }),
        VerificationStep::Expire => VerificationCommand::Expire(ExpireVerification { now }),
        VerificationStep::Advance(_) => VerificationCommand::Expire(ExpireVerification { now }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verification_invariants_hold_for_any_command_sequence(steps in prop::collection::vec(verification_step(), 1..40)) {
        let mut state = VerificationState::default();
        let mut history: Vec<VerificationEvent> = Vec::new();
        let mut now = t0();
        for step in &steps {
            if let VerificationStep::Advance(minutes) = step {
                now += TimeDelta::minutes(*minutes);
                continue;
            }
            let decision = FaceVerificationAggregate::decide(&state, verification_command(step, now));
            if state.is_final() {
                prop_assert!(
                    decision.as_ref().map_or(true, Vec::is_empty),
                    "a final verification accepted events: {decision:?}"
                );
            }
            for event in decision.unwrap_or_default() {
                let before = state.clone();
                FaceVerificationAggregate::evolve(&mut state, &event);
                prop_assert!(verification_rank(&state) >= verification_rank(&before), "{before:?} moved back");
                if before.is_final() {
                    prop_assert_eq!(state.status(), before.status());
                }
                if let Some(verification) = state.verification() {
                    let in_time = matches!(event, VerificationEvent::Initiated { .. } | VerificationEvent::Expired { .. })
                        || now < verification.expires_at;
                    prop_assert!(in_time, "{event:?} accepted after the deadline");
                }
                history.push(event);
            }
        }
        let verdicts = history
            .iter()
            .filter(|event| matches!(event, VerificationEvent::Succeeded { .. } | VerificationEvent::Failed { .. }))
            .count();
        prop_assert!(verdicts <= 1, "more than one verdict recorded");
        check_fold::<FaceVerificationAggregate>(&history, &state)?;
    }
}

// ---------------------------------------------------------------------------------------------------
// Template

#[derive(Clone, Debug)]
enum TemplateStep {
    Publish {
        version: usize,
        content: usize,
        active: bool,
    },
    Activate(usize),
    Deactivate(usize),
}

fn template_step() -> impl Strategy<Value = TemplateStep> {
    prop_oneof![
        3 => (0..3usize, 0..2usize, any::<bool>())
            .prop_map(|(version, content, active)| TemplateStep::Publish { version, content, active }),
        1 => (0..3usize).prop_map(TemplateStep::Activate),
        1 => (0..3usize).prop_map(TemplateStep::Deactivate),
    ]
}

fn template_command(step: &TemplateStep) -> TemplateCommand {
    let version = |index: usize| format!("{}.0", index + 1);
    let actor = ClientId::parse("admin").unwrap();
    match *step {
        TemplateStep::Publish {
            version: index,
            content,
            active,
        } => TemplateCommand::Publish(PublishVersion {
            request: TemplateRequest {
                template_id: Some("T1".into()),
                name: Some("模板".into()),
                version: Some(version(index)),
                category: Some("RELATIONSHIP_AGREEMENT".into()),
                content_type: None,
                content: Some(format!("<p>v{content} {{{{payerName}}}}</p>")),
                variable_definitions: vec![VariableDefinitionRequest {
                    key: Some("payerName".into()),
                    name: Some("付款方".into()),
                    required: Some(true),
                    sample: None,
                }],
                signer_config: Some(SignerConfigRequest::default()),
                active: Some(active),
            },
            actor,
            now: t0(),
        }),
        TemplateStep::Activate(index) => TemplateCommand::Activate(ChangeActivation {
            version: TemplateVersion::parse(&version(index)).unwrap(),
            actor,
            now: t0(),
        }),
        TemplateStep::Deactivate(index) => TemplateCommand::Deactivate(ChangeActivation {
            version: TemplateVersion::parse(&version(index)).unwrap(),
            actor,
            now: t0(),
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn published_template_versions_never_change(steps in prop::collection::vec(template_step(), 1..30)) {
        let mut state = TemplateState::default();
        let mut history: Vec<TemplateEvent> = Vec::new();
        let mut first_content: BTreeMap<TemplateVersion, String> = BTreeMap::new();
        for step in &steps {
            let Ok(events) = TemplateAggregate::decide(&state, template_command(step)) else {
                continue;
            };
            for event in events {
                let before = state.clone();
                TemplateAggregate::evolve(&mut state, &event);
                if before.template().is_some() {
                    prop_assert!(state.template().is_some(), "a published template became unpublished");
                }
                history.push(event);
            }
            let template = state.template();
            for (version, content) in &first_content {
                let now = template.and_then(|template| template.version(version)).map(|published| &published.content.content);
                prop_assert_eq!(now, Some(content), "version {} changed or vanished", version);
            }
            for (version, published) in template.map(|template| template.versions.iter()).into_iter().flatten() {
                first_content.entry(version.clone()).or_insert_with(|| published.content.content.clone());
            }
        }
        check_fold::<TemplateAggregate>(&history, &state)?;
    }
}

/// The smallest image `SignatureImage` accepts: a PNG signature and an IHDR of 600 x 200.
fn signature_image() -> aggregates::values::SignatureImage {
    let mut bytes = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    bytes.extend_from_slice(&13u32.to_be_bytes());
    bytes.extend_from_slice(b"IHDR");
    bytes.extend_from_slice(&600u32.to_be_bytes());
    bytes.extend_from_slice(&200u32.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0]);
    aggregates::values::SignatureImage::parse(bytes).unwrap()
}
