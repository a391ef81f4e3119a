//! The sums over people that the noisy figures are drawn on: in fixed chunks of people,
//! each a block of [`BLOCK`] people at a time as faer products, chunks added in order (the
//! same bits on any thread count).

use super::known::{Figures, Frame, UNITS_PER_HALF_RANGE};
use super::moments::{add_products, BLOCK};
use crate::filter::Eligible;
use faer::Mat;
use rayon::prelude::*;

/// People per chunk of the sums: partial sums added in chunk order, so the figures do not
/// depend on the thread count.
const CHUNK: usize = 4096;

/// Per chunk of people: holders per measurement and pair, and the sums of frame values.
#[derive(Clone)]
pub(super) struct FirstSums {
    pub count: Vec<f64>,
    pub both: Vec<f64>,
    pub sum: Vec<f64>,
}

/// Holders per measurement and pair (upper triangle) and the sums of clamped frame
/// values, over `people`.
pub(super) fn first_sums(e: &Eligible, people: &[u32], frame: &Frame) -> FirstSums {
    let d = frame.d();
    let parts: Vec<FirstSums> = people
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut f = FirstSums {
                count: vec![0.0; d],
                both: vec![0.0; d * d],
                sum: vec![0.0; d],
            };
            // Who holds what, a block of people at a time (columns of `m`): the pairs held
            // together are `m m^T`, one product instead of a loop over every pair.
            let mut m = Mat::<f64>::zeros(d, BLOCK);
            let mut both = Mat::<f64>::zeros(d, d);
            // People of blocks where everyone holds everything: they hold every pair.
            let mut whole = 0.0;
            for block in chunk.chunks(BLOCK) {
                m.fill(0.0);
                let mut held = 0;
                for (c, &i) in block.iter().enumerate() {
                    for (j, &v) in e.people.values(i as usize).iter().enumerate() {
                        if !v.is_nan() {
                            m[(j, c)] = 1.0;
                            held += 1;
                            f.count[j] += 1.0;
                            let y = (v as f64 - frame.center[j]) / frame.unit[j];
                            f.sum[j] += y.clamp(-UNITS_PER_HALF_RANGE, UNITS_PER_HALF_RANGE);
                        }
                    }
                }
                if held == block.len() * d {
                    whole += block.len() as f64;
                } else {
                    add_products(&mut both, m.as_ref(), m.as_ref());
                }
            }
            for a in 0..d {
                for b in a + 1..d {
                    f.both[a * d + b] = both[(a, b)] + whole;
                }
            }
            f
        })
        .collect();
    let mut t = FirstSums {
        count: vec![0.0; d],
        both: vec![0.0; d * d],
        sum: vec![0.0; d],
    };
    for p in &parts {
        add(&mut t.count, &p.count);
        add(&mut t.both, &p.both);
        add(&mut t.sum, &p.sum);
    }
    t
}

fn add(a: &mut [f64], b: &[f64]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Per chunk of people, the centred sums of [`spread`]: per ordered pair (i, j) over the
/// people holding both, the sums of i's values and of their squares; per pair, the sum of
/// products; per measurement, the sum of squares.
#[derive(Clone)]
pub(super) struct SecondSums {
    pub pair_sum: Vec<f64>,
    pub pair_sq: Vec<f64>,
    pub product: Vec<f64>,
    pub sq: Vec<f64>,
}

impl SecondSums {
    pub fn new(d: usize) -> SecondSums {
        SecondSums {
            pair_sum: vec![0.0; d * d],
            pair_sq: vec![0.0; d * d],
            product: vec![0.0; d * d],
            sq: vec![0.0; d],
        }
    }

    fn add(&mut self, o: &SecondSums) {
        add(&mut self.pair_sum, &o.pair_sum);
        add(&mut self.pair_sq, &o.pair_sq);
        add(&mut self.product, &o.product);
        add(&mut self.sq, &o.sq);
    }
}

/// Sums over `people` of their centred values clipped to norm `clip` (in units): per
/// measurement the squares, per pair the products and each side's sums and squares over
/// the people holding both, in fixed chunks of people (the same bits on any thread count).
pub(super) fn second_sums(
    e: &Eligible,
    people: &[u32],
    f: &Figures,
    frame: &Frame,
    clip: f64,
) -> SecondSums {
    let d = frame.d();
    let parts: Vec<SecondSums> = people
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut t = SecondSums::new(d);
            let mut held: Vec<(usize, f64)> = Vec::with_capacity(d);
            // A block of people at a time, as columns: `y` their centred, clipped values (0
            // where not held), `m` who holds what, `y2` the squares. Every sum over people
            // holding a pair is then a product: y y^T (products, and squares on the
            // diagonal), y m^T (each side's sum), y2 m^T (each side's squares).
            let (mut y, mut m, mut y2) = (
                Mat::<f64>::zeros(d, BLOCK),
                Mat::<f64>::zeros(d, BLOCK),
                Mat::<f64>::zeros(d, BLOCK),
            );
            let (mut product, mut pair_sum, mut pair_sq) = (
                Mat::<f64>::zeros(d, d),
                Mat::<f64>::zeros(d, d),
                Mat::<f64>::zeros(d, d),
            );
            // Blocks where everyone holds everything: each side's sums over a pair are
            // the measurement's sums over the block (m is all ones), no product needed.
            let (mut whole_sum, mut whole_sq) = (vec![0.0; d], vec![0.0; d]);
            for block in chunk.chunks(BLOCK) {
                y.fill(0.0);
                m.fill(0.0);
                y2.fill(0.0);
                let mut all = 0;
                for (c, &i) in block.iter().enumerate() {
                    held.clear();
                    for (j, &v) in e.people.values(i as usize).iter().enumerate() {
                        if !v.is_nan() && !f.mean[j].is_nan() {
                            held.push((j, (v as f64 - f.mean[j]) / frame.unit[j]));
                        }
                    }
                    let norm = held.iter().map(|h| h.1 * h.1).sum::<f64>().sqrt();
                    let scale = if norm > clip { clip / norm } else { 1.0 };
                    all += held.len();
                    for &(j, v) in &held {
                        let v = v * scale;
                        y[(j, c)] = v;
                        m[(j, c)] = 1.0;
                        y2[(j, c)] = v * v;
                    }
                }
                add_products(&mut product, y.as_ref(), y.as_ref());
                if all == block.len() * d {
                    for j in 0..d {
                        whole_sum[j] += (0..block.len()).map(|c| y[(j, c)]).sum::<f64>();
                        whole_sq[j] += (0..block.len()).map(|c| y2[(j, c)]).sum::<f64>();
                    }
                } else {
                    add_products(&mut pair_sum, y.as_ref(), m.as_ref());
                    add_products(&mut pair_sq, y2.as_ref(), m.as_ref());
                }
            }
            for a in 0..d {
                t.sq[a] = product[(a, a)];
                for b in 0..d {
                    if a != b {
                        t.product[a * d + b] = product[(a, b)];
                        t.pair_sum[a * d + b] = pair_sum[(a, b)] + whole_sum[a];
                        t.pair_sq[a * d + b] = pair_sq[(a, b)] + whole_sq[a];
                    }
                }
            }
            t
        })
        .collect();
    let mut t = SecondSums::new(d);
    for p in &parts {
        t.add(p);
    }
    t
}
