//! Variant tables in their own files: a rule's `table: rules/x.csv` (or `.tsv`) is read here, its header as option ids and each line as one row of cells (`*`, a value, or values separated by `|`), resolved straight to table rows with every problem located at file:line:column.

use foldhash::HashMap;

use super::diagnostic::{Code, FileId, Span};
use super::model::{Cell, OptionDef, OptionKind, Table, TableBuilder, Value};
use super::read::Cx;
use super::rules_file::cell_value;

/// Most rows a table file may hold (the file's size is bounded by `files::MAX_TABLE_BYTES`).
pub const MAX_TABLE_ROWS: usize = 1_000_000;
/// Most problems reported per table file: past this, the rest are counted in one diagnostic.
const MAX_REPORTED: usize = 50;

/// Whether a catalog path is a table file.
pub fn is_table_file(path: &str) -> bool {
    path.starts_with("rules/") && (path.ends_with(".csv") || path.ends_with(".tsv"))
}

/// The header of a table file, read without a product: its option ids with their spans.
#[derive(Debug, Clone)]
pub struct TableFileDraft {
    pub path: String,
    pub file: FileId,
    pub options: Vec<(String, Span)>,
}

/// One field of a line: its text (quotes removed) and byte range in the file.
struct Field {
    text: String,
    start: usize,
    end: usize,
}

/// Splits one line (starting at byte `base` of the file) into fields: `delim`-separated,
/// a field may be double-quoted with `""` for a quote. Surrounding spaces are trimmed.
fn fields(line: &str, base: usize, delim: char) -> Vec<Field> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    loop {
        // Skip leading spaces.
        while let Some(&(_, c)) = chars.peek() {
            if c == ' ' || (c == '\t' && delim != '\t') {
                chars.next();
            } else {
                break;
            }
        }
        let start = chars.peek().map_or(line.len(), |&(i, _)| i);
        let mut text = String::new();
        let mut end = start;
        if chars.peek().is_some_and(|&(_, c)| c == '"') {
            chars.next();
            end = start + 1;
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    end = i + 1;
                    if chars.peek().is_some_and(|&(_, c)| c == '"') {
                        chars.next();
                        text.push('"');
                        continue;
                    }
                    break;
                }
                text.push(c);
                end = i + c.len_utf8();
            }
            // Anything after the closing quote, up to the delimiter, is ignored.
            let closed = chars.by_ref().any(|(_, c)| c == delim);
            out.push(Field {
                text,
                start: base + start,
                end: base + end,
            });
            if !closed {
                break;
            }
            continue;
        }
        let mut closed = false;
        for (i, c) in chars.by_ref() {
            if c == delim {
                closed = true;
                break;
            }
            text.push(c);
            end = i + c.len_utf8();
        }
        let trimmed = text.trim_end().len();
        end -= text.len() - trimmed;
        text.truncate(trimmed);
        out.push(Field {
            text,
            start: base + start,
            end: base + end.max(start),
        });
        if !closed {
            break;
        }
    }
    out
}

/// The lines of a file with their byte offsets, `\r\n` endings and blank lines left out.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = 0;
    text.split('\n').filter_map(move |l| {
        let base = at;
        at += l.len() + 1;
        let l = l.strip_suffix('\r').unwrap_or(l);
        (!l.trim().is_empty()).then_some((base, l))
    })
}

fn delimiter(path: &str) -> char {
    if path.ends_with(".tsv") { '\t' } else { ',' }
}

/// Reads a table file's header (the option ids). Reports a missing or empty file at `at`.
pub fn read_header(cx: &mut Cx<'_>, path: &str, at: Span) -> Option<TableFileDraft> {
    if !is_table_file(path) {
        cx.error(
            Code::InvalidTable,
            at,
            format!("`{path}` is not a table file"),
            Some("name a CSV or TSV file under rules/, e.g. `rules/engine-gearbox.csv`".into()),
        );
        return None;
    }
    let Some(file) = cx.sources.find(path) else {
        cx.error(
            Code::MissingFile,
            at,
            format!("the table file `{path}` does not exist"),
            Some("paths are relative to the catalog directory, e.g. `rules/engine.csv`".into()),
        );
        return None;
    };
    // A file too large or not UTF-8 is registered empty, with an error of its own.
    if cx
        .diags
        .iter()
        .any(|d| d.span.file == file && matches!(d.code, Code::Io | Code::TooLarge))
    {
        cx.error(
            Code::BrokenDependency,
            at,
            format!("the table file `{path}` cannot be read"),
            Some("fix the error reported in that file".into()),
        );
        return None;
    }
    let text = cx.sources.text(file);
    let Some((base, header)) = lines(text).next() else {
        cx.error(
            Code::InvalidTable,
            cx.sources.span(file, 0, 0),
            "the table file is empty",
            Some("its first line names the table's options, e.g. `engine,gearbox`".into()),
        );
        return None;
    };
    let mut options = Vec::new();
    for f in fields(header, base, delimiter(path)) {
        let span = cx.sources.span(file, f.start, f.end);
        if f.text.is_empty() {
            cx.error(
                Code::InvalidTable,
                span,
                "a header cell is empty",
                Some("every column names one option".into()),
            );
            return None;
        }
        options.push((f.text, span));
    }
    Some(TableFileDraft {
        path: path.to_owned(),
        file,
        options,
    })
}

/// A column's values by their text, so that a cell resolves without a search.
fn lookup(opt: &OptionDef) -> HashMap<String, Value> {
    match &opt.kind {
        OptionKind::Choice(c) => c
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| (v.id.clone(), Value::Choice(i)))
            .collect(),
        OptionKind::Boolean { .. } => [
            ("true".to_owned(), Value::Bool(true)),
            ("false".to_owned(), Value::Bool(false)),
        ]
        .into_iter()
        .collect(),
        _ => HashMap::default(),
    }
}

/// Reads a table file's rows against a product's options (`cols`: the header's option
/// indices). Every problem is reported at its cell; `None` when there was any.
pub fn resolve_rows(
    cx: &mut Cx<'_>,
    options: &[OptionDef],
    draft: &TableFileDraft,
    cols: Vec<usize>,
    allow: bool,
) -> Option<Table> {
    let text = cx.sources.text(draft.file);
    let delim = delimiter(&draft.path);
    let maps: Vec<HashMap<String, Value>> = cols.iter().map(|&o| lookup(&options[o])).collect();
    let mut table = TableBuilder::new(cols.clone(), allow);
    let mut problems = 0usize;
    let mut row: Vec<Cell> = Vec::with_capacity(cols.len());
    for (base, line) in lines(text).skip(1) {
        if table.len() >= MAX_TABLE_ROWS {
            let span = cx.sources.span(draft.file, base, base + line.len());
            cx.error(
                Code::TooLarge,
                span,
                format!("the table has more than {MAX_TABLE_ROWS} rows (the table file limit)"),
                Some("split the table into several rules over the same options".into()),
            );
            return None;
        }
        let cells = fields(line, base, delim);
        if cells.len() != cols.len() {
            let span = cx.sources.span(draft.file, base, base + line.len());
            let (n, want) = (cells.len(), cols.len());
            problems += 1;
            if problems <= MAX_REPORTED {
                cx.error(
                    Code::InvalidTable,
                    span,
                    format!(
                        "this row has {n} cell{}; the table has {want} options",
                        if n == 1 { "" } else { "s" }
                    ),
                    Some("give one cell per header column, using * for any value".into()),
                );
            }
            continue;
        }
        row.clear();
        for (j, f) in cells.iter().enumerate() {
            if f.text == "*" {
                row.push(Cell::Any);
                continue;
            }
            let mut values = Vec::new();
            let mut at = f.start + usize::from(text.as_bytes().get(f.start) == Some(&b'"'));
            for part in f.text.split('|') {
                let lead = part.len() - part.trim_start().len();
                let v = part.trim();
                let start = at + lead;
                at += part.len() + 1;
                match maps[j].get(v) {
                    Some(value) => values.push(value.clone()),
                    None => {
                        let span = cx.sources.span(draft.file, start, start + v.len());
                        let opt = &options[cols[j]];
                        let before = cx.diags.len();
                        let found = cell_value(cx, opt, v, span);
                        // `cell_value` reported the problem (with its help) when it found none.
                        if cx.diags.len() > before {
                            problems += 1;
                            if problems > MAX_REPORTED {
                                cx.diags.truncate(before);
                            }
                        }
                        if let Some(value) = found {
                            values.push(value);
                        }
                    }
                }
            }
            row.push(Cell::Values(values));
        }
        table.push_row(row.drain(..));
    }
    if problems > MAX_REPORTED {
        let span = cx.sources.span(draft.file, 0, 0);
        cx.error(
            Code::InvalidTable,
            span,
            format!(
                "{} more problems in this table file are not shown",
                problems - MAX_REPORTED
            ),
            None,
        );
    }
    (problems == 0).then(|| table.finish())
}

#[cfg(test)]
mod tests {
    use super::fields;

    fn texts(line: &str, delim: char) -> Vec<(String, usize, usize)> {
        fields(line, 10, delim)
            .into_iter()
            .map(|f| (f.text, f.start, f.end))
            .collect()
    }

    #[test]
    fn fields_keep_their_positions() {
        assert_eq!(
            texts("a, bb ,*", ','),
            vec![
                ("a".into(), 10, 11),
                ("bb".into(), 13, 15),
                ("*".into(), 17, 18)
            ]
        );
        assert_eq!(
            texts("\"x,y\",z", ','),
            vec![("x,y".into(), 10, 15), ("z".into(), 16, 17)]
        );
        assert_eq!(
            texts("a\t\tb", '\t'),
            vec![
                ("a".into(), 10, 11),
                (String::new(), 12, 12),
                ("b".into(), 13, 14)
            ]
        );
        assert_eq!(
            texts("a,", ','),
            vec![("a".into(), 10, 11), (String::new(), 12, 12)]
        );
    }
}
