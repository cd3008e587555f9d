//! The page's one style sheet and one small script, compiled into the binary: nothing is
//! read from disk at run time, and the strict CSP (`'self'`, no inline code) allows exactly
//! these two.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub const STYLE: &str = "/static/gatekeep.css";
pub const SCRIPT: &str = "/static/gatekeep.js";

const STYLE_TEXT: &str = include_str!("static/gatekeep.css");
const SCRIPT_TEXT: &str = include_str!("static/gatekeep.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Short: a new binary's assets reach browsers within minutes.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    super::secure_headers(&mut response);
    response
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE_TEXT)
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT_TEXT)
}
