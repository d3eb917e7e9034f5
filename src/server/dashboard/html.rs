//! The dashboard's page frame: escaping, one inline style sheet and script (no external
//! assets, no build step), a Content-Security-Policy that only lets this response's own
//! inline code run, and the pages shown instead of data (sign in, not configured, errors).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::session::{random_token, Session};
use super::Gate;
use crate::server::AppState;

/// Text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A link target: only http(s) URLs, else nothing clickable (`#`).
pub fn href(url: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        escape(url)
    } else {
        "#".to_string()
    }
}

/// Escaped text with `inline code` spans, as the tracking comment writes them.
pub fn with_code(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{}</code>", escape(part)));
        } else {
            out.push_str(&escape(part));
        }
    }
    out
}

/// Percent-encoded for a query string (paths keep their slashes).
pub fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub fn duration(secs: Option<u64>) -> String {
    secs.map(crate::reply::human_duration)
        .unwrap_or_else(|| "–".to_string())
}

pub fn money(usd: Option<f64>) -> String {
    usd.map(|c| format!("${c:.2}"))
        .unwrap_or_else(|| "–".to_string())
}

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1rem;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
header .who{margin-left:auto;font-size:.9rem}
main{max-width:72rem;margin:1rem auto;padding:0 1rem}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}
h1{font-size:1.3rem;margin:.2rem 0 .6rem}h2{font-size:1.05rem;margin:.2rem 0 .6rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eaeef2;vertical-align:top}
th{color:#57606a;font-weight:600}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;font-size:.8rem;background:#eaeef2}
.s-new,.s-blocked{background:#fff8c5}.s-in-progress{background:#ddf4ff}
.s-done{background:#dafbe1}.s-failed{background:#ffebe9}.s-needs-review{background:#fbefff}
.s-stopped{background:#eaeef2}
button{font:inherit;padding:.25rem .8rem;border-radius:6px;border:1px solid #d0d7de;background:#f6f8fa;cursor:pointer}
button.danger{color:#cf222e}
form.inline{display:inline}
ul.check{list-style:none;padding-left:0}ul.check li{margin:.2rem 0}
code{background:#eff1f3;padding:0 .2rem;border-radius:3px}
#log{background:#0d1117;color:#e6edf3;font:12px/1.4 ui-monospace,monospace;max-height:32rem;overflow:auto;padding:.5rem;white-space:pre-wrap;word-break:break-all;border-radius:6px}
.muted{color:#57606a}.outcome{white-space:pre-wrap}
";

/// Streams the attempt's log into `#log` (each line as text, never as HTML), shows status
/// changes, and, when an attempt that was running at load ends, reloads the page once to show
/// how it ended.
const SCRIPT: &str = "
(function(){
  var log=document.getElementById('log');
  if(!log||!window.EventSource)return;
  var state=document.getElementById('log-state'),count=document.getElementById('log-count');
  var es=new EventSource(log.getAttribute('data-src'));
  es.addEventListener('log',function(e){
    var d=JSON.parse(e.data),atEnd=log.scrollTop+log.clientHeight>=log.scrollHeight-4;
    d.text.split('\\n').forEach(function(t){
      var line=document.createElement('div');
      line.className='line';line.setAttribute('data-run',d.run);line.textContent=t;
      log.appendChild(line);
    });
    count.textContent=String(log.children.length);
    if(atEnd)log.scrollTop=log.scrollHeight;
  });
  es.addEventListener('status',function(e){
    var d=JSON.parse(e.data),s=document.getElementById('status');
    s.textContent=d.status;s.className='badge s-'+d.status;
  });
  es.addEventListener('end',function(){
    es.close();state.textContent='attempt over';
    if(log.getAttribute('data-active')==='1'){setTimeout(function(){location.reload();},800);}
  });
  es.onerror=function(){state.textContent='reconnecting…';};
  es.onopen=function(){state.textContent='live';};
})();
";

/// A whole page: header with the signed-in person and a sign-out button, then `body`.
pub fn page(title: &str, who: Option<&Session>, body: &str) -> Response {
    page_with_status(StatusCode::OK, title, who, body)
}

pub fn page_with_status(
    status: StatusCode,
    title: &str,
    who: Option<&Session>,
    body: &str,
) -> Response {
    let nonce = random_token();
    let who = who
        .map(|s| {
            format!(
                "<span class=\"who\">signed in as <b id=\"viewer\">{}</b>{} \
                 <form class=\"inline\" method=\"post\" action=\"/logout\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <button type=\"submit\">Sign out</button></form></span>",
                escape(&s.login),
                if s.admin { " (administrator)" } else { "" },
                escape(&s.csrf)
            )
        })
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · bosun</title><style nonce=\"{nonce}\">{STYLE}</style></head>\
         <body><header><a href=\"/\">bosun</a>{who}</header><main>{body}</main>\
         <script nonce=\"{nonce}\">{SCRIPT}</script></body></html>",
        escape(title)
    );
    let mut resp = (status, Html(html)).into_response();
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub fn error_page(status: StatusCode, text: &str) -> Response {
    page_with_status(
        status,
        "Something went wrong",
        None,
        &format!(
            "<section><h1>Something went wrong</h1><p>{}</p><p><a href=\"/\">Back to the dashboard</a></p></section>",
            escape(text)
        ),
    )
}

/// What a page shows instead of data: the setup page, how to enable sign-in, or sign-in.
/// `next` is where to come back to after signing in.
pub fn gate_page(state: &AppState, gate: Gate, next: &str) -> Response {
    match gate {
        Gate::Setup => Redirect::to("/setup").into_response(),
        Gate::NoSignIn => page_with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "Dashboard sign-in is not configured",
            None,
            &format!(
                "<section><h1>Dashboard sign-in is not configured</h1>\
                 <p>The dashboard shows tasks only to people signed in with GitHub, through the \
                 App's own OAuth client. This server has no client id and secret for it.</p>\
                 <ul><li>An App created on the setup page has them: they are stored with its \
                 credentials.</li>\
                 <li>For an App created by hand: copy the <b>Client ID</b> and generate a \
                 <b>client secret</b> on the App's settings page on GitHub, then start bosun with \
                 <code>GITHUB_CLIENT_ID</code> and <code>GITHUB_CLIENT_SECRET</code>.</li>\
                 <li>Add <code>{}/auth/callback</code> to the App's <b>Callback URL</b>s.</li></ul>\
                 <p class=\"muted\">Health: <a href=\"/health\">/health</a>, metrics: \
                 <a href=\"/metrics\">/metrics</a>.</p></section>",
                escape(&state.config.public_url())
            ),
        ),
        Gate::SignedOut => page(
            "Sign in",
            None,
            &format!(
                "<section><h1>bosun</h1><p>Tasks, their agent logs and controls are shown to \
                 people with write access to the repositories.</p>\
                 <p><a id=\"sign-in\" href=\"/login?next={}\">Sign in with GitHub</a></p></section>",
                query_value(next)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_cannot_become_markup() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(href("javascript:alert(1)"), "#");
        assert_eq!(
            href("https://github.com/o/r/pull/1"),
            "https://github.com/o/r/pull/1"
        );
        assert_eq!(
            with_code("branch `a<b` from `c`"),
            "branch <code>a&lt;b</code> from <code>c</code>"
        );
    }
}
