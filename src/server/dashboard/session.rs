//! Dashboard sessions: a random id in an HttpOnly, SameSite=Lax cookie, the signed-in login
//! and a CSRF token kept server-side in memory. A restart signs everyone out (the sign-in is
//! one click for someone still signed in to GitHub), and nothing about a session is on disk.
//! Pending sign-ins (`state` of the OAuth flow) live here too, single use, ten minutes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use rand::RngCore;

use crate::locks::lock;

/// The session cookie's name.
pub const COOKIE: &str = "bosun_session";
/// The cookie that ties a pending sign-in to the browser that started it.
pub const STATE_COOKIE: &str = "bosun_oauth_state";
/// How long a session lasts: a working day, like GitHub's user tokens.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// How long a sign-in may take between leaving for GitHub and coming back.
pub const STATE_TTL: Duration = Duration::from_secs(600);

/// Someone signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub login: String,
    /// In the server's administrator list: sees every repository.
    pub admin: bool,
    /// What a control request must carry (a form field or `X-CSRF-Token`).
    pub csrf: String,
    expires: Instant,
}

/// A sign-in in progress: where to go after it.
#[derive(Debug, Clone)]
struct Pending {
    next: String,
    started: Instant,
}

#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Session>>,
    pending: Mutex<HashMap<String, Pending>>,
}

/// 32 random bytes, hex: unguessable ids, states and tokens.
pub fn random_token() -> String {
    random_hex(32)
}

/// `bytes` random bytes, hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Makes room for one more entry in a map anyone can add to: drops the entries older than
/// `ttl`, then the oldest until fewer than `cap` are left. `at` says when an entry was made.
pub fn make_room<V>(
    map: &mut HashMap<String, V>,
    cap: usize,
    ttl: Duration,
    at: impl Fn(&V) -> Instant,
) {
    map.retain(|_, v| at(v).elapsed() < ttl);
    while map.len() >= cap {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| at(v))
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        map.remove(&oldest);
    }
}

impl Sessions {
    /// Starts a session for `login`; returns its id (the cookie's value).
    pub fn create(&self, login: &str, admin: bool) -> String {
        let id = random_token();
        let mut live = lock(&self.live);
        live.retain(|_, s| s.expires > Instant::now());
        live.insert(
            id.clone(),
            Session {
                login: login.to_string(),
                admin,
                csrf: random_token(),
                expires: Instant::now() + SESSION_TTL,
            },
        );
        id
    }

    pub fn get(&self, id: &str) -> Option<Session> {
        let mut live = lock(&self.live);
        match live.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                live.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn end(&self, id: &str) {
        lock(&self.live).remove(id);
    }

    /// A new `state` for a sign-in that returns to `next`.
    pub fn begin_sign_in(&self, next: &str) -> String {
        let state = random_token();
        let mut pending = lock(&self.pending);
        make_room(&mut pending, MAX_PENDING, STATE_TTL, |p| p.started);
        pending.insert(
            state.clone(),
            Pending {
                next: next.to_string(),
                started: Instant::now(),
            },
        );
        state
    }

    /// Where to go, once, for a `state` issued less than ten minutes ago.
    pub fn finish_sign_in(&self, state: &str) -> Option<String> {
        let p = lock(&self.pending).remove(state)?;
        (p.started.elapsed() < STATE_TTL).then_some(p.next)
    }
}

/// The value of cookie `name` in the request.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, Secure behind https. `max_age`
/// zero deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    set_cookie_on("/", name, value, max_age, secure)
}

/// [`set_cookie`] sent back only to the paths under `path`.
pub fn set_cookie_on(
    path: &str,
    name: &str,
    value: &str,
    max_age: Duration,
    secure: bool,
) -> String {
    format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={}{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// A local path to return to after signing in; anything else (another site, `//host`) is `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && n.len() <= MAX_NEXT =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The longest `next` kept for after sign-in; the dashboard's own links are far shorter. A
/// longer one is replaced by `/` rather than stored.
pub const MAX_NEXT: usize = 2048;

/// Sign-ins begun and not finished that are remembered at once; past it the oldest is
/// forgotten (its person starts again), so unauthenticated `/login` calls cannot grow memory.
pub const MAX_PENDING: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn sign_ins_begun_by_anyone_stay_bounded() {
        let s = Sessions::default();
        let long = format!("/{}", "a".repeat(64 * 1024));
        assert_eq!(safe_next(Some(&long)), "/");
        assert_eq!(safe_next(Some("/tasks/3")), "/tasks/3");
        let first = s.begin_sign_in("/first");
        for _ in 0..MAX_PENDING + 50 {
            s.begin_sign_in("/");
        }
        assert!(lock(&s.pending).len() <= MAX_PENDING);
        assert_eq!(s.finish_sign_in(&first), None, "the oldest was forgotten");
    }

    #[test]
    fn sessions_and_sign_ins() {
        let s = Sessions::default();
        let id = s.create("octocat", false);
        let got = s.get(&id).unwrap();
        assert_eq!(got.login, "octocat");
        assert_eq!(got.csrf.len(), 64);
        assert!(s.get("made-up").is_none());
        s.end(&id);
        assert!(s.get(&id).is_none());

        let state = s.begin_sign_in("/tasks/3");
        assert_eq!(s.finish_sign_in(&state).as_deref(), Some("/tasks/3"));
        assert!(s.finish_sign_in(&state).is_none(), "single use");
    }

    #[test]
    fn cookies_are_read_and_written_safely() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; bosun_session=abc; b=2"),
        );
        assert_eq!(read_cookie(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(read_cookie(&h, "c"), None);
        let c = set_cookie(COOKIE, "abc", SESSION_TTL, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("; Secure"));
        assert!(!set_cookie(COOKIE, "x", SESSION_TTL, false).contains("Secure"));
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(safe_next(Some("/tasks/1")), "/tasks/1");
        for bad in ["//evil.test/x", "https://evil.test", "/\\evil", ""] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
