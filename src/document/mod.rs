//! The contract document: rendered from the contract's events into a PDF with Chinese text in an
//! embedded, subset font, the signers' handwritten signatures and a signing summary page.

pub mod content;
pub mod contract;
pub mod evidence;
pub mod font;
pub mod pades;
pub mod pdf;
pub mod s3;
pub mod sign;
pub mod store;
pub mod validate;
