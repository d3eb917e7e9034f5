//! Which provider and endpoint a request is for, and which of its headers cross the proxy.
//!
//! Agents get `http://<proxy>/anthropic` as `ANTHROPIC_BASE_URL` and `http://<proxy>/openai/v1`
//! as their OpenAI base URL, so the first path segment names the provider and the rest is the
//! provider's own path (`/v1/messages`, `/v1/responses`).
//!
//! Only endpoints the proxy can meter, plus a few that cost nothing, are forwarded. Everything
//! else is refused: the real key is injected into whatever passes, and an endpoint like
//! Anthropic's `/v1/messages/batches` would spend money the meter cannot see.

use super::usage::Api;
use super::Provider;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};

/// What the proxy does with a request's endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A model call whose response carries usage in this API's format.
    Metered(Api),
    /// Costs nothing (model listing, token counting): forwarded, usage not expected.
    Free,
    /// Not forwarded.
    Refused,
}

/// Splits `/anthropic/v1/messages` into the provider and the upstream path `/v1/messages`.
pub(crate) fn split_provider(path: &str) -> Option<(Provider, &str)> {
    for (prefix, provider) in [
        ("/anthropic", Provider::Anthropic),
        ("/openai", Provider::OpenAi),
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            if rest.starts_with('/') {
                return Some((provider, rest));
            }
        }
    }
    None
}

pub(crate) fn classify(provider: Provider, method: &Method, path: &str) -> Endpoint {
    let path = path.trim_end_matches('/');
    let models = path == "/v1/models" || path.starts_with("/v1/models/");
    match (provider, method.as_str(), path) {
        (Provider::Anthropic, "POST", "/v1/messages") => Endpoint::Metered(Api::AnthropicMessages),
        (Provider::Anthropic, "POST", "/v1/messages/count_tokens") => Endpoint::Free,
        (Provider::OpenAi, "POST", "/v1/responses") => Endpoint::Metered(Api::OpenAiResponses),
        (Provider::OpenAi, "POST", "/v1/chat/completions") => {
            Endpoint::Metered(Api::OpenAiChatCompletions)
        }
        (_, "GET", _) if models => Endpoint::Free,
        _ => Endpoint::Refused,
    }
}

/// The run token: `x-api-key` (what Anthropic clients send) or `Authorization: Bearer` (OpenAI
/// clients, and Anthropic clients given an auth token instead of a key).
pub(crate) fn run_token(headers: &HeaderMap) -> Option<&str> {
    let from_key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    from_key.or_else(|| {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    })
}

/// Hop-by-hop headers (RFC 9110 section 7.6.1, plus the old `keep-alive` and
/// `proxy-connection`): they describe one connection and are never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers not to forward: the hop-by-hop ones and those the `Connection` header names.
fn is_hop_by_hop(name: &HeaderName, connection_listed: &[String]) -> bool {
    HOP_BY_HOP.contains(&name.as_str()) || connection_listed.iter().any(|c| c == name.as_str())
}

fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The headers to send upstream: the agent's, less hop-by-hop headers, `host` (the client sets
/// the upstream's), every credential the agent sent (its run token), and `accept-encoding`,
/// which is pinned to `identity` so the meter can read the usage in the body; plus the real key.
pub(crate) fn upstream_request_headers(
    agent: &HeaderMap,
    provider: Provider,
    key: &str,
) -> Result<HeaderMap, axum::http::header::InvalidHeaderValue> {
    let listed = connection_listed(agent);
    let mut out = HeaderMap::with_capacity(agent.len() + 1);
    for (name, value) in agent {
        let dropped = is_hop_by_hop(name, &listed)
            || name == header::HOST
            || name == header::AUTHORIZATION
            || name == "x-api-key"
            || name == header::ACCEPT_ENCODING;
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    out.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    match provider {
        Provider::Anthropic => {
            let mut value = HeaderValue::from_str(key)?;
            value.set_sensitive(true);
            out.insert("x-api-key", value);
        }
        Provider::OpenAi => {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}"))?;
            value.set_sensitive(true);
            out.insert(header::AUTHORIZATION, value);
        }
    }
    Ok(out)
}

/// The headers to send back to the agent: the upstream's, less hop-by-hop headers.
pub(crate) fn agent_response_headers(upstream: &HeaderMap) -> HeaderMap {
    let listed = connection_listed(upstream);
    let mut out = HeaderMap::with_capacity(upstream.len());
    for (name, value) in upstream {
        if !is_hop_by_hop(name, &listed) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn provider_prefixes() {
        assert_eq!(
            split_provider("/anthropic/v1/messages"),
            Some((Provider::Anthropic, "/v1/messages"))
        );
        assert_eq!(
            split_provider("/openai/v1/responses"),
            Some((Provider::OpenAi, "/v1/responses"))
        );
        assert_eq!(split_provider("/anthropicx/v1/messages"), None);
        assert_eq!(split_provider("/anthropic"), None);
        assert_eq!(split_provider("/v1/messages"), None);
    }

    #[test]
    fn endpoints() {
        use Provider::*;
        let post = Method::POST;
        assert_eq!(
            classify(Anthropic, &post, "/v1/messages"),
            Endpoint::Metered(Api::AnthropicMessages)
        );
        assert_eq!(
            classify(Anthropic, &post, "/v1/messages/count_tokens"),
            Endpoint::Free
        );
        assert_eq!(
            classify(Anthropic, &post, "/v1/messages/batches"),
            Endpoint::Refused
        );
        assert_eq!(
            classify(Anthropic, &Method::GET, "/v1/messages"),
            Endpoint::Refused
        );
        assert_eq!(
            classify(OpenAi, &post, "/v1/responses"),
            Endpoint::Metered(Api::OpenAiResponses)
        );
        assert_eq!(
            classify(OpenAi, &post, "/v1/chat/completions/"),
            Endpoint::Metered(Api::OpenAiChatCompletions)
        );
        assert_eq!(classify(OpenAi, &post, "/v1/messages"), Endpoint::Refused);
        assert_eq!(classify(OpenAi, &post, "/v1/batches"), Endpoint::Refused);
        assert_eq!(
            classify(OpenAi, &Method::GET, "/v1/models/gpt-5"),
            Endpoint::Free
        );
        assert_eq!(
            classify(Anthropic, &Method::GET, "/v1/models"),
            Endpoint::Free
        );
    }

    #[test]
    fn tokens_from_either_header() {
        assert_eq!(run_token(&headers(&[("x-api-key", "t1")])), Some("t1"));
        assert_eq!(
            run_token(&headers(&[("authorization", "Bearer t2")])),
            Some("t2")
        );
        assert_eq!(
            run_token(&headers(&[("authorization", "bearer  t3 ")])),
            Some("t3")
        );
        assert_eq!(run_token(&headers(&[("authorization", "Basic abc")])), None);
        assert_eq!(run_token(&headers(&[("x-api-key", "")])), None);
        assert_eq!(run_token(&HeaderMap::new()), None);
    }

    #[test]
    fn request_headers_lose_credentials_and_hop_by_hop_and_gain_the_key() {
        let agent = headers(&[
            ("host", "proxy:1"),
            ("x-api-key", "bosun-run-1-secret"),
            ("authorization", "Bearer bosun-run-1-secret"),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "a"),
            ("anthropic-beta", "b"),
            ("connection", "keep-alive, x-custom-hop"),
            ("x-custom-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("accept-encoding", "gzip, br"),
            ("content-type", "application/json"),
            ("content-length", "42"),
        ]);
        let out = upstream_request_headers(&agent, Provider::Anthropic, "sk-real").unwrap();
        assert_eq!(out["x-api-key"], "sk-real");
        assert!(out["x-api-key"].is_sensitive());
        assert!(out.get("authorization").is_none());
        assert!(out.get("host").is_none());
        assert!(out.get("connection").is_none());
        assert!(out.get("x-custom-hop").is_none());
        assert!(out.get("keep-alive").is_none());
        assert!(out.get("transfer-encoding").is_none());
        assert_eq!(out["accept-encoding"], "identity");
        assert_eq!(out["anthropic-version"], "2023-06-01");
        assert_eq!(out.get_all("anthropic-beta").iter().count(), 2);
        assert_eq!(out["content-length"], "42");

        let out = upstream_request_headers(&agent, Provider::OpenAi, "sk-oa").unwrap();
        assert_eq!(out["authorization"], "Bearer sk-oa");
        assert!(out.get("x-api-key").is_none());
    }

    #[test]
    fn response_headers_lose_only_hop_by_hop() {
        let upstream = headers(&[
            ("content-type", "text/event-stream"),
            ("request-id", "req_1"),
            ("transfer-encoding", "chunked"),
            ("connection", "close"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ]);
        let out = agent_response_headers(&upstream);
        assert_eq!(out["request-id"], "req_1");
        assert_eq!(out.get_all("set-cookie").iter().count(), 2);
        assert!(out.get("transfer-encoding").is_none());
        assert!(out.get("connection").is_none());
    }
}
