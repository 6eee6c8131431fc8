//! The contract document: rendered from the contract's events into a PDF with Chinese text in an
//! embedded, subset font, the signers' handwritten signatures and a signing summary page.

pub mod archive_certificate;
pub mod config;
pub mod content;
pub mod contract;
pub mod evidence;
pub mod font;
pub mod html;
pub mod links;
pub mod pades;
pub mod pdf;
pub mod qr;
pub mod seal;
pub mod sign;
pub mod storage;
pub mod validate;
