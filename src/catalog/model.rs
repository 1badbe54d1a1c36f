//! The resolved catalog model: typed products, options, constraints, price rules and previews, referring to each other by index.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Serialize;

use super::diagnostic::{SourceMap, Span};
use super::expr::{Expr, Term, Val};
use super::money::Currency;

/// Index of an option within its product (`product.options[i]`).
pub type OptId = usize;

/// A loaded catalog: every usable product, the sources they came from, and the catalog version.
#[derive(Debug, Clone)]
pub struct Catalog {
    products: Vec<Arc<Product>>,
    by_id: BTreeMap<String, usize>,
    /// Hash over every product's version: changes whenever any product changes.
    pub version: String,
    /// The text of every file loaded, for rendering diagnostics about this catalog.
    pub sources: Arc<SourceMap>,
}

impl Catalog {
    pub fn new(products: Vec<Product>, version: String, sources: Arc<SourceMap>) -> Self {
        let products: Vec<Arc<Product>> = products.into_iter().map(Arc::new).collect();
        let by_id = products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        Catalog {
            products,
            by_id,
            version,
            sources,
        }
    }

    pub fn products(&self) -> &[Arc<Product>] {
        &self.products
    }

    pub fn product(&self, id: &str) -> Option<&Arc<Product>> {
        self.by_id.get(id).and_then(|&i| self.products.get(i))
    }
}

/// One customizable product, fully resolved.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub currency: Currency,
    pub base_price: Decimal,
    pub groups: Vec<Group>,
    pub options: Vec<OptionDef>,
    pub constraints: Vec<Constraint>,
    pub price_rules: Vec<PriceRule>,
    pub quantity_tiers: Vec<QuantityTier>,
    pub preview: Option<Preview>,
    /// How a configuration's variant SKU is composed (`sku:`), if the product says.
    pub sku: Option<SkuTemplate>,
    /// The bill of materials entries (`bom:` on the product and on choice values), in file order:
    /// product-level entries first, then value-level ones in option and value order.
    pub bom: Vec<BomEntry>,
    /// Content hash (hex SHA-256) over every file this product depends on.
    pub version: String,
    /// The files the version covers, relative to the catalog directory.
    pub files: Vec<String>,
    pub span: Span,
}

impl Product {
    pub fn option(&self, id: &str) -> Option<(OptId, &OptionDef)> {
        self.options.iter().enumerate().find(|(_, o)| o.id == id)
    }

    /// The quantity option, if the product has one.
    pub fn quantity_option(&self) -> Option<OptId> {
        self.options
            .iter()
            .position(|o| matches!(o.kind, OptionKind::Quantity(_)))
    }
}

/// A UI section that options belong to.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub id: String,
    pub label: String,
}

/// One option of a product.
#[derive(Debug, Clone)]
pub struct OptionDef {
    pub id: String,
    pub label: String,
    pub description: Option<String>,
    pub group: Option<String>,
    /// A required option must have a value in a complete configuration.
    pub required: bool,
    pub default: Option<Value>,
    pub kind: OptionKind,
    /// The unit shown beside an integer or quantity option's number (e.g. `cm`).
    pub unit: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum OptionKind {
    Choice(ChoiceSpec),
    Boolean { price: Option<Decimal> },
    Integer(IntSpec),
    Text(TextSpec),
    Quantity(IntSpec),
    Upload(UploadSpec),
}

impl OptionKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            OptionKind::Choice(_) => "choice",
            OptionKind::Boolean { .. } => "boolean",
            OptionKind::Integer(_) => "integer",
            OptionKind::Text(_) => "text",
            OptionKind::Quantity(_) => "quantity",
            OptionKind::Upload(_) => "upload",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChoiceSpec {
    pub values: Vec<ChoiceValue>,
}

impl ChoiceSpec {
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.values.iter().position(|v| v.id == id)
    }
}

#[derive(Debug, Clone)]
pub struct ChoiceValue {
    pub id: String,
    pub label: String,
    pub description: Option<String>,
    pub swatch: Option<Color>,
    pub image: Option<String>,
    pub sku: Option<String>,
    pub price: Option<Decimal>,
    pub span: Span,
}

/// A bounded integer range with a step: `min, min+step, …, max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntSpec {
    pub min: i64,
    pub max: i64,
    pub step: i64,
    pub price_per_unit: Option<Decimal>,
}

impl IntSpec {
    /// Whether `v` lies in the range and on a step.
    pub fn contains(&self, v: i64) -> bool {
        v >= self.min && v <= self.max && (v - self.min) % self.step == 0
    }

    /// How many values the range holds.
    pub fn len(&self) -> u64 {
        u64::try_from((self.max - self.min) / self.step + 1).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone)]
pub struct TextSpec {
    pub min_len: u32,
    pub max_len: u32,
    /// Allowed characters, as the class body the merchant wrote (e.g. `A-Za-z0-9 .,`).
    pub charset: Option<String>,
    /// A regular expression the whole text must match.
    pub pattern: Option<String>,
    pub unit_label: Option<String>,
    pub price: Option<Decimal>,
    pub price_per_char: Option<Decimal>,
}

/// An upload option: the customer's own image (logo, photo), placed into a bound print area.
/// Its value in a selection is the upload's content-hash id (`Value::Text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSpec {
    /// Price added when an image is given (priced by the pricing engine).
    pub price: Option<Decimal>,
    /// How the image fills its print area.
    pub fit: ImageFit,
}

/// How an uploaded image fills its print area: whole image inside (`contain`) or area covered, cropping (`cover`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFit {
    Contain,
    Cover,
}

/// An `#rrggbb` colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Color(pub [u8; 3]);

impl Color {
    pub fn parse(s: &str) -> Option<Color> {
        let hex = s.strip_prefix('#')?;
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        Some(Color([byte(0)?, byte(2)?, byte(4)?]))
    }

    pub fn to_hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0[0], self.0[1], self.0[2])
    }
}

/// A value of an option, in the model's terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// Index into the choice option's values.
    Choice(usize),
    Bool(bool),
    Int(i64),
    Text(String),
}

/// A constraint between options.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub id: String,
    pub message: String,
    pub form: ConstraintForm,
    /// The constraint as one boolean expression that must hold; `None` for a table, which
    /// stays a table (a 50,000-row table lowered to an expression would take ten times its
    /// rows' memory): use [`Constraint::options`] and [`Constraint::holds`] for any form.
    pub expr: Option<Expr>,
    pub span: Span,
    /// The rules file the constraint comes from.
    pub file: String,
}

#[derive(Debug, Clone)]
pub enum ConstraintForm {
    IfThen { condition: Expr, then: Expr },
    Forbid(Expr),
    Require(Expr),
    Table(Table),
}

/// A table constraint: the tuple of `options` must match an allowed row (or no forbidden row).
///
/// Rows are kept compact, since a variant table may have a million of them: each cell is one
/// `u32`, either `*`, an index into its column's distinct values, or an index into the table's
/// value lists (a cell of several values). Build one with [`TableBuilder`]; read rows with
/// [`Table::row`] / [`Table::rows`].
#[derive(Debug, Clone)]
pub struct Table {
    pub options: Vec<OptId>,
    pub allow: bool,
    nrows: usize,
    /// Row-major, `options.len()` per row.
    cells: Vec<u32>,
    /// Per column, the distinct single values its cells name.
    values: Vec<Vec<Value>>,
    /// The cells that list several values (sorted, deduplicated), shared by all columns.
    lists: Vec<Vec<Value>>,
}

impl Constraint {
    /// The options the constraint reads, into `out`.
    pub fn options(&self, out: &mut std::collections::BTreeSet<OptId>) {
        match (&self.form, &self.expr) {
            (ConstraintForm::Table(t), _) => out.extend(t.options.iter().copied()),
            (_, Some(e)) => e.options(out),
            (_, None) => {}
        }
    }

    /// Whether the constraint holds for the values `vals` gives (`None`: unset).
    pub fn holds(&self, vals: &dyn Fn(OptId) -> Option<Val>) -> bool {
        match (&self.form, &self.expr) {
            (ConstraintForm::Table(t), _) => t.holds(vals),
            (_, Some(e)) => e.eval(vals),
            (_, None) => true,
        }
    }
}

/// A cell code: `*`.
const ANY: u32 = u32::MAX;
/// Cell codes from here up (below `ANY`) index `Table::lists`.
const LIST: u32 = 1 << 31;

/// One cell of a table row, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellRef<'a> {
    Any,
    /// Any of these values (sorted, deduplicated).
    Values(&'a [Value]),
}

impl Table {
    /// How many rows the table has.
    pub fn len(&self) -> usize {
        self.nrows
    }

    pub fn is_empty(&self) -> bool {
        self.nrows == 0
    }

    /// The cells of row `r` (in the order of `options`).
    pub fn row(&self, r: usize) -> impl Iterator<Item = CellRef<'_>> + '_ {
        let arity = self.options.len();
        let codes = self.cells.get(r * arity..(r + 1) * arity).unwrap_or(&[]);
        codes
            .iter()
            .enumerate()
            .map(move |(j, &code)| self.cell(j, code))
    }

    /// Every row, in order.
    pub fn rows(&self) -> impl Iterator<Item = impl Iterator<Item = CellRef<'_>> + '_> + '_ {
        (0..self.nrows).map(move |r| self.row(r))
    }

    fn cell(&self, column: usize, code: u32) -> CellRef<'_> {
        if code == ANY {
            return CellRef::Any;
        }
        let (all, i) = if code >= LIST {
            (self.lists.get((code - LIST) as usize), None)
        } else {
            (self.values.get(column), Some(code as usize))
        };
        CellRef::Values(match (all, i) {
            (Some(list), None) => list,
            (Some(values), Some(i)) => values.get(i..=i).unwrap_or(&[]),
            (None, _) => &[],
        })
    }

    /// The heap bytes the rows take (cells and values).
    pub fn bytes(&self) -> usize {
        let vals = |v: &Vec<Vec<Value>>| {
            v.iter()
                .map(|x| x.len() * std::mem::size_of::<Value>())
                .sum::<usize>()
        };
        self.cells.len() * 4 + vals(&self.values) + vals(&self.lists)
    }

    /// Whether the tuple of values matches some allowed row (or no forbidden row). A row's
    /// `*` matches any set value; an unset option matches no cell.
    pub fn holds(&self, vals: &dyn Fn(OptId) -> Option<Val>) -> bool {
        let tuple: Vec<Option<Val>> = self.options.iter().map(|&o| vals(o)).collect();
        let matched = self.rows().any(|mut row| {
            row.by_ref().zip(&tuple).all(|(cell, v)| match (cell, v) {
                (_, None) => false,
                (CellRef::Any, Some(_)) => true,
                (CellRef::Values(vs), Some(v)) => vs.iter().any(|x| x.is(*v)),
            })
        });
        matched == self.allow
    }
}

/// Builds a [`Table`] row by row, sharing each column's repeated values.
#[derive(Debug)]
pub struct TableBuilder {
    table: Table,
    index: Vec<foldhash::HashMap<Value, u32>>,
    list_index: foldhash::HashMap<Vec<Value>, u32>,
}

impl TableBuilder {
    pub fn new(options: Vec<OptId>, allow: bool) -> TableBuilder {
        let arity = options.len();
        TableBuilder {
            table: Table {
                options,
                allow,
                nrows: 0,
                cells: Vec::new(),
                values: vec![Vec::new(); arity],
                lists: Vec::new(),
            },
            index: vec![foldhash::HashMap::default(); arity],
            list_index: foldhash::HashMap::default(),
        }
    }

    /// Adds a row: one cell per option, in order (missing cells are `*`, extra ones ignored).
    pub fn push_row(&mut self, cells: impl IntoIterator<Item = Cell>) {
        let arity = self.table.options.len();
        let start = self.table.cells.len();
        for (j, cell) in cells.into_iter().take(arity).enumerate() {
            let code = match cell {
                Cell::Any => ANY,
                Cell::Values(mut vs) => {
                    vs.sort();
                    vs.dedup();
                    match <[Value; 1]>::try_from(vs) {
                        Ok([v]) => self.single(j, v),
                        Err(vs) => self.list(vs),
                    }
                }
            };
            self.table.cells.push(code);
        }
        self.table.cells.resize(start + arity, ANY);
        self.table.nrows += 1;
    }

    /// Adds a row whose cells are each one value (the common case of variant tables).
    pub fn push_values(&mut self, values: impl IntoIterator<Item = Value>) {
        self.push_row(values.into_iter().map(|v| Cell::Values(vec![v])));
    }

    // Codes cannot run out: a table has at most `MAX_TABLE_ROWS` rows of a few dozen cells,
    // far below 2^31 distinct values or lists.
    fn single(&mut self, column: usize, v: Value) -> u32 {
        let values = &mut self.table.values[column];
        *self.index[column].entry(v).or_insert_with_key(|v| {
            values.push(v.clone());
            u32::try_from(values.len() - 1)
                .unwrap_or(ANY - 1)
                .min(LIST - 1)
        })
    }

    fn list(&mut self, vs: Vec<Value>) -> u32 {
        let lists = &mut self.table.lists;
        *self.list_index.entry(vs).or_insert_with_key(|vs| {
            lists.push(vs.clone());
            LIST + u32::try_from(lists.len() - 1)
                .unwrap_or(0)
                .min(ANY - 1 - LIST)
        })
    }

    /// How many rows so far.
    pub fn len(&self) -> usize {
        self.table.nrows
    }

    pub fn is_empty(&self) -> bool {
        self.table.nrows == 0
    }

    pub fn finish(mut self) -> Table {
        self.table.cells.shrink_to_fit();
        self.table
    }
}

impl Value {
    /// Whether this value is the evaluator's value `v`.
    pub fn is(&self, v: Val) -> bool {
        match (self, v) {
            (Value::Choice(a), Val::Choice(b)) => *a == b,
            (Value::Bool(a), Val::Bool(b)) => *a == b,
            (Value::Int(a), Val::Int(b)) => *a == b,
            _ => false,
        }
    }
}

/// A table cell as written, to build a [`Table`] with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Any,
    /// Any of these values (sorted, deduplicated).
    Values(Vec<Value>),
}

/// When a price rule applies (see docs/catalog-format.md, "Prices").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Unit,
    Order,
}

#[derive(Debug, Clone)]
pub struct PriceRule {
    pub id: String,
    pub label: String,
    pub condition: Option<Expr>,
    pub stage: Stage,
    pub effect: PriceEffect,
    pub span: Span,
    pub file: String,
}

#[derive(Debug, Clone)]
pub enum PriceEffect {
    Add(Decimal),
    Subtract(Decimal),
    /// Adds the value of an arithmetic expression (may use decimals).
    Formula(Term),
    /// Percentage, e.g. 10 for 10%.
    Discount(Decimal),
    Markup(Decimal),
    Set(Decimal),
    Min(Decimal),
    Max(Decimal),
}

#[derive(Debug, Clone)]
pub struct QuantityTier {
    pub min: i64,
    pub effect: TierEffect,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum TierEffect {
    UnitPrice(Decimal),
    /// Percentage off the unit price.
    Discount(Decimal),
}

/// The preview template of a product and how options bind to its elements.
#[derive(Debug, Clone)]
pub struct Preview {
    pub template: String,
    pub width: u32,
    pub height: u32,
    pub bindings: Vec<Binding>,
    /// The print areas production receives files for (`print_areas:`), in declared order.
    pub print_areas: Vec<PrintArea>,
}

/// One print area: the artwork production prints, at a physical size and resolution.
#[derive(Debug, Clone)]
pub struct PrintArea {
    /// Unique within the product (`[a-z0-9][a-z0-9-]*`); names the files (`{id}.png`).
    pub id: String,
    /// Trim width in millimetres: a constant or a term over the options (`width_cm * 10`).
    pub width_mm: Term,
    /// Trim height in millimetres.
    pub height_mm: Term,
    /// Extra artwork around the trim on every side, in millimetres (0 when not declared).
    pub bleed_mm: Decimal,
    /// Raster resolution of the PNG, in dots per inch.
    pub dpi: u32,
    /// Where the artwork comes from.
    pub source: AreaSource,
    /// The artwork's box in its SVG's user units: `[x, y, width, height]`; it is scaled to
    /// cover the area (trim plus bleed), centred.
    pub artwork_box: [f64; 4],
    pub span: Span,
}

/// The SVG an area's artwork is drawn from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AreaSource {
    /// The subtree of the element with this id in the preview template (bindings applied,
    /// ancestors' transforms not).
    Element(String),
    /// A separate SVG file under assets/ (the preview's bindings apply to its elements by id).
    Template(String),
}

#[derive(Debug, Clone)]
pub struct Binding {
    /// The `id` of the SVG element.
    pub element: String,
    pub fill: Option<ColorSource>,
    pub stroke: Option<ColorSource>,
    pub visible: Option<Expr>,
    pub image: Option<OptId>,
    pub text: Option<TextBinding>,
    pub scale: Option<ScaleBinding>,
    /// An upload option whose image is placed into this element (an `<image>` print area).
    pub upload: Option<OptId>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ColorSource {
    Swatch(OptId),
    Literal(Color),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    Start,
    Center,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    Shrink,
    Wrap,
    None,
}

#[derive(Debug, Clone)]
pub struct TextBinding {
    pub option: OptId,
    /// Full font name, e.g. `DejaVu Sans Bold`, and its file under assets/fonts.
    pub font: Option<FontRef>,
    pub font_size: Option<u32>,
    pub align: Align,
    pub fit: Fit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FontRef {
    pub name: String,
    pub file: String,
}

/// Scales an element linearly with an integer option: `from.0` at the option's min, `from.1` at its max (in thousandths).
#[derive(Debug, Clone)]
pub struct ScaleBinding {
    pub by: OptId,
    pub from_milli: (i64, i64),
}

/// A variant SKU template (`sku: "DESK-{frame}-{width}x{depth}"`): literal text and options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuTemplate {
    pub parts: Vec<SkuPart>,
}

/// One piece of an SKU template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkuPart {
    Literal(String),
    /// The option's value: a choice value's `sku` (else its id), a number, `true`/`false`.
    Option(OptId),
}

/// One bill-of-materials entry: a part and its exact quantity per item, when its condition holds.
#[derive(Debug, Clone)]
pub struct BomEntry {
    /// The part id (what the warehouse knows it by).
    pub part: String,
    /// Quantity per item, exact (decimals allowed): an expression over options.
    pub quantity: Term,
    /// Free text (`m2`, `pcs`); lines are merged per part and unit.
    pub unit: Option<String>,
    /// When the entry applies: its `if`, and for a value's entry that value being chosen.
    pub condition: Option<Expr>,
    pub origin: BomOrigin,
    pub span: Span,
}

/// Where a bill-of-materials entry is declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BomOrigin {
    /// The product's own `bom:` list: the entry's `id`, else `bom[<index>]`.
    Product { id: String },
    /// A choice value's `bom:` (option index, value index).
    Value { option: OptId, value: usize },
}

#[cfg(test)]
mod tests {
    use super::{Cell, CellRef, TableBuilder, Value};

    #[test]
    fn tables_read_back_the_cells_they_were_built_with() {
        let mut b = TableBuilder::new(vec![0, 1, 2], true);
        b.push_row([
            Cell::Values(vec![Value::Choice(2)]),
            Cell::Any,
            Cell::Values(vec![Value::Int(5), Value::Int(3), Value::Int(5)]),
        ]);
        b.push_values([Value::Choice(2), Value::Bool(true), Value::Int(3)]);
        // A short row is padded with `*`; cells past the arity are ignored.
        b.push_row([Cell::Values(vec![Value::Text("a".into())])]);
        b.push_row([Cell::Any, Cell::Any, Cell::Any, Cell::Values(vec![])]);
        let t = b.finish();
        assert_eq!(t.len(), 4);
        let rows: Vec<Vec<CellRef<'_>>> = t.rows().map(Iterator::collect).collect();
        fn one(v: &Value) -> CellRef<'_> {
            CellRef::Values(std::slice::from_ref(v))
        }
        let (c2, t3) = (Value::Choice(2), Value::Int(3));
        assert_eq!(
            rows[0],
            vec![
                one(&c2),
                CellRef::Any,
                CellRef::Values(&[Value::Int(3), Value::Int(5)])
            ]
        );
        assert_eq!(rows[1], vec![one(&c2), one(&Value::Bool(true)), one(&t3)]);
        assert_eq!(
            rows[2],
            vec![one(&Value::Text("a".into())), CellRef::Any, CellRef::Any]
        );
        assert_eq!(rows[3], vec![CellRef::Any; 3]);
        // Repeated values are stored once per column.
        assert_eq!(t.values[0].len(), 2);
        assert_eq!(t.lists.len(), 1);
    }
}
