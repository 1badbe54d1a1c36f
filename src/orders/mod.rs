//! Orders: the pure order domain — status machine and legal transitions, the stored order spec
//! (what an order freezes), input bounds, request fingerprints, opaque feed cursors, timestamps,
//! saved designs (`design.rs`), an order's print files and their job state (`print.rs`), and the sales history recommendations learn from (`history.rs`).
//! No database, no IO: `db` persists these types.

mod cursor;
mod design;
mod history;
mod print;
mod spec;
mod status;
mod timestamp;

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
