//! # The page's files, compiled into the binary
//!
//! `sim/ui/` holds the dashboard as plain files (HTML, modern JavaScript with no framework,
//! CSS) so they read and diff as what they are; `include_str!` puts them in the binary,
//! so `sim serve --ui` serves them and `sim run --html` inlines them with no network and
//! no files beside the binary.
//!
//! The live page links `app.js` and `style.css`; the replay page is the same page with
//! both inlined and the run's data embedded ([`inline_page`]).

/// The page.
pub const INDEX_HTML: &str = include_str!("../../ui/index.html");
/// The drawing code, shared by both modes.
pub const APP_JS: &str = include_str!("../../ui/app.js");
pub const STYLE_CSS: &str = include_str!("../../ui/style.css");

/// Where the live page links its stylesheet; the replay page inlines it there.
const STYLE_LINK: &str = r#"<link rel="stylesheet" href="style.css">"#;
/// Where the live page loads its script; the replay page puts its data and the inlined
/// script there.
const SCRIPT_TAG: &str = r#"<script src="app.js"></script>"#;
/// Where the replay page puts the run's report (its tables and verdict).
const REPORT_SLOT: &str = "<!--report-->";

/// The page with its stylesheet and script inlined, `data_json` embedded as the replay
/// data the script finds, and `report_html` (server-made HTML) in the report slot.
pub fn inline_page(title: &str, data_json: &str, report_html: &str) -> String {
    // In a <script> element only "</script" ends it: JSON escapes every '<' there.
    let data = data_json.replace('<', "\\u003c");
    let script = APP_JS.replace("</script", "<\\/script");
    INDEX_HTML
        .replacen(
            "<title>kraftsim dashboard</title>",
            &format!("<title>{}</title>", escape_html(title)),
            1,
        )
        .replacen(STYLE_LINK, &format!("<style>\n{STYLE_CSS}</style>"), 1)
        .replacen(REPORT_SLOT, report_html, 1)
        .replacen(
            SCRIPT_TAG,
            &format!(
                "<script id=\"replay-data\" type=\"application/json\">{data}</script>\n<script>\n{script}</script>"
            ),
            1,
        )
}

/// Text made safe for HTML.
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_the_places_the_replay_page_fills() {
        for marker in [
            STYLE_LINK,
            SCRIPT_TAG,
            REPORT_SLOT,
            "<title>kraftsim dashboard</title>",
        ] {
            assert_eq!(INDEX_HTML.matches(marker).count(), 1, "{marker}");
        }
    }

    #[test]
    fn an_inlined_page_loads_nothing_and_its_data_cannot_end_the_script() {
        let page = inline_page("run <1>", r#"{"text":"</script><b>"}"#, "<p>report</p>");
        assert!(!page.contains("src=\"app.js\""));
        assert!(!page.contains("href=\"style.css\""));
        assert!(page.contains("<title>run &lt;1&gt;</title>"));
        assert!(page.contains(r#"{"text":"\u003c/script>\u003cb>"}"#));
        assert!(page.contains("<p>report</p>"));
    }
}
