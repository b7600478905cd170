//! Reports as PDF files: a [`Report`] of headings, fields, paragraphs and tables laid out on A4
//! pages and written with the standard Helvetica fonts, so no font file is embedded or fetched.
//!
//! Text is drawn in WinAnsiEncoding (Windows-1252), the one encoding every reader shows with the
//! standard fonts: Latin-1 and the Windows-1252 extras (€, ‘ ’ “ ”, – —, •, …, ‰, ™, Š, Ž, Œ)
//! are drawn as written, and any other character (Cyrillic, Greek, Arabic, CJK, …) is drawn as
//! `?`. The title in the document's properties keeps every character.

use miniz_oxide::deflate::compress_to_vec_zlib;
use pdf_writer::{Content, Filter, Name, Pdf, Rect, Ref, Str, TextStr};

/// A4 in points, portrait.
const A4_WIDTH: f32 = 595.28;
const A4_HEIGHT: f32 = 841.89;
/// Space left blank around the body of each page; the footer sits in the bottom one.
const MARGIN: f32 = 40.0;
/// Height of the footer's baseline above the bottom edge.
const FOOTER_BASELINE: f32 = 22.0;
/// Font sizes, in points.
const TITLE_SIZE: f32 = 16.0;
const SUBTITLE_SIZE: f32 = 9.0;
const HEADING_SIZE: f32 = 12.0;
const BODY_SIZE: f32 = 10.0;
const TABLE_SIZE: f32 = 9.0;
const FOOTER_SIZE: f32 = 8.0;
/// Distance between baselines, as a multiple of the font size.
const LINE_SPACING: f32 = 1.25;
/// Height of a baseline above the bottom of its line, as a multiple of the font size.
const DESCENT: f32 = 0.25;
/// Width given to a field's label; the value starts after it.
const LABEL_WIDTH: f32 = 150.0;
/// Space between a table cell's text and its column's edges.
const CELL_PADDING: f32 = 3.0;
/// zlib level for content streams: 6 is the usual balance of size and speed.
const COMPRESSION_LEVEL: u8 = 6;

/// A piece of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading.
    Heading(String),
    /// A label and its value on one line (value wrapped under itself when long).
    Field(String, String),
    /// Running text, wrapped to the page width.
    Paragraph(String),
    /// A table: headers and rows of cells; relative column widths (same length as headers).
    ///
    /// Widths that do not match the headers, or are not all positive, give equal columns;
    /// missing cells are left blank and cells beyond the headers are left out.
    Table {
        /// Column titles, repeated at the top of each page the table continues on.
        headers: Vec<String>,
        /// Each column's share of the body's width.
        widths: Vec<f32>,
        /// The cells of each row, in column order.
        rows: Vec<Vec<String>>,
    },
}

/// A report: a title, a line under it (e.g. who produced it and when), and its blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Drawn large at the top of the first page and in the footer of every page.
    pub title: String,
    /// The line under the title.
    pub subtitle: String,
    /// The content, in reading order.
    pub blocks: Vec<Block>,
    /// Whether the pages are A4 turned sideways, for wide tables.
    pub landscape: bool,
}

impl Report {
    /// The report as the bytes of a PDF file.
    pub fn to_pdf(&self) -> Vec<u8> {
        write_pdf(&self.title, &self.layout())
    }

    /// The report laid out on pages, footers included.
    fn layout(&self) -> Layout {
        let (width, height) = match self.landscape {
            true => (A4_HEIGHT, A4_WIDTH),
            false => (A4_WIDTH, A4_HEIGHT),
        };
        let body_width = width - 2.0 * MARGIN;
        let mut parts = vec![Part::title(&self.title, &self.subtitle, body_width)];
        parts.extend(self.blocks.iter().map(|block| Part::of(block, body_width)));

        let mut setter = Typesetter::new(width, height);
        for (index, part) in parts.iter().enumerate() {
            setter.place_part(part, parts.get(index + 1));
        }
        let mut pages = setter.pages;
        add_footers(&mut pages, &self.title, width);
        Layout {
            width,
            height,
            pages,
        }
    }
}

/// Pages laid out and ready to write.
struct Layout {
    width: f32,
    height: f32,
    pages: Vec<Vec<Mark>>,
}

/// Something drawn on a page, in points from the page's bottom left corner.
#[derive(Debug, Clone, PartialEq)]
enum Mark {
    /// One line of WinAnsi text, from the left end of its baseline.
    Text {
        face: Face,
        size: f32,
        x: f32,
        y: f32,
        text: Vec<u8>,
    },
    /// A horizontal line from `x1` to `x2` at height `y`.
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        rule: Rule,
    },
}

/// The two standard fonts a report uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Face {
    Regular,
    Bold,
}

impl Face {
    /// The font's name in each page's resources.
    fn resource(self) -> Name<'static> {
        match self {
            Face::Regular => Name(b"F1"),
            Face::Bold => Name(b"F2"),
        }
    }

    /// The standard font's PostScript name.
    fn base_font(self) -> Name<'static> {
        match self {
            Face::Regular => Name(b"Helvetica"),
            Face::Bold => Name(b"Helvetica-Bold"),
        }
    }

    /// Advance width of WinAnsi `code`, in thousandths of the font size.
    fn advance(self, code: u8) -> u32 {
        let table = match self {
            Face::Regular => &HELVETICA_WIDTHS,
            Face::Bold => &HELVETICA_BOLD_WIDTHS,
        };
        code.checked_sub(FIRST_CODE)
            .map_or(MISSING_WIDTH, |index| table[usize::from(index)])
            .into()
    }

    /// Advance width of `text`, in thousandths of the font size.
    fn units(self, text: &[u8]) -> u32 {
        text.iter().map(|&code| self.advance(code)).sum()
    }

    /// Width of `text` in points at `size`.
    fn width(self, text: &[u8], size: f32) -> f32 {
        points(self.units(text), size)
    }
}

/// `units` thousandths of the font size, in points at `size`.
fn points(units: u32, size: f32) -> f32 {
    units as f32 * size / 1000.0
}

/// The first code in the width tables; codes below it are control codes.
const FIRST_CODE: u8 = 32;
/// Width of codes the fonts have no glyph for.
const MISSING_WIDTH: u16 = 556;

/// Helvetica's advance widths for WinAnsi codes 32 to 255, from Adobe's public font metrics.
#[rustfmt::skip]
const HELVETICA_WIDTHS: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 556,
    556, 556, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 556, 611, 556,
    556, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 556, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold's advance widths for WinAnsi codes 32 to 255, from Adobe's public font metrics.
#[rustfmt::skip]
const HELVETICA_BOLD_WIDTHS: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 556,
    556, 556, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 556, 611, 556,
    556, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 556, 500, 667,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

/// `text` in WinAnsiEncoding: line feeds kept (they end a line), other whitespace as a space,
/// carriage returns dropped, other control characters and characters outside it as `?`.
fn encode(text: &str) -> Vec<u8> {
    text.chars()
        .filter(|&c| c != '\r')
        .map(|c| match c {
            '\n' => b'\n',
            '\u{a0}' => 0xa0,
            c if c.is_whitespace() => b' ',
            c => win_ansi(c),
        })
        .collect()
}

/// The characters of WinAnsi codes 0x80 to 0x9F; `\0` marks the five codes left undefined.
#[rustfmt::skip]
const WIN_ANSI_EXTRAS: [char; 32] = [
    '€', '\0', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\0', 'Ž', '\0',
    '\0', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\0', 'ž', 'Ÿ',
];

/// The WinAnsi code of `c`, or `?` when it has none or is a control character.
fn win_ansi(c: char) -> u8 {
    match c {
        ' '..='~' | '\u{a0}'..='\u{ff}' => c as u8,
        c if c.is_control() => b'?',
        c => WIN_ANSI_EXTRAS
            .iter()
            .position(|&extra| extra == c)
            .map_or(b'?', |index| 0x80 + index as u8),
    }
}

/// WinAnsi `text` broken into lines no wider than `max_width` at `size`: at spaces, and inside
/// a word only when the word alone is wider than a line. Line feeds end a line; runs of spaces
/// count as one.
fn wrap(text: &[u8], face: Face, size: f32, max_width: f32) -> Vec<Vec<u8>> {
    let space = face.advance(b' ');
    let mut lines = Vec::new();
    for hard_line in text.split(|&code| code == b'\n') {
        let mut line = Vec::new();
        for word in hard_line
            .split(|&code| code == b' ')
            .filter(|word| !word.is_empty())
        {
            let joined = match line.is_empty() {
                true => face.units(word),
                false => face.units(&line) + space + face.units(word),
            };
            if points(joined, size) <= max_width {
                if !line.is_empty() {
                    line.push(b' ');
                }
                line.extend_from_slice(word);
            } else {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                line = break_word(word, face, size, max_width, &mut lines);
            }
        }
        lines.push(line);
    }
    lines
}

/// Pushes onto `lines` the full-line pieces of `word` and returns the rest, which may still
/// be followed by more words.
fn break_word(
    word: &[u8],
    face: Face,
    size: f32,
    max_width: f32,
    lines: &mut Vec<Vec<u8>>,
) -> Vec<u8> {
    let mut piece = Vec::new();
    let mut units = 0;
    for &code in word {
        let advance = face.advance(code);
        // A piece holds at least one character, so a line too narrow for any still advances.
        if !piece.is_empty() && points(units + advance, size) > max_width {
            lines.push(std::mem::take(&mut piece));
            units = 0;
        }
        piece.push(code);
        units += advance;
    }
    piece
}

/// WinAnsi `text` on one line no wider than `max_width`, cut and ended with an ellipsis if need be.
fn truncate(text: &[u8], face: Face, size: f32, max_width: f32) -> Vec<u8> {
    const ELLIPSIS: u8 = 0x85;
    let mut line: Vec<u8> = text
        .iter()
        .map(|&code| if code == b'\n' { b' ' } else { code })
        .collect();
    if face.width(&line, size) <= max_width {
        return line;
    }
    while !line.is_empty() && points(face.units(&line) + face.advance(ELLIPSIS), size) > max_width {
        line.pop();
    }
    line.push(ELLIPSIS);
    line
}

/// The look of a horizontal line drawn across the body under a row.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rule {
    thickness: f32,
    gray: f32,
}

/// Under the title, and under a table's header row.
const STRONG_RULE: Rule = Rule {
    thickness: 0.8,
    gray: 0.0,
};
/// Between a table's rows.
const THIN_RULE: Rule = Rule {
    thickness: 0.3,
    gray: 0.6,
};

/// Text in columns side by side, each wrapped within its own width, placed as one band.
struct Row {
    size: f32,
    /// Space above and below the text.
    padding: f32,
    cells: Vec<Cell>,
    rule: Option<Rule>,
}

/// One column of a row: where its lines start, in which face, and the lines.
struct Cell {
    x: f32,
    face: Face,
    lines: Vec<Vec<u8>>,
}

impl Row {
    /// A row of no cells yet, in text of `size` with `padding` above and below.
    fn new(size: f32, padding: f32) -> Self {
        Row {
            size,
            padding,
            cells: Vec::new(),
            rule: None,
        }
    }

    /// The row with `text` wrapped to `width` in a column starting at `x`.
    fn with_text(self, x: f32, width: f32, face: Face, text: &str) -> Self {
        let lines = wrap(&encode(text), face, self.size, width);
        self.with_lines(x, face, lines)
    }

    /// The row with a column of lines already wrapped.
    fn with_lines(mut self, x: f32, face: Face, lines: Vec<Vec<u8>>) -> Self {
        self.cells.push(Cell { x, face, lines });
        self
    }

    /// The row with `rule` under it.
    fn with_rule(mut self, rule: Rule) -> Self {
        self.rule = Some(rule);
        self
    }

    /// Distance between baselines.
    fn leading(&self) -> f32 {
        self.size * LINE_SPACING
    }

    /// Lines in the tallest cell (an empty row still takes a line).
    fn line_count(&self) -> usize {
        self.cells
            .iter()
            .map(|cell| cell.lines.len())
            .max()
            .unwrap_or(0)
            .max(1)
    }

    /// Height of `lines` of this row with its padding.
    fn height_of(&self, lines: usize) -> f32 {
        lines as f32 * self.leading() + 2.0 * self.padding
    }

    /// Height of the whole row.
    fn height(&self) -> f32 {
        self.height_of(self.line_count())
    }

    /// How many lines of this row fit in `space`.
    fn lines_fitting(&self, space: f32) -> usize {
        // The small allowance keeps rounding from refusing a row that fits exactly.
        ((space - 2.0 * self.padding) / self.leading() + 1e-3)
            .floor()
            .max(0.0) as usize
    }
}

/// A block made ready to place: its rows, and the header row repeated on each page it continues on.
struct Part {
    space_before: f32,
    header: Option<Row>,
    rows: Vec<Row>,
    /// Whether the part must share its page with the start of the next part, as a heading does.
    keep_with_next: bool,
}

impl Part {
    /// A part of `rows` after `space_before`, with no header.
    fn new(space_before: f32, rows: Vec<Row>) -> Self {
        Part {
            space_before,
            header: None,
            rows,
            keep_with_next: false,
        }
    }

    /// The report's title and the line under it, ruled off from the body.
    fn title(title: &str, subtitle: &str, width: f32) -> Self {
        Part::new(
            0.0,
            vec![
                Row::new(TITLE_SIZE, 0.0).with_text(MARGIN, width, Face::Bold, title),
                Row::new(SUBTITLE_SIZE, 2.0)
                    .with_text(MARGIN, width, Face::Regular, subtitle)
                    .with_rule(STRONG_RULE),
            ],
        )
    }

    /// `block` made ready to place in a body `width` wide.
    fn of(block: &Block, width: f32) -> Self {
        match block {
            Block::Heading(text) => {
                let row = Row::new(HEADING_SIZE, 2.0).with_text(MARGIN, width, Face::Bold, text);
                Part {
                    keep_with_next: true,
                    ..Part::new(14.0, vec![row])
                }
            }
            Block::Field(label, value) => {
                let row = Row::new(BODY_SIZE, 1.5)
                    .with_text(MARGIN, LABEL_WIDTH - 8.0, Face::Bold, label)
                    .with_text(
                        MARGIN + LABEL_WIDTH,
                        width - LABEL_WIDTH,
                        Face::Regular,
                        value,
                    );
                Part::new(0.0, vec![row])
            }
            Block::Paragraph(text) => {
                // One row per line, so a paragraph flows from one page to the next.
                let lines = wrap(&encode(text), Face::Regular, BODY_SIZE, width);
                let line_row =
                    |line| Row::new(BODY_SIZE, 0.0).with_lines(MARGIN, Face::Regular, vec![line]);
                Part::new(6.0, lines.into_iter().map(line_row).collect())
            }
            Block::Table {
                headers,
                widths,
                rows,
            } => {
                let spans = column_spans(widths, headers.len(), width);
                let body = rows
                    .iter()
                    .map(|cells| table_row(cells, &spans, Face::Regular, THIN_RULE));
                Part {
                    header: Some(table_row(headers, &spans, Face::Bold, STRONG_RULE)),
                    ..Part::new(8.0, body.collect())
                }
            }
        }
    }

    /// Height of the header and first row: what must fit for the part to start on a page.
    fn lead_height(&self) -> f32 {
        let header = self.header.as_ref().map_or(0.0, Row::height);
        header + self.rows.first().map_or(0.0, Row::height)
    }

    /// Height of all the part's rows.
    fn height(&self) -> f32 {
        self.rows.iter().map(Row::height).sum()
    }
}

/// Each column's left edge and width: `weights` shared out over the body `width`, or equal
/// shares when the weights do not suit the `columns`.
fn column_spans(weights: &[f32], columns: usize, width: f32) -> Vec<(f32, f32)> {
    let suits = weights.len() == columns && weights.iter().all(|w| w.is_finite() && *w > 0.0);
    let weights = if suits {
        weights.to_vec()
    } else {
        vec![1.0; columns]
    };
    let total: f32 = weights.iter().sum();
    let mut x = MARGIN;
    weights
        .iter()
        .map(|weight| {
            let span = (x, width * weight / total);
            x += span.1;
            span
        })
        .collect()
}

/// A table row of `cells`, one per column `spans`, each wrapped within its column.
fn table_row(cells: &[String], spans: &[(f32, f32)], face: Face, rule: Rule) -> Row {
    let row = Row::new(TABLE_SIZE, CELL_PADDING).with_rule(rule);
    spans
        .iter()
        .enumerate()
        .fold(row, |row, (index, &(x, width))| {
            let text = cells.get(index).map_or("", String::as_str);
            row.with_text(x + CELL_PADDING, width - 2.0 * CELL_PADDING, face, text)
        })
}

/// Places rows down the pages, starting a new page when the current one is full.
struct Typesetter {
    page_width: f32,
    page_height: f32,
    pages: Vec<Vec<Mark>>,
    /// Top of the free space on the current page.
    y: f32,
    /// Whether nothing but a repeated table header is on the current page yet.
    fresh: bool,
}

impl Typesetter {
    /// A typesetter at the top of a first, empty page.
    fn new(page_width: f32, page_height: f32) -> Self {
        let y = page_height - MARGIN;
        Typesetter {
            page_width,
            page_height,
            pages: vec![Vec::new()],
            y,
            fresh: true,
        }
    }

    /// Height free on the current page above the bottom margin.
    fn space_left(&self) -> f32 {
        self.y - MARGIN
    }

    /// Starts a new page, headed by `header` when a table continues on it.
    fn new_page(&mut self, header: Option<&Row>) {
        self.pages.push(Vec::new());
        self.y = self.page_height - MARGIN;
        if let Some(header) = header {
            self.draw(header, 0, header.line_count());
        }
        self.fresh = true;
    }

    /// Places `part`, first moving to a new page if its start (or, for a heading, the heading and
    /// the start of the `next` part) does not fit on this one.
    fn place_part(&mut self, part: &Part, next: Option<&Part>) {
        if !self.fresh {
            self.y -= part.space_before;
        }
        let needed = match part.keep_with_next {
            true => part.height() + next.map_or(0.0, |next| next.space_before + next.lead_height()),
            false => part.lead_height(),
        };
        if needed > self.space_left() && !self.fresh {
            self.new_page(None);
        }
        if let Some(header) = &part.header {
            self.place(header, None);
        }
        for row in &part.rows {
            self.place(row, part.header.as_ref());
        }
    }

    /// Places `row`, on a new page headed by `header` when it does not fit on this one; a row
    /// taller than a whole page is split between its lines.
    fn place(&mut self, row: &Row, header: Option<&Row>) {
        let total = row.line_count();
        let mut from = 0;
        while from < total {
            let rest = total - from;
            let room = row.lines_fitting(self.space_left());
            if room < rest && !self.fresh {
                self.new_page(header);
                continue;
            }
            let to = from + room.clamp(1, rest);
            self.draw(row, from, to);
            from = to;
        }
    }

    /// Draws lines `from..to` of `row` at the top of the free space, and its rule under them.
    fn draw(&mut self, row: &Row, from: usize, to: usize) {
        let page = self
            .pages
            .last_mut()
            .expect("a typesetter always has a page");
        let top = self.y - row.padding;
        for cell in &row.cells {
            for (index, line) in cell.lines.iter().enumerate().take(to).skip(from) {
                let line_bottom = top - (index - from + 1) as f32 * row.leading();
                if !line.is_empty() {
                    page.push(Mark::Text {
                        face: cell.face,
                        size: row.size,
                        x: cell.x,
                        y: line_bottom + DESCENT * row.size,
                        text: line.clone(),
                    });
                }
            }
        }
        self.y -= row.height_of(to - from);
        if let Some(rule) = row.rule {
            page.push(Mark::Rule {
                x1: MARGIN,
                x2: self.page_width - MARGIN,
                y: self.y,
                rule,
            });
        }
        self.fresh = false;
    }
}

/// Adds to each page the report's `title` (left) and "Page N of M" (right) under the body.
fn add_footers(pages: &mut [Vec<Mark>], title: &str, page_width: f32) {
    let count = pages.len();
    let right = page_width - MARGIN;
    for (index, page) in pages.iter_mut().enumerate() {
        let number = encode(&format!("Page {} of {count}", index + 1));
        let number_width = Face::Regular.width(&number, FOOTER_SIZE);
        let title_room = right - MARGIN - number_width - 12.0;
        let footer = |x, text| Mark::Text {
            face: Face::Regular,
            size: FOOTER_SIZE,
            x,
            y: FOOTER_BASELINE,
            text,
        };
        page.push(footer(
            MARGIN,
            truncate(&encode(title), Face::Regular, FOOTER_SIZE, title_room),
        ));
        page.push(footer(right - number_width, number));
    }
}

/// The laid-out pages as a PDF file: catalog, page tree, document info, the two standard fonts,
/// and each page with its compressed content stream.
fn write_pdf(title: &str, layout: &Layout) -> Vec<u8> {
    let catalog = Ref::new(1);
    let page_tree = Ref::new(2);
    let info = Ref::new(3);
    let regular = Ref::new(4);
    let bold = Ref::new(5);
    let count = i32::try_from(layout.pages.len()).expect("a report has fewer than 2^31 pages");
    let page_refs: Vec<(Ref, Ref)> = (0..count)
        .map(|index| (Ref::new(6 + 2 * index), Ref::new(7 + 2 * index)))
        .collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(page_tree);
    pdf.pages(page_tree)
        .kids(page_refs.iter().map(|&(page, _)| page))
        .count(count);
    pdf.document_info(info)
        .title(TextStr(title))
        .producer(TextStr("Armstrace"));
    for (face, id) in [(Face::Regular, regular), (Face::Bold, bold)] {
        pdf.type1_font(id)
            .base_font(face.base_font())
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }

    let media_box = Rect::new(0.0, 0.0, layout.width, layout.height);
    for (marks, &(page_id, content_id)) in layout.pages.iter().zip(&page_refs) {
        let mut page = pdf.page(page_id);
        page.parent(page_tree)
            .media_box(media_box)
            .contents(content_id);
        page.resources()
            .fonts()
            .pair(Face::Regular.resource(), regular)
            .pair(Face::Bold.resource(), bold);
        // The page must be finished before its content stream is written.
        drop(page);
        let content = compress_to_vec_zlib(&paint(marks), COMPRESSION_LEVEL);
        pdf.stream(content_id, &content).filter(Filter::FlateDecode);
    }
    pdf.finish()
}

/// The content stream drawing `marks`.
fn paint(marks: &[Mark]) -> Vec<u8> {
    let mut content = Content::new();
    for mark in marks {
        match mark {
            Mark::Text {
                face,
                size,
                x,
                y,
                text,
            } => {
                content
                    .begin_text()
                    .set_font(face.resource(), *size)
                    .next_line(*x, *y)
                    .show(Str(text))
                    .end_text();
            }
            Mark::Rule { x1, x2, y, rule } => {
                content
                    .set_line_width(rule.thickness)
                    .set_stroke_gray(rule.gray)
                    .move_to(*x1, *y)
                    .line_to(*x2, *y)
                    .stroke();
            }
        }
    }
    content.finish().into_vec()
}

/// Reading back what a PDF written here shows: its content streams are compressed, so its words
/// cannot be searched as they are. For the tests of this crate and of the service.
#[doc(hidden)]
pub mod inspect {
    use miniz_oxide::inflate::decompress_to_vec_zlib;

    pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack
            .windows(needle.len())
            .position(|window| window == needle)
    }

    /// Each stream of the file inflated, in file order (here: the pages' contents, in page
    /// order); None when the file is not laid out as ours are. Each stream is read by the
    /// `/Length` of its dictionary: its compressed bytes may hold anything, `endstream` too.
    pub fn streams(pdf: &[u8]) -> Option<Vec<Vec<u8>>> {
        let mut inflated = Vec::new();
        let mut at = 0;
        while let Some(found) = find(&pdf[at..], b"/Length ") {
            let digits_at = at + found + b"/Length ".len();
            let digits = pdf[digits_at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let length: usize = std::str::from_utf8(&pdf[digits_at..digits_at + digits])
                .ok()?
                .parse()
                .ok()?;
            let keyword = digits_at + find(&pdf[digits_at..], b"stream")?;
            let mut start = keyword + b"stream".len();
            start += usize::from(pdf.get(start) == Some(&b'\r'));
            if pdf.get(start) != Some(&b'\n') {
                return None;
            }
            start += 1;
            let data = pdf.get(start..start + length)?;
            inflated.push(decompress_to_vec_zlib(data).ok()?);
            at = start + length;
        }
        Some(inflated)
    }

    /// The strings a content stream shows, from their literal `(…)` or hex `<…>` form.
    pub fn shown_strings(content: &[u8]) -> Vec<Vec<u8>> {
        let mut strings = Vec::new();
        let mut bytes = content.iter().copied();
        while let Some(byte) = bytes.next() {
            match byte {
                b'(' => strings.push(literal_string(&mut bytes)),
                b'<' => {
                    let hex: Vec<u8> = bytes.by_ref().take_while(|&b| b != b'>').collect();
                    let decoded = hex
                        .chunks(2)
                        .filter_map(|pair| std::str::from_utf8(pair).ok())
                        .filter_map(|pair| u8::from_str_radix(pair, 16).ok());
                    strings.push(decoded.collect());
                }
                _ => {}
            }
        }
        strings
    }

    /// The rest of a literal string whose `(` has been read; only `\\`, `\(` and `\)` occur in ours.
    fn literal_string(bytes: &mut impl Iterator<Item = u8>) -> Vec<u8> {
        let mut string = Vec::new();
        let mut depth = 0;
        while let Some(byte) = bytes.next() {
            match byte {
                b'\\' => string.extend(bytes.next()),
                b')' if depth == 0 => break,
                b'(' | b')' => {
                    depth += if byte == b'(' { 1 } else { -1 };
                    string.push(byte);
                }
                _ => string.push(byte),
            }
        }
        string
    }

    /// The strings shown on each page of `pdf`.
    pub fn pages_text(pdf: &[u8]) -> Option<Vec<Vec<Vec<u8>>>> {
        Some(
            streams(pdf)?
                .iter()
                .map(|content| shown_strings(content))
                .collect(),
        )
    }

    /// Every string `pdf` shows, in order, its WinAnsi bytes read as Latin-1 (exact for
    /// ASCII, which is what a test looks for).
    pub fn shown_text(pdf: &[u8]) -> Option<Vec<String>> {
        Some(
            pages_text(pdf)?
                .into_iter()
                .flatten()
                .map(|string| string.into_iter().map(char::from).collect())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::inspect::{find, pages_text};
    use super::*;

    fn owned(value: &str) -> String {
        value.to_owned()
    }

    /// A portrait report of `blocks` under a short title.
    fn report_of(blocks: Vec<Block>) -> Report {
        let (title, subtitle) = (owned("T"), owned("S"));
        Report {
            title,
            subtitle,
            blocks,
            landscape: false,
        }
    }

    /// A trace report whose table of 120 records runs over several pages.
    fn long_report() -> Report {
        let records = (1..=120)
            .map(|n| {
                vec![
                    format!("R-{n:04}"),
                    owned("Beretta"),
                    owned("92FS"),
                    format!("SN{n:06}"),
                ]
            })
            .collect();
        Report {
            title: owned("Trace TR-0042"),
            subtitle: owned("Produced by Sgt. Dubois, 2024-05-01 10:00"),
            blocks: vec![
                Block::Heading(owned("Firearm")),
                Block::Field(owned("Serial number"), owned("AB123456")),
                Block::Field(owned("Owner"), owned("Иван Café")),
                Block::Paragraph("Recovered at the scene of the burglary. ".repeat(30)),
                Block::Heading(owned("Records")),
                Block::Table {
                    headers: vec![
                        owned("Record no."),
                        owned("Make"),
                        owned("Model"),
                        owned("Serial"),
                    ],
                    widths: vec![1.0, 2.0, 2.0, 2.0],
                    rows: records,
                },
            ],
            landscape: false,
        }
    }

    /// Whether one of `strings` contains `needle`.
    fn shows(strings: &[Vec<u8>], needle: &[u8]) -> bool {
        strings.iter().any(|string| find(string, needle).is_some())
    }

    #[test]
    fn a_report_is_a_complete_pdf_file() {
        let pdf = long_report().to_pdf();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
        for part in [
            &b"/Type /Catalog"[..],
            b"/Type /Pages",
            b"/Producer (Armstrace)",
            b"/Title (Trace TR-0042)",
            b"/BaseFont /Helvetica-Bold",
            b"/Encoding /WinAnsiEncoding",
            b"/Filter /FlateDecode",
            b"xref",
            b"trailer",
        ] {
            assert!(
                find(&pdf, part).is_some(),
                "{}",
                String::from_utf8_lossy(part)
            );
        }
    }

    #[test]
    fn a_long_report_takes_several_pages_counted_in_the_page_tree() {
        let pdf = long_report().to_pdf();
        let pages = pages_text(&pdf).expect("a PDF of ours");
        let count = pages.len();
        assert!(count > 1, "{count} pages");
        assert!(find(&pdf, format!("/Count {count}").as_bytes()).is_some());
        for (index, page) in pages.iter().enumerate() {
            let number = format!("Page {} of {count}", index + 1);
            assert!(
                shows(page, number.as_bytes()),
                "page {index} lacks {number}"
            );
            assert!(
                shows(page, b"Trace TR-0042"),
                "page {index} lacks the title"
            );
        }
    }

    #[test]
    fn the_first_page_shows_the_title_and_fields() {
        let pages = pages_text(&long_report().to_pdf()).expect("a PDF of ours");
        for expected in [
            &b"Trace TR-0042"[..],
            b"Produced by Sgt. Dubois",
            b"Serial number",
            b"AB123456",
        ] {
            assert!(
                shows(&pages[0], expected),
                "{}",
                String::from_utf8_lossy(expected)
            );
        }
    }

    #[test]
    fn a_table_continued_on_a_new_page_repeats_its_header() {
        let pages = pages_text(&long_report().to_pdf()).expect("a PDF of ours");
        let count = pages.len();
        assert!(shows(&pages[1], format!("Page 2 of {count}").as_bytes()));
        for page in &pages[1..] {
            assert!(shows(page, b"Record no."));
            assert!(shows(page, b"Serial"));
        }
        assert!(shows(&pages[count - 1], b"R-0120"));
    }

    #[test]
    fn letters_are_drawn_in_windows_1252_and_others_as_question_marks() {
        let pages = pages_text(&long_report().to_pdf()).expect("a PDF of ours");
        assert!(shows(&pages[0], b"???? Caf\xe9"));
        assert!(
            !shows(&pages[0], "é".as_bytes()),
            "no UTF-8 reaches the page"
        );
        assert_eq!(encode("€ “x” – … Ω\tœ"), b"\x80 \x93x\x94 \x96 \x85 ? \x9c");
    }

    #[test]
    fn no_wrapped_line_is_wider_than_the_line() {
        let text =
            encode(&"Serial numbers recorded by the Bundeskriminalamt — WWW MMM iii. ".repeat(20));
        for (face, max_width) in [
            (Face::Regular, 80.0),
            (Face::Bold, 150.0),
            (Face::Regular, 515.0),
        ] {
            let lines = wrap(&text, face, BODY_SIZE, max_width);
            assert!(lines.len() > 1);
            for line in &lines {
                assert!(
                    face.width(line, BODY_SIZE) <= max_width,
                    "{line:?} is too wide"
                );
            }
            let letters = |text: &[u8]| text.iter().filter(|&&b| b != b' ').count();
            assert_eq!(
                lines.iter().map(|line| letters(line)).sum::<usize>(),
                letters(&text)
            );
        }
    }

    #[test]
    fn a_word_longer_than_a_line_is_broken() {
        let word = "W".repeat(60);
        let lines = wrap(
            &encode(&format!("serial {word} end")),
            Face::Bold,
            BODY_SIZE,
            100.0,
        );
        assert!(lines.len() > 3, "{lines:?}");
        assert_eq!(lines[0], b"serial");
        assert!(
            lines
                .iter()
                .all(|line| Face::Bold.width(line, BODY_SIZE) <= 100.0)
        );
        assert_eq!(lines[1..].concat(), format!("{word}end").as_bytes());
    }

    /// The index of the first page of `layout` showing `needle`.
    fn page_showing(layout: &Layout, needle: &[u8]) -> Option<usize> {
        layout.pages.iter().position(|marks| {
            marks
                .iter()
                .any(|mark| matches!(mark, Mark::Text { text, .. } if text == needle))
        })
    }

    #[test]
    fn a_heading_is_never_left_alone_at_the_foot_of_a_page() {
        // Enough fields before the heading to push it down to every position on the first page.
        for fields in 40..70 {
            let mut blocks = vec![Block::Field(owned("Line"), owned("value")); fields];
            blocks.push(Block::Heading(owned("Findings")));
            blocks.push(Block::Paragraph(owned("The findings follow.")));
            let layout = report_of(blocks).layout();
            assert_eq!(
                page_showing(&layout, b"Findings"),
                page_showing(&layout, b"The findings follow."),
                "after {fields} fields"
            );
        }
    }

    #[test]
    fn a_table_cell_wraps_within_its_column_and_its_row_is_as_tall_as_that_cell() {
        let long = "Recovered from a canal and handed in to the station. ".repeat(4);
        let blocks = vec![Block::Table {
            headers: vec![owned("Note"), owned("Record")],
            widths: vec![1.0, 3.0],
            rows: vec![
                vec![long.clone(), owned("R-1")],
                vec![owned("Next"), owned("R-2")],
            ],
        }];
        let layout = report_of(blocks).layout();
        let column = (A4_WIDTH - 2.0 * MARGIN) / 4.0 - 2.0 * CELL_PADDING;
        let note_lines: Vec<(f32, f32)> = layout.pages[0]
            .iter()
            .filter_map(|mark| match mark {
                Mark::Text { text, x, y, .. } if find(&encode(&long), text).is_some() => {
                    assert!(Face::Regular.width(text, TABLE_SIZE) <= column);
                    Some((*x, *y))
                }
                _ => None,
            })
            .collect();
        assert!(note_lines.len() > 3, "{note_lines:?}");
        assert!(note_lines.iter().all(|&(x, _)| x == MARGIN + CELL_PADDING));
        let lowest = note_lines.iter().map(|&(_, y)| y).fold(f32::MAX, f32::min);
        let next_y = layout.pages[0].iter().find_map(|mark| match mark {
            Mark::Text { text, y, .. } if text == b"Next" => Some(*y),
            _ => None,
        });
        assert!(next_y.expect("the second row is drawn") < lowest);
    }

    #[test]
    fn landscape_pages_are_wider_than_tall() {
        let report = Report {
            landscape: true,
            ..long_report()
        };
        let layout = report.layout();
        assert!(layout.width > layout.height);
        assert!(layout.pages.len() > long_report().layout().pages.len());
    }
}
