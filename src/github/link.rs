//! `Link` header pagination: GitHub lists results in pages and names the following page with
//! `<url>; rel="next"`.

/// The URL of the `rel="next"` page, if any.
///
/// The header is scanned `<...>` by `<...>` rather than split on commas, because the URLs
/// themselves may contain commas (`labels=a,b`).
pub fn next_url(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after_open = &rest[open + 1..];
        let close = after_open.find('>')?;
        let url = &after_open[..close];
        let params_and_more = &after_open[close + 1..];
        let params = match params_and_more.find('<') {
            Some(next) => &params_and_more[..next],
            None => params_and_more,
        };
        if has_rel_next(params) {
            return Some(url.to_string());
        }
        rest = params_and_more;
    }
    None
}

fn has_rel_next(params: &str) -> bool {
    params.split(';').any(|p| {
        let p = p.trim().trim_end_matches(',').trim();
        match p.split_once('=') {
            Some((key, value)) if key.trim().eq_ignore_ascii_case("rel") => value
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case("next")),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_others() {
        let h = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        assert_eq!(
            next_url(h).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=2")
        );
    }

    #[test]
    fn next_need_not_come_first_and_urls_may_hold_commas() {
        let h = r#"<http://x/i?labels=a,b&page=1>; rel="prev", <http://x/i?labels=a,b&page=3>; rel="next""#;
        assert_eq!(next_url(h).as_deref(), Some("http://x/i?labels=a,b&page=3"));
    }

    #[test]
    fn last_page_has_no_next() {
        let h = r#"<http://x/i?page=1>; rel="first", <http://x/i?page=2>; rel="prev""#;
        assert_eq!(next_url(h), None);
        assert_eq!(next_url(""), None);
        assert_eq!(next_url("garbage"), None);
        assert_eq!(next_url("<unterminated; rel=\"next\""), None);
    }

    #[test]
    fn unquoted_and_multi_valued_rel() {
        assert_eq!(
            next_url("<http://x/2>; rel=next").as_deref(),
            Some("http://x/2")
        );
        assert_eq!(
            next_url("<http://x/2>; title=\"n\"; rel=\"last next\"").as_deref(),
            Some("http://x/2")
        );
        assert_eq!(next_url("<http://x/2>; rel=\"nextish\""), None);
    }
}
