//! Configuration Manager versions (`5.00.9132.1000`), compared numerically part by part.
//!
//! Comparing as strings gets `5.00.9132.1000` vs `5.00.9128.1033` right by luck and `9.x` vs `10.x`
//! wrong; every comparison in sct goes through [`CmVersion`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A four-part version: major, minor, build, revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CmVersion(pub [u32; 4]);

impl CmVersion {
    /// The build number (`9132` in `5.00.9132.1000`): the part that decides applicability.
    pub fn build(&self) -> u32 {
        self.0[2]
    }

    /// The site version for this build: the revision is always `.1000` (`fnCurrentSiteVersion`).
    pub fn site_version(&self) -> CmVersion {
        CmVersion([self.0[0], self.0[1], self.0[2], 1000])
    }
}

impl FromStr for CmVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.trim().split('.').collect();
        if parts.len() != 4 {
            return Err(format!(
                "`{text}` is not a Configuration Manager version (expected four parts such as 5.00.9132.1000)"
            ));
        }
        let mut out = [0u32; 4];
        for (slot, part) in out.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 9 {
                return Err(format!("`{text}` has a non-numeric part `{part}`"));
            }
            *slot = part
                .parse()
                .map_err(|_| format!("`{text}` has an invalid part `{part}`"))?;
        }
        Ok(CmVersion(out))
    }
}

impl fmt::Display for CmVersion {
    /// Formats as ConfigMgr does: the minor part has two digits (`5.00.9132.1000`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b:02}.{c}.{d}")
    }
}

impl Serialize for CmVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CmVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Known release names for builds (configmgr-facts.md §4), for friendlier messages.
pub fn release_name(build: u32) -> Option<&'static str> {
    const RELEASES: &[(u32, &str)] = &[
        (8325, "1511"),
        (8355, "1602"),
        (8412, "1606"),
        (8458, "1610"),
        (8498, "1702"),
        (8540, "1706"),
        (8577, "1710"),
        (8634, "1802"),
        (8692, "1806"),
        (8740, "1810"),
        (8790, "1902"),
        (8853, "1906"),
        (8913, "1910"),
        (8968, "2002"),
        (9012, "2006"),
        (9040, "2010"),
        (9049, "2103"),
        (9058, "2107"),
        (9068, "2111"),
        (9078, "2203"),
        (9088, "2207"),
        (9096, "2211"),
        (9106, "2303"),
        (9122, "2309"),
        (9128, "2403"),
        (9132, "2409"),
        (9135, "2503"),
    ];
    RELEASES
        .iter()
        .find(|(b, _)| *b == build)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> CmVersion {
        text.parse().unwrap()
    }

    #[test]
    fn compares_numerically() {
        assert!(v("5.00.9132.1000") > v("5.00.9128.1033"));
        assert!(v("5.00.10000.1000") > v("5.00.9999.1000"));
        assert!(v("5.0.9132.1011") > v("5.00.9132.1000"));
    }

    #[test]
    fn formats_like_configmgr() {
        assert_eq!(v("5.0.9132.1000").to_string(), "5.00.9132.1000");
        assert_eq!(
            v("5.00.9132.1027").site_version().to_string(),
            "5.00.9132.1000"
        );
        assert_eq!(v("5.00.9132.1000").build(), 9132);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "5.00.9132",
            "5.00.9132.1000.1",
            "5.00.x.1000",
            "5.00.-1.1000",
            "5..1.1",
        ] {
            assert!(bad.parse::<CmVersion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_releases() {
        assert_eq!(release_name(9132), Some("2409"));
        assert_eq!(release_name(1), None);
    }
}
