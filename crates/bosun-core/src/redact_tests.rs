//! Tests for `redact`. Token-shaped strings are assembled at run time so this file does not itself
//! look like it leaks credentials to a secret scanner.

use super::*;

fn token(prefix: &str, body_char: char, len: usize) -> String {
    format!("{prefix}{}", body_char.to_string().repeat(len))
}

fn none() -> Redactor {
    Redactor::new(Vec::<String>::new())
}

fn kinds(hits: &[SecretHit]) -> Vec<&'static str> {
    hits.iter().map(|h| h.kind).collect()
}

#[test]
fn github_token_families() {
    let r = none();
    for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
        let t = token(prefix, 'A', 36);
        assert_eq!(
            r.redact(&format!("token {t} end")),
            "token [REDACTED] end",
            "{prefix}"
        );
        let hits = r.find(t.as_bytes());
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].kind, format!("GitHub token ({prefix})"));
        // 29 characters is too short to be a token.
        let short = token(prefix, 'a', 29);
        assert_eq!(r.redact(&short), short);
    }
    let pat = format!("github_pat_{}", "Ab_9".repeat(20));
    assert_eq!(r.redact(&pat), REDACTED);
    assert_eq!(
        kinds(&r.find(pat.as_bytes())),
        ["GitHub token (github_pat_)"]
    );
}

#[test]
fn github_body_stops_at_non_alphanumeric() {
    let r = none();
    let t = token("ghs_", '7', 36);
    assert_eq!(r.redact(&format!("{t}-rest")), "[REDACTED]-rest");
    assert_eq!(r.redact(&format!("{t}_rest")), "[REDACTED]_rest");
}

#[test]
fn model_key_families() {
    let r = none();
    let anthropic = format!("sk-ant-api03-{}", "a-b_C".repeat(10));
    let openai = token("sk-proj-", 'x', 40);
    let svc = token("sk-svcacct-", 'Z', 20);
    let google = token("AIza", 'k', 35);
    let text = format!("a={anthropic}\nb=\"{openai}\"\nc={svc};d={google}.");
    assert_eq!(
        r.redact(&text),
        "a=[REDACTED]\nb=\"[REDACTED]\"\nc=[REDACTED];d=[REDACTED]."
    );
    assert_eq!(
        kinds(&r.find(text.as_bytes())),
        [
            "Anthropic API key",
            "OpenAI API key",
            "OpenAI API key",
            "Google API key"
        ]
    );
    let short = token("sk-ant-", 'a', 19);
    assert_eq!(r.redact(&short), short);
}

#[test]
fn google_key_is_exactly_35() {
    let r = none();
    for len in [34, 36, 50] {
        let t = token("AIza", 'q', len);
        assert_eq!(r.redact(&t), t, "{len}");
    }
    assert_eq!(r.redact(&token("AIza", 'q', 35)), REDACTED);
}

#[test]
fn prefix_must_start_a_word() {
    let r = none();
    for before in ["x", "9", "_"] {
        let text = format!("{before}{}", token("ghs_", 'a', 36));
        assert_eq!(r.redact(&text), text, "{before:?}");
        assert!(r.find(text.as_bytes()).is_empty());
    }
    for before in [" ", "-", "=", "\"", "/", "\n", "é"] {
        let text = format!("{before}{}", token("ghs_", 'a', 36));
        assert_eq!(r.redact(&text), format!("{before}[REDACTED]"), "{before:?}");
    }
}

#[test]
fn unicode_around_hits() {
    let secret = "correct-horse-battery".to_string();
    let r = Redactor::new([secret.clone()]);
    let t = token("ghp_", 'b', 36);
    let text = format!("日本語{secret}🎉{t}ü");
    assert_eq!(r.redact(&text), "日本語[REDACTED]🎉[REDACTED]ü");
    let hits = r.find(text.as_bytes());
    assert_eq!(hits[0].offset, "日本語".len());
    assert_eq!(hits[1].offset, format!("日本語{secret}🎉").len());
}

#[test]
fn non_ascii_exact_secret() {
    let r = Redactor::new(["pässwörd-日本".to_string()]);
    assert_eq!(r.redact("x pässwörd-日本 y"), "x [REDACTED] y");
}

#[test]
fn short_exact_secrets_are_ignored() {
    let r = Redactor::new(["a".to_string(), "1234567".to_string(), String::new()]);
    assert_eq!(r.redact("a 1234567 banana"), "a 1234567 banana");
    assert_eq!(
        format!("{r:?}"),
        "Redactor { exact_secrets: 0, token_families: 10 }"
    );
    let r = Redactor::new(["12345678".to_string()]);
    assert_eq!(r.redact("x12345678y"), "x[REDACTED]y");
}

#[test]
fn exact_secrets_are_trimmed() {
    let r = Redactor::new([
        "  key-from-a-file\n".to_string(),
        " short\n\n\n\n".to_string(),
    ]);
    assert_eq!(r.redact("x=key-from-a-file;"), "x=[REDACTED];");
    assert_eq!(r.redact("short"), "short");
}

#[test]
fn overlapping_and_nested_exact_secrets_leave_nothing_behind() {
    let r = Redactor::new([
        "abcdefgh12".to_string(),
        "fgh12345xyz".to_string(),
        "inner-secret".to_string(),
        "the-inner-secret-outer".to_string(),
    ]);
    assert_eq!(r.redact("<abcdefgh12345xyz>"), "<[REDACTED]>");
    assert_eq!(r.redact("the-inner-secret-outer!"), "[REDACTED]!");
    assert_eq!(r.redact("only inner-secret here"), "only [REDACTED] here");
    let hits = r.find(b"<abcdefgh12345xyz> inner-secret");
    assert_eq!(hits.iter().map(|h| h.offset).collect::<Vec<_>>(), [1, 19]);
}

#[test]
fn exact_secret_that_is_also_a_token_is_reported_once() {
    let installation = token("ghs_", 'T', 36);
    let r = Redactor::new([installation.clone(), installation.clone()]);
    assert_eq!(r.redact(&installation), REDACTED);
    assert_eq!(
        kinds(&r.find(installation.as_bytes())),
        ["GitHub token (ghs_)"]
    );
}

#[test]
fn adjacent_secrets_merge_into_one_marker() {
    let r = Redactor::new(["AAAAAAAA".to_string(), "BBBBBBBB".to_string()]);
    assert_eq!(
        r.redact("AAAAAAAABBBBBBBB AAAAAAAA"),
        "[REDACTED] [REDACTED]"
    );
}

#[test]
fn secret_split_across_lines_is_not_matched() {
    // Documented limit: a secret is only found as one unbroken run of bytes.
    let r = Redactor::new(["split-secret-value".to_string()]);
    assert_eq!(r.redact("split-secret\n-value"), "split-secret\n-value");
    let t = token("ghp_", 'c', 36);
    let wrapped = format!("{}\n{}", &t[..20], &t[20..]);
    assert_eq!(r.redact(&wrapped), wrapped);
}

#[test]
fn find_in_binary_reports_kind_and_offset_never_the_secret() {
    let canary = "bosun-canary-5f2c9e1d".to_string();
    let r = Redactor::new([canary.clone()]);
    let mut bytes = vec![0u8, 0xff, 0xfe, b'\n'];
    bytes.extend_from_slice(canary.as_bytes());
    bytes.extend_from_slice(&[0x80, 0x00]);
    bytes.extend_from_slice(token("ghs_", 'a', 36).as_bytes());
    let hits = r.find(&bytes);
    assert_eq!(
        hits,
        [
            SecretHit {
                kind: "configured secret",
                offset: 4
            },
            SecretHit {
                kind: "GitHub token (ghs_)",
                offset: 4 + canary.len() + 2
            },
        ]
    );
    assert!(!format!("{hits:?}").contains("canary"));
}

#[test]
fn find_stops_after_max_hits() {
    let r = Redactor::new(["0123456789".to_string()]);
    let text = "0123456789 ".repeat(MAX_HITS * 3);
    assert_eq!(r.find(text.as_bytes()).len(), MAX_HITS);
    assert_eq!(r.redact(&text), "[REDACTED] ".repeat(MAX_HITS * 3));
}

#[test]
fn debug_never_prints_secrets() {
    let r = Redactor::new(["super-secret-model-key".to_string()]);
    let debug = format!("{r:?} {r:#?}");
    assert!(!debug.contains("super-secret"), "{debug}");
    assert!(debug.contains("exact_secrets: 1"));
}

#[test]
fn empty_inputs() {
    let r = none();
    assert_eq!(r.redact(""), "");
    assert!(r.find(b"").is_empty());
    assert_eq!(r.redact("ghs_"), "ghs_");
    assert_eq!(r.redact("AIza"), "AIza");
}

/// xorshift64: deterministic bytes, no dependency.
fn pseudo_random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn no_panic_on_pseudo_random_bytes() {
    let r = Redactor::new(["AIzaSecretValue".to_string(), "ghs_short_exact".to_string()]);
    // Bias toward bytes that start or continue tokens, so prefixes actually occur.
    let alphabet = b"ghsopurAIzak-_tn\x00\xff\xc3\xa9 \nAIzaghs_sk-ant-github_pat_0123456789";
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..500 {
        let len = (pseudo_random(&mut seed) % 300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let n = pseudo_random(&mut seed);
                if n % 4 == 0 {
                    (n >> 8) as u8
                } else {
                    alphabet[(n as usize >> 8) % alphabet.len()]
                }
            })
            .collect();
        let hits = r.find(&bytes);
        assert!(hits.len() <= MAX_HITS);
        assert!(hits.windows(2).all(|w| w[0].offset < w[1].offset));
        let text = String::from_utf8_lossy(&bytes);
        let redacted = r.redact(&text);
        assert!(
            !redacted.contains("AIzaSecretValue"),
            "{text:?} -> {redacted:?}"
        );
        assert!(
            !redacted.contains("ghs_short_exact"),
            "{text:?} -> {redacted:?}"
        );
    }
}

#[test]
fn long_adversarial_input_is_fast() {
    // Prefixes chained so that each one could start a token: must stay linear.
    let r = Redactor::new(["abcdefghij".to_string()]);
    for unit in ["AIza-", "sk-ant--", "ghs_-", "abcdefghi-"] {
        let text = unit.repeat(200_000);
        let started = std::time::Instant::now();
        let _ = r.redact(&text);
        let _ = r.find(text.as_bytes());
        assert!(
            started.elapsed().as_secs() < 5,
            "{unit} took {:?}",
            started.elapsed()
        );
    }
}
