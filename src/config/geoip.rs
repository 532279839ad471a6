//! `[geoip]`: the GeoIP2/GeoLite2 database a hit's location is looked up in,
//! and how fine a location is stored (`precision`: country, region or city).
//!
//! Refuses only what serde does (an unknown key, an unknown precision): the
//! database file is opened, and a missing one reported, by `enrich::geo`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::enrich::geo::Precision;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawGeoip {
    database: Option<PathBuf>,
    precision: Precision,
}

#[derive(Debug, Clone)]
pub struct GeoipConfig {
    /// A GeoIP2/GeoLite2 City or Country database; `None` leaves geo columns empty.
    pub database: Option<PathBuf>,
    /// How fine a location is stored.
    pub precision: Precision,
}

impl RawGeoip {
    /// Infallible: what serde took is valid.
    pub(super) fn validate(self) -> GeoipConfig {
        GeoipConfig {
            database: self.database,
            precision: self.precision,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{Case, MINIMAL, assert_rejections_name_their_keys};

    #[test]
    fn each_rejection_names_its_key() {
        let cases: &[Case] = &[(
            MINIMAL,
            &[("BEACONHOUSE_GEOIP_PRECISION", "street")],
            "geoip.precision",
        )];
        assert_rejections_name_their_keys(cases);
    }
}
