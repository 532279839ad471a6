//! The baseline for `benches/load.sh`: an actix-web server that answers
//! `GET /p.gif` with the same 43-byte GIF and does nothing else. The collector's
//! throughput is reported as a ratio of this one's, measured in the same run.
//!
//!     cargo run --release --example bare_gif -- 127.0.0.1:8099 [workers]

use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};

const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

async fn gif() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/gif")
        .insert_header((header::CACHE_CONTROL, "no-store, max-age=0"))
        .body(PIXEL_GIF)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8099".into());
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    actix_web::rt::System::new().block_on(
        HttpServer::new(|| App::new().route("/p.gif", web::get().to(gif)))
            .workers(workers)
            .bind(listen)?
            .run(),
    )
}
