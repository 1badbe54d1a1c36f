//! Response views of the product schema (what a configurator UI draws) built from the resolved model.

use serde::Serialize;
use utoipa::ToSchema;

use rust_decimal::Decimal;

use super::AppError;
use super::configure::{OptionType, preview_url, value_image_url};
use super::values::{Choices, OptionValue};
use crate::catalog::model::{OptionKind, Product};

/// A product in the list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductSummary {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub currency: String,
    /// The lowest total over all valid configurations ("from €X"), as a decimal string.
    #[schema(value_type = Option<String>)]
    pub from_price: Option<Decimal>,
    /// A small preview of the default configuration.
    pub thumbnail: Option<String>,
    /// The product's content version.
    pub version: String,
}

/// A product with everything a configurator UI needs to draw it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductDetail {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub currency: String,
    /// As a decimal string.
    #[schema(value_type = String)]
    pub base_price: Decimal,
    pub version: String,
    pub groups: Vec<GroupView>,
    pub options: Vec<OptionView>,
    /// Preview image size in template units (width, height), when the product has a preview.
    pub preview_size: Option<[u32; 2]>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupView {
    pub id: String,
    pub label: String,
}

/// One option's schema.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OptionView {
    pub id: String,
    pub label: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: OptionType,
    pub group: Option<String>,
    pub required: bool,
    /// The default value, typed as the option's values are.
    pub default: Option<OptionValue>,
    /// Choice values (choice options only; empty for others).
    pub values: Vec<ValueView>,
    /// Integer and quantity options: the range.
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub step: Option<i64>,
    /// Integer and quantity options: the unit shown beside the number (e.g. `cm`).
    pub unit: Option<String>,
    /// Text options: length bounds, allowed characters, pattern.
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    pub charset: Option<String>,
    pub pattern: Option<String>,
    /// A flat price (boolean on, text or upload given), as a decimal string.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// Text: price per character; integer: price per unit.
    #[schema(value_type = Option<String>)]
    pub price_per_unit: Option<Decimal>,
}

/// One value of a choice option.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValueView {
    pub id: String,
    pub label: String,
    pub description: Option<String>,
    /// `#rrggbb`.
    pub swatch: Option<String>,
    /// The value's image, as a URL pinned to the product version.
    pub image: Option<String>,
    pub sku: Option<String>,
    /// Surcharge, as a decimal string.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
}

impl ProductDetail {
    pub fn of(p: &Product) -> ProductDetail {
        let options = p
            .options
            .iter()
            .enumerate()
            .map(|(o, opt)| {
                let mut view = OptionView {
                    id: opt.id.clone(),
                    label: opt.label.clone(),
                    description: opt.description.clone(),
                    kind: OptionType::of(&opt.kind),
                    group: opt.group.clone(),
                    required: opt.required,
                    default: opt.default.as_ref().map(|v| OptionValue::of(p, o, v)),
                    values: Vec::new(),
                    min: None,
                    max: None,
                    step: None,
                    unit: opt.unit.clone(),
                    min_length: None,
                    max_length: None,
                    charset: None,
                    pattern: None,
                    price: None,
                    price_per_unit: None,
                };
                match &opt.kind {
                    OptionKind::Choice(c) => {
                        view.values = c
                            .values
                            .iter()
                            .map(|v| ValueView {
                                id: v.id.clone(),
                                label: v.label.clone(),
                                description: v.description.clone(),
                                swatch: v.swatch.map(|s| s.to_hex()),
                                image: v.image.as_ref().map(|_| value_image_url(p, &opt.id, &v.id)),
                                sku: v.sku.clone(),
                                price: v.price,
                            })
                            .collect();
                    }
                    OptionKind::Boolean { price } => view.price = *price,
                    OptionKind::Integer(r) | OptionKind::Quantity(r) => {
                        view.min = Some(r.min);
                        view.max = Some(r.max);
                        view.step = Some(r.step);
                        view.price_per_unit = r.price_per_unit;
                    }
                    OptionKind::Upload(u) => view.price = u.price,
                    OptionKind::Text(t) => {
                        view.min_length = Some(t.min_len);
                        view.max_length = Some(t.max_len);
                        view.charset = t.charset.clone();
                        view.pattern = t.pattern.clone();
                        view.price = t.price;
                        view.price_per_unit = t.price_per_char;
                    }
                }
                view
            })
            .collect();
        ProductDetail {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            currency: p.currency.code().to_owned(),
            base_price: p.base_price,
            version: p.version.clone(),
            groups: p
                .groups
                .iter()
                .map(|g| GroupView {
                    id: g.id.clone(),
                    label: g.label.clone(),
                })
                .collect(),
            options,
            preview_size: p.preview.as_ref().map(|pv| [pv.width, pv.height]),
        }
    }
}

/// A choice value's image, as stored in the catalog.
#[derive(Debug, Clone)]
pub struct ValueImage {
    /// The product version it belongs to.
    pub version: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

fn image_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "svg" => "image/svg+xml",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        _ => "image/png",
    }
}

impl super::App {
    /// Every product of the serving catalog, with its "from" price and thumbnail.
    pub fn products(&self) -> Vec<ProductSummary> {
        let snap = self.snapshot();
        snap.catalog
            .products()
            .iter()
            .map(|p| ProductSummary {
                id: p.id.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                currency: p.currency.code().to_owned(),
                from_price: snap.from_prices.get(&p.id).copied().flatten(),
                thumbnail: p
                    .preview
                    .as_ref()
                    .map(|_| preview_url(p, &Choices::default(), THUMBNAIL_WIDTH)),
                version: p.version.clone(),
            })
            .collect()
    }

    /// One product's schema.
    pub fn product_detail(&self, id: &str) -> Result<ProductDetail, AppError> {
        let snap = self.snapshot();
        let (p, _) = snap.product(id)?;
        Ok(ProductDetail::of(p))
    }

    /// The image of a choice value, from the serving catalog's files.
    pub fn value_image(&self, id: &str, option: &str, value: &str) -> Result<ValueImage, AppError> {
        let snap = self.snapshot();
        let (p, _) = snap.product(id)?;
        let missing = || AppError::NotFound(format!("`{option}={value}` of `{id}` has no image"));
        let Some((_, opt)) = p.option(option) else {
            return Err(missing());
        };
        let OptionKind::Choice(c) = &opt.kind else {
            return Err(missing());
        };
        let path = c
            .values
            .iter()
            .find(|v| v.id == value)
            .and_then(|v| v.image.clone())
            .ok_or_else(missing)?;
        let bytes = snap.files.get(&path).ok_or_else(missing)?.to_vec();
        Ok(ValueImage {
            version: p.version.clone(),
            content_type: image_type(&path),
            bytes,
        })
    }
}

/// Width of product thumbnails in the list, in pixels.
pub const THUMBNAIL_WIDTH: u32 = 256;
