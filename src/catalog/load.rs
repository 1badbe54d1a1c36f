//! The loader: reads every file of a catalog, resolves every product, hashes versions, and returns all diagnostics at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::diagnostic::{Code, Diagnostic, FileId, SourceMap, Span};
use super::files::{FileSet, FilesError};
use super::model::{Catalog, OptionKind, Product};
use super::preview::{Fonts, check_file_ref, read_preview};
use super::product::{PRODUCT_KEYS, read_groups, read_header, read_options, read_tiers};
use super::read::Cx;
use super::rules_file::{RulesDraft, read_rules, resolve_constraints, resolve_pricing};
use super::yaml::{self, Node};

/// What loading a catalog gives: the usable products (if any) and every diagnostic.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// The catalog, holding every product that resolved without errors; `None` if none did.
    pub catalog: Option<Catalog>,
    /// Every problem found, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of every YAML file read, for rendering the diagnostics.
    pub sources: Arc<SourceMap>,
}

impl LoadResult {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }

    /// Renders every diagnostic rustc-style (no colour).
    pub fn render(&self) -> String {
        self.sources.render(&self.diagnostics)
    }
}

/// Reads a catalog directory and loads it.
pub fn load_dir(root: &Path) -> Result<LoadResult, FilesError> {
    let files = FileSet::from_dir(root)?;
    Ok(load(&files))
}

fn is_yaml(p: &str) -> bool {
    p.ends_with(".yaml") || p.ends_with(".yml")
}

/// Loads a catalog from its files. Never stops at the first problem and never panics.
pub fn load(files: &FileSet) -> LoadResult {
    let mut sources = SourceMap::default();
    let mut early: Vec<Diagnostic> = Vec::new();
    // Register every YAML and table file first, so that spans can refer to any of them.
    let mut yaml_files: Vec<(String, FileId)> = Vec::new();
    for path in files.paths().filter(|p| {
        ((p.starts_with("catalog/") || p.starts_with("rules/")) && is_yaml(p))
            || super::table_file::is_table_file(p)
    }) {
        let bytes = files.get(path).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                let id = sources.add(path, text);
                if is_yaml(path) {
                    yaml_files.push((path.to_owned(), id));
                }
            }
            Err(e) => {
                let id = sources.add(path, "");
                early.push(
                    Diagnostic::new(
                        Code::Io,
                        Span::file_start(id),
                        format!("the file is not UTF-8 text (byte {})", e.valid_up_to()),
                    )
                    .with_help("save the file as UTF-8"),
                );
            }
        }
    }
    for (path, size) in files.oversized() {
        let id = sources.add(path, "");
        early.push(Diagnostic::new(
            Code::TooLarge,
            Span::file_start(id),
            format!(
                "the file is {size} bytes, over the limit of {} bytes for {}",
                super::files::max_bytes(path),
                if super::table_file::is_table_file(path) {
                    "table files"
                } else {
                    "catalog files"
                }
            ),
        ));
    }
    let mut cx = Cx::new(&sources);
    cx.diags.extend(early);

    let mut parsed: BTreeMap<String, Node> = BTreeMap::new();
    for (path, id) in &yaml_files {
        match yaml::parse(cx.sources, *id) {
            Ok(node) => {
                parsed.insert(path.clone(), node);
            }
            Err(d) => cx.push(d),
        }
    }
    // Rules files are read once; products typecheck them against their own options.
    let mut rules: BTreeMap<String, RulesDraft> = BTreeMap::new();
    for (path, node) in parsed.iter().filter(|(p, _)| p.starts_with("rules/")) {
        let draft = read_rules(&mut cx, path, node);
        rules.insert(path.clone(), draft);
    }
    let fonts = Fonts::scan(files);
    let mut products: Vec<Product> = Vec::new();
    let mut ids: BTreeMap<String, Span> = BTreeMap::new();
    let mut used_rules: BTreeSet<String> = BTreeSet::new();
    let product_paths: Vec<&String> = parsed
        .keys()
        .filter(|p| p.starts_with("catalog/"))
        .collect();
    for path in &product_paths {
        let node = &parsed[*path];
        let Some(p) = load_product(&mut cx, files, &fonts, path, node, &rules, &mut used_rules)
        else {
            continue;
        };
        if let Some(first) = ids.get(&p.id) {
            cx.push(
                Diagnostic::new(
                    Code::DuplicateId,
                    p.span,
                    format!("product id `{}` is used by two files", p.id),
                )
                .with_label(*first, "first used here")
                .with_help("product ids are unique across the catalog"),
            );
            continue;
        }
        ids.insert(p.id.clone(), p.span);
        products.push(p);
    }
    if !files
        .paths()
        .any(|p| p.starts_with("catalog/") && is_yaml(p))
    {
        let id = sources_first(&cx, &yaml_files);
        cx.push(
            Diagnostic::new(
                Code::EmptyCatalog,
                Span::file_start(id),
                "the catalog has no products",
            )
            .with_help(
                "add a product file: catalog/<product-id>.yaml (see docs/catalog-format.md)",
            ),
        );
    }
    for (path, draft) in &rules {
        if !used_rules.contains(path)
            && !draft.has_errors
            && let Some(id) = cx.sources.find(path)
        {
            cx.push(
                Diagnostic::new(
                    Code::UnusedRules,
                    Span::file_start(id),
                    "no product uses this rules file",
                )
                .with_help("list it under `rules:` in a product, or delete it"),
            );
        }
    }
    let mut diagnostics = std::mem::take(&mut cx.diags);
    diagnostics.sort_by(|a, b| {
        (a.span.file, a.span.start, a.code).cmp(&(b.span.file, b.span.start, b.code))
    });
    diagnostics.dedup();
    products.sort_by(|a, b| a.id.cmp(&b.id));
    let catalog_version = {
        let mut h = Sha256::new();
        for p in &products {
            h.update(p.id.as_bytes());
            h.update([0]);
            h.update(p.version.as_bytes());
            h.update([0]);
        }
        hex(&h.finalize())
    };
    let sources = Arc::new(sources);
    let catalog =
        (!products.is_empty()).then(|| Catalog::new(products, catalog_version, sources.clone()));
    LoadResult {
        catalog,
        diagnostics,
        sources,
    }
}

fn sources_first(cx: &Cx<'_>, yaml: &[(String, FileId)]) -> FileId {
    yaml.first()
        .map(|(_, id)| *id)
        .unwrap_or_else(|| cx.sources.find("").unwrap_or(FileId(0)))
}

fn load_product(
    cx: &mut Cx<'_>,
    files: &FileSet,
    fonts: &Fonts,
    path: &str,
    node: &Node,
    rules: &BTreeMap<String, RulesDraft>,
    used_rules: &mut BTreeSet<String>,
) -> Option<Product> {
    let before = cx.diags.len();
    let f = cx.fields(node, "a product", PRODUCT_KEYS)?;
    let (header, currency) = read_header(cx, &f);
    let groups = read_groups(cx, f.get("groups"));
    let mut deps: Vec<String> = vec![path.to_owned()];
    // Rules files referenced by the product.
    let mut drafts: Vec<&RulesDraft> = Vec::new();
    if let Some(rn) = f.get("rules")
        && let Some(items) = cx.seq(rn, "`rules`")
    {
        for it in items {
            let Some(rp) = cx.text(it, "a rules file") else {
                continue;
            };
            if !check_file_ref(cx, files, it, &rp, "rules", "the rules file") {
                continue;
            }
            used_rules.insert(rp.clone());
            match rules.get(&rp) {
                Some(d) => {
                    if drafts.iter().any(|x| x.path == d.path) {
                        cx.error(
                            Code::DuplicateId,
                            it.span,
                            format!("`{rp}` is listed twice"),
                            None,
                        );
                        continue;
                    }
                    deps.push(rp.clone());
                    if d.has_errors {
                        // Its own diagnostics explain why; the product cannot be used without it.
                        cx.error(
                            Code::BrokenDependency,
                            it.span,
                            format!("`{rp}` has errors, so this product cannot use it"),
                            Some("fix the errors reported in that file".into()),
                        );
                    }
                    drafts.push(d);
                }
                None => cx.error(
                    Code::BrokenDependency,
                    it.span,
                    format!("`{rp}` could not be read"),
                    Some("fix the errors reported in that file".into()),
                ),
            }
        }
    }
    let options_node = cx.require(&f, "options", "a product")?;
    let options = read_options(cx, options_node, currency, &groups);
    let quantity_tiers = read_tiers(cx, f.get("quantity_tiers"), currency);
    let options = options?;
    if let Some(tiers) = &quantity_tiers
        && !tiers.is_empty()
        && !options
            .iter()
            .any(|o| matches!(o.kind, OptionKind::Quantity(_)))
    {
        cx.error(
            Code::InvalidTiers,
            f.key_span("quantity_tiers").unwrap_or(node.span),
            "quantity tiers need a `quantity` option",
            Some("add `quantity: { type: quantity, max: 500 }` to the options".into()),
        );
    }
    // Value images must exist.
    for o in &options {
        if let OptionKind::Choice(c) = &o.kind {
            for v in &c.values {
                if let Some(img) = &v.image {
                    let n = Node {
                        kind: yaml::NodeKind::Str(img.clone()),
                        span: v.span,
                    };
                    if check_file_ref(cx, files, &n, img, "assets", "the image") {
                        deps.push(img.clone());
                    }
                }
            }
        }
    }
    let sku = super::bom::read_sku(cx, f.get("sku"), &options);
    let bom = super::bom::read_bom(cx, f.get("bom"), options_node, &options);
    let constraints = resolve_constraints(cx, &options, &drafts);
    let price_rules = resolve_pricing(cx, &options, currency, &drafts);
    let preview = match f.get("preview") {
        Some(pn) => match read_preview(cx, pn, &options, files, fonts) {
            Some((p, used)) => {
                deps.extend(used);
                Some(p)
            }
            None => None,
        },
        None => None,
    };
    let header = header?;
    if cx.diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    deps.sort();
    deps.dedup();
    let version = version_of(files, &deps);
    let span = f.get("id").map_or(node.span, |n| n.span);
    Some(Product {
        id: header.id,
        name: header.name,
        description: header.description,
        currency: header.currency,
        base_price: header.base_price,
        groups,
        options,
        constraints: constraints?,
        price_rules: price_rules?,
        quantity_tiers: quantity_tiers?,
        preview,
        sku: sku?,
        bom: bom?,
        version,
        files: deps,
        span,
    })
}

/// SHA-256 over (path, length, bytes) of each dependency, in sorted path order.
pub fn version_of(files: &FileSet, deps: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(b"bespoke-product-v1\0");
    for d in deps {
        let bytes = files.get(d).unwrap_or_default();
        h.update(d.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
