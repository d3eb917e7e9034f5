//! Who may create the GitHub App from the setup page: whoever can read bosun's log.
//!
//! Whoever finishes the App Manifest flow chooses the webhook secret bosun then trusts, so the
//! page must not be open to anyone who reaches the port (a proxy in front, remote setup
//! allowed, another user on the same machine). At start bosun prints a one-time set-up code in
//! its log. The page asks for it; the right code gives the browser a setup cookie, and every
//! manifest `state` is bound to that cookie, so a callback only completes in the browser that
//! began it. The code and the cookies die with the process, and are useless once an App is
//! configured.

use super::dashboard::session::{make_room, random_hex, set_cookie_on};
use crate::locks::lock;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// GitHub requires the whole manifest flow to finish within an hour; a browser admitted with
/// the code keeps its cookie as long.
pub const SETUP_TTL: Duration = Duration::from_secs(3600);
/// Browsers admitted at once: one person sets up, perhaps from two browsers. Past it the
/// oldest is forgotten.
const MAX_BROWSERS: usize = 16;
/// Outstanding manifest states; each page view issues one.
const MAX_STATES: usize = 256;

/// The cookie that marks a browser which gave the set-up code.
pub const COOKIE: &str = "bosun_setup";

pub struct SetupGuard {
    code: String,
    browsers: Mutex<HashMap<String, Instant>>,
    /// state → (the browser it was issued to, when).
    states: Mutex<HashMap<String, (String, Instant)>>,
}

/// What a callback's `state` and cookie add up to.
#[derive(Debug, PartialEq, Eq)]
pub enum Redeemed {
    Ok,
    /// Not issued, expired or used already.
    Unknown,
    /// Issued, but to another browser (or to none this request carries a cookie for).
    OtherBrowser,
}

impl Default for SetupGuard {
    fn default() -> Self {
        SetupGuard {
            code: random_hex(16),
            browsers: Mutex::default(),
            states: Mutex::default(),
        }
    }
}

impl SetupGuard {
    /// The code to print in the log at start. Nowhere else.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// A new browser cookie value when `offered` is the set-up code (compared in constant
    /// time; surrounding spaces from a copy and paste are forgiven).
    pub fn admit(&self, offered: &str) -> Option<String> {
        let offered = offered.trim().to_ascii_lowercase();
        if !bool::from(offered.as_bytes().ct_eq(self.code.as_bytes())) {
            return None;
        }
        let browser = random_hex(24);
        let mut browsers = lock(&self.browsers);
        make_room(&mut browsers, MAX_BROWSERS, SETUP_TTL, |at| *at);
        browsers.insert(browser.clone(), Instant::now());
        Some(browser)
    }

    /// True for a cookie value `admit` gave out less than an hour ago.
    pub fn knows(&self, browser: &str) -> bool {
        matches!(lock(&self.browsers).get(browser), Some(at) if at.elapsed() < SETUP_TTL)
    }

    /// A fresh manifest `state`, bound to `browser`.
    pub fn issue_state(&self, browser: &str) -> String {
        let state = random_hex(24);
        let mut states = lock(&self.states);
        make_room(&mut states, MAX_STATES, SETUP_TTL, |(_, at)| *at);
        states.insert(state.clone(), (browser.to_string(), Instant::now()));
        state
    }

    /// Uses up `state` (whatever the verdict, so a guessed state cannot be tried twice) and
    /// says whether it was issued to `browser` less than an hour ago.
    pub fn redeem(&self, state: &str, browser: Option<&str>) -> Redeemed {
        let Some((owner, at)) = lock(&self.states).remove(state) else {
            return Redeemed::Unknown;
        };
        if at.elapsed() >= SETUP_TTL {
            return Redeemed::Unknown;
        }
        match browser {
            Some(b) if self.knows(b) && bool::from(b.as_bytes().ct_eq(owner.as_bytes())) => {
                Redeemed::Ok
            }
            _ => Redeemed::OtherBrowser,
        }
    }

    /// The `Set-Cookie` value for an admitted browser: only sent back to `/setup…`.
    pub fn cookie(browser: &str, secure: bool) -> String {
        set_cookie_on("/setup", COOKIE, browser, SETUP_TTL, secure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_printed_code_admits_a_browser() {
        let guard = SetupGuard::default();
        assert_eq!(guard.code().len(), 32);
        assert!(guard.admit("").is_none());
        assert!(guard.admit("0".repeat(32).as_str()).is_none());
        assert!(guard.admit(&guard.code()[..31]).is_none());
        let pasted = format!("  {}\n", guard.code().to_uppercase());
        let browser = guard.admit(&pasted).expect("the code, pasted with spaces");
        assert!(guard.knows(&browser));
        assert!(!guard.knows("made-up"));
        assert_ne!(SetupGuard::default().code(), guard.code());
    }

    #[test]
    fn a_state_completes_only_in_the_browser_it_was_issued_to() {
        let guard = SetupGuard::default();
        let mine = guard.admit(guard.code()).unwrap();
        let other = guard.admit(guard.code()).unwrap();

        let state = guard.issue_state(&mine);
        assert_eq!(state.len(), 48);
        assert_eq!(guard.redeem(&state, Some(&mine)), Redeemed::Ok);
        assert_eq!(
            guard.redeem(&state, Some(&mine)),
            Redeemed::Unknown,
            "single use"
        );

        let state = guard.issue_state(&mine);
        assert_eq!(guard.redeem(&state, Some(&other)), Redeemed::OtherBrowser);
        assert_eq!(
            guard.redeem(&state, Some(&mine)),
            Redeemed::Unknown,
            "a state tried from the wrong browser is spent"
        );
        let state = guard.issue_state(&mine);
        assert_eq!(guard.redeem(&state, None), Redeemed::OtherBrowser);
        assert_eq!(guard.redeem("made-up", Some(&mine)), Redeemed::Unknown);
    }

    #[test]
    fn the_maps_stay_bounded() {
        let guard = SetupGuard::default();
        let first = guard.admit(guard.code()).unwrap();
        for _ in 0..MAX_BROWSERS * 2 {
            guard.admit(guard.code()).unwrap();
        }
        assert!(lock(&guard.browsers).len() <= MAX_BROWSERS);
        assert!(!guard.knows(&first), "the oldest browser was forgotten");
        let browser = guard.admit(guard.code()).unwrap();
        for _ in 0..MAX_STATES * 2 {
            guard.issue_state(&browser);
        }
        assert!(lock(&guard.states).len() <= MAX_STATES);
    }

    #[test]
    fn the_cookie_stays_on_the_setup_pages() {
        let c = SetupGuard::cookie("abc", true);
        assert!(c.starts_with("bosun_setup=abc; Path=/setup; HttpOnly; SameSite=Lax"));
        assert!(c.ends_with("; Secure"));
        assert!(!SetupGuard::cookie("abc", false).contains("Secure"));
    }
}
