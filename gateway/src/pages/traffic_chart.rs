//! The status page's traffic chart: bytes sent (up) and received (down) in 15-minute bars
//! over the last 24 hours, as inline SVG rendered on the server. Each bar has a `<title>`,
//! which browsers show on hover without any script.

use maud::{Markup, html};
use seeder::node::api::status::TrafficMinute;

use super::layout::size;

const BUCKET_SECS: u64 = 15 * 60;
const BUCKETS: u64 = 24 * 3600 / BUCKET_SECS;
const WIDTH: u64 = 720;
const HEIGHT: u64 = 220;
/// Left margin for the scale's labels, and the half height each direction gets.
const LEFT: u64 = 64;
const HALF: u64 = 90;
const MID: u64 = 110;

/// Sent and received per 15-minute bucket, oldest first: the last of them ends at `now`.
pub fn buckets(minutes: &[TrafficMinute], now: u64) -> Vec<(u64, u64)> {
    let mut out = vec![(0u64, 0u64); BUCKETS as usize];
    for minute in minutes {
        // The bucket a minute belongs to, counted back from `now`.
        let age = now.saturating_sub(minute.at.saturating_sub(1)) / BUCKET_SECS;
        if age < BUCKETS {
            let slot = &mut out[(BUCKETS - 1 - age) as usize];
            slot.0 += minute.sent;
            slot.1 += minute.received;
        }
    }
    out
}

/// The chart for `minutes` (from [`seeder::node::TrafficHistory::last_day`]).
pub fn chart(minutes: &[TrafficMinute], now: u64) -> Markup {
    let buckets = buckets(minutes, now);
    let peak = buckets
        .iter()
        .map(|&(s, r)| s.max(r))
        .max()
        .unwrap_or(0)
        .max(1);
    // Bars share the plot's width exactly (fractional pixels: the last one ends at the edge).
    let bar = (WIDTH - LEFT) as f64 / BUCKETS as f64;
    let bar_width = format!("{:.2}", bar - 1.0);
    let height = |bytes: u64| -> u64 {
        // At least a pixel for any traffic at all, so a little shows.
        let h = (bytes as f64 / peak as f64 * HALF as f64).round() as u64;
        if bytes > 0 { h.max(1) } else { 0 }
    };
    let label = |i: usize| {
        let from = now.saturating_sub((BUCKETS - i as u64) * BUCKET_SECS);
        let ago = |secs: u64| format!("{}h{:02}", secs / 3600, secs % 3600 / 60);
        (
            ago(now - from),
            ago((now - from).saturating_sub(BUCKET_SECS)),
        )
    };
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {HEIGHT}"))
            width=(WIDTH) height=(HEIGHT) style="max-width:100%;height:auto" role="img"
            aria-label="Bytes sent (up, blue) and received (down, green) per 15 minutes, last 24 hours" {
            rect x=(LEFT) y="0" width=(WIDTH - LEFT) height=(HEIGHT - 20) fill="#fafafa" {}
            line x1=(LEFT) y1=(MID) x2=(WIDTH) y2=(MID) stroke="#999" stroke-width="1" {}
            text x=(LEFT - 4) y="14" text-anchor="end" font-size="11" { (size(peak)) }
            text x=(LEFT - 4) y=(MID + 4) text-anchor="end" font-size="11" { "0" }
            text x=(LEFT - 4) y=(MID + HALF) text-anchor="end" font-size="11" { (size(peak)) }
            text x="4" y="40" font-size="11" fill="#1f5fa8" { "sent" }
            text x="4" y=(MID + 50) font-size="11" fill="#2c7a2c" { "received" }
            @for (i, &(sent, received)) in buckets.iter().enumerate() {
                @let x = format!("{:.2}", LEFT as f64 + i as f64 * bar);
                @let (from, to) = label(i);
                @if sent > 0 {
                    rect x=(x) y=(MID - height(sent)) width=(bar_width) height=(height(sent)) fill="#1f5fa8" {
                        title { (from) " to " (to) " ago: sent " (size(sent)) }
                    }
                }
                @if received > 0 {
                    rect x=(x) y=(MID) width=(bar_width) height=(height(received)) fill="#2c7a2c" {
                        title { (from) " to " (to) " ago: received " (size(received)) }
                    }
                }
            }
            @for (i, text) in ["24 h ago", "18 h", "12 h", "6 h", "now"].iter().enumerate() {
                @let x = LEFT + (i as u64) * (WIDTH - LEFT) / 4;
                text x=(x) y=(HEIGHT - 4) font-size="11"
                    text-anchor=(if i == 0 { "start" } else if i == 4 { "end" } else { "middle" }) { (text) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_fall_into_the_right_bars_and_old_ones_drop_out() {
        let now = 100_000;
        let minute = |at, sent, received| TrafficMinute { at, sent, received };
        let minutes = [
            minute(now, 5, 1),
            minute(now - 60, 7, 0),
            minute(now - 15 * 60 - 60, 100, 3),
            minute(now - 25 * 3600, 9_999, 9_999),
        ];
        let b = buckets(&minutes, now);
        assert_eq!(b.len(), 96);
        assert_eq!(b[95], (12, 1));
        assert_eq!(b[94], (100, 3));
        assert_eq!(b.iter().map(|x| x.0).sum::<u64>(), 112);
        let svg = chart(&minutes, now).into_string();
        assert!(svg.contains("sent 100 B"), "{svg}");
        // The newest bar ends at the plot's right edge.
        assert!(svg.contains(r#"<rect x="713.17" y="#), "{svg}");
        assert!(svg.contains("received 3 B"));
    }
}
