//! Writes a small GeoIP2-City-shaped `.mmdb` for the tests, with coordinates and
//! postal codes in it so the tests can prove those are never stored.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

#[derive(Serialize)]
struct Names {
    names: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Coded {
    iso_code: String,
    names: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Location {
    latitude: f64,
    longitude: f64,
    accuracy_radius: u16,
}

#[derive(Serialize)]
struct Postal {
    code: String,
}

#[derive(Serialize)]
struct CityRecord {
    country: Coded,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subdivisions: Vec<Coded>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<Names>,
    location: Location,
    postal: Postal,
}

fn english(name: &str) -> BTreeMap<String, String> {
    [("en".to_string(), name.to_string())].into()
}

fn coded(code: &str, name: &str) -> Coded {
    Coded {
        iso_code: code.to_string(),
        names: english(name),
    }
}

/// Networks in the fixture:
/// - 81.2.69.0/24: GB, England (GB-ENG), London
/// - 2001:db8:1::/48: US, New Mexico (US-NM), Albuquerque
/// - 192.0.2.0/24: DE only (no subdivision, no city)
pub fn write_city_fixture(path: &Path) {
    let mut writer = mmdb_writer::Writer::new("GeoIP2-City");
    let records = [
        (
            "81.2.69.0/24",
            CityRecord {
                country: coded("GB", "United Kingdom"),
                subdivisions: vec![coded("ENG", "England")],
                city: Some(Names {
                    names: english("London"),
                }),
                location: Location {
                    latitude: 51.5142,
                    longitude: -0.0931,
                    accuracy_radius: 5,
                },
                postal: Postal {
                    code: "EC2V".into(),
                },
            },
        ),
        (
            "2001:db8:1::/48",
            CityRecord {
                country: coded("US", "United States"),
                subdivisions: vec![coded("NM", "New Mexico")],
                city: Some(Names {
                    names: english("Albuquerque"),
                }),
                location: Location {
                    latitude: 35.0844,
                    longitude: -106.6504,
                    accuracy_radius: 10,
                },
                postal: Postal {
                    code: "87102".into(),
                },
            },
        ),
        (
            "192.0.2.0/24",
            CityRecord {
                country: coded("DE", "Germany"),
                subdivisions: Vec::new(),
                city: None,
                location: Location {
                    latitude: 51.0,
                    longitude: 9.0,
                    accuracy_radius: 1000,
                },
                postal: Postal {
                    code: "10115".into(),
                },
            },
        ),
    ];
    for (network, record) in &records {
        writer
            .insert(network.parse::<ipnet::IpNet>().unwrap(), record)
            .unwrap();
    }
    std::fs::write(path, writer.to_bytes().unwrap()).unwrap();
}

#[derive(Serialize)]
struct CountryRecord {
    country: Coded,
}

/// A country database as DB-IP's free "IP to Country Lite" names itself in
/// its metadata (`DBIP-Country-Lite`), in GeoIP2-Country's shape, as DB-IP
/// writes it: 81.2.69.0/24 in GB, 2001:db8:1::/48 in the US.
pub fn write_dbip_country_fixture(path: &Path) {
    let mut writer = mmdb_writer::Writer::builder("DBIP-Country-Lite")
        .description(&[("en", "IP to Country Lite (a test fixture in DB-IP's shape)")])
        .build();
    for (network, code, name) in [
        ("81.2.69.0/24", "GB", "United Kingdom"),
        ("2001:db8:1::/48", "US", "United States"),
    ] {
        let record = CountryRecord {
            country: coded(code, name),
        };
        writer
            .insert(network.parse::<ipnet::IpNet>().unwrap(), &record)
            .unwrap();
    }
    std::fs::write(path, writer.to_bytes().unwrap()).unwrap();
}

/// A GeoIP2-Country database of `networks` and their countries, written to a
/// file beside `path` and renamed over it, as geoipupdate replaces one.
pub fn replace_with_country_database(path: &Path, networks: &[(&str, &str)]) {
    let mut writer = mmdb_writer::Writer::new("GeoIP2-Country");
    for (network, code) in networks {
        let record = CountryRecord {
            country: coded(code, code),
        };
        writer
            .insert(network.parse::<ipnet::IpNet>().unwrap(), &record)
            .unwrap();
    }
    let next = path.with_extension("mmdb.new");
    std::fs::write(&next, writer.to_bytes().unwrap()).unwrap();
    std::fs::rename(&next, path).unwrap();
}
