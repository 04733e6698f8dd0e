//! Horizontal bar charts as inline SVG, rendered on the server for the public transparency page:
//! no script, no external file, nothing for the content security policy to allow.
//!
//! A chart is an image with an accessible name (`role="img"`, its `<title>`) and description
//! (its `<desc>`, listing every bar's figure) and a visible label on each bar. The page puts a table of the same numbers beside
//! it, so nothing is said only by the picture. Each bar has its own row, label above the bar, so
//! the chart stays readable on a 390 px wide phone: the view box is 360 units wide and scales with
//! the page, never below the size of its text. Colours are the console's ink and accent on white
//! (contrast 16:1 and 6.4:1, above WCAG 2.2's 4.5:1 for text and 3:1 for graphics).
//!
//! Pure: numbers in, text out; every text is escaped here.

use std::fmt::Write as _;

/// Width of the view box, in SVG units (one unit is a CSS pixel at 360 px).
const WIDTH: u32 = 360;
/// Height of one bar's row: its label (16) and its bar (14), and a gap.
const ROW: u32 = 40;
/// Height of a bar.
const BAR: u32 = 14;
/// Fill of the bars: the console's accent (#0b5cad, 6.4:1 on white).
const BAR_FILL: &str = "#0b5cad";
/// Colour of the labels: the console's ink (#1b1f24).
const INK: &str = "#1b1f24";

/// One bar: what it counts and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: u64,
}

/// A bar chart of `bars`, in the given order. `id` must be unique on the page (it names the
/// title and description for `aria-labelledby` and `aria-describedby`); `title` is the chart's accessible name.
pub fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
    let rows = u32::try_from(bars.len()).unwrap_or(u32::MAX).max(1);
    let height = rows.saturating_mul(ROW);
    let id = escape(id);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" \
         aria-labelledby=\"{id}-title\" aria-describedby=\"{id}-desc\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"100%\" preserveAspectRatio=\"xMinYMin meet\">"
    );
    let _ = write!(
        svg,
        "<title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape(title),
        escape(&describe(bars))
    );
    if bars.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"24\" fill=\"{INK}\" font-size=\"14\">Nothing to show.</text>"
        );
    }
    let mut y = 0;
    for bar in bars {
        let width = bar_width(bar.value, max);
        let _ = write!(
            svg,
            "<g><text x=\"0\" y=\"{}\" fill=\"{INK}\" font-size=\"13\">{}: {}</text>\
             <rect x=\"0\" y=\"{}\" width=\"{width}\" height=\"{BAR}\" fill=\"{BAR_FILL}\"/></g>",
            y + 14,
            escape(&bar.label),
            bar.value,
            y + 19,
        );
        y += ROW;
    }
    svg.push_str("</svg>");
    svg
}

/// The bar's length in view-box units: proportional to the largest, a zero drawn as nothing and
/// any other count as at least 2 units, so that a small count is still seen to be there.
fn bar_width(value: u64, max: u64) -> u64 {
    if value == 0 || max == 0 {
        return 0;
    }
    let full = u128::from(WIDTH);
    let w = u128::from(value) * full / u128::from(max);
    u64::try_from(w).unwrap_or(u64::from(WIDTH)).max(2)
}

/// The description a screen reader reads: every bar's label and figure.
fn describe(bars: &[Bar]) -> String {
    if bars.is_empty() {
        return "No figures.".to_owned();
    }
    let parts: Vec<String> = bars
        .iter()
        .map(|b| format!("{}: {}", b.label, b.value))
        .collect();
    format!("{}.", parts.join("; "))
}

/// Text and attribute values escaped for XML.
fn escape(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(v: &[(&str, u64)]) -> Vec<Bar> {
        v.iter()
            .map(|(l, n)| Bar {
                label: (*l).to_owned(),
                value: *n,
            })
            .collect()
    }

    #[test]
    fn the_svg_of_a_chart() {
        let svg = bar_chart(
            "by-decision",
            "Requests by decision",
            &bars(&[("Executed", 12), ("Narrowed", 3), ("Refused", 0)]),
        );
        insta::assert_snapshot!(svg);
    }

    #[test]
    fn bars_are_proportional_to_the_largest_and_a_count_is_never_invisible() {
        assert_eq!(bar_width(10, 10), u64::from(WIDTH));
        assert_eq!(bar_width(5, 10), u64::from(WIDTH) / 2);
        assert_eq!(bar_width(1, 1_000_000), 2);
        assert_eq!(bar_width(0, 10), 0);
        assert_eq!(bar_width(0, 0), 0);
        assert_eq!(bar_width(u64::MAX, u64::MAX), u64::from(WIDTH));
    }

    #[test]
    fn every_bar_is_labelled_and_described_with_its_figure() {
        let svg = bar_chart(
            "c",
            "Requests by channel",
            &bars(&[("MLA", 7), ("24/7", 2)]),
        );
        assert!(svg.contains(">MLA: 7</text>"), "{svg}");
        assert!(svg.contains(">24/7: 2</text>"), "{svg}");
        assert!(
            svg.contains("<desc id=\"c-desc\">MLA: 7; 24/7: 2.</desc>"),
            "{svg}"
        );
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"c-title\" aria-describedby=\"c-desc\""));
        assert_eq!(svg.matches("<rect").count(), 2);
    }

    #[test]
    fn an_empty_chart_says_so() {
        let svg = bar_chart("e", "Refusal grounds", &[]);
        assert!(svg.contains("Nothing to show."), "{svg}");
        assert!(svg.contains("<desc id=\"e-desc\">No figures.</desc>"));
        assert!(!svg.contains("<rect"));
    }

    proptest::proptest! {
        /// Whatever the labels hold, they cannot break out of the SVG's text: no raw markup
        /// characters reach it, and the element count is the bars' count.
        #[test]
        fn labels_are_always_escaped(labels in proptest::collection::vec("\\PC{0,20}", 0..6), n in 0u64..1000) {
            let bs: Vec<Bar> = labels.iter().map(|l| Bar { label: l.clone(), value: n }).collect();
            let svg = bar_chart("p\"<", "t<&>\"", &bs);
            proptest::prop_assert_eq!(svg.matches("<g>").count(), bs.len());
            proptest::prop_assert_eq!(svg.matches('<').count(), svg.matches("<g>").count() * 5 + 6 + usize::from(bs.is_empty()) * 2);
        }
    }
}
