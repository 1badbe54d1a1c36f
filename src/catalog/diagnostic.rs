//! Diagnostics: what the loader reports about a catalog (code, severity, file:line:col, message, help) and how it is rendered.

use std::fmt;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use serde::Serialize;

/// Identifies one loaded source file within a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileId(pub u32);

/// A region of a source file: a byte range plus its 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
    pub line: u32,
    pub column: u32,
}

impl Span {
    /// A span covering a whole file's first position; used for file-level problems.
    pub fn file_start(file: FileId) -> Self {
        Span {
            file,
            start: 0,
            end: 0,
            line: 1,
            column: 1,
        }
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

macro_rules! codes {
    ($($name:ident = $code:literal, $sev:ident, $title:literal, $help:literal;)*) => {
        /// Stable diagnostic codes. `E` codes are errors, `W` codes warnings. Codes are never reused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($name,)* }

        impl Code {
            /// Every code, in order; each one has a fixture under `tests/fixtures/diagnostics/`.
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            /// The stable code string, e.g. `E012`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code,)* }
            }

            /// The severity this code always has.
            pub fn severity(self) -> Severity {
                match self { $(Code::$name => Severity::$sev,)* }
            }

            /// A one-line title for documentation.
            pub fn title(self) -> &'static str {
                match self { $(Code::$name => $title,)* }
            }

            /// General advice, used when a diagnostic has nothing more specific to say.
            pub fn default_help(self) -> &'static str {
                match self { $(Code::$name => $help,)* }
            }
        }
    };
}

codes! {
    Io = "E001", Error, "a file could not be read", "check that the file is readable and saved as UTF-8 text";
    TooLarge = "E002", Error, "a file is larger than the limit", "split the file into smaller ones";
    YamlSyntax = "E003", Error, "the YAML is malformed", "check the indentation, brackets and quotes near this point";
    YamlLimit = "E004", Error, "the YAML exceeds a nesting, alias or size limit", "simplify the YAML: fewer aliases, less nesting";
    DuplicateKey = "E005", Error, "a mapping has the same key twice", "YAML keys must be unique: remove or rename one of them";
    UnknownKey = "E006", Error, "a key is not part of the format", "see docs/catalog-format.md for the keys allowed here";
    WrongType = "E007", Error, "a value has the wrong type", "see docs/catalog-format.md for the type expected here";
    MissingKey = "E008", Error, "a required key is missing", "add the missing key";
    InvalidId = "E009", Error, "an id does not follow the naming rules", "see the naming rules in docs/catalog-format.md";
    DuplicateId = "E010", Error, "two things share an id", "give each one its own id";
    UnknownOption = "E011", Error, "an option is referenced that the product does not have", "use an option id defined under `options:`";
    UnknownValue = "E012", Error, "a value is referenced that the option does not have", "use a value listed under the option's `values:`";
    ExprSyntax = "E013", Error, "an expression does not parse", "see the expression grammar in docs/catalog-format.md";
    ExprType = "E014", Error, "an expression mixes types", "compare choices with their own values and numbers with numbers";
    InvalidMoney = "E015", Error, "a money amount or percentage is malformed", "write amounts as decimal strings such as \"19.00\" and percentages such as `10%`";
    InvalidRange = "E016", Error, "an integer or length range is inconsistent", "make min ≤ max, with max reachable from min in whole steps";
    InvalidDefault = "E017", Error, "a default is not a valid value of its option", "use one of the option's values";
    MissingFile = "E018", Error, "a referenced file does not exist", "check the path: paths are relative to the catalog directory";
    BadTemplate = "E019", Error, "a preview template is not usable SVG", "save the template as plain SVG";
    UnknownElement = "E020", Error, "a binding names an element the template lacks", "add the id to the element in the template, or fix the binding";
    UnknownFont = "E021", Error, "a font is not shipped in assets/fonts", "use a font shipped in assets/fonts";
    InvalidTable = "E022", Error, "a table constraint is malformed", "give every row one cell per table option";
    InvalidBinding = "E023", Error, "a preview binding is malformed", "see the preview bindings in docs/catalog-format.md";
    InvalidText = "E024", Error, "a text option's charset or pattern is invalid", "fix the character set or the regular expression";
    InvalidColor = "E025", Error, "a colour is not #rrggbb", "write colours as \"#rrggbb\"";
    PathEscape = "E026", Error, "a path leaves the catalog directory", "use a relative path inside the catalog directory";
    UnknownCurrency = "E027", Error, "a currency code is not ISO 4217", "use an ISO 4217 code such as EUR, USD or GBP";
    UnknownGroup = "E028", Error, "an option names an undeclared group", "declare the group under `groups:`";
    InvalidRule = "E029", Error, "a rule has no form or several", "give each rule exactly one form or effect";
    InvalidTiers = "E030", Error, "quantity tiers are malformed", "list tiers by ascending `min`, each with `unit_price` or `discount`";
    InvalidQuantity = "E031", Error, "a product has more than one quantity option", "use a single quantity option";
    EmptyCatalog = "E032", Error, "the catalog has no products", "add a product file under catalog/";
    BrokenDependency = "E033", Error, "a product uses a rules file that has errors", "fix the errors reported in that file";
    UnusedRules = "W001", Warning, "a rules file is used by no product", "reference it from a product, or delete it";
    ImpossibleProduct = "E100", Error, "a product has no valid configuration", "relax one of the conflicting rules";
    DeadValue = "W101", Warning, "a value can never be chosen", "remove the value or relax the rules that exclude it";
    ForcedValue = "W102", Warning, "an option always has the same value", "drop the option or relax the rules that force it";
    RedundantRule = "W103", Warning, "a rule is implied by the others", "remove the rule unless it documents intent";
    ConflictingDefaults = "W104", Warning, "the defaults together break a rule", "change one of the conflicting defaults";
    AnalysisIncomplete = "W105", Warning, "analysis stopped at its work limit", "the product is usable; its rules are too large to analyse exhaustively";
    OverlappingPriceRules = "W106", Warning, "two price rules compete and can apply together", "merge the rules, or make their conditions exclusive";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A secondary location that explains a diagnostic (e.g. "first defined here").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in a catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    /// What the merchant can do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            span,
            message: message.into(),
            help: Some(code.default_help().to_owned()),
            labels: Vec::new(),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The text of every file the loader read, so diagnostics can be located and rendered.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

#[derive(Debug, Clone)]
struct SourceFile {
    path: String,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceMap {
    pub fn add(&mut self, path: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        self.files.push(SourceFile {
            path: path.into(),
            text,
            line_starts,
        });
        FileId(u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX))
    }

    pub fn path(&self, id: FileId) -> &str {
        self.files
            .get(id.0 as usize)
            .map_or("<unknown>", |f| f.path.as_str())
    }

    pub fn text(&self, id: FileId) -> &str {
        self.files
            .get(id.0 as usize)
            .map_or("", |f| f.text.as_str())
    }

    pub fn find(&self, path: &str) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.path == path)
            .and_then(|i| u32::try_from(i).ok())
            .map(FileId)
    }

    /// Builds a span for a byte range, computing its 1-based line and (character) column.
    pub fn span(&self, file: FileId, start: usize, end: usize) -> Span {
        let Some(f) = self.files.get(file.0 as usize) else {
            return Span {
                file,
                start,
                end,
                line: 1,
                column: 1,
            };
        };
        let start = start.min(f.text.len());
        let end = end.clamp(start, f.text.len());
        let line_idx = match f.line_starts.binary_search(&start) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let line_start = f.line_starts.get(line_idx).copied().unwrap_or(0);
        let column = f
            .text
            .get(line_start..start)
            .map_or(0, |s| s.chars().count())
            + 1;
        Span {
            file,
            start,
            end,
            line: u32::try_from(line_idx + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    /// Byte offset of a 1-based line and character column, clamped to the file.
    pub fn offset_of(&self, file: FileId, line: u64, column: u64) -> usize {
        let Some(f) = self.files.get(file.0 as usize) else {
            return 0;
        };
        let li = usize::try_from(line.saturating_sub(1)).unwrap_or(usize::MAX);
        let Some(&ls) = f.line_starts.get(li) else {
            return f.text.len();
        };
        let col = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
        let rest = f.text.get(ls..).unwrap_or("");
        let line_end = rest.find('\n').unwrap_or(rest.len());
        rest[..line_end]
            .char_indices()
            .nth(col)
            .map_or(ls + line_end.min(col), |(i, _)| ls + i)
    }

    /// Renders diagnostics rustc-style, with source snippets, without colour.
    pub fn render(&self, diagnostics: &[Diagnostic]) -> String {
        let mut out = term::termcolor::NoColor::new(Vec::new());
        self.render_to(diagnostics, &mut out, false);
        String::from_utf8_lossy(&out.into_inner()).into_owned()
    }

    /// Renders diagnostics to a terminal writer (coloured when `color` is set).
    pub fn render_to(
        &self,
        diagnostics: &[Diagnostic],
        out: &mut dyn term::termcolor::WriteColor,
        _color: bool,
    ) {
        let mut files = SimpleFiles::new();
        for f in &self.files {
            files.add(f.path.clone(), f.text.clone());
        }
        let config = term::Config::default();
        for d in diagnostics {
            let sev = match d.severity {
                Severity::Error => cs::Severity::Error,
                Severity::Warning => cs::Severity::Warning,
            };
            let file = d.span.file.0 as usize;
            let mut labels = vec![cs::Label::primary(file, d.span.start..d.span.end)];
            for l in &d.labels {
                labels.push(
                    cs::Label::secondary(l.span.file.0 as usize, l.span.start..l.span.end)
                        .with_message(l.message.clone()),
                );
            }
            let mut diag = cs::Diagnostic::new(sev)
                .with_code(d.code.as_str())
                .with_message(d.message.clone())
                .with_labels(labels);
            if let Some(h) = &d.help {
                diag = diag.with_notes(vec![format!("help: {h}")]);
            }
            if term::emit(out, &config, &files, &diag).is_err() {
                // A file id without text (should not happen): fall back to a plain line.
                let _ = writeln!(
                    out,
                    "{}[{}]: {} ({}:{}:{})",
                    match d.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                    },
                    d.code,
                    d.message,
                    self.path(d.span.file),
                    d.span.line,
                    d.span.column
                );
            }
        }
    }

    /// Diagnostics as records (one each, with the file path resolved): the JSON form
    /// `bespoke check --format json` prints and the admin API answers with.
    pub fn records(&self, diagnostics: &[Diagnostic]) -> Vec<DiagnosticRecord> {
        diagnostics
            .iter()
            .map(|d| DiagnosticRecord {
                code: d.code.as_str().to_owned(),
                severity: d.severity,
                file: self.path(d.span.file).to_owned(),
                line: d.span.line,
                column: d.span.column,
                message: d.message.clone(),
                help: d.help.clone(),
                labels: d
                    .labels
                    .iter()
                    .map(|l| LabelRecord {
                        file: self.path(l.span.file).to_owned(),
                        line: l.span.line,
                        column: l.span.column,
                        message: l.message.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// The JSON form of diagnostics (see [`SourceMap::records`]).
    pub fn to_json(&self, diagnostics: &[Diagnostic]) -> serde_json::Value {
        serde_json::to_value(self.records(diagnostics)).unwrap_or_default()
    }
}

/// A diagnostic as a record: code, severity, location (file:line:column), message, help and
/// secondary labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DiagnosticRecord {
    /// Stable code, e.g. `E012`.
    pub code: String,
    pub severity: Severity,
    /// Path relative to the catalog directory.
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub help: Option<String>,
    pub labels: Vec<LabelRecord>,
}

/// A secondary location of a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LabelRecord {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}
