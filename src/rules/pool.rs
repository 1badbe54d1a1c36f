//! The solutions an engine remembers (its witnesses), indexed by value: a ring of solutions and, per value, a bitset of the slots whose solution has it, so that the solutions agreeing with a selection are found with a few word operations per choice instead of a scan of every solution.

use std::sync::Arc;

use super::model::Model;

/// Solutions kept: 16 per option, within `BYTES`, at least `MIN` and at most `MAX`. A large
/// pool is what lets a busy storefront answer the selections customers commonly reach without
/// searching again; with the index, a larger pool costs a small product little.
const BYTES: usize = 8 << 20;
const MIN: usize = 512;
pub(crate) const MAX: usize = 4096;

/// A ring of solutions indexed by value.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    cap: usize,
    /// By slot; grows to `cap`, then the oldest slot is overwritten.
    sols: Vec<Arc<[usize]>>,
    /// The slot the next solution goes to.
    next: usize,
    /// Words of a slot bitset.
    words: usize,
    /// Per variable, the position of its value 0 among all values.
    first: Vec<usize>,
    /// Per value (variable `v`'s value `i` at `first[v] + i`), `words` words: the slots whose
    /// solution has that value.
    cols: Vec<u64>,
    /// The slots in use.
    occupied: Vec<u64>,
}

impl Pool {
    pub(crate) fn new(model: &Model) -> Pool {
        let nvars = model.vars.len();
        let per = (nvars * std::mem::size_of::<usize>()).max(1);
        let cap = (nvars * 16).min(BYTES / per).clamp(MIN, MAX);
        let words = cap.div_ceil(64);
        let mut first = Vec::with_capacity(nvars);
        let mut values = 0;
        for var in &model.vars {
            first.push(values);
            values += var.size;
        }
        // Solutions are kept with their variables' sizes: one that does not fit is refused.
        first.push(values);
        Pool {
            cap,
            sols: Vec::new(),
            next: 0,
            words,
            first,
            cols: vec![0; values * words],
            occupied: vec![0; words],
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.sols.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sols.is_empty()
    }

    /// The position of value `i` of variable `v` among all values, if it is one.
    fn value(&self, v: usize, i: usize) -> Option<usize> {
        let at = self.first.get(v)? + i;
        (at < *self.first.get(v + 1)?).then_some(at)
    }

    fn col_mut(&mut self, at: usize) -> &mut [u64] {
        &mut self.cols[at * self.words..(at + 1) * self.words]
    }

    /// The slots whose solution has value `i` of variable `v` (none for a value not in the
    /// model).
    pub(crate) fn col(&self, v: usize, i: usize) -> Option<&[u64]> {
        self.value(v, i)
            .map(|at| &self.cols[at * self.words..(at + 1) * self.words])
    }

    /// Keeps a solution (one of the model's size with every value in range; others are
    /// ignored), in place of the oldest once the pool is full.
    pub(crate) fn push(&mut self, sol: Arc<[usize]>) {
        if self.cap == 0
            || sol.len() + 1 != self.first.len()
            || sol
                .iter()
                .enumerate()
                .any(|(v, &i)| self.value(v, i).is_none())
        {
            return;
        }
        let slot = self.next;
        let (w, b) = (slot / 64, 1u64 << (slot % 64));
        if let Some(old) = self.sols.get(slot).cloned() {
            for (v, &i) in old.iter().enumerate() {
                if let Some(at) = self.value(v, i) {
                    self.col_mut(at)[w] &= !b;
                }
            }
        }
        for (v, &i) in sol.iter().enumerate() {
            if let Some(at) = self.value(v, i) {
                self.col_mut(at)[w] |= b;
            }
        }
        self.occupied[w] |= b;
        if slot < self.sols.len() {
            self.sols[slot] = sol;
        } else {
            self.sols.push(sol);
        }
        self.next = (slot + 1) % self.cap;
    }

    /// The slots, newest first.
    pub(crate) fn newest_slots(&self) -> impl Iterator<Item = usize> + '_ {
        let (n, cap, next) = (self.sols.len(), self.cap.max(1), self.next);
        (0..n).map(move |k| (next + cap - 1 - k) % cap)
    }

    /// The solution in a slot.
    pub(crate) fn get(&self, slot: usize) -> &Arc<[usize]> {
        &self.sols[slot]
    }

    /// The solutions, newest first.
    pub(crate) fn newest(&self) -> impl Iterator<Item = &Arc<[usize]>> + '_ {
        self.newest_slots().map(|s| &self.sols[s])
    }

    /// The slots whose solution has every one of these values (a value not in the model: none).
    pub(crate) fn agreeing(&self, values: impl IntoIterator<Item = (usize, usize)>) -> Vec<u64> {
        let mut mask = self.occupied.clone();
        for (v, i) in values {
            match self.col(v, i) {
                Some(c) => mask.iter_mut().zip(c).for_each(|(m, c)| *m &= c),
                None => mask.iter_mut().for_each(|m| *m = 0),
            }
        }
        mask
    }

    /// The slots of `mask`, newest first, at most `k` of them: a walk over the mask's set bits
    /// (from the newest slot down, then from the end of the ring down to it), not over every
    /// slot.
    pub(crate) fn newest_of(&self, mask: &[u64], k: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let n = self.sols.len();
        for (lo, hi) in [(0, self.next.min(n)), (self.next.min(n), n)] {
            if hi <= lo {
                continue;
            }
            let mut wi = (hi - 1) / 64;
            loop {
                let mut w = mask.get(wi).copied().unwrap_or(0);
                // Only the bits of this word within [lo, hi).
                let top = hi - wi * 64;
                if top < 64 {
                    w &= (1u64 << top) - 1;
                }
                if lo > wi * 64 {
                    w &= !((1u64 << (lo - wi * 64)) - 1);
                }
                while w != 0 {
                    if out.len() >= k {
                        return out;
                    }
                    let b = 63 - w.leading_zeros() as usize;
                    out.push(wi * 64 + b);
                    w &= !(1u64 << b);
                }
                if wi == 0 || wi * 64 <= lo {
                    break;
                }
                wi -= 1;
            }
        }
        out
    }

    /// The newest solution in `mask`.
    pub(crate) fn newest_in<'a>(&'a self, mask: &'a [u64]) -> Option<&'a Arc<[usize]>> {
        self.newest_of(mask, 1).first().map(|&s| &self.sols[s])
    }

    /// Whether a solution in `mask` has value `i` of variable `v`.
    pub(crate) fn any_with(&self, mask: &[u64], v: usize, i: usize) -> bool {
        self.col(v, i)
            .is_some_and(|c| c.iter().zip(mask).any(|(a, b)| a & b != 0))
    }

    /// Words of a slot bitset.
    pub(crate) fn words(&self) -> usize {
        self.words
    }

    /// How many values the model has in all.
    pub(crate) fn values(&self) -> usize {
        self.first.last().copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool of `cap` slots over one variable of 8 values (the index needs a model only for
    /// its sizes).
    fn pool(cap: usize) -> Pool {
        let words = cap.div_ceil(64);
        Pool {
            cap,
            sols: Vec::new(),
            next: 0,
            words,
            first: vec![0, 8],
            cols: vec![0; 8 * words],
            occupied: vec![0; words],
        }
    }

    #[test]
    fn the_index_follows_the_ring_and_walks_newest_first() {
        let mut p = pool(130);
        for k in 0..300usize {
            p.push(Arc::from(vec![k % 8]));
        }
        assert_eq!(p.len(), 130);
        // The newest solution is the 300th (value 299 % 8 = 3), the oldest kept the 171st.
        let newest: Vec<usize> = p.newest().map(|s| s[0]).collect();
        let expected: Vec<usize> = (170..300).rev().map(|k| k % 8).collect();
        assert_eq!(newest, expected);
        // Every slot's bits match its solution, and only one value's column holds it.
        for v in 0..8 {
            let mask = p.agreeing([(0, v)]);
            let slots: Vec<usize> = p.newest_of(&mask, usize::MAX);
            let want: Vec<usize> = p.newest_slots().filter(|&s| p.get(s)[0] == v).collect();
            assert_eq!(slots, want, "value {v}");
            assert_eq!(p.newest_of(&mask, 3), want[..3].to_vec());
            assert_eq!(p.newest_in(&mask).map(|s| s[0]), Some(v));
        }
        // A value outside the model, or a solution of the wrong size: nothing.
        assert!(p.agreeing([(0, 8)]).iter().all(|w| *w == 0));
        p.push(Arc::from(vec![1, 2]));
        p.push(Arc::from(vec![9]));
        assert_eq!(p.newest().next().map(|s| s[0]), Some(3));
    }
}
