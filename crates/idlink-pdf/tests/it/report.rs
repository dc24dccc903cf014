//! The credit report as its holder's tools see it: the sandbox bureau's
//! files (typical, thin, adverse, large) rendered, read back with poppler
//! and checked with qpdf.

use super::{run, write};
use idlink_domain::credit_report::CreditReport;
use idlink_pdf::credit_report::{SECTIONS, Stamp, TITLE, render_report};
use idlink_sandbox::bureau::files::{Additions, FileSize, report};

fn file(size: FileSize) -> CreditReport {
    let now = "2026-11-30T02:15:00Z".parse().unwrap_or_else(|e| panic!("{e}"));
    report("张三丰", "110105194912310035", now, 7, size, &Additions::default())
}

fn stamp() -> Stamp {
    Stamp { holder: "张**".into(), purpose: "本人查询".into(), at: "2026-11-30 10:15 (UTC+8)".into() }
}

/// The text layer of the whole file, and of each page with spaces removed.
fn text(pdf: &[u8], name: &str, pages: usize) -> (String, Vec<String>) {
    let path = write(name, pdf);
    let file = path.to_string_lossy().into_owned();
    run("qpdf", &["--check", &file]);
    let all = run("pdftotext", &["-layout", &file, "-"]);
    let each = (1..=pages)
        .map(|p| {
            let n = p.to_string();
            run("pdftotext", &["-raw", "-f", &n, "-l", &n, &file, "-"]).split_whitespace().collect()
        })
        .collect();
    (all, each)
}

#[test]
fn a_typical_report_has_its_sections_the_holder_and_the_watermark_on_every_page() {
    let r = file(FileSize::Typical);
    let rendered = render_report(&r, &stamp()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rendered.missing, 0);
    assert!((3..=6).contains(&rendered.pages), "a typical report is about four pages: {}", rendered.pages);
    let (all, pages) = text(&rendered.pdf, "typical.pdf", rendered.pages);
    for wanted in [TITLE, "张三丰", "信息截至", "2026.11.29", "个人住房商业贷款", "还款记录", "报告说明"].into_iter().chain(SECTIONS)
    {
        assert!(all.contains(wanted), "{wanted} is not in the text layer");
    }
    // Numbers are masked in the body; the report number is whole.
    assert!(!all.contains("110105194912310035") && all.contains("110***********0035"), "the ID number masked");
    assert!(all.contains(&r.header.report_no));
    for (i, page) in pages.iter().enumerate() {
        assert!(page.contains("张**·本人查询") && page.contains("2026-11-3010:15(UTC+8)"), "page {}: the watermark: {page}", i + 1);
    }
    let file = write("typical.pdf", &rendered.pdf);
    let outline = run("qpdf", &["--json", "--json-key=outlines", &file.to_string_lossy()]);
    for title in SECTIONS {
        assert!(outline.contains(title), "{title} in the outline");
    }
}

#[test]
fn a_thin_file_says_so_and_an_adverse_one_shows_its_marks() {
    let thin = render_report(&file(FileSize::Thin), &stamp()).unwrap_or_else(|e| panic!("{e}"));
    let (all, _) = text(&thin.pdf, "thin.pdf", thin.pages);
    assert!(all.contains("暂无信贷交易信息明细") && all.contains("暂无公共信息记录"), "{all}");
    let adverse = render_report(&file(FileSize::Adverse), &stamp()).unwrap_or_else(|e| panic!("{e}"));
    let (all, _) = text(&adverse.pdf, "adverse.pdf", adverse.pages);
    for wanted in ["防欺诈警示：", "异议提示", "民事判决记录", "呆账", "北京市朝阳区人民法院"] {
        assert!(all.contains(wanted), "{wanted} is not in the adverse report");
    }
}

#[test]
fn a_large_report_of_two_hundred_accounts_renders_whole() {
    let r = file(FileSize::Large);
    let rendered = render_report(&r, &stamp()).unwrap_or_else(|e| panic!("{e}"));
    assert!(rendered.pages >= 30, "{} pages", rendered.pages);
    let (all, _) = text(&rendered.pdf, "large.pdf", 0);
    let accounts = all.matches("账户标识").count();
    assert!(accounts >= 200, "every account's table (with repeated headers) is there: {accounts}");
}
