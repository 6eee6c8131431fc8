//! Delivering one text with numbered attempts: the rules payment-verification notices and signing
//! invitations share.
//!
//! The service records that attempt 1 started, sends after the commit, and records the outcome. A
//! failure that may pass (the sender was unavailable) is retried after a growing delay, a bounded
//! number of times; an attempt whose outcome never arrives (the instance stopped) is presumed lost
//! after a lease, and the next attempt starts. Every command names the attempt it is about, so two
//! instances racing on one delivery decide the same thing once: the loser finds the attempt taken and
//! changes nothing. A text may reach a phone twice (sent, then the instance stopped before recording),
//! but never zero times while attempts are left.
//!
//! ```text
//! IN FLIGHT --outcome: sent--> SENT
//! IN FLIGHT --outcome: failed--> FAILED (retry at nextAttemptAt, or final)
//! FAILED (due) / IN FLIGHT (lease over) --start attempt n+1--> IN FLIGHT
//! ```

use chrono::{DateTime, TimeDelta, Utc};

use crate::values::{LongText, ProviderName, Reason, later};

/// How often and how patiently a text is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each further one.
    pub base_delay: TimeDelta,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: TimeDelta::seconds(30),
        }
    }
}

impl RetryPolicy {
    /// When attempt `attempt + 1` may start after attempt `attempt` failed, or `None` when no attempt
    /// is left.
    pub fn next_attempt_at(&self, attempt: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempt >= self.max_attempts {
            return None;
        }
        let factor = 1_i32
            .checked_shl(attempt.saturating_sub(1).min(20))
            .unwrap_or(i32::MAX);
        Some(later(
            now,
            self.base_delay
                .checked_mul(factor)
                .unwrap_or(TimeDelta::MAX),
        ))
    }
}

/// What the sender made of one attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum DeliveryOutcome {
    Sent {
        sender: ProviderName,
        message_id: LongText,
    },
    Failed {
        sender: ProviderName,
        reason: Reason,
        /// Whether sending again may succeed (the sender was unavailable, not refusing).
        retryable: bool,
    },
}

/// One attempt under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub number: u32,
    pub started_at: DateTime<Utc>,
}

/// Where a delivery stands after its request.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// The attempt started and has no outcome yet.
    InFlight(Attempt),
    Sent {
        attempt: u32,
        sender: ProviderName,
        message_id: LongText,
        sent_at: DateTime<Utc>,
    },
    Failed {
        attempt: u32,
        sender: Option<ProviderName>,
        reason: Reason,
        retryable: bool,
        /// When the next attempt may start; `None` when none will.
        next_attempt_at: Option<DateTime<Utc>>,
        failed_at: DateTime<Utc>,
    },
}

/// What a request to start attempt `n` leads to.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    /// Not due, over, or another instance took the attempt.
    Nothing,
    /// Attempt `attempt` starts; `previous_lost` when the one before had no outcome within its lease.
    Begin { attempt: u32, previous_lost: bool },
    /// The last attempt allowed left no outcome: the delivery fails for good with `reason`.
    GiveUp { attempt: u32, reason: Reason },
}

/// An outcome to record for the attempt in flight.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    Sent {
        attempt: u32,
        sender: ProviderName,
        message_id: LongText,
    },
    Failed {
        attempt: u32,
        sender: ProviderName,
        reason: Reason,
        retryable: bool,
        next_attempt_at: Option<DateTime<Utc>>,
    },
}

/// Why a delivery whose last attempt was lost is given up.
pub const LOST_REASON: &str = "no outcome was recorded for the last attempt";

impl Delivery {
    /// Attempt 1, started when the delivery was requested.
    pub fn requested(at: DateTime<Utc>) -> Self {
        Delivery::InFlight(Attempt {
            number: 1,
            started_at: at,
        })
    }

    /// The number of the latest attempt.
    pub fn attempts(&self) -> u32 {
        match self {
            Delivery::InFlight(attempt) => attempt.number,
            Delivery::Sent { attempt, .. } | Delivery::Failed { attempt, .. } => *attempt,
        }
    }

    /// `REQUESTED`, `SENT` or `FAILED`, as the API and the query tables spell it.
    pub fn status(&self) -> &'static str {
        match self {
            Delivery::InFlight(_) => "REQUESTED",
            Delivery::Sent { .. } => "SENT",
            Delivery::Failed { .. } => "FAILED",
        }
    }

    /// Whether another attempt may still come (one is under way, or a retry is scheduled).
    pub fn awaits_attempt(&self) -> bool {
        match self {
            Delivery::InFlight(_) => true,
            Delivery::Failed {
                next_attempt_at, ..
            } => next_attempt_at.is_some(),
            Delivery::Sent { .. } => false,
        }
    }

    /// Starting attempt `attempt` (the current one plus one; anything else changes nothing): after a
    /// failure once its retry is due, or after an attempt whose lease is over with no outcome.
    pub fn start(
        &self,
        attempt: u32,
        lease: TimeDelta,
        policy: RetryPolicy,
        now: DateTime<Utc>,
    ) -> Start {
        if attempt != self.attempts().saturating_add(1) {
            return Start::Nothing;
        }
        match self {
            Delivery::Sent { .. } => Start::Nothing,
            Delivery::Failed {
                next_attempt_at, ..
            } => match next_attempt_at {
                Some(due) if now >= *due => Start::Begin {
                    attempt,
                    previous_lost: false,
                },
                Some(_) | None => Start::Nothing,
            },
            Delivery::InFlight(current) => {
                if now < later(current.started_at, lease) {
                    return Start::Nothing;
                }
                // The attempt's instance never reported: presumed lost. It counts as an attempt.
                if current.number >= policy.max_attempts {
                    return match Reason::parse(LOST_REASON) {
                        Ok(reason) => Start::GiveUp {
                            attempt: current.number,
                            reason,
                        },
                        // A constant that parses; this arm only keeps the function free of panics.
                        Err(_) => Start::Nothing,
                    };
                }
                Start::Begin {
                    attempt,
                    previous_lost: true,
                }
            }
        }
    }

    /// The outcome of attempt `attempt`, when it is the one in flight; `None` for an outcome already
    /// recorded or an attempt that is over. `retry` says whether a failure may be tried again at all
    /// (the text may have become pointless meanwhile).
    pub fn record(
        &self,
        attempt: u32,
        outcome: DeliveryOutcome,
        policy: RetryPolicy,
        retry: bool,
        now: DateTime<Utc>,
    ) -> Option<Recorded> {
        let Delivery::InFlight(current) = self else {
            return None;
        };
        if current.number != attempt {
            return None;
        }
        Some(match outcome {
            DeliveryOutcome::Sent { sender, message_id } => Recorded::Sent {
                attempt,
                sender,
                message_id,
            },
            DeliveryOutcome::Failed {
                sender,
                reason,
                retryable,
            } => Recorded::Failed {
                attempt,
                sender,
                reason,
                retryable,
                next_attempt_at: if retryable && retry {
                    policy.next_attempt_at(attempt, now)
                } else {
                    None
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::t0;

    fn at(seconds: i64) -> DateTime<Utc> {
        t0() + TimeDelta::seconds(seconds)
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 2,
            base_delay: TimeDelta::seconds(10),
        }
    }

    fn failure(retryable: bool) -> DeliveryOutcome {
        DeliveryOutcome::Failed {
            sender: ProviderName::parse("message-centre").unwrap(),
            reason: Reason::parse("503").unwrap(),
            retryable,
        }
    }

    #[test]
    fn only_the_next_attempt_starts_and_only_when_due() {
        let lease = TimeDelta::seconds(60);
        let requested = Delivery::requested(at(0));
        assert_eq!(requested.start(2, lease, policy(), at(59)), Start::Nothing);
        assert_eq!(requested.start(3, lease, policy(), at(61)), Start::Nothing);
        assert_eq!(
            requested.start(2, lease, policy(), at(60)),
            Start::Begin {
                attempt: 2,
                previous_lost: true
            }
        );
        let Some(Recorded::Failed {
            next_attempt_at, ..
        }) = requested.record(1, failure(true), policy(), true, at(1))
        else {
            panic!("a failure of the attempt in flight is recorded");
        };
        assert_eq!(next_attempt_at, Some(at(11)));
        let failed = Delivery::Failed {
            attempt: 1,
            sender: None,
            reason: Reason::parse("503").unwrap(),
            retryable: true,
            next_attempt_at,
            failed_at: at(1),
        };
        assert_eq!(failed.start(2, lease, policy(), at(10)), Start::Nothing);
        assert!(matches!(
            failed.start(2, lease, policy(), at(11)),
            Start::Begin {
                attempt: 2,
                previous_lost: false
            }
        ));
    }

    #[test]
    fn a_lost_last_attempt_gives_up_and_a_pointless_retry_is_not_scheduled() {
        let lease = TimeDelta::seconds(60);
        let second = Delivery::InFlight(Attempt {
            number: 2,
            started_at: at(0),
        });
        assert!(matches!(
            second.start(3, lease, policy(), at(60)),
            Start::GiveUp { attempt: 2, .. }
        ));
        assert_eq!(second.record(1, failure(true), policy(), true, at(1)), None);
        let Some(Recorded::Failed {
            next_attempt_at, ..
        }) = Delivery::requested(at(0)).record(1, failure(true), policy(), false, at(1))
        else {
            panic!("recorded");
        };
        assert_eq!(next_attempt_at, None);
    }
}
