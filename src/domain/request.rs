//! What an execution keeps of the HTTP request that started it, besides the body: the headers
//! (so a workflow can tell a GitHub push from a pull request by `x-github-event`) and the query
//! string. Credentials never make it in: the API key, authorization, cookies and sender
//! signatures are dropped here, before anything is stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Headers that carry a credential or a signature over the body. Kept out of storage, logs and
/// templates alike.
const SECRET_HEADERS: &[&str] = &[
    "x-api-key",
    "x-admin-key",
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-hub-signature",
    "x-hub-signature-256",
    "stripe-signature",
    "x-slack-signature",
    "x-shopify-hmac-sha256",
    "webhook-signature",
    "svix-signature",
    "x-signature",
    "x-webhook-signature",
];

/// Query parameters that carry a credential (SNS subscription URLs carry the API key this way).
const SECRET_QUERY: &[&str] = &["x-api-key"];

/// The request's headers and query, minus credentials. Names of headers are lower-cased; a
/// header or parameter sent more than once keeps its values joined by `, ` (HTTP's own rule
/// for combining header fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMeta {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
}

impl RequestMeta {
    pub fn capture<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        query: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let mut meta = Self::default();
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            if is_secret_header(&name) {
                continue;
            }
            append(&mut meta.headers, name, value);
        }
        for (name, value) in query {
            if SECRET_QUERY.contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            append(&mut meta.query, name, &value);
        }
        meta
    }
}

pub fn is_secret_header(lower_case_name: &str) -> bool {
    SECRET_HEADERS.contains(&lower_case_name)
}

fn append(map: &mut BTreeMap<String, String>, name: String, value: &str) {
    map.entry(name)
        .and_modify(|existing| {
            existing.push_str(", ");
            existing.push_str(value);
        })
        .or_insert_with(|| value.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_signatures_are_never_kept() {
        let meta = RequestMeta::capture(
            [
                ("X-Api-Key", "wt_secret"),
                ("X-Admin-Key", "wha_secret"),
                ("Authorization", "Bearer t"),
                ("Cookie", "s=1"),
                ("X-Hub-Signature-256", "sha256=ab"),
                ("X-GitHub-Event", "push"),
            ],
            [
                ("x-api-key".to_owned(), "wt_secret".to_owned()),
                ("ref".to_owned(), "main".to_owned()),
            ],
        );
        assert_eq!(meta.headers.len(), 1);
        assert_eq!(meta.headers["x-github-event"], "push");
        assert_eq!(meta.query.len(), 1);
        assert_eq!(meta.query["ref"], "main");
        let stored = serde_json::to_string(&meta).unwrap();
        assert!(!stored.contains("wt_secret"));
        assert!(!stored.contains("wha_secret"));
        assert!(!stored.contains("Bearer"));
    }

    #[test]
    fn repeated_names_keep_every_value() {
        let meta = RequestMeta::capture(
            [("Accept", "a/b"), ("accept", "c/d")],
            [
                ("tag".to_owned(), "x".to_owned()),
                ("tag".to_owned(), "y".to_owned()),
            ],
        );
        assert_eq!(meta.headers["accept"], "a/b, c/d");
        assert_eq!(meta.query["tag"], "x, y");
    }
}
