//! Where the social-security card service is open (SPEC SS1, issue 16): one
//! entry per provincial-level division of the mainland (GB/T 2260), open
//! since a month or closed with a reason, and the region features that apply
//! there only (Guangdong's Lingnan Pass transit payment, Beijing's hospital
//! registration, Yunnan's minority-language interface). Coverage is
//! configuration: the bundled file (`data/social_security_regions.toml`,
//! 29 of 31 open) or a deployment's own. A card's region is the province of
//! its issuing area code.

use crate::idnumber::is_division_code;
use serde::{Deserialize, Serialize};

const BUNDLED: &str = include_str!("../data/social_security_regions.toml");

/// A feature offered in some regions only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Guangdong: pay transit with the Lingnan Pass (岭南通) through the card.
    LingnanPassTransit,
    /// Beijing: hospital registration (京医通) linked to the card.
    HospitalRegistration,
    /// Yunnan: the interface in minority languages.
    MinorityLanguage,
}

impl Feature {
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::LingnanPassTransit => "lingnan_pass_transit",
            Feature::HospitalRegistration => "hospital_registration",
            Feature::MinorityLanguage => "minority_language",
        }
    }
}

/// One provincial-level division and its service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// The province's GB/T 2260 code (`440000`).
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// The month the service opened (`2019-03`); none while closed.
    #[serde(default)]
    pub opened: Option<String>,
    /// Why it is closed (a stable code); none while open.
    #[serde(default)]
    pub closed_reason: Option<String>,
    #[serde(default)]
    pub features: Vec<Feature>,
}

impl Region {
    pub fn is_open(&self) -> bool {
        self.opened.is_some()
    }
}

/// The coverage of every region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    pub regions: Vec<Region>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoverageError {
    #[error("the coverage file is not valid TOML of the documented shape: {0}")]
    Syntax(String),
    #[error("{0} is not a provincial-level GB/T 2260 code")]
    NotAProvince(String),
    #[error("{0} is listed twice")]
    Duplicate(String),
    #[error("{0} must have exactly one of `opened` (YYYY-MM) and `closed_reason`")]
    OpenOrClosed(String),
    #[error("{0}: `opened` is a month, YYYY-MM")]
    BadMonth(String),
    #[error("{0} is closed and can offer no feature")]
    FeatureWhileClosed(String),
}

/// What the coverage says of an issuing area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionAnswer<'a> {
    Open(&'a Region),
    Closed(&'a Region),
    /// Not a division code, or a province the coverage does not list (Hong Kong, Macao, Taiwan).
    NotCovered,
}

fn is_month(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && s[..4].parse::<u16>().is_ok_and(|y| (1990..=2100).contains(&y))
        && s[5..].parse::<u8>().is_ok_and(|m| (1..=12).contains(&m))
        && s[..4].bytes().chain(s[5..].bytes()).all(|c| c.is_ascii_digit())
}

impl Coverage {
    pub fn parse(text: &str) -> Result<Self, CoverageError> {
        let c: Coverage = toml::from_str(text).map_err(|e| CoverageError::Syntax(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for r in &c.regions {
            if !(r.code.ends_with("0000") && is_division_code(&r.code)) {
                return Err(CoverageError::NotAProvince(r.code.clone()));
            }
            if !seen.insert(r.code.as_str()) {
                return Err(CoverageError::Duplicate(r.code.clone()));
            }
            match (&r.opened, &r.closed_reason) {
                (Some(m), None) if !is_month(m) => return Err(CoverageError::BadMonth(r.code.clone())),
                (Some(_), None) => {}
                (None, Some(_)) if !r.features.is_empty() => return Err(CoverageError::FeatureWhileClosed(r.code.clone())),
                (None, Some(_)) => {}
                _ => return Err(CoverageError::OpenOrClosed(r.code.clone())),
            }
        }
        Ok(c)
    }

    /// The coverage that comes with idlink.
    pub fn bundled() -> Result<Self, CoverageError> {
        Self::parse(BUNDLED)
    }

    pub fn open_count(&self) -> usize {
        self.regions.iter().filter(|r| r.is_open()).count()
    }

    /// A province's entry by its two-digit code.
    pub fn province(&self, two_digits: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.code.len() == 6 && r.code.starts_with(two_digits) && two_digits.len() == 2)
    }

    /// The region of an issuing area (a GB/T 2260 code of any level): its province's entry.
    pub fn region_for(&self, area_code: &str) -> RegionAnswer<'_> {
        if !is_division_code(area_code) {
            return RegionAnswer::NotCovered;
        }
        let province = format!("{}0000", &area_code[..2]);
        match self.regions.iter().find(|r| r.code == province) {
            Some(r) if r.is_open() => RegionAnswer::Open(r),
            Some(r) => RegionAnswer::Closed(r),
            None => RegionAnswer::NotCovered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bundled() -> Coverage {
        Coverage::bundled().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_bundled_coverage_opens_29_of_the_31_mainland_provinces() {
        let c = bundled();
        assert_eq!((c.regions.len(), c.open_count()), (31, 29));
        let features = |code: &str| match c.region_for(code) {
            RegionAnswer::Open(r) => r.features.clone(),
            other => panic!("{code}: {other:?}"),
        };
        assert_eq!(features("440300"), [Feature::LingnanPassTransit], "Shenzhen is in Guangdong");
        assert_eq!(features("110101"), [Feature::HospitalRegistration]);
        assert_eq!(features("530102"), [Feature::MinorityLanguage]);
        assert!(features("330106").is_empty(), "features only where they apply");
        assert!(matches!(c.region_for("540102"), RegionAnswer::Closed(r) if r.closed_reason.as_deref() == Some("not_yet_open")));
        assert_eq!(c.region_for("810000"), RegionAnswer::NotCovered, "Hong Kong has no mainland social-security card");
        assert_eq!(c.region_for("999999"), RegionAnswer::NotCovered);
        assert_eq!(c.region_for("44"), RegionAnswer::NotCovered);
    }

    #[test]
    fn a_bad_file_is_refused_with_its_reason() {
        let one = |body: &str| Coverage::parse(&format!("[[regions]]\n{body}"));
        assert!(matches!(
            one("code = \"440300\"\nname = \"x\"\nname_en = \"x\"\nopened = \"2019-03\""),
            Err(CoverageError::NotAProvince(_))
        ));
        assert!(matches!(one("code = \"440000\"\nname = \"x\"\nname_en = \"x\""), Err(CoverageError::OpenOrClosed(_))));
        assert!(matches!(one("code = \"440000\"\nname = \"x\"\nname_en = \"x\"\nopened = \"2019-13\""), Err(CoverageError::BadMonth(_))));
        assert!(matches!(
            one("code = \"440000\"\nname = \"x\"\nname_en = \"x\"\nclosed_reason = \"r\"\nfeatures = [\"minority_language\"]"),
            Err(CoverageError::FeatureWhileClosed(_))
        ));
        assert!(matches!(
            one("code = \"440000\"\nname = \"x\"\nname_en = \"x\"\nopened = \"2019-03\"\nfeatures = [\"teleport\"]"),
            Err(CoverageError::Syntax(_))
        ));
        let twice = "[[regions]]\ncode = \"440000\"\nname = \"x\"\nname_en = \"x\"\nopened = \"2019-03\"\n".repeat(2);
        assert!(matches!(Coverage::parse(&twice), Err(CoverageError::Duplicate(_))));
    }

    proptest! {
        /// Every current county-level code of a covered province answers its province's entry.
        #[test]
        fn an_area_answers_its_province(i in 0usize..3000) {
            let csv = include_str!("../data/areacodes/result.csv");
            let codes: Vec<&str> = csv.lines().skip(1).filter(|l| l.contains(",县级,在用,")).filter_map(|l| l.split(',').next()).collect();
            let code = codes[i % codes.len()];
            let c = bundled();
            let province = format!("{}0000", &code[..2]);
            match c.region_for(code) {
                RegionAnswer::Open(r) | RegionAnswer::Closed(r) => prop_assert_eq!(&r.code, &province),
                RegionAnswer::NotCovered => prop_assert!(!c.regions.iter().any(|r| r.code == province)),
            }
        }
    }
}
