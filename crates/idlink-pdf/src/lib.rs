//! Real PDFs in Chinese (SPEC CR4–CR5, issue 15): text, not pictures of
//! text. Every character is drawn as a glyph of the product's own font
//! ([`fonts/`](../fonts/README.md): Idlink Sans SC, an OFL subset of Noto
//! Sans CJK SC) with its Unicode mapping, so it is selectable and
//! searchable; the font is embedded and subset to the glyphs a document
//! uses; headings make the document outline; headings and paragraphs are
//! tagged (`H1`/`H2`/`P`, language `zh-CN`) and the watermark is a tagged
//! artifact; a diagonal, translucent watermark is drawn on every page.
//!
//! Layout is deliberately simple: A4, one column, lines broken at any CJK
//! character but not inside a run of Latin letters and digits; tables with
//! wrapping cells, rows kept whole, and the header row repeated on each page
//! a table continues on (`TH`/`TD` tagged once). A character the font lacks
//! is drawn as `□` and counted in [`Rendered::missing`].
//!
//! Rendering is CPU work: call [`render`] from a blocking task, not on the
//! async runtime. [`credit_report`] lays the credit report out in these
//! blocks (issue 15); the rest of the crate knows nothing of credit.

pub mod credit_report;

use krilla::Document as PdfDocument;
use krilla::color::rgb;
use krilla::destination::XyzDestination;
use krilla::geom::{PathBuilder, Point, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::tagging::{Artifact, ArtifactType, ContentTag, Identifier, SpanTag, TableHeaderScope, Tag, TagGroup, TagTree};
use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size};
use std::collections::HashMap;
use std::num::NonZeroU16;
use std::sync::LazyLock;

/// The embedded font (OFL 1.1; see `fonts/README.md`).
static FONT_BYTES: &[u8] = include_bytes!("../fonts/IdlinkSansSC-Regular.otf");

/// The font and its character → (glyph, advance per em) table, built once per process.
static FACE: LazyLock<Option<Face>> = LazyLock::new(Face::load);

const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.0;
const BODY_SIZE: f32 = 10.5;
const LINE_GAP: f32 = 1.6;
/// What a character the font lacks is drawn as.
const MISSING: char = '□';

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the embedded font cannot be read")]
    Font,
    #[error("block {block}: row {row} has {cells} cells for {columns} columns (or the widths do not match the columns)")]
    TableShape { block: usize, row: usize, cells: usize, columns: usize },
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

/// A document to render: its title and language (metadata), the watermark
/// drawn on every page (one string per line), and its blocks in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub title: String,
    /// BCP 47, e.g. `zh-CN`.
    pub lang: String,
    pub watermark: Vec<String>,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading (level 1 or 2): in the outline and tagged `H1`/`H2`.
    Heading { level: u8, text: String },
    /// Body text, wrapped to the page width.
    Paragraph(String),
    /// A table: column headers, rows of as many cells, and each column's
    /// share of the width (any positive numbers; equal when empty). Cells
    /// wrap; a row never splits across pages; the header row is repeated at
    /// the top of each page the table continues on.
    Table { columns: Vec<String>, rows: Vec<Vec<String>>, widths: Vec<f32> },
}

/// A rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub pdf: Vec<u8>,
    pub pages: usize,
    /// Characters the font lacks, drawn as `□`.
    pub missing: usize,
}

struct Face {
    font: Font,
    glyphs: HashMap<char, (u32, f32)>,
    /// Advance per em of a character not in the table (the `□` drawn instead).
    missing: (u32, f32),
}

impl Face {
    fn load() -> Option<Self> {
        let font = Font::new(FONT_BYTES.into(), 0)?;
        let file = skrifa::FontRef::new(FONT_BYTES).ok()?;
        let upem = f32::from(file.metrics(Size::unscaled(), LocationRef::default()).units_per_em);
        let metrics = file.glyph_metrics(Size::unscaled(), LocationRef::default());
        let mut glyphs = HashMap::new();
        for (code, gid) in file.charmap().mappings() {
            if let Some(c) = char::from_u32(code) {
                let advance = metrics.advance_width(gid).unwrap_or(upem) / upem;
                glyphs.insert(c, (gid.to_u32(), advance));
            }
        }
        let missing = glyphs.get(&MISSING).copied()?;
        Some(Self { font, glyphs, missing })
    }

    /// The glyphs of `text` (each mapped back to its bytes in `text`), their
    /// width at `size`, and how many characters the font lacks.
    fn shape(&self, text: &str, size: f32) -> (Vec<KrillaGlyph>, f32, usize) {
        let mut glyphs = Vec::with_capacity(text.len());
        let (mut width, mut missing) = (0.0, 0);
        for (at, c) in text.char_indices() {
            let (gid, advance) = match self.glyphs.get(&c) {
                Some(g) => *g,
                None => {
                    missing += 1;
                    self.missing
                }
            };
            width += advance * size;
            glyphs.push(KrillaGlyph::new(GlyphId::new(gid), advance, 0.0, 0.0, 0.0, at..at + c.len_utf8(), None));
        }
        (glyphs, width, missing)
    }

    fn width(&self, c: char, size: f32) -> f32 {
        self.glyphs.get(&c).map_or(self.missing.1, |g| g.1) * size
    }

    /// `text` broken into lines no wider than `max`: at any CJK character,
    /// but not inside a run of Latin letters and digits (an amount, a date,
    /// a number stays whole unless it is longer than a line).
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let (mut line, mut width) = (String::new(), 0.0);
            // Where the current unbreakable run starts in `line`, and its width.
            let (mut run_start, mut run_width) = (0, 0.0);
            for c in paragraph.chars() {
                let w = self.width(c, size);
                let joins = unbreakable(c);
                if !joins {
                    run_start = line.len();
                    run_width = 0.0;
                }
                if width + w > max && !line.is_empty() {
                    if joins && run_start > 0 && run_start < line.len() {
                        let tail = line.split_off(run_start);
                        lines.push(std::mem::replace(&mut line, tail));
                        width = run_width;
                    } else {
                        lines.push(std::mem::take(&mut line));
                        width = 0.0;
                        run_width = 0.0;
                    }
                    run_start = 0;
                }
                line.push(c);
                width += w;
                if joins {
                    run_width += w;
                } else {
                    run_start = line.len();
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// Characters that stay on one line with their neighbours of the same kind.
fn unbreakable(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ',' | '%' | '-' | '*' | ':' | '/')
}

/// Renders `doc` to PDF bytes.
pub fn render(doc: &Document) -> Result<Rendered, PdfError> {
    let face = FACE.as_ref().ok_or(PdfError::Font)?;
    let items = layout(face, &doc.blocks)?;
    let pages = paginate(&items);
    let mut pdf = PdfDocument::new();
    let mut outline = Outline::new();
    let mut missing = 0;
    // The tag tree's groups, one per block (a table's rows collected under it), filled page by page.
    let mut groups: Vec<TagGroup> = doc.blocks.iter().map(block_group).collect();
    let mut open_heading: Option<OutlineNode> = None;
    for (index, items) in pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).ok_or_else(|| PdfError::Write("the page size".into()))?;
        let mut page = pdf.start_page_with(settings);
        let mut surface = page.surface();
        let mut y = MARGIN;
        for item in items {
            match item {
                Placed::Line(line) => {
                    y += line.space_before + line.size;
                    let (glyphs, _, lacking) = face.shape(&line.text, line.size);
                    missing += lacking;
                    let id = draw(
                        &mut surface,
                        face,
                        Point::from_xy(MARGIN, y),
                        &glyphs,
                        &line.text,
                        line.size,
                        ContentTag::Span(SpanTag::empty()),
                    );
                    if let Some(group) = groups.get_mut(line.block) {
                        group.push(id);
                    }
                    if line.first
                        && let Some(Block::Heading { level, text }) = doc.blocks.get(line.block)
                    {
                        let node = OutlineNode::new(text.clone(), XyzDestination::new(index, Point::from_xy(MARGIN, y - line.size)));
                        if *level <= 1 {
                            if let Some(done) = open_heading.take() {
                                outline.push_child(done);
                            }
                            open_heading = Some(node);
                        } else if let Some(parent) = open_heading.as_mut() {
                            parent.push_child(node);
                        } else {
                            outline.push_child(node);
                        }
                    }
                    y += line.size * (LINE_GAP - 1.0);
                }
                Placed::Row { row, repeated } => {
                    let (tr, lacking) = draw_row(&mut surface, face, row, y, *repeated);
                    missing += lacking;
                    if let (Some(tr), Some(group)) = (tr, groups.get_mut(row.block)) {
                        group.push(tr);
                    }
                    y += row.height;
                }
            }
        }
        watermark(&mut surface, face, &doc.watermark)?;
        footer(&mut surface, face, &doc.watermark, index + 1, pages.len());
        surface.finish();
        page.finish();
    }
    if let Some(done) = open_heading.take() {
        outline.push_child(done);
    }
    let mut tree = TagTree::new().with_lang(Some(doc.lang.clone()));
    for group in groups {
        tree.push(group);
    }
    pdf.set_outline(outline);
    pdf.set_tag_tree(tree);
    pdf.set_metadata(Metadata::new().title(doc.title.clone()).language(doc.lang.clone()));
    let bytes = pdf.finish().map_err(|e| PdfError::Write(format!("{e:?}")))?;
    Ok(Rendered { pdf: bytes, pages: pages.len(), missing })
}

fn block_group(block: &Block) -> TagGroup {
    match block {
        Block::Heading { level, text } => {
            TagGroup::new(Tag::Hn(NonZeroU16::new(u16::from((*level).clamp(1, 6))).unwrap_or(NonZeroU16::MIN), Some(text.clone())))
        }
        Block::Paragraph(_) => TagGroup::new(Tag::P),
        Block::Table { .. } => TagGroup::new(Tag::Table),
    }
}

/// One laid-out line: its block, its text and size, the space above it.
struct Line {
    block: usize,
    text: String,
    size: f32,
    space_before: f32,
    /// The block's first line (where its outline entry points).
    first: bool,
}

/// One laid-out table row: each cell's lines, where the columns start and how wide they are.
struct Row {
    block: usize,
    cells: Vec<Vec<String>>,
    lefts: Vec<f32>,
    widths: Vec<f32>,
    height: f32,
    header: bool,
}

enum Item {
    Line(Line),
    Row(Row),
}

/// What a page holds, in order: a line, or a row (a header repeated from an
/// earlier page is drawn as a pagination artifact, not tagged again).
enum Placed<'a> {
    Line(&'a Line),
    Row { row: &'a Row, repeated: bool },
}

const CELL_SIZE: f32 = 9.0;
const CELL_PAD: f32 = 3.0;

fn layout(face: &Face, blocks: &[Block]) -> Result<Vec<Item>, PdfError> {
    let width = PAGE_WIDTH - 2.0 * MARGIN;
    let mut out = Vec::new();
    for (block, b) in blocks.iter().enumerate() {
        let (text, size, space) = match b {
            Block::Heading { level, text } => (text, if *level <= 1 { 16.0 } else { 13.0 }, 10.0),
            Block::Paragraph(text) => (text, BODY_SIZE, 4.0),
            Block::Table { columns, rows, widths } => {
                let n = columns.len();
                let shape = |row: usize, cells: usize| PdfError::TableShape { block, row, cells, columns: n };
                if n == 0 || (!widths.is_empty() && (widths.len() != n || widths.iter().any(|w| !(*w > 0.0 && w.is_finite())))) {
                    return Err(shape(0, widths.len()));
                }
                let shares: Vec<f32> = if widths.is_empty() { vec![1.0; n] } else { widths.clone() };
                let total: f32 = shares.iter().sum();
                let col_widths: Vec<f32> = shares.iter().map(|w| w / total * width).collect();
                let lefts: Vec<f32> = col_widths.iter().scan(MARGIN, |x, w| Some(std::mem::replace(x, *x + w))).collect();
                let line_height = CELL_SIZE * 1.5;
                let row_of = |cells: &[String], header: bool| {
                    let wrapped: Vec<Vec<String>> =
                        cells.iter().zip(&col_widths).map(|(c, w)| face.wrap(c, CELL_SIZE, w - 2.0 * CELL_PAD)).collect();
                    let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
                    Row {
                        block,
                        cells: wrapped,
                        lefts: lefts.clone(),
                        widths: col_widths.clone(),
                        height: lines as f32 * line_height + 2.0 * CELL_PAD,
                        header,
                    }
                };
                out.push(Item::Row(row_of(columns, true)));
                for (i, cells) in rows.iter().enumerate() {
                    if cells.len() != n {
                        return Err(shape(i + 1, cells.len()));
                    }
                    out.push(Item::Row(row_of(cells, false)));
                }
                continue;
            }
        };
        for (i, line) in face.wrap(text, size, width).into_iter().enumerate() {
            out.push(Item::Line(Line { block, text: line, size, space_before: if i == 0 { space } else { 0.0 }, first: i == 0 }));
        }
    }
    Ok(out)
}

/// Splits the items into pages; a table continuing on a new page starts it with its header row again.
fn paginate(items: &[Item]) -> Vec<Vec<Placed<'_>>> {
    let mut pages: Vec<Vec<Placed<'_>>> = vec![Vec::new()];
    let mut y = MARGIN;
    let mut header: Option<&Row> = None;
    for item in items {
        let (height, table_row) = match item {
            Item::Line(line) => (line.size * LINE_GAP + line.space_before, None),
            Item::Row(row) => (row.height, Some(row)),
        };
        if let Some(row) = table_row {
            if row.header {
                header = Some(row);
            }
        } else {
            header = None;
        }
        let full = pages.last().is_some_and(|p| !p.is_empty());
        if y + height > PAGE_HEIGHT - MARGIN && full {
            pages.push(Vec::new());
            y = MARGIN;
            if let (Some(h), Some(row)) = (header, table_row)
                && !row.header
                && let Some(page) = pages.last_mut()
            {
                page.push(Placed::Row { row: h, repeated: true });
                y += h.height;
            }
        }
        y += height;
        if let Some(page) = pages.last_mut() {
            page.push(match item {
                Item::Line(line) => Placed::Line(line),
                Item::Row(row) => Placed::Row { row, repeated: false },
            });
        }
    }
    pages
}

/// Draws a table row at `top`: its rules as one path (an artifact) and each
/// cell's lines, tagged `TH`/`TD` in a `TR` unless the row is a repeated
/// header. Returns the `TR` and the characters the font lacks.
fn draw_row(surface: &mut Surface, face: &Face, row: &Row, top: f32, repeated: bool) -> (Option<TagGroup>, usize) {
    let right = row.lefts.last().zip(row.widths.last()).map_or(MARGIN, |(l, w)| l + w);
    let bottom = top + row.height;
    let mut rules = PathBuilder::new();
    rules.move_to(MARGIN, top);
    rules.line_to(right, top);
    rules.line_to(right, bottom);
    rules.line_to(MARGIN, bottom);
    rules.close();
    for left in row.lefts.iter().skip(1) {
        rules.move_to(*left, top);
        rules.line_to(*left, bottom);
    }
    if let Some(path) = rules.finish() {
        surface.start_tagged(ContentTag::Artifact(Artifact::new(ArtifactType::Layout, None)));
        surface.set_fill(None);
        surface.set_stroke(Some(Stroke { paint: rgb::Color::new(150, 150, 150).into(), width: 0.5, ..Stroke::default() }));
        surface.draw_path(&path);
        surface.set_stroke(None);
        surface.end_tagged();
    }
    let mut tr = TagGroup::new(Tag::TR);
    let mut missing = 0;
    for ((lines, left), _) in row.cells.iter().zip(&row.lefts).zip(&row.widths) {
        let mut cell = if row.header { TagGroup::new(Tag::TH(TableHeaderScope::Column)) } else { TagGroup::new(Tag::TD) };
        let mut y = top + CELL_PAD;
        for line in lines {
            y += CELL_SIZE * 1.5;
            let (glyphs, _, lacking) = face.shape(line, CELL_SIZE);
            let at = Point::from_xy(left + CELL_PAD, y - CELL_SIZE * 0.4);
            if repeated {
                let tag = ContentTag::Artifact(Artifact::new(ArtifactType::PaginationOther, None));
                draw(surface, face, at, &glyphs, line, CELL_SIZE, tag);
            } else {
                missing += lacking;
                cell.push(draw(surface, face, at, &glyphs, line, CELL_SIZE, ContentTag::Span(SpanTag::empty())));
            }
        }
        tr.push(cell);
    }
    ((!repeated).then_some(tr), missing)
}

/// Draws one line of text in black under `tag` (a span, or an artifact).
fn draw(surface: &mut Surface, face: &Face, at: Point, glyphs: &[KrillaGlyph], text: &str, size: f32, tag: ContentTag) -> Identifier {
    let id = surface.start_tagged(tag);
    surface.set_fill(Some(Fill::default()));
    surface.draw_glyphs(at, glyphs, face.font.clone(), text, size, false);
    surface.end_tagged();
    id
}

/// The watermark's words once more, level, at the foot of the page with the
/// page number: what a text extractor reads reliably (diagonal text comes
/// out in pieces). An artifact, like the watermark.
fn footer(surface: &mut Surface, face: &Face, lines: &[String], page: usize, pages: usize) {
    let text = if lines.is_empty() { format!("{page} / {pages}") } else { format!("{}　{page} / {pages}", lines.join("　")) };
    let size = 8.0;
    let (glyphs, width, _) = face.shape(&text, size);
    surface.start_tagged(ContentTag::Artifact(Artifact::new(ArtifactType::Footer, None)));
    surface.set_fill(Some(Fill { paint: rgb::Color::new(110, 110, 110).into(), ..Fill::default() }));
    surface.draw_glyphs(
        Point::from_xy((PAGE_WIDTH - width) / 2.0, PAGE_HEIGHT - MARGIN / 2.0),
        &glyphs,
        face.font.clone(),
        &text,
        size,
        false,
    );
    surface.set_fill(None);
    surface.end_tagged();
}

/// The watermark: its lines rotated 30° about the page's centre, translucent
/// red, tagged as a watermark artifact (screen readers skip it).
fn watermark(surface: &mut Surface, face: &Face, lines: &[String]) -> Result<(), PdfError> {
    if lines.is_empty() {
        return Ok(());
    }
    let size = 20.0;
    let (cx, cy) = (PAGE_WIDTH / 2.0, PAGE_HEIGHT / 2.0);
    let opacity = NormalizedF32::new(0.14).ok_or_else(|| PdfError::Write("the watermark's opacity".into()))?;
    let fill = Fill { paint: rgb::Color::new(190, 30, 30).into(), opacity, rule: Default::default() };
    surface.start_tagged(ContentTag::Artifact(Artifact::new(ArtifactType::Watermark, None)));
    // krilla's y axis points down: a negative angle makes the text rise to the right.
    surface.push_transform(&Transform::from_rotate_at(-30.0, cx, cy));
    surface.set_fill(Some(fill));
    let step = size * 1.8;
    let top = cy - step * (lines.len() as f32 - 1.0) / 2.0;
    for (i, line) in lines.iter().enumerate() {
        let (glyphs, width, _) = face.shape(line, size);
        surface.draw_glyphs(Point::from_xy(cx - width / 2.0, top + step * i as f32), &glyphs, face.font.clone(), line, size, false);
    }
    surface.pop();
    surface.set_fill(None);
    surface.end_tagged();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn face() -> &'static Face {
        let Some(face) = FACE.as_ref() else { panic!("the embedded font loads") };
        face
    }

    proptest! {
        /// Wrapping loses and adds nothing, and a line is wider than the
        /// measure only when it is one unbreakable run (or one character).
        #[test]
        fn wrapping_keeps_every_character_within_the_measure(
            text in "[a-z0-9,.% 个人信用报告余额元（）：]{0,160}",
            max in 15.0f32..300.0,
        ) {
            let face = face();
            let lines = face.wrap(&text, 10.0, max);
            prop_assert_eq!(lines.concat(), text.clone());
            for line in &lines {
                let width: f32 = line.chars().map(|c| face.width(c, 10.0)).sum();
                let one_run = line.chars().all(unbreakable) || line.chars().count() <= 1;
                prop_assert!(width <= max + 0.01 || one_run, "{:?} is {} wide, measure {}", line, width, max);
            }
        }
    }

    #[test]
    fn report_and_traditional_characters_are_in_the_font() {
        let face = face();
        for c in "个人信用报告查询记录逾期还款身份證帳戶姓名证件号码本人０１２".chars() {
            assert!(face.glyphs.contains_key(&c), "{c}");
        }
    }
}
