//! The print-job repository: an order's print files state written in the order's transaction, workers' claims under a lease (the attempt number fences their writes), completion with the files' metadata and the `files_ready` hook in one transaction, retries and failure, and reads. Written once against `AnyConnection`.

use diesel::prelude::*;
use diesel::result::Error as DieselError;

use super::DbError;
use super::conn::AnyConnection;
use super::orders::EventsOf;
use super::schema::{print_files, print_jobs};
use crate::orders::{
    ClaimedJob, FilesState, Order, PrintFileMeta, PrintFiles, PrintPlan, Timestamp,
    UnknownFilesState,
};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = print_jobs)]
struct JobRow {
    order_id: String,
    state: String,
    attempts: i64,
    lease_until: Option<i64>,
    error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = print_files)]
struct FileRow {
    order_id: String,
    area: String,
    format: String,
    position: i64,
    blob_id: String,
    content_type: String,
    size: i64,
    sha256: String,
    width_px: i64,
    height_px: i64,
    width_um: i64,
    height_um: i64,
    bleed_um: i64,
    dpi: i64,
}

impl FileRow {
    fn of(order_id: &str, f: &PrintFileMeta) -> FileRow {
        FileRow {
            order_id: order_id.to_owned(),
            area: f.area.clone(),
            format: f.format.clone(),
            position: f.position,
            blob_id: f.blob_id.clone(),
            content_type: f.content_type.clone(),
            size: f.size,
            sha256: f.sha256.clone(),
            width_px: f.width_px,
            height_px: f.height_px,
            width_um: f.width_um,
            height_um: f.height_um,
            bleed_um: f.bleed_um,
            dpi: f.dpi,
        }
    }

    fn into_meta(self) -> PrintFileMeta {
        PrintFileMeta {
            area: self.area,
            format: self.format,
            position: self.position,
            blob_id: self.blob_id,
            content_type: self.content_type,
            size: self.size,
            sha256: self.sha256,
            width_px: self.width_px,
            height_px: self.height_px,
            width_um: self.width_um,
            height_um: self.height_um,
            bleed_um: self.bleed_um,
            dpi: self.dpi,
        }
    }
}

/// An order's files became ready, inside the transaction that records them (the job's
/// completing one; files rendered inline are announced with the order's creation by its own
/// events): the `order.files_ready` events `events` builds from the order go to the outbox here,
/// so they commit exactly when the files do.
pub(crate) fn files_ready(
    conn: &mut AnyConnection,
    order_id: &str,
    files: &[PrintFileMeta],
    now: i64,
    events: EventsOf<'_, Order>,
) -> Result<(), DieselError> {
    let order = super::orders::load_in(conn, order_id)?;
    super::orders::write_events(conn, &order, events, now)?;
    tracing::info!(order_id, files = files.len(), "order.files_ready");
    Ok(())
}

/// Records an order's print files state, inside the order's creating transaction.
pub(crate) fn insert_for_order(
    conn: &mut AnyConnection,
    order_id: &str,
    plan: &PrintPlan,
    now: i64,
) -> Result<(), DieselError> {
    let state = match plan {
        PrintPlan::Ready(_) => FilesState::Ready,
        PrintPlan::Job => FilesState::Pending,
    };
    diesel::insert_into(print_jobs::table)
        .values(&JobRow {
            order_id: order_id.to_owned(),
            state: state.as_str().to_owned(),
            attempts: 0,
            lease_until: None,
            error: None,
            created_at: now,
            updated_at: now,
        })
        .execute(conn)?;
    if let PrintPlan::Ready(files) = plan {
        insert_files(conn, order_id, files)?;
    }
    Ok(())
}

fn insert_files(
    conn: &mut AnyConnection,
    order_id: &str,
    files: &[PrintFileMeta],
) -> Result<(), DieselError> {
    let rows: Vec<FileRow> = files.iter().map(|f| FileRow::of(order_id, f)).collect();
    // One statement per file: both backends, any count, well under any parameter limit.
    for row in &rows {
        diesel::insert_into(print_files::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Claims the oldest pending job whose lease is free (never claimed, or expired) for `lease`
/// microseconds: raises its attempt count, which fences the claimant's later writes. `None`
/// when there is nothing to do (or other workers took every candidate first).
pub(crate) fn claim(
    conn: &mut AnyConnection,
    now: i64,
    lease: i64,
) -> Result<Option<ClaimedJob>, DbError> {
    for _ in 0..4 {
        let candidate: Option<(String, i64)> = print_jobs::table
            .filter(print_jobs::state.eq(FilesState::Pending.as_str()))
            .filter(
                print_jobs::lease_until
                    .is_null()
                    .or(print_jobs::lease_until.le(now)),
            )
            .order((print_jobs::created_at.asc(), print_jobs::order_id.asc()))
            .select((print_jobs::order_id, print_jobs::attempts))
            .first(conn)
            .optional()?;
        let Some((order_id, attempts)) = candidate else {
            return Ok(None);
        };
        // Compare-and-set on the attempt count: of two workers that saw the same row, one wins.
        let n = diesel::update(
            print_jobs::table
                .filter(print_jobs::order_id.eq(&order_id))
                .filter(print_jobs::state.eq(FilesState::Pending.as_str()))
                .filter(print_jobs::attempts.eq(attempts)),
        )
        .set((
            print_jobs::attempts.eq(attempts + 1),
            print_jobs::lease_until.eq(Some(now.saturating_add(lease))),
            print_jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
        if n == 1 {
            return Ok(Some(ClaimedJob {
                order_id,
                attempt: attempts + 1,
            }));
        }
    }
    Ok(None)
}

/// Completes a claimed job: stores the files' metadata, marks the order's files ready and calls
/// [`files_ready`], in one transaction. `false` (nothing written) when the claim was lost
/// (its lease expired and another worker took the job over, or it is no longer pending).
pub(crate) fn complete(
    conn: &mut AnyConnection,
    job: &ClaimedJob,
    files: &[PrintFileMeta],
    now: i64,
    events: EventsOf<'_, Order>,
) -> Result<bool, DbError> {
    Ok(conn.transaction::<_, DieselError, _>(|c| {
        let n = diesel::update(
            print_jobs::table
                .filter(print_jobs::order_id.eq(&job.order_id))
                .filter(print_jobs::state.eq(FilesState::Pending.as_str()))
                .filter(print_jobs::attempts.eq(job.attempt)),
        )
        .set((
            print_jobs::state.eq(FilesState::Ready.as_str()),
            print_jobs::lease_until.eq(None::<i64>),
            print_jobs::error.eq(None::<String>),
            print_jobs::updated_at.eq(now),
        ))
        .execute(c)?;
        if n == 0 {
            return Ok(false);
        }
        diesel::delete(print_files::table.filter(print_files::order_id.eq(&job.order_id)))
            .execute(c)?;
        insert_files(c, &job.order_id, files)?;
        files_ready(c, &job.order_id, files, now, events)?;
        Ok(true)
    })?)
}

/// After a failed attempt: retried once `retry_at` passes (the error kept), or — with `None` —
/// the order's files are marked failed with the error. `count` false gives the attempt back
/// (the failure was the server's load, not the job's). `false` when the claim was lost.
pub(crate) fn fail(
    conn: &mut AnyConnection,
    job: &ClaimedJob,
    error: &str,
    retry_at: Option<i64>,
    count: bool,
    now: i64,
) -> Result<bool, DbError> {
    let error: String = error.chars().take(2000).collect();
    let target = print_jobs::table
        .filter(print_jobs::order_id.eq(&job.order_id))
        .filter(print_jobs::state.eq(FilesState::Pending.as_str()))
        .filter(print_jobs::attempts.eq(job.attempt));
    let attempts = if count { job.attempt } else { job.attempt - 1 };
    let n = match retry_at {
        Some(at) => diesel::update(target)
            .set((
                print_jobs::attempts.eq(attempts),
                print_jobs::lease_until.eq(Some(at)),
                print_jobs::error.eq(Some(error)),
                print_jobs::updated_at.eq(now),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                print_jobs::state.eq(FilesState::Failed.as_str()),
                print_jobs::lease_until.eq(None::<i64>),
                print_jobs::error.eq(Some(error)),
                print_jobs::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// An order's print files state and files; `None` when the order has no row (its product
/// declares no print areas, or it was placed before print areas existed).
pub(crate) fn get(conn: &mut AnyConnection, order_id: &str) -> Result<Option<PrintFiles>, DbError> {
    let Some(job) = print_jobs::table
        .find(order_id)
        .select(JobRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let files: Vec<FileRow> = print_files::table
        .filter(print_files::order_id.eq(order_id))
        .order((print_files::position.asc(), print_files::format.asc()))
        .select(FileRow::as_select())
        .load(conn)?;
    let state = job
        .state
        .parse()
        .map_err(|e: UnknownFilesState| DbError::Corrupt(e.to_string()))?;
    Ok(Some(PrintFiles {
        order_id: job.order_id,
        state,
        attempts: job.attempts,
        error: job.error,
        files: files.into_iter().map(FileRow::into_meta).collect(),
        created_at: Timestamp::from_unix_micros(job.created_at),
        updated_at: Timestamp::from_unix_micros(job.updated_at),
    }))
}

/// How many jobs are pending (for status and tests).
pub(crate) fn pending(conn: &mut AnyConnection) -> Result<i64, DbError> {
    Ok(print_jobs::table
        .filter(print_jobs::state.eq(FilesState::Pending.as_str()))
        .count()
        .get_result(conn)?)
}

/// The print files state of each of `order_ids` that has one.
pub(crate) fn states(
    conn: &mut AnyConnection,
    order_ids: &[&str],
) -> Result<Vec<(String, FilesState)>, DbError> {
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String)> = print_jobs::table
        .filter(print_jobs::order_id.eq_any(order_ids))
        .select((print_jobs::order_id, print_jobs::state))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, st)| {
            let st = st
                .parse()
                .map_err(|e: UnknownFilesState| DbError::Corrupt(e.to_string()))?;
            Ok((id, st))
        })
        .collect()
}
