//! The life cycle every versioned template shares: contract templates ([`crate::template`]) and SMS
//! texts ([`crate::sms_template`]).
//!
//! One stream per template holds its versions. A published version never changes, since contracts
//! and notices point at it; publishing the same content again is a retry, different content under a
//! published version is refused. Versions are activated and deactivated, and the current version is
//! the most recently activated one still active, so re-activating an older version rolls back to it.
//!
//! A [`Kind`] of template brings its content, parses its own request, and words the shared facts and
//! refusals as its own events and errors, whose stored names and shapes differ per kind. [`publish`]
//! and [`change_activation`] decide; [`State::apply`] evolves.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::Aggregate;
use crate::values::{ClientId, TemplateId, TemplateVersion};

/// A kind of versioned template: its content, and how its events and errors word the shared ones.
pub trait Kind: Aggregate {
    /// What a version is: two publications of one version are the same exactly when these are equal.
    type Content: Clone + PartialEq;

    /// The kind's event for a change.
    fn event(change: Change<Self::Content>) -> Self::Event;

    /// The change a stored event records.
    fn change(event: &Self::Event) -> Change<Self::Content>;

    /// The kind's error for a refusal.
    fn refused(refusal: Refusal) -> Self::Error;
}

/// One change to a template's versions: what its events record, in words every kind shares.
#[derive(Clone, Debug, PartialEq)]
pub struct Change<C> {
    pub template_id: TemplateId,
    pub version: TemplateVersion,
    pub step: Step<C>,
    /// Who published, activated or deactivated.
    pub by: ClientId,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step<C> {
    /// The version was published, inactive until an activation follows.
    Published(C),
    Activated,
    Deactivated,
}

/// Why a publication or activation change is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The version is published with other content.
    VersionImmutable {
        template_id: TemplateId,
        version: TemplateVersion,
    },
    /// The publication names another template than the stream holds.
    WrongTemplate {
        existing: TemplateId,
        requested: TemplateId,
    },
    TemplateNotFound,
    VersionNotFound(TemplateVersion),
}

// ---------------------------------------------------------------------------------------------------
// Commands

/// A publication as its kind parsed it from the request.
#[derive(Clone, Debug)]
pub struct Publication<C> {
    pub template_id: TemplateId,
    pub version: TemplateVersion,
    pub content: C,
    /// Whether the version should be active once published; requests default it to `true`.
    pub active: bool,
}

/// Activate or deactivate one version.
#[derive(Clone, Debug)]
pub struct ChangeActivation {
    pub version: TemplateVersion,
    pub actor: ClientId,
    pub now: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------------
// State

#[derive(Clone, Debug, Default, PartialEq)]
pub enum State<C> {
    #[default]
    Unpublished,
    Published(Template<C>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Template<C> {
    pub template_id: TemplateId,
    pub versions: BTreeMap<TemplateVersion, PublishedVersion<C>>,
    /// How many activations happened; orders them so the latest active version is well defined.
    pub activations: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PublishedVersion<C> {
    pub version: TemplateVersion,
    pub content: C,
    pub activation: Activation,
    pub published_by: ClientId,
    pub published_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `order` is the template's activation count when this version was last activated.
    Active {
        since: DateTime<Utc>,
        order: u64,
    },
    Inactive {
        since: DateTime<Utc>,
    },
}

impl<C> State<C> {
    pub fn template(&self) -> Option<&Template<C>> {
        match self {
            State::Unpublished => None,
            State::Published(template) => Some(template),
        }
    }

    /// Records one change. Infallible: a change of a version the stream never published (which a
    /// valid stream never holds) leaves the versions as they were.
    pub fn apply(&mut self, change: Change<C>) {
        let Change {
            template_id,
            version,
            step,
            by,
            at,
        } = change;
        match step {
            Step::Published(content) => {
                if let State::Unpublished = self {
                    *self = State::Published(Template {
                        template_id,
                        versions: BTreeMap::new(),
                        activations: 0,
                    });
                }
                if let State::Published(template) = self {
                    let published = PublishedVersion {
                        version: version.clone(),
                        content,
                        activation: Activation::Inactive { since: at },
                        published_by: by,
                        published_at: at,
                    };
                    template.versions.insert(version, published);
                }
            }
            Step::Activated => {
                if let State::Published(template) = self {
                    template.activations += 1;
                    let order = template.activations;
                    if let Some(published) = template.versions.get_mut(&version) {
                        published.activation = Activation::Active { since: at, order };
                    }
                }
            }
            Step::Deactivated => {
                if let State::Published(template) = self
                    && let Some(published) = template.versions.get_mut(&version)
                {
                    published.activation = Activation::Inactive { since: at };
                }
            }
        }
    }
}

impl<C> Template<C> {
    pub fn version(&self, version: &TemplateVersion) -> Option<&PublishedVersion<C>> {
        self.versions.get(version)
    }

    /// The version used when a request names none: the most recently activated version still active.
    /// Re-activating an older version therefore rolls back to it.
    pub fn current_version(&self) -> Option<&PublishedVersion<C>> {
        self.versions
            .values()
            .filter_map(|version| version.activation_order().map(|order| (order, version)))
            .max_by_key(|(order, _)| *order)
            .map(|(_, version)| version)
    }
}

impl<C> PublishedVersion<C> {
    pub fn is_active(&self) -> bool {
        matches!(self.activation, Activation::Active { .. })
    }

    /// Where the version stands among activations, while it is active.
    pub fn activation_order(&self) -> Option<u64> {
        match self.activation {
            Activation::Active { order, .. } => Some(order),
            Activation::Inactive { .. } => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Decisions

/// Publishes a version, or accepts a retry of one already published.
pub fn publish<K: Kind>(
    state: &State<K::Content>,
    publication: Publication<K::Content>,
    actor: &ClientId,
    now: DateTime<Utc>,
) -> Result<Vec<K::Event>, K::Error> {
    let Some(template) = state.template() else {
        return Ok(publication_events::<K>(publication, actor, now));
    };
    if template.template_id != publication.template_id {
        return Err(K::refused(Refusal::WrongTemplate {
            existing: template.template_id.clone(),
            requested: publication.template_id,
        }));
    }
    match template.version(&publication.version) {
        None => Ok(publication_events::<K>(publication, actor, now)),
        // A retried publication changes nothing, except that the request's `active` wins: publishing
        // is "create or update".
        Some(existing) if existing.content == publication.content => {
            if existing.is_active() == publication.active {
                return Ok(Vec::new());
            }
            let step = activation_step(publication.active);
            Ok(vec![K::event(Change {
                template_id: publication.template_id,
                version: publication.version,
                step,
                by: actor.clone(),
                at: now,
            })])
        }
        Some(_) => Err(K::refused(Refusal::VersionImmutable {
            template_id: publication.template_id,
            version: publication.version,
        })),
    }
}

/// Activates (`active`) or deactivates a published version; asking for what already holds changes
/// nothing.
pub fn change_activation<K: Kind>(
    state: &State<K::Content>,
    command: ChangeActivation,
    active: bool,
) -> Result<Vec<K::Event>, K::Error> {
    let template = state
        .template()
        .ok_or_else(|| K::refused(Refusal::TemplateNotFound))?;
    let published = template
        .version(&command.version)
        .ok_or_else(|| K::refused(Refusal::VersionNotFound(command.version.clone())))?;
    if published.is_active() == active {
        return Ok(Vec::new());
    }
    Ok(vec![K::event(Change {
        template_id: template.template_id.clone(),
        version: command.version,
        step: activation_step(active),
        by: command.actor,
        at: command.now,
    })])
}

fn publication_events<K: Kind>(
    publication: Publication<K::Content>,
    actor: &ClientId,
    now: DateTime<Utc>,
) -> Vec<K::Event> {
    let Publication {
        template_id,
        version,
        content,
        active,
    } = publication;
    let change = |step| Change {
        template_id: template_id.clone(),
        version: version.clone(),
        step,
        by: actor.clone(),
        at: now,
    };
    let mut events = vec![K::event(change(Step::Published(content)))];
    if active {
        events.push(K::event(change(Step::Activated)));
    }
    events
}

fn activation_step<C>(active: bool) -> Step<C> {
    if active {
        Step::Activated
    } else {
        Step::Deactivated
    }
}
