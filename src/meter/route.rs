//! Which provider and endpoint a request is for, and which of its headers cross the proxy.
//!
//! Agents get `http://<proxy>/anthropic` as `ANTHROPIC_BASE_URL`, `http://<proxy>/openai/v1`
//! as their OpenAI base URL and `http://<proxy>/gemini` as their Gemini base URL, so the first
//! path segment names the provider and the rest is the provider's own path (`/v1/messages`,
//! `/v1/responses`, `/v1beta/models/gemini-2.5-pro:generateContent`).
//!
//! Only endpoints the proxy can meter, plus a few that cost nothing, are forwarded. Everything
//! else is refused: the real key is injected into whatever passes, and an endpoint like
//! Anthropic's `/v1/messages/batches` (or Gemini's `:batchGenerateContent`, `:embedContent`,
//! file uploads) would spend money the meter cannot see.

use super::usage::Api;
use super::Provider;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use std::borrow::Cow;

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
        ("/gemini", Provider::Gemini),
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            if rest.starts_with('/') {
                return Some((provider, rest));
            }
        }
    }
    None
}

/// Refuses a path that could name another endpoint once the upstream (or a URL parser on the
/// way) decodes or normalises it: percent-encoded bytes (`%2e%2e`, `%2f`), backslashes, `.`
/// and `..` segments and empty ones. The endpoint allowlist then matches exactly what is sent.
pub(crate) fn plain_path(path: &str) -> Result<(), &'static str> {
    if path.contains('%') {
        return Err("percent-encoded characters");
    }
    if path.contains('\\') {
        return Err("a backslash");
    }
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    for segment in trimmed.split('/') {
        match segment {
            "" => return Err("an empty segment"),
            "." | ".." => return Err("a dot segment"),
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn classify(
    provider: Provider,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Endpoint {
    let path = path.trim_end_matches('/');
    if provider == Provider::Gemini {
        return classify_gemini(method, path, query);
    }
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

/// The Gemini API's versions. Google serves the same `generateContent` (same usage fields)
/// under both; the CLIs and SDKs use `v1beta`.
const GEMINI_VERSIONS: [&str; 2] = ["/v1beta", "/v1"];

/// `/v1beta/models/gemini-2.5-pro:generateContent` → `("gemini-2.5-pro", "generateContent")`.
/// Only base models (`models/...`): tuned models and other resources are not forwarded.
pub(crate) fn gemini_model_call(path: &str) -> Option<(&str, &str)> {
    let path = path.trim_end_matches('/');
    let rest = GEMINI_VERSIONS
        .iter()
        .find_map(|v| path.strip_prefix(v)?.strip_prefix("/models/"))?;
    let (model, call) = rest.split_once(':')?;
    let plain = |s: &str| !s.is_empty() && !s.contains(['/', ':']);
    (plain(model) && plain(call)).then_some((model, call))
}

/// Gemini's endpoints: `generateContent`, and `streamGenerateContent` with `alt=sse`, are
/// metered. Without `alt=sse` a stream is one JSON array spread over the whole response, which
/// the meter does not read, so it is refused rather than forwarded unmetered (the Gemini CLI and
/// the AI SDK always ask for SSE). `countTokens` and the model listing cost nothing.
fn classify_gemini(method: &Method, path: &str, query: Option<&str>) -> Endpoint {
    let listing = GEMINI_VERSIONS.iter().any(|v| {
        path.strip_prefix(v).is_some_and(|rest| {
            rest == "/models"
                || rest
                    .strip_prefix("/models/")
                    .is_some_and(|m| !m.is_empty() && !m.contains(['/', ':']))
        })
    });
    if *method == Method::GET && listing {
        return Endpoint::Free;
    }
    if *method != Method::POST {
        return Endpoint::Refused;
    }
    match gemini_model_call(path).map(|(_, call)| call) {
        Some("generateContent") => Endpoint::Metered(Api::GeminiGenerateContent),
        Some("streamGenerateContent") if asks_for_sse(query) => {
            Endpoint::Metered(Api::GeminiGenerateContent)
        }
        Some("countTokens") => Endpoint::Free,
        _ => Endpoint::Refused,
    }
}

/// Why a refused request was refused, when there is more to say than "not forwarded".
pub(crate) fn refusal_hint(provider: Provider, path: &str) -> &'static str {
    match gemini_model_call(path) {
        Some((_, "streamGenerateContent")) if provider == Provider::Gemini => {
            " without alt=sse (the meter reads Gemini streams as server-sent events)"
        }
        _ => "",
    }
}

fn asks_for_sse(query: Option<&str>) -> bool {
    query_pairs(query).any(|(name, value, _)| name == "alt" && value == "sse")
}

/// The query's pairs: name and value percent-decoded (`+` as a space), as the API's server
/// reads them, and the pair as it was written.
fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (String, String, &str)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value), pair)
        })
}

/// `application/x-www-form-urlencoded` decoding; a `%` not followed by two hex digits stays.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                // Two hex digits are at most 0xff.
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query string to send upstream. Gemini clients may put their key in `key=`: for a
/// metered agent that is its run token, which must not reach Google (the real key goes in a
/// header), so every `key` parameter is dropped. Other pairs, and other providers' queries,
/// pass verbatim.
pub(crate) fn upstream_query(provider: Provider, query: Option<&str>) -> Option<String> {
    match provider {
        Provider::Gemini => {
            let kept: Vec<&str> = query_pairs(query)
                .filter(|(name, _, _)| name != "key")
                .map(|(_, _, raw)| raw)
                .collect();
            (!kept.is_empty()).then(|| kept.join("&"))
        }
        Provider::Anthropic | Provider::OpenAi => query.map(str::to_owned),
    }
}

/// The run token: `x-api-key` (what Anthropic clients send) or `Authorization: Bearer` (OpenAI
/// clients, and Anthropic clients given an auth token instead of a key); for Gemini also
/// `x-goog-api-key` (what Google's SDKs send) and, last, the `key` query parameter (Google's
/// other way of passing a key).
pub(crate) fn run_token<'a>(
    headers: &'a HeaderMap,
    provider: Provider,
    query: Option<&'a str>,
) -> Option<Cow<'a, str>> {
    let header_value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
    };
    let bearer = || {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    };
    let gemini = provider == Provider::Gemini;
    let from_headers = gemini
        .then(|| header_value("x-goog-api-key"))
        .flatten()
        .or_else(|| header_value("x-api-key"))
        .or_else(bearer);
    if let Some(token) = from_headers {
        return Some(Cow::Borrowed(token));
    }
    if !gemini {
        return None;
    }
    query_pairs(query)
        .find(|(name, value, _)| name == "key" && !value.trim().is_empty())
        .map(|(_, value, _)| Cow::Owned(value.trim().to_owned()))
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

/// Headers that move a call to another organisation, project or billing account the server's
/// key can reach: an agent does not choose whose account pays.
const BILLED_ELSEWHERE: &[&str] = &[
    "openai-organization",
    "openai-project",
    "x-goog-user-project",
];

/// The headers to send upstream: the agent's, less hop-by-hop headers, `host` (the client sets
/// the upstream's), every credential the agent sent (its run token), the billing headers, the
/// length (the body may be rewritten), and `accept-encoding`,
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
            || name == "x-goog-api-key"
            || name == header::ACCEPT_ENCODING
            // The body may be rewritten (see `vet`); the client sets the length it sends.
            || name == header::CONTENT_LENGTH
            || BILLED_ELSEWHERE.contains(&name.as_str());
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
        Provider::Gemini => {
            let mut value = HeaderValue::from_str(key)?;
            value.set_sensitive(true);
            out.insert("x-goog-api-key", value);
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
        assert_eq!(
            split_provider("/gemini/v1beta/models/gemini-2.5-pro:generateContent"),
            Some((
                Provider::Gemini,
                "/v1beta/models/gemini-2.5-pro:generateContent"
            ))
        );
    }

    #[test]
    fn gemini_endpoints() {
        use Provider::Gemini;
        let post = Method::POST;
        let metered = Endpoint::Metered(Api::GeminiGenerateContent);
        let m = "/v1beta/models/gemini-2.5-pro";
        assert_eq!(
            classify(Gemini, &post, &format!("{m}:generateContent"), None),
            metered
        );
        assert_eq!(
            classify(
                Gemini,
                &post,
                &format!("{m}:streamGenerateContent"),
                Some("alt=sse")
            ),
            metered
        );
        assert_eq!(
            classify(
                Gemini,
                &post,
                "/v1/models/gemini-2.5-flash:streamGenerateContent",
                Some("key=x&alt=sse")
            ),
            metered
        );
        // A stream as one JSON array is not read by the meter: refused, not forwarded unmetered.
        for query in [None, Some("alt=json"), Some("salt=sse")] {
            assert_eq!(
                classify(Gemini, &post, &format!("{m}:streamGenerateContent"), query),
                Endpoint::Refused,
                "{query:?}"
            );
        }
        assert_eq!(
            refusal_hint(Gemini, &format!("{m}:streamGenerateContent")),
            " without alt=sse (the meter reads Gemini streams as server-sent events)"
        );
        assert_eq!(refusal_hint(Gemini, &format!("{m}:embedContent")), "");
        assert_eq!(
            classify(Gemini, &post, &format!("{m}:countTokens"), None),
            Endpoint::Free
        );
        assert_eq!(
            classify(Gemini, &Method::GET, "/v1beta/models", None),
            Endpoint::Free
        );
        assert_eq!(classify(Gemini, &Method::GET, m, None), Endpoint::Free);
        for refused in [
            format!("{m}:embedContent"),
            format!("{m}:batchGenerateContent"),
            format!("{m}:predict"),
            "/v1beta/tunedModels/mine:generateContent".to_string(),
            "/v1beta/models/:generateContent".to_string(),
            "/v1beta/models/a/b:generateContent".to_string(),
            "/v1beta/cachedContents".to_string(),
            "/upload/v1beta/files".to_string(),
            "/v2/models/gemini-2.5-pro:generateContent".to_string(),
        ] {
            assert_eq!(
                classify(Gemini, &post, &refused, None),
                Endpoint::Refused,
                "{refused}"
            );
        }
        assert_eq!(
            classify(Gemini, &Method::GET, &format!("{m}:generateContent"), None),
            Endpoint::Refused
        );
        // Other providers' paths mean nothing under /gemini.
        assert_eq!(
            classify(Gemini, &post, "/v1/messages", None),
            Endpoint::Refused
        );
        assert_eq!(
            classify(
                Provider::Anthropic,
                &post,
                &format!("{m}:generateContent"),
                None
            ),
            Endpoint::Refused
        );
    }

    #[test]
    fn the_model_of_a_gemini_call_is_in_its_path() {
        assert_eq!(
            gemini_model_call("/v1beta/models/gemini-2.5-pro:streamGenerateContent"),
            Some(("gemini-2.5-pro", "streamGenerateContent"))
        );
        assert_eq!(
            gemini_model_call("/v1/models/gemini-2.0-flash-001:generateContent"),
            Some(("gemini-2.0-flash-001", "generateContent"))
        );
        assert_eq!(gemini_model_call("/v1beta/models/gemini-2.5-pro"), None);
        assert_eq!(gemini_model_call("/v1beta/models/x:y:z"), None);
    }

    #[test]
    fn gemini_tokens_from_its_header_or_the_key_parameter() {
        let g = Provider::Gemini;
        assert_eq!(
            run_token(&headers(&[("x-goog-api-key", "g1")]), g, Some("key=other")).as_deref(),
            Some("g1")
        );
        assert_eq!(
            run_token(&HeaderMap::new(), g, Some("alt=sse&key=bosun-run-7-ab%2Bc")).as_deref(),
            Some("bosun-run-7-ab+c")
        );
        assert_eq!(
            run_token(&headers(&[("x-api-key", "a1")]), g, None).as_deref(),
            Some("a1")
        );
        assert_eq!(
            run_token(&HeaderMap::new(), g, Some("key=&alt=sse")).as_deref(),
            None
        );
        // Only Gemini clients pass keys that way; elsewhere they are not tokens.
        assert_eq!(
            run_token(
                &headers(&[("x-goog-api-key", "g1")]),
                Provider::Anthropic,
                Some("key=k")
            )
            .as_deref(),
            None
        );
    }

    #[test]
    fn the_key_parameter_never_goes_upstream() {
        let g = Provider::Gemini;
        assert_eq!(
            upstream_query(g, Some("alt=sse&key=bosun-run-1-x")).as_deref(),
            Some("alt=sse")
        );
        assert_eq!(
            upstream_query(g, Some("k%65y=bosun-run-1-x&alt=sse&key&x=a%20b")).as_deref(),
            Some("alt=sse&x=a%20b")
        );
        assert_eq!(upstream_query(g, Some("key=t")), None);
        assert_eq!(upstream_query(g, None), None);
        assert_eq!(
            upstream_query(Provider::Anthropic, Some("beta=true&key=1")).as_deref(),
            Some("beta=true&key=1")
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%2B%zz%4"), "a b c+%zz%4");
        assert_eq!(percent_decode("%E2%9C%93"), "\u{2713}");
    }

    #[test]
    fn endpoints() {
        use Provider::*;
        let post = Method::POST;
        assert_eq!(
            classify(Anthropic, &post, "/v1/messages", None),
            Endpoint::Metered(Api::AnthropicMessages)
        );
        assert_eq!(
            classify(Anthropic, &post, "/v1/messages/count_tokens", None),
            Endpoint::Free
        );
        assert_eq!(
            classify(Anthropic, &post, "/v1/messages/batches", None),
            Endpoint::Refused
        );
        assert_eq!(
            classify(Anthropic, &Method::GET, "/v1/messages", None),
            Endpoint::Refused
        );
        assert_eq!(
            classify(OpenAi, &post, "/v1/responses", None),
            Endpoint::Metered(Api::OpenAiResponses)
        );
        assert_eq!(
            classify(OpenAi, &post, "/v1/chat/completions/", None),
            Endpoint::Metered(Api::OpenAiChatCompletions)
        );
        assert_eq!(
            classify(OpenAi, &post, "/v1/messages", None),
            Endpoint::Refused
        );
        assert_eq!(
            classify(OpenAi, &post, "/v1/batches", None),
            Endpoint::Refused
        );
        assert_eq!(
            classify(OpenAi, &Method::GET, "/v1/models/gpt-5", None),
            Endpoint::Free
        );
        assert_eq!(
            classify(Anthropic, &Method::GET, "/v1/models", None),
            Endpoint::Free
        );
    }

    #[test]
    fn tokens_from_either_header() {
        assert_eq!(
            run_token(&headers(&[("x-api-key", "t1")]), Provider::Anthropic, None).as_deref(),
            Some("t1")
        );
        assert_eq!(
            run_token(
                &headers(&[("authorization", "Bearer t2")]),
                Provider::OpenAi,
                None
            )
            .as_deref(),
            Some("t2")
        );
        assert_eq!(
            run_token(
                &headers(&[("authorization", "bearer  t3 ")]),
                Provider::OpenAi,
                None
            )
            .as_deref(),
            Some("t3")
        );
        assert_eq!(
            run_token(
                &headers(&[("authorization", "Basic abc")]),
                Provider::OpenAi,
                None
            )
            .as_deref(),
            None
        );
        assert_eq!(
            run_token(&headers(&[("x-api-key", "")]), Provider::Anthropic, None).as_deref(),
            None
        );
        assert_eq!(
            run_token(&HeaderMap::new(), Provider::Gemini, None).as_deref(),
            None
        );
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
        // The body may be rewritten (`vet`): the client sets the length it sends.
        assert!(out.get("content-length").is_none());

        let out = upstream_request_headers(&agent, Provider::OpenAi, "sk-oa").unwrap();
        assert_eq!(out["authorization"], "Bearer sk-oa");
        assert!(out.get("x-api-key").is_none());

        let mut gemini_agent = agent.clone();
        gemini_agent.insert(
            "x-goog-api-key",
            HeaderValue::from_static("bosun-run-1-secret"),
        );
        let out = upstream_request_headers(&gemini_agent, Provider::Gemini, "AIza-real").unwrap();
        assert_eq!(out["x-goog-api-key"], "AIza-real");
        assert!(out["x-goog-api-key"].is_sensitive());
        assert!(out.get("x-api-key").is_none());
        assert!(out.get("authorization").is_none());
        // A Google key header sent to another provider is dropped too: it is the run token.
        let out = upstream_request_headers(&gemini_agent, Provider::OpenAi, "sk-oa").unwrap();
        assert!(out.get("x-goog-api-key").is_none());
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
