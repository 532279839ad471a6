//! Writes the tests' GeoIP2-City-shaped database (`tests/it/common/geoip.rs`)
//! to the path given, so `benches/load.sh` measures hits with a database
//! loaded, as the collector runs in production.
//!
//!     cargo run --release --example geoip_fixture -- /tmp/city.mmdb

#[path = "../tests/it/common/geoip.rs"]
#[allow(dead_code)]
mod geoip;

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: geoip_fixture PATH (where to write the .mmdb)");
        std::process::exit(2);
    };
    geoip::write_city_fixture(std::path::Path::new(&path));
}
