//! Hot reload: watches catalog/, rules/ and assets/ (notify) and reloads, debounced, through validate-then-swap.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::App;

/// Quiet time after the last change before reloading (editors write files in several steps).
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// A running watcher; dropping it stops watching.
#[derive(Debug)]
pub struct CatalogWatcher {
    _watcher: notify::RecommendedWatcher,
}

/// Starts watching the app's catalog directory; changes trigger `app.reload(super::ReloadTrigger::Watch)`.
pub fn watch(app: Arc<App>) -> notify::Result<CatalogWatcher> {
    let (tx, rx) = mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && !matches!(ev.kind, notify::EventKind::Access(_))
        {
            let _ = tx.send(());
        }
    })?;
    let root = app.settings.catalog_dir.clone();
    for sub in ["catalog", "rules", "assets"] {
        let dir = root.join(sub);
        if dir.is_dir() {
            watcher.watch(&dir, RecursiveMode::Recursive)?;
        }
    }
    std::thread::Builder::new()
        .name("catalog-watch".into())
        .spawn(move || debounce_loop(&rx, &app))
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(CatalogWatcher { _watcher: watcher })
}

fn debounce_loop(rx: &mpsc::Receiver<()>, app: &App) {
    while rx.recv().is_ok() {
        // Swallow the burst of events an editor's save makes.
        while rx.recv_timeout(DEBOUNCE).is_ok() {}
        let status = app.reload(super::ReloadTrigger::Watch);
        tracing::info!(outcome = ?status.outcome, version = ?status.version, "catalog change seen");
    }
}
