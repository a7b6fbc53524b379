//! The HTTP contract between `sct-upload` (client) and `sct-serve` (service): the upload
//! endpoint, the token's variable and the error document every refusal carries. Both sides use
//! these definitions, so neither floor depends on the other (docs/service.md has the protocol).

use crate::core::document::Document;
use serde::{Deserialize, Serialize};

/// The upload endpoint's path.
pub const UPLOAD_PATH: &str = "/api/v1/usage";
/// Environment variable holding the bearer token uploads must carry (server and client).
pub const ENV_TOKEN: &str = "SCT_SERVICE_TOKEN";

/// The error document every refusal carries (`sct.error.v1`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorDocument {
    pub schema: crate::core::document::Tag<Self>,
    /// HTTP status code, repeated for logs that keep only the body.
    pub status: u16,
    /// A stable word for scripts: `unauthorized`, `too_large`, `not_a_usage_cab`, ...
    pub error: String,
    pub message: String,
}

impl Document for ErrorDocument {
    const SCHEMA: &'static str = "sct.error.v1";
}
