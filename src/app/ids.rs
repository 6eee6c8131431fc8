//! The ids esign assigns: contracts, archives, verifications, notices and transaction numbers.

/// A service-assigned id: `<prefix>_<yyyymmdd><16 random hex digits>`, e.g. `CONTRACT_20231027A1B2…`.
pub fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}{}",
        chrono::Utc::now().format("%Y%m%d"),
        &uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase()
    )
}
