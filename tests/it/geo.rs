//! GeoIP lookups against a database the test writes itself.

use crate::common;
use beaconhouse::enrich::geo::{DB_IP, GeoLookup, Location, Precision};

fn fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    common::geoip::write_city_fixture(&path);
    (dir, path)
}

fn location(country: &str, region: &str, city: &str) -> Location {
    Location {
        country: country.into(),
        region: region.into(),
        city: city.into(),
    }
}

#[test]
fn city_database_lookups_at_each_precision() {
    let (_dir, path) = fixture();
    let city = GeoLookup::open(&path, Precision::City).unwrap();
    assert!(city.is_enabled());
    let cases = [
        ("81.2.69.142", location("GB", "GB-ENG", "London")),
        ("2001:db8:1::7", location("US", "US-NM", "Albuquerque")),
        ("192.0.2.10", location("DE", "", "")),
        ("198.51.100.1", Location::default()),
        ("127.0.0.1", Location::default()),
        ("::1", Location::default()),
    ];
    for (address, expected) in cases {
        assert_eq!(city.locate(address.parse().unwrap()), expected, "{address}");
    }
    let region = GeoLookup::open(&path, Precision::Region).unwrap();
    assert_eq!(
        region.locate("81.2.69.142".parse().unwrap()),
        location("GB", "GB-ENG", "")
    );
    let country = GeoLookup::open(&path, Precision::Country).unwrap();
    assert_eq!(
        country.locate("2001:db8:1::7".parse().unwrap()),
        location("US", "", "")
    );
}

#[test]
fn unusable_files_are_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let missing = GeoLookup::open(&dir.path().join("absent.mmdb"), Precision::City)
        .err()
        .unwrap()
        .to_string();
    assert!(missing.contains("BEACONHOUSE_GEOIP_DATABASE"), "{missing}");
    let garbage = dir.path().join("garbage.mmdb");
    std::fs::write(&garbage, b"not a database").unwrap();
    assert!(GeoLookup::open(&garbage, Precision::City).is_err());

    let asn = dir.path().join("asn.mmdb");
    let mut writer = mmdb_writer::Writer::new("GeoLite2-ASN");
    writer
        .insert(
            "81.2.69.0/24".parse::<ipnet::IpNet>().unwrap(),
            &std::collections::BTreeMap::from([("autonomous_system_number", 1u32)]),
        )
        .unwrap();
    std::fs::write(&asn, writer.to_bytes().unwrap()).unwrap();
    let wrong = GeoLookup::open(&asn, Precision::City)
        .err()
        .unwrap()
        .to_string();
    assert!(wrong.contains("GeoLite2-ASN"), "{wrong}");
}

#[test]
fn a_reload_swaps_the_database_and_keeps_the_old_one_when_the_new_cannot_be_read() {
    use beaconhouse::enrich::geo::Reloaded;
    let (_dir, path) = fixture();
    let geo = GeoLookup::open(&path, Precision::City).unwrap();
    let london = "81.2.69.142".parse().unwrap();
    assert_eq!(geo.locate(london), location("GB", "GB-ENG", "London"));

    common::geoip::replace_with_country_database(&path, &[("81.2.69.0/24", "IE")]);
    assert_eq!(
        geo.locate(london),
        location("GB", "GB-ENG", "London"),
        "the file alone changes nothing"
    );
    assert!(matches!(geo.reload(), Ok(Reloaded::Database { .. })));
    assert_eq!(geo.locate(london), location("IE", "", ""));

    std::fs::write(&path, b"half a download").unwrap();
    let refused = geo.reload().err().unwrap().to_string();
    assert!(refused.contains(&path.display().to_string()), "{refused}");
    assert_eq!(
        geo.locate(london),
        location("IE", "", ""),
        "the database read before stays"
    );

    assert_eq!(
        GeoLookup::disabled().reload().unwrap(),
        Reloaded::NoDatabase
    );
}

#[test]
fn the_credit_a_database_asks_for_follows_the_file_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("country.mmdb");
    common::geoip::write_dbip_country_fixture(&path);
    let geo = GeoLookup::open(&path, Precision::City).unwrap();
    assert_eq!(geo.attribution(), Some(DB_IP));
    assert_eq!(
        geo.locate("81.2.69.142".parse().unwrap()),
        location("GB", "", ""),
        "a country database at city precision gives the country"
    );
    // geoipupdate puts MaxMind's paid GeoIP2 in its place: no credit asked.
    common::geoip::replace_with_country_database(&path, &[("81.2.69.0/24", "IE")]);
    assert_eq!(
        geo.attribution(),
        Some(DB_IP),
        "the file alone changes nothing"
    );
    geo.reload().unwrap();
    assert_eq!(geo.attribution(), None);
    let (_city_dir, city) = fixture();
    assert_eq!(
        GeoLookup::open(&city, Precision::City)
            .unwrap()
            .attribution(),
        None,
        "GeoIP2-City"
    );
}
