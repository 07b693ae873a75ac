//! SVG charts of the figures, drawn with `plotters` (its SVG backend only), for the web UI and
//! for anyone who fetches them: new C2 servers and phishing sites per day, and lead times.

use std::collections::BTreeMap;

use plotters::prelude::*;

use super::{DailyReport, LeadFigures};

const SIZE: (u32, u32) = (900, 420);

fn failed<E: std::fmt::Display>(e: E) -> String {
    format!("the chart could not be drawn: {e}")
}

/// A chart of the common size, white, with its caption and room for the axes' labels.
fn frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: &str,
) -> Result<ChartBuilder<'a, 'b, SVGBackend<'b>>, String> {
    root.fill(&WHITE).map_err(failed)?;
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(48);
    Ok(builder)
}

/// The legend of the series drawn.
fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(failed)
}

/// One line per category: first reports per day over the report's period.
pub fn daily_svg(report: &DailyReport) -> Result<String, String> {
    let day_of =
        |s: &str| stix::Timestamp::parse(s).map(|t| t.as_micros().div_euclid(86_400_000_000));
    let first = day_of(&report.from).map_err(failed)?;
    let last = day_of(&report.to).map_err(failed)?;
    let days = (last - first).max(1);
    let mut lines: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for c in relay_core::metrics::Category::ALL {
        lines.insert(c.as_str(), vec![0; days as usize]);
    }
    for c in &report.counts {
        let d = day_of(&format!("{}T00:00:00Z", c.day)).map_err(failed)? - first;
        if let Some(slot) = lines
            .get_mut(c.category)
            .and_then(|l| l.get_mut(d as usize))
        {
            *slot += c.count;
        }
    }
    let top = lines.values().flatten().copied().max().unwrap_or(0).max(1);
    let label = |d: &i64| {
        stix::Timestamp::from_micros((first + d) * 86_400_000_000).to_string()[..10].to_owned()
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = frame(&root, "New C2 servers and phishing sites per day")?
            .build_cartesian_2d(0i64..days, 0u64..top + top / 10 + 1)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&label)
            .y_desc("first reports")
            .draw()
            .map_err(failed)?;
        for (i, (name, counts)) in lines.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    counts.iter().enumerate().map(|(d, n)| (d as i64, *n)),
                    color.stroke_width(2),
                ))
                .map_err(failed)?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        legend(&mut chart)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// One bar per organisation and kind: the median lead, with its 90th percentile as a line.
pub fn lead_svg(leads: &[LeadFigures]) -> Result<String, String> {
    let hours = |s: f64| s / 3600.0;
    let top = leads
        .iter()
        .map(|l| hours(l.p90_seconds))
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let names: Vec<String> = leads
        .iter()
        .map(|l| format!("{} {}", l.org, l.kind))
        .collect();
    let n = leads.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = frame(
            &root,
            "How long the relay held it before you reported it (hours)",
        )?
        .build_cartesian_2d((0..n).into_segmented(), 0.0..top * 1.1)
        .map_err(failed)?;
        chart
            .configure_mesh()
            .x_labels(n as usize)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_desc("hours")
            .draw()
            .map_err(failed)?;
        let median = Palette99::pick(0).to_rgba();
        let p90 = Palette99::pick(1).to_rgba();
        chart
            .draw_series(leads.iter().enumerate().map(|(i, l)| {
                let i = i as u32;
                Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), hours(l.median_seconds)),
                    ],
                    median.filled(),
                )
            }))
            .map_err(failed)?
            .label("median")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], median.filled()));
        chart
            .draw_series(leads.iter().enumerate().map(|(i, l)| {
                let i = i as u32;
                PathElement::new(
                    vec![
                        (SegmentValue::Exact(i), hours(l.p90_seconds)),
                        (SegmentValue::Exact(i + 1), hours(l.p90_seconds)),
                    ],
                    p90.stroke_width(3),
                )
            }))
            .map_err(failed)?
            .label("90th percentile")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], p90));
        legend(&mut chart)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}
