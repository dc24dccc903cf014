//! The PDF as a reader's tools see it: poppler's `pdftotext` finds the
//! Chinese text and the watermark on every page, `pdffonts` shows the
//! product's font embedded and subset, `qpdf --check` finds the file sound,
//! and the outline lists the headings. `.ci/run` installs poppler-utils and
//! qpdf.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

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
