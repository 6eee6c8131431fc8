//! Errors every aggregate shares: named field failures and the kinds a caller reacts to.

use std::fmt;

use serde::Serialize;

/// One invalid field, named by its JSON path in the request (`signers[0].idCardNo`, `variables.payerName`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

/// Every invalid field of a request, collected rather than stopping at the first, so a client fixes them
/// all at once (spec section 6, code 40001: "参数校验失败: \[具体字段\]").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// A single failure, for callers that check one field.
    pub fn single(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        let mut errors = Self::new();
        errors.push(field, reason);
        errors
    }

    pub fn push(&mut self, field: impl Into<String>, reason: impl fmt::Display) {
        self.0.push(FieldError {
            field: field.into(),
            reason: reason.to_string(),
        });
    }

    /// Keeps the value of a parse, or records why it failed under `field`.
    pub fn check<T, E: fmt::Display>(
        &mut self,
        field: impl Into<String>,
        parsed: Result<T, E>,
    ) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(field, error);
                None
            }
        }
    }

    /// Parses a field that must be present; a missing one is recorded as "is required".
    pub fn required<T, E: fmt::Display>(
        &mut self,
        field: impl Into<String>,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match raw {
            Some(text) => self.check(field, parse(text)),
            None => {
                self.push(field, "is required");
                None
            }
        }
    }

    /// Parses a field that may be absent; absence is not an error.
    pub fn optional<T, E: fmt::Display>(
        &mut self,
        field: impl Into<String>,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        match raw {
            Some(text) => self.check(field, parse(text)).map(Some),
            None => Some(None),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }

    /// Whether some failure names exactly this field.
    pub fn names(&self, field: &str) -> bool {
        self.0.iter().any(|error| error.field == field)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid request")?;
        for (index, error) in self.0.iter().enumerate() {
            let separator = if index == 0 { ": " } else { "; " };
            write!(f, "{separator}{} {}", error.field, error.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// How a caller reacts to a refused command; the service maps each kind to one response code
/// (see `docs/domain.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 40001: fix the named fields and resend.
    Validation,
    /// 40002: the thing exists already; answer with it.
    Duplicate,
    /// 40003: the template (version) is missing or inactive.
    TemplateUnavailable,
    /// 40004: the sign link expired or was replaced; get a new one.
    LinkExpired,
    /// 40005: the sign link was used; the signer has signed (or rejected).
    LinkUsed,
    /// 40006: the identity checks did not pass.
    IdentityFailed,
    /// HTTP 409: the command does not fit the aggregate's state.
    Conflict,
    /// HTTP 404: no such aggregate (or part of one).
    NotFound,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_is_kept_and_displayed_with_its_field() {
        let mut errors = ValidationErrors::new();
        errors.push("signers[0].idCardNo", "check digit does not match");
        let _: Option<u8> = errors.required("bizId", None, |text: &str| text.parse::<u8>());
        assert_eq!(errors.fields().len(), 2);
        assert!(errors.names("bizId"));
        assert_eq!(
            errors.to_string(),
            "invalid request: signers[0].idCardNo check digit does not match; bizId is required"
        );
    }

    #[test]
    fn failures_serialise_as_a_list_of_field_and_reason() {
        let errors = ValidationErrors::single("variables.payerName", "is required");
        let json = serde_json::to_value(&errors).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"field": "variables.payerName", "reason": "is required"}])
        );
    }
}
