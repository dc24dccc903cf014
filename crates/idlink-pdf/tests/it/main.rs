//! The PDF as a reader's tools see it: poppler's `pdftotext` finds the
//! Chinese text and the watermark on every page, `pdffonts` shows the
//! product's font embedded and subset, `qpdf --check` finds the file sound,
//! and the outline lists the headings. `.ci/run` installs poppler-utils and
//! qpdf.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod report;

use idlink_pdf::{Block, Document, render};
use std::path::PathBuf;
use std::process::Command;

fn report(paragraphs: usize) -> Document {
    let mut blocks =
        vec![Block::Heading { level: 1, text: "个人信用报告".into() }, Block::Heading { level: 2, text: "个人基本信息".into() }];
    blocks.push(Block::Paragraph("姓名：张**　证件号码：1101**********1234　查询原因：本人查询（互联网个人信用信息服务平台）".into()));
    blocks.push(Block::Heading { level: 2, text: "信贷交易信息明细".into() });
    for i in 0..paragraphs {
        blocks.push(Block::Paragraph(format!(
            "第{i}笔 个人住房商业贷款，2019年3月12日中国建设银行发放，合同金额 1,200,000 元，余额 874,315.52 元，最近5年还款记录正常。"
        )));
    }
    Document {
        title: "个人信用报告".into(),
        lang: "zh-CN".into(),
        watermark: vec!["张** 仅供本人查询使用".into(), "2026-11-30 10:15 北京时间".into()],
        blocks,
    }
}

fn write(name: &str, pdf: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("idlink-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| panic!("{tool} (poppler-utils / qpdf) is needed: {e}"));
    assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_text_is_chinese_text_with_the_watermark_on_every_page() {
    let doc = report(120);
    let rendered = render(&doc).unwrap_or_else(|e| panic!("{e}"));
    assert!(rendered.pages >= 3, "{} pages", rendered.pages);
    assert_eq!(rendered.missing, 0);
    let path = write("report.pdf", &rendered.pdf);
    let file = path.to_string_lossy().into_owned();
    let all = run("pdftotext", &["-layout", &file, "-"]);
    for wanted in ["个人信用报告", "个人基本信息", "查询原因：本人查询", "第119笔 个人住房商业贷款"] {
        assert!(all.contains(wanted), "{wanted} not found in the text layer");
    }
    // Amounts are never broken across lines.
    assert_eq!(all.matches("874,315.52").count(), 120, "every amount whole");
    for page in 1..=rendered.pages {
        let n = page.to_string();
        let text: String = run("pdftotext", &["-raw", "-f", &n, "-l", &n, &file, "-"]).split_whitespace().collect();
        let marks = text.matches("仅供本人查询使用").count();
        assert!(marks >= 2 && text.contains("2026-11-3010:15北京时间"), "page {page}: the watermark and its footer: {text}");
        assert!(text.contains(&format!("{page}/{}", rendered.pages)), "page {page}: its number");
    }
    run("qpdf", &["--check", &file]);
}

#[test]
fn the_font_is_the_products_own_embedded_and_subset() {
    let rendered = render(&report(3)).unwrap_or_else(|e| panic!("{e}"));
    let path = write("fonts.pdf", &rendered.pdf);
    let fonts = run("pdffonts", &[&path.to_string_lossy()]);
    let line = fonts.lines().find(|l| l.contains("IdlinkSansSC-Regular")).unwrap_or_else(|| panic!("{fonts}"));
    // name, type, encoding, emb, sub, uni: embedded, subset, with a Unicode map.
    assert!(line.split_whitespace().next().is_some_and(|n| n.len() > 7 && n.as_bytes()[6] == b'+'), "a subset tag: {line}");
    assert!(line.contains("yes yes yes"), "embedded, subset, ToUnicode: {line}");
    // The 2 MB font is subset to the glyphs used.
    assert!(rendered.pdf.len() < 200_000, "{} bytes", rendered.pdf.len());
}

#[test]
fn headings_make_the_outline_and_the_document_says_its_language() {
    let rendered = render(&report(60)).unwrap_or_else(|e| panic!("{e}"));
    let path = write("outline.pdf", &rendered.pdf);
    let json = run("qpdf", &["--json", "--json-key=outlines", &path.to_string_lossy()]);
    for title in ["个人信用报告", "个人基本信息", "信贷交易信息明细"] {
        assert!(json.contains(title), "{title} not in the outline: {json}");
    }
    let info = run("pdfinfo", &[&path.to_string_lossy()]);
    assert!(info.lines().any(|l| l.starts_with("Tagged:") && l.trim_end().ends_with("yes")), "{info}");
    assert!(info.contains("个人信用报告"), "the title: {info}");
}

#[test]
fn a_character_the_font_lacks_is_drawn_as_a_box_and_counted() {
    // U+20000 (𠀀) is outside the subset.
    let doc = Document { title: "t".into(), lang: "zh-CN".into(), watermark: vec![], blocks: vec![Block::Paragraph("王𠀀明".into())] };
    let rendered = render(&doc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rendered.missing, 1);
    let path = write("missing.pdf", &rendered.pdf);
    let text = run("pdftotext", &[&path.to_string_lossy(), "-"]);
    assert!(text.contains('王') && text.contains('明'), "{text}");
}

fn loans(rows: usize) -> Document {
    let columns =
        ["编号", "发放机构", "业务种类", "发放日期", "合同金额（元）", "余额（元）", "最近5年还款记录"].map(String::from).to_vec();
    let rows = (0..rows)
        .map(|i| {
            vec![
                format!("{}", i + 1),
                "中国建设银行股份有限公司北京分行".into(),
                "个人住房商业贷款".into(),
                "2019-03-12".into(),
                "1,200,000".into(),
                format!("{},315.52", 800 + i),
                "NNNNNNNNNNNN NNNNNNNNNNNN NNNNNNNNNNNN NNNNNNNNNNNN NNNNNNNNNNNN".into(),
            ]
        })
        .collect();
    Document {
        title: "信贷交易信息明细".into(),
        lang: "zh-CN".into(),
        watermark: vec!["张** 仅供本人查询使用".into()],
        blocks: vec![
            Block::Heading { level: 1, text: "信贷交易信息明细".into() },
            Block::Table { columns, rows, widths: vec![0.6, 2.2, 1.6, 1.3, 1.4, 1.3, 3.0] },
            Block::Paragraph("以上信息截至2026年11月29日。".into()),
        ],
    }
}

#[test]
fn a_table_crosses_pages_with_its_header_repeated_and_every_cell_tagged() {
    let rendered = render(&loans(60)).unwrap_or_else(|e| panic!("{e}"));
    assert!(rendered.pages >= 3, "{} pages", rendered.pages);
    let path = write("table.pdf", &rendered.pdf);
    let file = path.to_string_lossy().into_owned();
    let all: String = run("pdftotext", &["-raw", &file, "-"]).split_whitespace().collect();
    for i in 0..60 {
        assert!(all.contains(&format!("{},315.52", 800 + i)), "row {i}'s balance is in the text layer");
    }
    assert!(all.contains("以上信息截至2026年11月29日。"));
    for page in 1..=rendered.pages {
        let n = page.to_string();
        let text: String = run("pdftotext", &["-raw", "-f", &n, "-l", &n, &file, "-"]).split_whitespace().collect();
        let on_page = text.contains("中国建设银行股份有限公司");
        assert!(!on_page || text.contains("发放机构"), "page {page} continues the table under its header");
    }
    // The structure: one table, a header row of TH, every body cell a TD.
    let expanded = write("table-qdf.pdf", &[]);
    run("qpdf", &["--qdf", "--object-streams=disable", &file, &expanded.to_string_lossy()]);
    let raw = String::from_utf8_lossy(&std::fs::read(&expanded).unwrap_or_default()).into_owned();
    assert_eq!(raw.matches("/S /Table").count(), 1, "one Table element");
    assert_eq!(raw.matches("/S /TH").count(), 7, "the header's seven cells, tagged once (repeats are artifacts)");
    assert_eq!(raw.matches("/S /TD").count(), 60 * 7, "every body cell");
    run("qpdf", &["--check", &file]);
}

#[test]
fn a_row_with_the_wrong_number_of_cells_is_refused() {
    let mut doc = loans(3);
    if let Some(Block::Table { rows, .. }) = doc.blocks.get_mut(1) {
        rows[1].pop();
    }
    let err = render(&doc).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("block 1: row 2 has 6 cells for 7 columns"), "{err}");
}
