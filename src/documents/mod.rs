//! The contract document: rendered from the contract's events into a PDF with Chinese text in an
//! embedded, subset font, the signers' handwritten signatures and a signing summary page.
//!
//! # Layout
//!
//! - [`content`]: a filled template as blocks; [`pdf`]: blocks laid out on A4 pages;
//!   [`font`]: the embedded CJK font; [`standard_metrics`]: the standard fonts' glyph widths;
//!   [`qr`]: QR codes.
//! - [`contract`]: the signed contract document; [`evidence`]: the compliance evidence report;
//!   [`archive_certificate`]: the archive certificate.
//! - [`sign`], [`pades`]: PAdES signatures and document timestamps as incremental updates;
//!   [`appearance`]: how a signature shows in its field; [`seal`]: the platform seal; [`ltv`]: the
//!   document security store with the data for long-term validation.
//! - [`company_seal`]: organisations' seal pictures: the check of an uploaded PNG and the drawn
//!   standard round red seal.
//! - [`uploaded`]: a PDF the caller uploads: checked, searched for anchor text and given its
//!   signature fields in a first revision that the same updates then sign.
//! - [`validate`]: validation of any signed PDF (协议验真), with its own PDF syntax reader.
//! - [`storage`]: the encrypted document store (local directory; the S3 bucket is a provider);
//!   [`links`]: short-lived signed download links; [`config`]: the `[documents]` section.
//! - [`html`]: escaping for the server-rendered pages.

pub mod appearance;
pub mod archive_certificate;
pub mod company_seal;
pub mod config;
pub mod content;
pub mod contract;
pub mod evidence;
pub mod font;
pub mod html;
pub mod links;
pub mod ltv;
pub mod pades;
pub mod pdf;
pub mod qr;
pub mod seal;
pub mod sign;
pub mod standard_metrics;
pub mod storage;
pub mod uploaded;
pub mod validate;
