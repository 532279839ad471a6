//! Coarse geolocation from a MaxMind GeoIP2/GeoLite2 City or Country database.
//!
//! Only the country code, the first subdivision (as an ISO 3166-2 code such as
//! `US-NM`) and the English city name are ever decoded, and only down to the
//! configured precision. Coordinates, postal codes and accuracy radii are not
//! read at all, so they cannot leak into a row.

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
    fn disabled_lookup_is_empty() {
        let geo = GeoLookup::disabled();
        assert!(!geo.is_enabled());
        assert_eq!(
            geo.locate("81.2.69.142".parse().unwrap()),
            Location::default()
        );
    }
}
