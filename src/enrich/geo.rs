//! Coarse geolocation from a MaxMind GeoIP2/GeoLite2 City or Country database.
//!
//! Only the country code, the first subdivision (as an ISO 3166-2 code such as
//! `US-NM`) and the English city name are ever decoded, and only down to the
//! configured precision. Coordinates, postal codes and accuracy radii are not
//! read at all, so they cannot leak into a row.
//!
//! Also says what the loaded database's licence asks to be shown where its
//! locations are shown ([`Attribution`], read from the database's metadata:
//! DB-IP's free databases, CC BY 4.0, and MaxMind's GeoLite2), so the
//! dashboard credits whichever file is in use, after a reload too.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use super::bounded;

const MAX_CITY_CHARS: usize = 100;

/// How fine a location is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Country,
    Region,
    #[default]
    City,
}

/// A location as stored; each part empty when unknown or finer than allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// ISO 3166-1 alpha-2, e.g. `GB`.
    pub country: String,
    /// ISO 3166-2, e.g. `GB-ENG`.
    pub region: String,
    pub city: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error(
        "cannot open the GeoIP database {path}: {cause}; point geoip.database (BEACONHOUSE_GEOIP_DATABASE) at a GeoIP2/GeoLite2 City or Country .mmdb file, or remove it to run without geolocation"
    )]
    Open {
        path: String,
        cause: maxminddb::MaxMindDbError,
    },
    #[error(
        "{path} is a {kind} database; geolocation needs a GeoIP2/GeoLite2 City or Country .mmdb"
    )]
    WrongKind { path: String, kind: String },
}

/// The credit a database's licence asks for beside the locations it gave:
/// words shown as a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// The words, as the licence gives them.
    pub text: &'static str,
    /// Where they link to.
    pub href: &'static str,
}

/// DB-IP's free "Lite" databases (CC BY 4.0): a web page that shows their
/// results links back to DB-IP with these words.
pub const DB_IP: Attribution = Attribution {
    text: "IP Geolocation by DB-IP",
    href: "https://db-ip.com",
};

/// MaxMind's free GeoLite2 databases (the GeoLite2 licence).
pub const GEOLITE2: Attribution = Attribution {
    text: "This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com",
    href: "https://www.maxmind.com",
};

/// The attribution a database asks for, by its metadata's `database_type`
/// (`DBIP-Country-Lite`, `GeoLite2-City`, ...) and, for a file that names
/// its maker only there, its `description`: DB-IP's for any DB-IP database
/// (the free ones require it; crediting a paid one costs nothing, missing
/// a free one breaks its licence), MaxMind's for GeoLite2, none for
/// MaxMind's paid GeoIP2 and anything else.
pub fn attribution_for(
    database_type: &str,
    description: &BTreeMap<String, String>,
) -> Option<Attribution> {
    let kind = database_type.to_ascii_lowercase();
    let described = |words: &[&str]| {
        description.values().any(|text| {
            let text = text.to_ascii_lowercase();
            words.iter().any(|word| text.contains(word))
        })
    };
    if kind.starts_with("dbip") || kind.contains("db-ip") || described(&["db-ip", "dbip"]) {
        Some(DB_IP)
    } else if kind.starts_with("geolite2") || described(&["geolite2"]) {
        Some(GEOLITE2)
    } else {
        None
    }
}

/// The database, or none. Lookups are in memory and never fail: an address the
/// database does not know has an empty location. The database can be read
/// again from its file while lookups go on ([`GeoLookup::reload`]).
pub struct GeoLookup {
    /// `None` without a database.
    database: Option<Database>,
    precision: Precision,
}

/// A database and the file it was read from, to read again.
struct Database {
    path: PathBuf,
    reader: RwLock<maxminddb::Reader<Vec<u8>>>,
}

/// What [`GeoLookup::reload`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reloaded {
    /// The file was read again; its build time (seconds since the epoch,
    /// from the database's metadata).
    Database { build_epoch: u64 },
    /// No database is configured: nothing to read.
    NoDatabase,
}

/// The only fields decoded from a record.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    country: Option<Coded<'a>>,
    #[serde(borrow, default)]
    subdivisions: Option<Vec<Coded<'a>>>,
    #[serde(borrow, default)]
    city: Option<Named<'a>>,
}

#[derive(Deserialize)]
struct Coded<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow, default)]
    names: Option<English<'a>>,
}

#[derive(Deserialize)]
struct English<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

impl GeoLookup {
    /// No database: every location is empty.
    pub fn disabled() -> GeoLookup {
        GeoLookup {
            database: None,
            precision: Precision::Country,
        }
    }

    pub fn open(path: &Path, precision: Precision) -> Result<GeoLookup, GeoError> {
        Ok(GeoLookup {
            database: Some(Database {
                reader: RwLock::new(read(path)?),
                path: path.to_path_buf(),
            }),
            precision,
        })
    }

    /// Reads the database's file again and swaps it in (what `serve` does on
    /// SIGHUP, after geoipupdate replaced the file). Lookups meanwhile use
    /// the database read before, and keep using it when the new file cannot
    /// be read: no hit waits on the file, and none loses its location.
    pub fn reload(&self) -> Result<Reloaded, GeoError> {
        let Some(database) = &self.database else {
            return Ok(Reloaded::NoDatabase);
        };
        let reader = read(&database.path)?;
        let build_epoch = reader.metadata().build_epoch;
        *database
            .reader
            .write()
            .unwrap_or_else(PoisonError::into_inner) = reader;
        Ok(Reloaded::Database { build_epoch })
    }

    pub fn is_enabled(&self) -> bool {
        self.database.is_some()
    }

    /// What the database in use asks to be shown beside its locations
    /// ([`attribution_for`]); none without a database.
    pub fn attribution(&self) -> Option<Attribution> {
        let database = self.database.as_ref()?;
        let reader = database
            .reader
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let metadata = reader.metadata();
        attribution_for(&metadata.database_type, &metadata.description)
    }

    pub fn locate(&self, address: IpAddr) -> Location {
        // Without a database there is no lock to take.
        let Some(database) = &self.database else {
            return Location::default();
        };
        let reader = database
            .reader
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let record = match reader
            .lookup(address)
            .and_then(|found| found.decode::<Record>())
        {
            Ok(Some(record)) => record,
            // Not in the database, or a record we cannot read: unknown place.
            Ok(None) | Err(_) => return Location::default(),
        };
        to_location(&record, self.precision)
    }
}

/// A City or Country database from `path`, read whole into memory.
fn read(path: &Path) -> Result<maxminddb::Reader<Vec<u8>>, GeoError> {
    let reader = maxminddb::Reader::open_readfile(path).map_err(|cause| GeoError::Open {
        path: path.display().to_string(),
        cause,
    })?;
    let kind = reader.metadata().database_type.clone();
    if !(kind.contains("City") || kind.contains("Country")) {
        return Err(GeoError::WrongKind {
            path: path.display().to_string(),
            kind,
        });
    }
    Ok(reader)
}

fn to_location(record: &Record<'_>, precision: Precision) -> Location {
    let country = record
        .country
        .as_ref()
        .and_then(|c| c.iso_code)
        .filter(|code| code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase)
        .unwrap_or_default();
    let mut location = Location {
        country,
        ..Location::default()
    };
    if precision == Precision::Country || location.country.is_empty() {
        return location;
    }
    if let Some(code) = record
        .subdivisions
        .as_ref()
        .and_then(|s| s.first())
        .and_then(|s| s.iso_code)
        .filter(|code| {
            (1..=3).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric())
        })
    {
        location.region = format!("{}-{}", location.country, code.to_ascii_uppercase());
    }
    if precision == Precision::City {
        location.city = record
            .city
            .as_ref()
            .and_then(|c| c.names.as_ref())
            .and_then(|n| n.en)
            .map(|name| bounded(name, MAX_CITY_CHARS))
            .unwrap_or_default();
    }
    location
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        country: Option<&'static str>,
        region: Option<&'static str>,
        city: Option<&'static str>,
    ) -> Record<'static> {
        Record {
            country: Some(Coded { iso_code: country }),
            subdivisions: Some(vec![Coded { iso_code: region }]),
            city: Some(Named {
                names: Some(English { en: city }),
            }),
        }
    }

    #[test]
    fn precision_limits_what_is_kept() {
        let full = record(Some("us"), Some("NM"), Some("Albuquerque"));
        assert_eq!(
            to_location(&full, Precision::City),
            Location {
                country: "US".into(),
                region: "US-NM".into(),
                city: "Albuquerque".into()
            }
        );
        assert_eq!(
            to_location(&full, Precision::Region),
            Location {
                country: "US".into(),
                region: "US-NM".into(),
                city: String::new()
            }
        );
        assert_eq!(
            to_location(&full, Precision::Country),
            Location {
                country: "US".into(),
                ..Location::default()
            }
        );
    }

    #[test]
    fn odd_records_give_empty_parts() {
        let no_country = record(None, Some("NM"), Some("Albuquerque"));
        assert_eq!(
            to_location(&no_country, Precision::City),
            Location::default()
        );
        let bad_codes = record(Some("USA"), Some("N/M"), None);
        assert_eq!(
            to_location(&bad_codes, Precision::City),
            Location::default()
        );
        let country_only = Record {
            country: Some(Coded {
                iso_code: Some("DE"),
            }),
            subdivisions: None,
            city: None,
        };
        assert_eq!(
            to_location(&country_only, Precision::City),
            Location {
                country: "DE".into(),
                ..Location::default()
            }
        );
    }

    #[test]
    fn the_attribution_follows_the_database_maker() {
        let none = BTreeMap::new();
        let described = |text: &str| BTreeMap::from([("en".to_string(), text.to_string())]);
        let cases = [
            // As DB-IP's and MaxMind's files name themselves.
            ("DBIP-Country-Lite", none.clone(), Some(DB_IP)),
            ("DBIP-City-Lite", none.clone(), Some(DB_IP)),
            ("DBIP-Location (compat=City)", none.clone(), Some(DB_IP)),
            ("dbip-country-lite", none.clone(), Some(DB_IP)),
            (
                "GeoIP2-Country",
                described("dbip-country-lite-2026-11 by DB-IP.com"),
                Some(DB_IP),
            ),
            ("GeoLite2-City", none.clone(), Some(GEOLITE2)),
            ("GeoLite2-Country", none.clone(), Some(GEOLITE2)),
            (
                "Country",
                described("GeoLite2 Country database"),
                Some(GEOLITE2),
            ),
            // Paid MaxMind databases and others ask for nothing.
            ("GeoIP2-City", described("GeoIP2 City database"), None),
            ("GeoIP2-Country", none.clone(), None),
            ("My-Country", described("our own ranges"), None),
        ];
        for (kind, description, expected) in cases {
            assert_eq!(attribution_for(kind, &description), expected, "{kind}");
        }
    }

    #[test]
    fn disabled_lookup_is_empty() {
        let geo = GeoLookup::disabled();
        assert!(!geo.is_enabled());
        assert_eq!(geo.attribution(), None);
        assert_eq!(
            geo.locate("81.2.69.142".parse().unwrap()),
            Location::default()
        );
    }
}
