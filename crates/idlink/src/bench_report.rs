//! `idlink bench report`: how long the credit report takes to render
//! (issue 15: "p99 ≤ 100 ms for the typical report on one core"), and how
//! big the file is. The reports are the sandbox bureau's files for one
//! identity: typical (a mortgage, a consumer loan, a credit line, three
//! cards, a guarantee, ten queries) and large (200 accounts, forty queries).
//! Each is rendered `runs` times one after another on one thread, so a
//! figure is one core's work. The baseline, measured in the same run, is a
//! one-page document of one paragraph: what any PDF with the embedded font
//! costs (the font subset and the file written) before any report content.

use anyhow::{Context, Result};
use idlink_pdf::credit_report::{Stamp, render_report};
use idlink_pdf::{Block, Document, render};
use idlink_sandbox::bureau::files::{Additions, FileSize, report};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Options {
    /// Renders of the typical report (and of the baseline).
    pub runs: usize,
    /// Renders of the large report.
    pub large_runs: usize,
    /// Where to write the two reports as PDF files, if anywhere.
    pub out: Option<PathBuf>,
}

struct Figures {
    p50_ms: f64,
    p99_ms: f64,
    bytes: usize,
    pages: usize,
}

fn measure(runs: usize, mut once: impl FnMut() -> Result<(usize, usize)>) -> Result<Figures> {
    let mut times = Vec::with_capacity(runs);
    let (mut bytes, mut pages) = (0, 0);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        (bytes, pages) = once()?;
        times.push(started.elapsed());
    }
    times.sort();
    let at = |q: usize| times.get((times.len() * q / 100).min(times.len() - 1)).copied().unwrap_or(Duration::ZERO).as_secs_f64() * 1e3;
    Ok(Figures { p50_ms: at(50), p99_ms: at(99), bytes, pages })
}

pub fn run(opts: &Options) -> Result<()> {
    println!(
        "idlink bench report: {} renders (large: {}), one thread, {} build",
        opts.runs,
        opts.large_runs,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    let now = jiff::Timestamp::now();
    let stamp = Stamp { holder: "张**".into(), purpose: "本人查询".into(), at: idlink_domain::calendar::shanghai_display(now) };
    let typical = report("张三丰", "110105194912310035", now, 1, FileSize::Typical, &Additions::default());
    let large = report("张三丰", "110105194912310035", now, 2, FileSize::Large, &Additions::default());
    let one_page = Document {
        title: "个人信用报告".into(),
        lang: "zh-CN".into(),
        watermark: stamp.lines(),
        blocks: vec![Block::Paragraph("信息截至报告所示日期。".into())],
    };
    // The font is parsed once per process: not part of any figure.
    render(&one_page).context("the warm-up render")?;
    let baseline = measure(opts.runs, || render(&one_page).map(|r| (r.pdf.len(), r.pages)).context("the baseline"))?;
    let typical_f = measure(opts.runs, || render_report(&typical, &stamp).map(|r| (r.pdf.len(), r.pages)).context("the typical report"))?;
    let large_f = measure(opts.large_runs, || render_report(&large, &stamp).map(|r| (r.pdf.len(), r.pages)).context("the large report"))?;
    let line = |name: &str, f: &Figures| {
        format!(
            "{name:<34} p50 {:>7.2} ms   p99 {:>7.2} ms   {:>3} pages   {:>7.1} KiB   p50 {:>5.1}× baseline",
            f.p50_ms,
            f.p99_ms,
            f.pages,
            f.bytes as f64 / 1024.0,
            f.p50_ms / baseline.p50_ms.max(1e-9)
        )
    };
    println!("{}", line("baseline: one paragraph, one page", &baseline));
    println!("{}", line(&format!("typical report ({} accounts)", typical.accounts.len()), &typical_f));
    println!("{}", line(&format!("large report ({} accounts)", large.accounts.len()), &large_f));
    println!("target: typical p99 ≤ 100 ms on one core: {}", if typical_f.p99_ms <= 100.0 { "met" } else { "NOT met" });
    if let Some(dir) = &opts.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, r) in [("credit-report-typical.pdf", &typical), ("credit-report-large.pdf", &large)] {
            let pdf = render_report(r, &stamp)?.pdf;
            std::fs::write(dir.join(name), pdf).with_context(|| format!("writing {name}"))?;
        }
        println!("wrote credit-report-typical.pdf and credit-report-large.pdf to {}", dir.display());
    }
    Ok(())
}
