//! What an engine has learned (explanations, dead values, solutions, warm-up progress) as portable records: exported so that a restart or another instance need not learn it again, and imported into an engine of the same model or of an edited one, keeping exactly the facts that still hold there.
//!
//! A record names options and rules by content digests, not by position. An option's digest
//! covers its id, its domain (kind, size, "unset", value ids); a rule's covers its compiled form
//! and the digests of the options it reads. That is what makes a fact portable:
//!
//! - An explanation (rules R and choices C excluding a target value t) is sufficient and
//!   minimal by properties of R, C and t alone: R ∪ C ∪ {t} has no solution, and each of its
//!   subsets missing one element has one. Other rules and options play no part (every domain is
//!   non-empty, so options outside R's scopes are free). So in any model that has the same
//!   rules (same digests) and the same domains for the options involved, it is still a
//!   sufficient, minimal explanation, whatever else the merchant changed. Likewise a dead
//!   value's explanation (rules alone).
//! - A solution holds in another model only if that model has the same options and every one of
//!   its rules holds on it: each is checked before it is kept.
//! - Values known to be live, and the warm-up's progress, hold only for the very same model
//!   (same fingerprint: every digest, in order, and this format).
//!
//! A record ends with a SHA-256 of everything before it; every count and index is checked
//! before use, so a damaged or foreign record is refused with an error and changes nothing.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::engine::{Engine, Explanation, SOLUTIONS_EXPORTED, Warmth};
use crate::catalog::model::OptionKind;

const MAGIC: &[u8; 8] = b"BSPKLRN\0";
/// The record format; a record of another format is refused (the engine then learns anew).
pub const FORMAT: u32 = 1;
/// The order in which the warm-up takes selections (its progress counts pairs in that order):
/// part of the fingerprint, so that progress is only resumed by a build that walks the same
/// order. (2: single choices and pairs of class representatives only, see `Classes`.)
const WARM_ORDER: u32 = 2;
/// Records are cut at about this size (each repeats the digests: 16 bytes per option and rule).
const RECORD_BYTES: usize = 8 << 20;
/// The largest record `import_learned` reads.
pub const MAX_RECORD_BYTES: usize = 64 << 20;
const HEAD: usize = MAGIC.len() + 4;
const SUM: usize = 32;

/// What a record could not be read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LearnedError {
    #[error("not a record of what an engine learned")]
    Magic,
    #[error("learned-record format {found} is not supported (this build reads format {FORMAT})")]
    Format { found: u32 },
    #[error("the record is larger than {MAX_RECORD_BYTES} bytes")]
    TooLarge,
    #[error("the record's checksum does not match its contents")]
    Checksum,
    #[error("the record is damaged: {0}")]
    Corrupt(&'static str),
}

/// Which part of what an engine learned [`Engine::export_learned`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// All of it (the journal of what is new is left as it is).
    Everything,
    /// What was learned since the engine started recording or last exported what is new (all
    /// of it if the journal overflowed meanwhile).
    New,
}

/// What [`Engine::import_learned`] kept of one record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    /// The record was written for this very model (warm-up progress and live values kept too).
    pub same_model: bool,
    /// Explanations kept.
    pub explanations: usize,
    /// Explanations left out: a rule or option they involve changed or is gone (or the engine
    /// knew one for that place already, or had no room left).
    pub skipped: usize,
    /// Dead values kept.
    pub dead: usize,
    /// Solutions kept (those that are valid configurations of this model).
    pub solutions: usize,
}

impl std::ops::AddAssign for Imported {
    fn add_assign(&mut self, o: Imported) {
        self.same_model |= o.same_model;
        self.explanations += o.explanations;
        self.skipped += o.skipped;
        self.dead += o.dead;
        self.solutions += o.solutions;
    }
}

/// The content digests of a model: per option, per rule, and of the whole (its fingerprint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Digests {
    pub(crate) fingerprint: [u8; 32],
    vars: Vec<[u8; 16]>,
    rules: Vec<[u8; 16]>,
}

/// Feeds `Debug` output into a hasher without building the string.
struct Feed<'a>(&'a mut Sha256);

impl std::fmt::Write for Feed<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

fn half(h: Sha256) -> [u8; 16] {
    let full: [u8; 32] = h.finalize().into();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

fn text(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

impl Digests {
    pub(crate) fn of(engine: &Engine) -> Digests {
        let model = &engine.model;
        let vars: Vec<[u8; 16]> = model
            .vars
            .iter()
            .map(|v| {
                let mut h = Sha256::new();
                h.update(b"option\0");
                if let Some(o) = engine.product.options.get(v.opt) {
                    text(&mut h, &o.id);
                    if let OptionKind::Choice(c) = &o.kind {
                        for value in &c.values {
                            text(&mut h, &value.id);
                        }
                    }
                }
                let _ = write!(Feed(&mut h), "{:?}/{}/{}", v.kind, v.optional, v.size);
                half(h)
            })
            .collect();
        let rules: Vec<[u8; 16]> = model
            .cons
            .iter()
            .map(|c| {
                let mut h = Sha256::new();
                h.update(b"rule\0");
                // The options read, in scope order (a table's cells follow it), then the
                // compiled form (an expression names options by position, which the scope's
                // digests pin down).
                h.update((c.scope.len() as u64).to_le_bytes());
                for &x in &c.scope {
                    h.update((x as u64).to_le_bytes());
                    h.update(vars.get(x).copied().unwrap_or_default());
                }
                let _ = write!(Feed(&mut h), "{:?}", c.kind);
                half(h)
            })
            .collect();
        let mut h = Sha256::new();
        h.update(b"bespoke learned model\0");
        h.update(FORMAT.to_le_bytes());
        h.update(WARM_ORDER.to_le_bytes());
        text(&mut h, env!("CARGO_PKG_VERSION"));
        h.update((vars.len() as u64).to_le_bytes());
        for d in &vars {
            h.update(d);
        }
        h.update((rules.len() as u64).to_le_bytes());
        for d in &rules {
            h.update(d);
        }
        Digests {
            fingerprint: h.finalize().into(),
            vars,
            rules,
        }
    }
}

fn varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn pair(out: &mut Vec<u8>, (v, i): (usize, usize)) {
    varint(out, v as u64);
    varint(out, i as u64);
}

fn explanation(out: &mut Vec<u8>, e: &Explanation) {
    varint(out, e.rules.len() as u64);
    for &r in &e.rules {
        varint(out, r as u64);
    }
    varint(out, e.choices.len() as u64);
    for &c in &e.choices {
        varint(out, c as u64);
    }
}

/// One section of a record being written: its item count and encoded items.
#[derive(Default)]
struct Section {
    n: u64,
    bytes: Vec<u8>,
}

/// Cuts what is exported into records of about `RECORD_BYTES`.
struct Writer<'a> {
    digests: &'a Digests,
    always: bool,
    progress: (u64, u64),
    live: Section,
    dead: Section,
    known: Section,
    sols: Section,
    out: Vec<Vec<u8>>,
}

impl Writer<'_> {
    fn size(&self) -> usize {
        self.live.bytes.len()
            + self.dead.bytes.len()
            + self.known.bytes.len()
            + self.sols.bytes.len()
    }

    /// Ends the current record if it is full (`force`: if it holds anything).
    /// With `always`, a whole export writes one record even when it has nothing but its
    /// progress to say.
    fn cut(&mut self, force: bool) {
        let n = self.live.n + self.dead.n + self.known.n + self.sols.n;
        let wanted = n > 0 || (self.always && self.out.is_empty());
        if self.size() < RECORD_BYTES && !(force && wanted) {
            return;
        }
        let mut r = Vec::with_capacity(self.size() + 64 + 16 * self.digests.vars.len());
        r.extend_from_slice(MAGIC);
        r.extend_from_slice(&FORMAT.to_le_bytes());
        r.extend_from_slice(&self.digests.fingerprint);
        varint(&mut r, self.digests.vars.len() as u64);
        for d in &self.digests.vars {
            r.extend_from_slice(d);
        }
        varint(&mut r, self.digests.rules.len() as u64);
        for d in &self.digests.rules {
            r.extend_from_slice(d);
        }
        varint(&mut r, self.progress.0);
        varint(&mut r, self.progress.1);
        for s in [
            &mut self.live,
            &mut self.dead,
            &mut self.known,
            &mut self.sols,
        ] {
            varint(&mut r, s.n);
            r.append(&mut s.bytes);
            s.n = 0;
        }
        let sum: [u8; 32] = Sha256::digest(&r).into();
        r.extend_from_slice(&sum);
        self.out.push(r);
    }
}

fn level_code(l: Option<Warmth>) -> u64 {
    match l {
        None => 0,
        Some(Warmth::Empty) => 1,
        Some(Warmth::Choices) => 2,
        Some(Warmth::Pairs) => 3,
    }
}

fn level_of(code: u64) -> Result<Option<Warmth>, LearnedError> {
    Ok(match code {
        0 => None,
        1 => Some(Warmth::Empty),
        2 => Some(Warmth::Choices),
        3 => Some(Warmth::Pairs),
        _ => return Err(LearnedError::Corrupt("unknown warm-up level")),
    })
}

/// Reads a record's body with every length checked against what is left.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], LearnedError> {
        if n > self.b.len() {
            return Err(LearnedError::Corrupt("truncated"));
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64, LearnedError> {
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let [byte] = *self.take(1)? else {
                return Err(LearnedError::Corrupt("truncated"));
            };
            x |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(x);
            }
        }
        Err(LearnedError::Corrupt("a number is too long"))
    }

    /// An index below `n`.
    fn index(&mut self, n: usize) -> Result<usize, LearnedError> {
        usize::try_from(self.varint()?)
            .ok()
            .filter(|&x| x < n)
            .ok_or(LearnedError::Corrupt("an index is out of range"))
    }

    /// A count of items of at least `each` bytes: never more than what is left could hold.
    fn count(&mut self, each: usize) -> Result<usize, LearnedError> {
        usize::try_from(self.varint()?)
            .ok()
            .filter(|&n| n.saturating_mul(each.max(1)) <= self.b.len())
            .ok_or(LearnedError::Corrupt("a count is larger than the record"))
    }

    fn digests(&mut self) -> Result<Vec<[u8; 16]>, LearnedError> {
        let n = self.count(16)?;
        (0..n)
            .map(|_| {
                let mut d = [0u8; 16];
                d.copy_from_slice(self.take(16)?);
                Ok(d)
            })
            .collect()
    }
}

/// How a record's options and rules map onto this engine's.
struct Map {
    same: bool,
    /// Record option → this model's variable.
    vars: Vec<Option<usize>>,
    /// Record rule → this model's rule.
    rules: Vec<Option<usize>>,
}

impl Map {
    fn new(engine: &Engine, mine: &Digests, rec: (&[u8], &[[u8; 16]], &[[u8; 16]])) -> Map {
        let (fingerprint, vars, rules) = rec;
        let same = fingerprint == mine.fingerprint.as_slice()
            && vars.len() == engine.model.vars.len()
            && rules.len() == engine.model.cons.len();
        if same {
            return Map {
                same,
                vars: (0..vars.len()).map(Some).collect(),
                rules: (0..rules.len()).map(Some).collect(),
            };
        }
        let by_var: foldhash::HashMap<[u8; 16], usize> =
            mine.vars.iter().enumerate().map(|(i, d)| (*d, i)).collect();
        // Identical rules (same digest) pair up in order.
        let mut by_rule: foldhash::HashMap<[u8; 16], std::collections::VecDeque<usize>> =
            foldhash::HashMap::default();
        for (i, d) in mine.rules.iter().enumerate() {
            by_rule.entry(*d).or_default().push_back(i);
        }
        Map {
            same,
            vars: vars.iter().map(|d| by_var.get(d).copied()).collect(),
            rules: rules
                .iter()
                .map(|d| by_rule.get_mut(d).and_then(|q| q.pop_front()))
                .collect(),
        }
    }
}

impl Engine {
    /// The fingerprint of this engine's model (hex SHA-256 over its options' and rules'
    /// digests and the record format): equal for engines whose learning is interchangeable.
    pub fn fingerprint(&self) -> String {
        crate::rules::learned::hex(&self.digests().fingerprint)
    }

    /// Starts journaling what this engine (and every engine sharing its store) learns, so that
    /// `export_learned(Export::New)` writes only that.
    pub fn record_learning(&self) {
        if let Ok(mut j) = self.shared.journal.lock() {
            j.on = true;
        }
    }

    /// Whether the engine has learned nothing yet (no solution, explanation, dead value or
    /// warm-up progress).
    pub fn learned_nothing(&self) -> bool {
        self.shared.pool.lock().is_ok_and(|p| p.is_empty())
            && self.shared.dead.lock().is_ok_and(|d| d.is_empty())
            && self.explanation_bytes() == 0
            && self
                .shared
                .warmed
                .lock()
                .is_ok_and(|w| w.finished.is_none() && w.pairs == 0)
    }

    /// What the engine learned, as records of about 8 MiB each (none when there is nothing to
    /// write). See the module documentation for what a record holds.
    pub fn export_learned(&self, what: Export) -> Vec<Vec<u8>> {
        let digests = self.digests();
        // What is new: taken out of the journal, first and on its own (it is never locked with
        // the others). A whole export leaves the journal as it is; a journal that lost entries
        // makes this one whole.
        let new = match what {
            Export::Everything => None,
            Export::New => self.shared.journal.lock().ok().and_then(|mut j| {
                let solutions = std::mem::take(&mut j.solutions)
                    .min(SOLUTIONS_EXPORTED.saturating_sub(j.solutions_exported));
                j.solutions_exported += solutions;
                let lost = std::mem::take(&mut j.lost);
                let taken = (
                    std::mem::take(&mut j.known),
                    std::mem::take(&mut j.dead),
                    solutions,
                );
                (!lost).then_some(taken)
            }),
        };
        let progress = self
            .shared
            .warmed
            .lock()
            .map(|w| (level_code(w.finished), w.pairs as u64))
            .unwrap_or_default();
        let mut w = Writer {
            digests,
            always: new.is_none(),
            progress,
            live: Section::default(),
            dead: Section::default(),
            known: Section::default(),
            sols: Section::default(),
            out: Vec::new(),
        };
        if new.is_none()
            && let Ok(live) = self.shared.live.lock()
        {
            let mut all: Vec<_> = live.iter().copied().collect();
            all.sort_unstable();
            for p in all {
                w.live.n += 1;
                pair(&mut w.live.bytes, p);
            }
        }
        let dead: Vec<((usize, usize), Explanation)> = self
            .shared
            .dead
            .lock()
            .map(|d| match &new {
                Some((_, dead, _)) => dead
                    .iter()
                    .filter_map(|p| d.get(p).map(|e| (*p, e.clone())))
                    .collect(),
                None => d.iter().map(|(p, e)| (*p, e.clone())).collect(),
            })
            .unwrap_or_default();
        for (p, e) in dead {
            w.dead.n += 1;
            pair(&mut w.dead.bytes, p);
            explanation(&mut w.dead.bytes, &e);
            w.cut(false);
        }
        let (keys, new_solutions) = match new {
            Some((keys, _, solutions)) => (keys, Some(solutions)),
            None => (
                self.shared
                    .by_target
                    .lock()
                    .map(|k| k.keys())
                    .unwrap_or_default(),
                None,
            ),
        };
        // In batches, so that the lock is not held for the whole export.
        for batch in keys.chunks(4096) {
            let entries: Vec<_> = match self.shared.by_target.lock() {
                Ok(k) => batch
                    .iter()
                    .filter_map(|key| {
                        let (e, pairs) = k.get(key)?;
                        Some((key.target(), e.unpack(), pairs))
                    })
                    .collect(),
                Err(_) => Vec::new(),
            };
            for (target, e, pairs) in entries {
                w.known.n += 1;
                pair(&mut w.known.bytes, target);
                varint(&mut w.known.bytes, pairs.len() as u64);
                for p in pairs {
                    pair(&mut w.known.bytes, p);
                }
                explanation(&mut w.known.bytes, &e);
                w.cut(false);
            }
        }
        let sols: Vec<std::sync::Arc<[usize]>> = self
            .shared
            .pool
            .lock()
            .map(|p| {
                let n = new_solutions.map_or(p.len(), |n| n.min(p.len()));
                let mut newest: Vec<_> = p.newest().take(n).cloned().collect();
                newest.reverse();
                newest
            })
            .unwrap_or_default();
        for s in sols {
            w.sols.n += 1;
            for &i in s.iter() {
                varint(&mut w.sols.bytes, i as u64);
            }
            w.cut(false);
        }
        w.cut(true);
        w.out
    }

    /// Reads one record into this engine's store (see the module documentation for what is
    /// kept of a record written for another model). With `journal`, what it keeps counts as
    /// newly learned (a later `export_learned(Export::New)` writes it, e.g. under this model's
    /// own fingerprint); without, it does not (it came from where it would be written).
    pub fn import_learned(&self, record: &[u8], journal: bool) -> Result<Imported, LearnedError> {
        if record.len() > MAX_RECORD_BYTES {
            return Err(LearnedError::TooLarge);
        }
        if record.len() < HEAD + SUM || &record[..MAGIC.len()] != MAGIC {
            return Err(LearnedError::Magic);
        }
        let mut format = [0u8; 4];
        format.copy_from_slice(&record[MAGIC.len()..HEAD]);
        let found = u32::from_le_bytes(format);
        if found != FORMAT {
            return Err(LearnedError::Format { found });
        }
        let (content, sum) = record.split_at(record.len() - SUM);
        if Sha256::digest(content).as_slice() != sum {
            return Err(LearnedError::Checksum);
        }
        let mut r = Reader {
            b: &content[HEAD..],
        };
        let fingerprint = r.take(32)?;
        let vars = r.digests()?;
        let rules = r.digests()?;
        let mine = self.digests();
        let map = Map::new(self, mine, (fingerprint, &vars, &rules));
        let level = level_of(r.varint()?)?;
        let pairs_done = usize::try_from(r.varint()?).unwrap_or(usize::MAX);
        let model = &self.model;
        let size = |v: usize| model.vars.get(v).map_or(0, |x| x.size);
        // A value of the record's option `v`, mapped (None: its option changed or is gone).
        let value = |r: &mut Reader<'_>| -> Result<Option<(usize, usize)>, LearnedError> {
            let v = r.index(vars.len())?;
            let i = usize::try_from(r.varint()?).unwrap_or(usize::MAX);
            Ok(map.vars[v].filter(|&x| i < size(x)).map(|x| (x, i)))
        };
        let expl = |r: &mut Reader<'_>| -> Result<Option<Explanation>, LearnedError> {
            let n = r.count(1)?;
            let mut e = Explanation::default();
            let mut ok = true;
            for _ in 0..n {
                match map.rules[r.index(rules.len())?] {
                    Some(x) if !e.rules.contains(&x) => e.rules.push(x),
                    _ => ok = false,
                }
            }
            let n = r.count(1)?;
            for _ in 0..n {
                match map.vars[r.index(vars.len())?] {
                    Some(x) if !e.choices.contains(&x) => e.choices.push(x),
                    _ => ok = false,
                }
            }
            Ok(ok.then_some(e))
        };
        // Everything is read and checked before anything is kept.
        let mut live = Vec::new();
        for _ in 0..r.count(2)? {
            if let Some(p) = value(&mut r)? {
                live.push(p);
            }
        }
        let mut dead = Vec::new();
        let mut out = Imported {
            same_model: map.same,
            ..Imported::default()
        };
        for _ in 0..r.count(4)? {
            let target = value(&mut r)?;
            let e = expl(&mut r)?;
            match (target, e) {
                (Some(t), Some(e)) if e.choices.is_empty() => dead.push((t, e)),
                _ => out.skipped += 1,
            }
        }
        let mut known = Vec::new();
        for _ in 0..r.count(5)? {
            let target = value(&mut r)?;
            let n = r.count(2)?;
            let mut pairs = Vec::with_capacity(n);
            let mut ok = true;
            for _ in 0..n {
                match value(&mut r)? {
                    Some(p) => pairs.push(p),
                    None => ok = false,
                }
            }
            let e = expl(&mut r)?;
            // The options it names must be exactly those of the chosen values it is kept under
            // (else it would be used where a choice it needs is missing): one that is not is
            // left out.
            let agrees = |e: &Explanation| {
                let mut a: Vec<usize> = pairs.iter().map(|p| p.0).collect();
                let mut b = e.choices.clone();
                a.sort_unstable();
                b.sort_unstable();
                a == b
            };
            match (target, e) {
                (Some(t), Some(e)) if ok && agrees(&e) => known.push((t, e, pairs)),
                _ => out.skipped += 1,
            }
        }
        let n = r.count(vars.len().max(1))?;
        let mut sols = Vec::new();
        // This model's variable → the record's option, when every one has its counterpart.
        let back: Option<Vec<usize>> = {
            let mut back = vec![None; model.vars.len()];
            for (k, m) in map.vars.iter().enumerate() {
                if let Some(x) = *m {
                    back[x] = Some(k);
                }
            }
            back.into_iter().collect()
        };
        for _ in 0..n {
            let mut rec = Vec::with_capacity(vars.len());
            for _ in 0..vars.len() {
                rec.push(usize::try_from(r.varint()?).unwrap_or(usize::MAX));
            }
            let Some(back) = &back else { continue };
            let sol: Vec<usize> = back.iter().map(|&k| rec[k]).collect();
            let in_range = sol.iter().enumerate().all(|(v, &i)| i < size(v));
            if in_range && (map.same || model.cons.iter().all(|c| model.holds(c, &sol))) {
                sols.push(sol);
            }
        }
        if !r.b.is_empty() {
            return Err(LearnedError::Corrupt("bytes after the last section"));
        }
        // Keep it.
        if map.same {
            if let Ok(mut l) = self.shared.live.lock() {
                l.extend(live);
            }
            if let Ok(mut w) = self.shared.warmed.lock() {
                w.finished = w.finished.max(level);
                w.pairs = w.pairs.max(pairs_done);
            }
        }
        let mut buried = Vec::new();
        if let Ok(mut d) = self.shared.dead.lock() {
            for (t, e) in dead {
                let t = self.classes.rep(t);
                if let std::collections::hash_map::Entry::Vacant(slot) = d.entry(t) {
                    slot.insert(e);
                    buried.push(t);
                }
            }
        }
        out.dead = buried.len();
        let mut keys = Vec::new();
        if let Ok(mut k) = self.shared.by_target.lock() {
            for (t, e, pairs) in known {
                match k.insert(t, &e, pairs) {
                    Some(key) => keys.push(key),
                    None => out.skipped += 1,
                }
            }
        }
        out.explanations = keys.len();
        out.solutions = sols.len();
        self.shared.remember_with(sols, journal);
        if journal && let Ok(mut j) = self.shared.journal.lock() {
            for key in keys {
                j.known(key);
            }
            if j.on {
                j.dead.extend(buried);
            }
        }
        Ok(out)
    }
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
