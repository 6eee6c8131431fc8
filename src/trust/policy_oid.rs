//! A TSA policy's object identifier, with arcs of any size.
//!
//! esign's own policy lives under the UUID arc (ITU-T X.667: `2.25.<a UUID as one 128-bit
//! integer>`), the one arc anyone may use without registering, and other TSAs may use it too. The
//! general OID type of the ASN.1 crates holds arcs of at most 32 bits, so the policy fields of
//! `TimeStampReq` and `TSTInfo` use this type: the DER content octets as they are, parsed from and
//! shown as dotted text with arcs up to 128 bits.

use std::fmt;

use der::{DecodeValue, EncodeValue, FixedTag, Header, Length, Reader, Tag, Writer};

/// An OBJECT IDENTIFIER kept as its DER content octets (base-128 arcs, the first two combined).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PolicyOid(Vec<u8>);

impl PolicyOid {
    /// Parses dotted text (`2.25.2877...`): at least two arcs, the first 0, 1 or 2, the second
    /// below 40 under 0 and 1; every arc fits in 128 bits.
    pub fn parse(text: &str) -> Result<Self, String> {
        let refuse = |why: &str| format!("{text:?} is not an OID: {why}");
        let arcs = text
            .trim()
            .split('.')
            .map(|arc| {
                let well_formed = !arc.is_empty()
                    && arc.bytes().all(|b| b.is_ascii_digit())
                    && (arc == "0" || !arc.starts_with('0'));
                if !well_formed {
                    return Err(refuse("each arc is a decimal number without leading zeros"));
                }
                arc.parse::<u128>()
                    .map_err(|_| refuse("an arc is larger than 128 bits"))
            })
            .collect::<Result<Vec<u128>, String>>()?;
        let [first, second, rest @ ..] = arcs.as_slice() else {
            return Err(refuse("it needs at least two arcs"));
        };
        if *first > 2 || (*first < 2 && *second >= 40) {
            return Err(refuse("the first two arcs are out of range"));
        }
        let combined = first
            .checked_mul(40)
            .and_then(|value| value.checked_add(*second))
            .ok_or_else(|| refuse("the second arc is too large"))?;
        let mut bytes = Vec::new();
        for arc in std::iter::once(combined).chain(rest.iter().copied()) {
            push_base128(&mut bytes, arc);
        }
        Ok(Self(bytes))
    }

    /// The arcs, or `None` when the octets are not a well-formed OID of arcs up to 128 bits.
    fn arcs(&self) -> Option<Vec<u128>> {
        let mut arcs = Vec::new();
        let mut value: u128 = 0;
        let mut in_arc = false;
        for &byte in &self.0 {
            // A leading 0x80 would be a non-minimal encoding.
            if !in_arc && byte == 0x80 {
                return None;
            }
            value = value
                .checked_mul(128)?
                .checked_add(u128::from(byte & 0x7f))?;
            in_arc = byte & 0x80 != 0;
            if !in_arc {
                if arcs.is_empty() {
                    let first = (value / 40).min(2);
                    arcs.push(first);
                    arcs.push(value - first * 40);
                } else {
                    arcs.push(value);
                }
                value = 0;
            }
        }
        (!in_arc && !arcs.is_empty()).then_some(arcs)
    }
}

fn push_base128(bytes: &mut Vec<u8>, arc: u128) {
    let mut groups = vec![(arc & 0x7f) as u8];
    let mut rest = arc >> 7;
    while rest > 0 {
        groups.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    bytes.extend(groups.iter().rev());
}

impl fmt::Display for PolicyOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.arcs() {
            Some(arcs) => {
                let dotted: Vec<String> = arcs.iter().map(u128::to_string).collect();
                f.write_str(&dotted.join("."))
            }
            None => write!(f, "(malformed OID {})", hex::encode(&self.0)),
        }
    }
}

impl fmt::Debug for PolicyOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicyOid({self})")
    }
}

impl FixedTag for PolicyOid {
    const TAG: Tag = Tag::ObjectIdentifier;
}

impl<'a> DecodeValue<'a> for PolicyOid {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let oid = Self(reader.read_vec(header.length())?);
        match oid.arcs() {
            Some(_) => Ok(oid),
            None => Err(der::Tag::ObjectIdentifier.value_error().into()),
        }
    }
}

impl EncodeValue for PolicyOid {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.0.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use der::{Decode, Encode};

    use super::PolicyOid;

    #[test]
    fn a_uuid_arc_round_trips_through_text_and_der() {
        let text = crate::trust::DEFAULT_TSA_POLICY;
        let oid = PolicyOid::parse(text).unwrap();
        assert_eq!(oid.to_string(), text);
        let der = oid.to_der().unwrap();
        assert_eq!(der[0], 0x06, "an OBJECT IDENTIFIER");
        assert_eq!(PolicyOid::from_der(&der).unwrap(), oid);
    }

    #[test]
    fn small_arcs_encode_as_the_general_oid_type_does() {
        for text in ["1.2.3.4.1", "1.2.840.113549.1.9.16.1.4", "2.5.4.3", "0.39"] {
            let ours = PolicyOid::parse(text).unwrap().to_der().unwrap();
            let general = const_oid::ObjectIdentifier::new(text)
                .unwrap()
                .to_der()
                .unwrap();
            assert_eq!(ours, general, "{text}");
            assert_eq!(PolicyOid::from_der(&ours).unwrap().to_string(), text);
        }
    }

    #[test]
    fn a_second_arc_past_39_under_the_joint_root_is_kept() {
        // The general OID type refuses it; X.660 allows it (2.999 is the example arc).
        let oid = PolicyOid::parse("2.999.1").unwrap();
        assert_eq!(oid.to_der().unwrap(), [0x06, 0x03, 0x88, 0x37, 0x01]);
        assert_eq!(oid.to_string(), "2.999.1");
    }

    #[test]
    fn malformed_text_and_octets_are_refused() {
        for text in [
            "",
            "1",
            "3.1",
            "1.40",
            "1.2.",
            "1.02",
            "1.a",
            &format!("2.{}", u128::MAX),
        ] {
            assert!(PolicyOid::parse(text).is_err(), "{text:?}");
        }
        // A truncated arc and a non-minimal arc.
        assert!(PolicyOid::from_der(&[0x06, 0x02, 0x2a, 0x86]).is_err());
        assert!(PolicyOid::from_der(&[0x06, 0x02, 0x2a, 0x80]).is_err());
    }
}
