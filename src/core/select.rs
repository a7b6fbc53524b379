//! Which packs of a catalog a site gets: the original tool's four download modes, as one pure
//! function so every rule is visible in a table test.
//!
//! | mode          | flag                   | selects                                                  |
//! |---------------|------------------------|----------------------------------------------------------|
//! | `latest`      | (default)              | the newest regular update that applies to the site       |
//! | `all`         | `-downloadall`         | every pack in the catalog                                |
//! | `hotfix`      | `-downloadhotfix`      | every hotfix, whatever the site's version                |
//! | `siteversion` | `-downloadsiteversion` | updates and hotfixes whose full version is above the site's |
//!
//! Versions compare numerically part by part ([`CmVersion`]). The site version passed in is the
//! site's *full* version (`5.00.9132.1027` once a hotfix is installed), so a hotfix already
//! installed is not "newer than the site".

use crate::core::catalog::{Catalog, Pack, update_type};
use crate::core::version::CmVersion;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Which updates `-connect` / `sct-fetch` downloads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DownloadMode {
    /// The newest regular update that applies to the site's version, no hotfixes (the default).
    #[default]
    Latest,
    /// `-downloadall`: every update and hotfix, whatever the site's version.
    All,
    /// `-downloadhotfix`: every hotfix, whatever the site's version.
    Hotfix,
    /// `-downloadsiteversion`: updates and hotfixes newer than the site's version.
    SiteVersion,
}

impl DownloadMode {
    /// Every mode, in the order documented.
    pub const ALL: [DownloadMode; 4] = [Self::Latest, Self::All, Self::Hotfix, Self::SiteVersion];

    /// The mode's name as written in records and accepted by `--mode`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Latest => "latest",
            Self::All => "all",
            Self::Hotfix => "hotfix",
            Self::SiteVersion => "siteversion",
        }
    }
}

impl fmt::Display for DownloadMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for DownloadMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl FromStr for DownloadMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!("`{text}` is not a download mode (latest, all, hotfix or siteversion)")
            })
    }
}

/// The packs `mode` selects for a site at `site_version`, ordered by full version then GUID.
pub fn select<'c>(
    catalog: &'c Catalog,
    site_version: &CmVersion,
    mode: DownloadMode,
) -> Vec<&'c Pack> {
    let mut chosen: Vec<&Pack> = match mode {
        DownloadMode::All => catalog.packs.iter().collect(),
        DownloadMode::Hotfix => catalog.packs.iter().filter(|p| p.is_hotfix()).collect(),
        DownloadMode::SiteVersion => catalog
            .packs
            .iter()
            .filter(|p| p.full_version > *site_version)
            .collect(),
        DownloadMode::Latest => catalog
            .packs
            .iter()
            .filter(|p| p.update_type == update_type::REGULAR && p.applies_to(site_version))
            .max_by(|a, b| order(a, b))
            .into_iter()
            .collect(),
    };
    chosen.sort_by(|a, b| order(a, b));
    chosen
}

fn order(a: &Pack, b: &Pack) -> std::cmp::Ordering {
    (a.full_version, a.package_guid).cmp(&(b.full_version, b.package_guid))
}

/// The GUIDs [`select`] picks, for records.
pub fn select_guids(catalog: &Catalog, site_version: &CmVersion, mode: DownloadMode) -> Vec<Uuid> {
    select(catalog, site_version, mode)
        .into_iter()
        .map(|p| p.package_guid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::catalog::PackFile;

    fn v(text: &str) -> CmVersion {
        text.parse().unwrap()
    }

    /// A pack named `name` of `kind` (0 update, 1 weave, 2 hotfix) at `full`, applying to min..=max.
    fn pack(name: &str, kind: i32, full: &str, min: &str, max: &str) -> Pack {
        let digest = crate::core::hash::hex_of(name.as_bytes());
        let guid = Uuid::parse_str(&digest[..32]).unwrap();
        let folder = guid.to_string().to_uppercase();
        Pack {
            info: crate::core::catalog::PackInfo {
                package_guid: guid,
                name: name.into(),
                update_number: name.into(),
                full_version: v(full),
                update_type: kind,
                min_cm_version: v(min),
                max_cm_version: v(max),
                release_date: "2025-01-01".into(),
                more_info_link: String::new(),
                description: String::new(),
            },
            files: vec![PackFile {
                path: format!("{folder}/{name}.cab"),
                size: 1,
                sha256: "0".repeat(64),
            }],
        }
    }

    fn catalog() -> Catalog {
        crate::core::catalog::tests::of(vec![
            pack(
                "2403",
                0,
                "5.00.9128.1000",
                "5.00.9096.1000",
                "5.00.9122.1999",
            ),
            pack(
                "2403-HFRU",
                2,
                "5.00.9128.1033",
                "5.00.9128.1000",
                "5.00.9128.1999",
            ),
            pack(
                "2409",
                0,
                "5.00.9132.1000",
                "5.00.9106.1000",
                "5.00.9128.1999",
            ),
            pack(
                "2409-HFRU",
                2,
                "5.00.9132.1027",
                "5.00.9132.1000",
                "5.00.9132.1999",
            ),
            pack(
                "2503",
                0,
                "5.00.9135.1000",
                "5.00.9128.1000",
                "5.00.9132.1999",
            ),
            pack(
                "weave",
                1,
                "5.00.9135.1001",
                "5.00.9000.1000",
                "5.00.9999.1999",
            ),
            // Version parts compare as numbers: 10000 is above 9135.
            pack(
                "future",
                0,
                "5.00.10000.1000",
                "5.00.9200.1000",
                "5.00.9999.1999",
            ),
        ])
    }

    fn names(site: &str, mode: DownloadMode) -> Vec<String> {
        let catalog = catalog();
        select(&catalog, &v(site), mode)
            .into_iter()
            .map(|p| p.name.clone())
            .collect()
    }

    #[test]
    fn selection_table() {
        use DownloadMode::*;
        let table: &[(&str, DownloadMode, &[&str])] = &[
            // latest: the newest regular update whose range holds the site, never a hotfix.
            ("5.00.9122.1000", Latest, &["2409"]),
            ("5.00.9128.1000", Latest, &["2503"]),
            ("5.00.9128.1033", Latest, &["2503"]),
            ("5.00.9132.1000", Latest, &["2503"]),
            ("5.00.9106.1000", Latest, &["2409"]),
            ("5.00.9096.1000", Latest, &["2403"]),
            ("5.00.9135.1000", Latest, &[]),
            ("5.00.8000.1000", Latest, &[]),
            ("5.00.9300.1000", Latest, &["future"]),
            // all: everything, whatever the site.
            (
                "5.00.9128.1000",
                All,
                &[
                    "2403",
                    "2403-HFRU",
                    "2409",
                    "2409-HFRU",
                    "2503",
                    "weave",
                    "future",
                ],
            ),
            // hotfix: every hotfix, whatever the site.
            ("5.00.8000.1000", Hotfix, &["2403-HFRU", "2409-HFRU"]),
            ("5.00.9135.1000", Hotfix, &["2403-HFRU", "2409-HFRU"]),
            // siteversion: updates and hotfixes with a full version above the site's.
            (
                "5.00.9128.1000",
                SiteVersion,
                &["2403-HFRU", "2409", "2409-HFRU", "2503", "weave", "future"],
            ),
            ("5.00.9132.1027", SiteVersion, &["2503", "weave", "future"]),
            ("5.00.10000.1000", SiteVersion, &[]),
        ];
        for (site, mode, expected) in table {
            assert_eq!(names(site, *mode), *expected, "site {site}, mode {mode}");
        }
    }

    #[test]
    fn selection_is_ordered_and_pure() {
        let catalog = catalog();
        let once = select_guids(&catalog, &v("5.00.9128.1000"), DownloadMode::All);
        let again = select_guids(&catalog, &v("5.00.9128.1000"), DownloadMode::All);
        assert_eq!(once, again);
        let mut reversed = catalog.clone();
        reversed.packs.reverse();
        assert_eq!(
            select_guids(&reversed, &v("5.00.9128.1000"), DownloadMode::All),
            once
        );
    }

    #[test]
    fn modes_parse_case_insensitively() {
        for mode in DownloadMode::ALL {
            assert_eq!(mode.name().to_uppercase().parse::<DownloadMode>(), Ok(mode));
        }
        assert!("newest".parse::<DownloadMode>().is_err());
        assert_eq!(DownloadMode::default(), DownloadMode::Latest);
    }
}
