//! Orders: the pure order domain — status machine and legal transitions, the stored order spec
//! (what an order freezes), input bounds, request fingerprints, opaque feed cursors, timestamps,
//! saved designs (`design.rs`), a configuration's bill of materials and variant SKU (`bom.rs`),
//! an order's print files and their job state (`print.rs`), the sales history recommendations
//! learn from (`history.rs`), and webhooks with their outbox events, deliveries and retry
//! schedule (`webhook.rs`).
//! No database, no IO: `db` persists these types.

mod bom;
mod cursor;
mod design;
mod history;
mod print;
mod spec;
mod status;
mod timestamp;
mod webhook;

pub use bom::{BomError, BomFrom, BomLine, bill, variant_sku};
pub use cursor::{Cursor, CursorError};
pub use design::{Design, NewDesign};
pub use history::{
    HistoryState, ImportInfo, MAX_HISTORY_PAGE, MAX_IMPORT_SALES, MAX_SALE_COUNT, NewSale, Sale,
    SaleSource, UnknownSaleSource, check_import,
};
pub use print::{
    ClaimedJob, FilesState, MAX_PRINT_ATTEMPTS, PrintFileMeta, PrintFiles, PrintPlan,
    UnknownFilesState,
};
pub use spec::{
    MAX_IDEMPOTENCY_KEY_LEN, MAX_JSON_BYTES, MAX_NOTE_LEN, MAX_PAGE_LIMIT, MAX_REF_LEN, NewOrder,
    Order, OrderEvent, OrderFilter, Page, SpecError, check_note, fingerprint,
};
pub use status::{IllegalTransition, Status, UnknownStatus};
pub use timestamp::Timestamp;
pub use webhook::{
    Attempt, ClaimedDelivery, Delivery, DeliveryState, EventType, MAX_ATTEMPT_ERROR_LEN,
    MAX_DELIVERY_PAGE, MAX_WEBHOOK_EVENTS, MAX_WEBHOOK_SECRET_LEN, MAX_WEBHOOK_URL_LEN,
    MAX_WEBHOOKS, MIN_WEBHOOK_SECRET_LEN, NewOutboxEvent, Outcome, RetryPolicy, Webhook,
};
