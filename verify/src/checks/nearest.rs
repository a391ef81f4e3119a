//! The nearest released point to a person, exactly as a scan of every candidate in order
//! finds it, without computing most distances.
//!
//! The answer is the candidate with the smallest squared distance (summed over the
//! measurements both have, in order, as the scan sums it), ties to the first in order. A
//! candidate whose distance provably exceeds the best so far cannot be that answer, so
//! it is skipped: the distance is at least the squared length of the difference's
//! projection on a few orthonormal axes (the candidates' main directions of spread, over
//! the measurements every candidate has), and the candidates are sorted on the first
//! axis so that a whole run of them is left at once. Each bound is made smaller than the
//! true one by far more than floating-point error can add (relative `1e-9`), so a
//! candidate is skipped only when its computed distance would lose too.

/// Axes used for the bound.
const AXES: usize = 8;
/// Candidates the axes are estimated from (the axes need only be good, not exact).
const SAMPLE: usize = 4096;
const SLACK: f64 = 1e-9;

/// One category's candidates (`n x d` points, row-major, NaN where missing) and the
/// bound's index.
pub struct Nearest<'a> {
    pts: &'a [f64],
    d: usize,
    /// Measurements no candidate misses; the axes live on them.
    dims: Vec<usize>,
    /// Unit axes over `dims`, orthonormal.
    axes: Vec<Vec<f64>>,
    /// Each candidate's projections (`n x axes`) and the sum of its absolute values over
    /// `dims` (the scale of its projections' rounding), in the order of `order` (a scan
    /// reads them in sequence).
    proj: Vec<f64>,
    l1: Vec<f64>,
    max_l1: f64,
    /// Candidates in order of their first projection, and those projections.
    order: Vec<u32>,
    first: Vec<f64>,
}

/// Squared distance over the measurements both have, in order; stops once past `bound`
/// (the partial sum returned then is above the bound).
fn dist(q: &[f64], p: &[f64], bound: f64) -> f64 {
    let mut s = 0.0;
    for j in 0..q.len() {
        let t = q[j] - p[j];
        if !t.is_nan() {
            s += t * t;
            if s > bound {
                break;
            }
        }
    }
    s
}

impl<'a> Nearest<'a> {
    pub fn new(pts: &'a [f64], d: usize) -> Nearest<'a> {
        let n = pts.len().checked_div(d).unwrap_or(0);
        let dims: Vec<usize> = (0..d)
            .filter(|&j| (0..n).all(|i| !pts[i * d + j].is_nan()))
            .collect();
        let axes = if n >= 2 && !dims.is_empty() {
            axes(pts, d, n, &dims)
        } else {
            Vec::new()
        };
        let m = axes.len();
        let mut proj = vec![0.0; n * m];
        let mut l1 = vec![0.0; n];
        for i in 0..n {
            let p = &pts[i * d..(i + 1) * d];
            for (k, u) in axes.iter().enumerate() {
                proj[i * m + k] = dims.iter().zip(u).map(|(&j, u)| u * p[j]).sum();
            }
            l1[i] = dims.iter().map(|&j| p[j].abs()).sum();
        }
        let max_l1 = l1.iter().cloned().fold(0.0, f64::max);
        let mut order: Vec<u32> = if m > 0 {
            (0..n as u32).collect()
        } else {
            Vec::new()
        };
        order.sort_by(|&a, &b| proj[a as usize * m].total_cmp(&proj[b as usize * m]));
        let first = order.iter().map(|&i| proj[i as usize * m]).collect();
        let proj = order
            .iter()
            .flat_map(|&i| &proj[i as usize * m..(i as usize + 1) * m])
            .copied()
            .collect();
        let l1 = order.iter().map(|&i| l1[i as usize]).collect();
        Nearest {
            pts,
            d,
            dims,
            axes,
            proj,
            l1,
            max_l1,
            order,
            first,
        }
    }

    fn len(&self) -> usize {
        self.pts.len().checked_div(self.d).unwrap_or(0)
    }

    /// The first candidate at the smallest distance from `q`; `own`, when given, is tried
    /// first (a near candidate gives an early bound).
    pub fn nearest(&self, q: &[f64], own: Option<usize>) -> Option<usize> {
        let d = self.d;
        if d == 0 {
            return None;
        }
        let pt = |i: usize| &self.pts[i * d..(i + 1) * d];
        let mut best = f64::INFINITY;
        let mut best_i: Option<usize> = None;
        if let Some(i) = own {
            best = dist(q, pt(i), f64::INFINITY);
            best_i = Some(i);
        }
        let offer = |i: usize, best: &mut f64, best_i: &mut Option<usize>| {
            let s = dist(q, pt(i), *best);
            if s < *best || best_i.is_none_or(|b| s == *best && i < b) {
                *best = s;
                *best_i = Some(i);
            }
        };
        let m = self.axes.len();
        if m == 0 || self.dims.iter().any(|&j| q[j].is_nan()) {
            for i in 0..self.len() {
                if own != Some(i) {
                    offer(i, &mut best, &mut best_i);
                }
            }
            return best_i;
        }
        let qp: Vec<f64> = self
            .axes
            .iter()
            .map(|u| self.dims.iter().zip(u).map(|(&j, u)| u * q[j]).sum())
            .collect();
        let q_l1: f64 = self.dims.iter().map(|&j| q[j].abs()).sum();
        let shrunk = |gap: f64, e: f64| (gap.abs() - e).max(0.0).powi(2);
        let beaten = |lb: f64, best: f64| lb > best * (1.0 + SLACK);
        let e_run = SLACK * (1.0 + q_l1 + self.max_l1);
        let visit = |t: usize, best: &mut f64, best_i: &mut Option<usize>| -> bool {
            if beaten(shrunk(qp[0] - self.first[t], e_run), *best) {
                return false;
            }
            let i = self.order[t] as usize;
            if own != Some(i) {
                let e = SLACK * (1.0 + q_l1 + self.l1[t]);
                let p = &self.proj[t * m..(t + 1) * m];
                // The bound summed axis by axis (the first axes hold most of the spread):
                // its partial sums only grow, so one past the best already decides.
                let mut lb = 0.0;
                let skip = qp.iter().zip(p).any(|(a, b)| {
                    lb += shrunk(a - b, e);
                    beaten(lb, *best)
                });
                if !skip {
                    offer(i, best, best_i);
                }
            }
            true
        };
        let start = self.first.partition_point(|&f| f < qp[0]);
        for t in start..self.order.len() {
            if !visit(t, &mut best, &mut best_i) {
                break;
            }
        }
        for t in (0..start).rev() {
            if !visit(t, &mut best, &mut best_i) {
                break;
            }
        }
        best_i
    }
}

/// Up to [`AXES`] orthonormal main directions of the candidates' spread over `dims`, by
/// power iteration on the covariance of a sample of them (deterministic).
fn axes(pts: &[f64], d: usize, n: usize, dims: &[usize]) -> Vec<Vec<f64>> {
    let e = dims.len();
    let step = n.div_ceil(SAMPLE).max(1);
    let rows: Vec<usize> = (0..n).step_by(step).collect();
    let mut mean = vec![0.0; e];
    for &i in &rows {
        for (m, &j) in mean.iter_mut().zip(dims) {
            *m += pts[i * d + j] / rows.len() as f64;
        }
    }
    let mut cov = vec![0.0; e * e];
    let mut x = vec![0.0; e];
    for &i in &rows {
        for (x, (&j, m)) in x.iter_mut().zip(dims.iter().zip(&mean)) {
            *x = pts[i * d + j] - m;
        }
        for a in 0..e {
            for b in 0..e {
                cov[a * e + b] += x[a] * x[b];
            }
        }
    }
    let mut out: Vec<Vec<f64>> = Vec::new();
    let orthogonalize = |v: &mut [f64], out: &[Vec<f64>]| {
        for _ in 0..2 {
            for u in out {
                let dot: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
                for (a, b) in v.iter_mut().zip(u) {
                    *a -= dot * b;
                }
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|a| *a /= norm);
        }
        norm
    };
    for k in 0..AXES.min(e) {
        // A start no earlier axis spans: a slanted vector.
        let mut v: Vec<f64> = (0..e).map(|a| 1.0 + ((a + k) % 7) as f64).collect();
        let mut ok = orthogonalize(&mut v, &out) > 1e-12;
        for _ in 0..60 {
            if !ok {
                break;
            }
            let mut w: Vec<f64> = (0..e)
                .map(|a| (0..e).map(|b| cov[a * e + b] * v[b]).sum())
                .collect();
            ok = orthogonalize(&mut w, &out) > 1e-12;
            v = w;
        }
        if !ok {
            break;
        }
        out.push(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain scan: own first, then every other candidate in order.
    fn scan(pts: &[f64], d: usize, q: &[f64], own: Option<usize>) -> Option<usize> {
        let n = pts.len() / d;
        let mut best = f64::INFINITY;
        let mut best_i = None;
        if let Some(i) = own {
            best = dist(q, &pts[i * d..(i + 1) * d], f64::INFINITY);
            best_i = Some(i);
        }
        for i in 0..n {
            if Some(i) == own {
                continue;
            }
            let s = dist(q, &pts[i * d..(i + 1) * d], best);
            if s < best || best_i.is_none_or(|b| s == best && i < b) {
                best = s;
                best_i = Some(i);
            }
        }
        best_i
    }

    /// A small deterministic generator (the checker does not depend on rand).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn finds_what_the_plain_scan_finds() {
        let mut g = Lcg(3);
        let mut pruned_some = false;
        for (n, d, grid, nan) in [
            (300, 5, 0.0, false),
            (500, 20, 0.0, false),
            (400, 12, 1.0, false),
            (200, 6, 0.5, true),
            (3, 2, 0.0, false),
            (1, 4, 0.0, false),
        ] {
            // Correlated points (a shared size plus noise), some on a grid (ties), some
            // duplicated, one measurement missing for some when `nan`.
            let mut pts = Vec::with_capacity(n * d);
            for i in 0..n {
                let size = 10.0 * g.next();
                for j in 0..d {
                    let mut v = 20.0 + size * (1.0 + j as f64 / d as f64) + 3.0 * g.next();
                    if grid > 0.0 {
                        v = (v / grid).round() * grid;
                    }
                    if nan && j == 1 && i % 5 == 0 {
                        v = f64::NAN;
                    }
                    pts.push(v);
                }
            }
            for i in (0..n).step_by(17).skip(1) {
                let (a, b) = pts.split_at_mut(i * d);
                b[..d].copy_from_slice(&a[..d]);
            }
            let idx = Nearest::new(&pts, d);
            pruned_some |= !idx.axes.is_empty();
            for t in 0..200 {
                let base = t % n;
                let mut q: Vec<f64> = pts[base * d..(base + 1) * d].to_vec();
                if t % 3 != 0 {
                    for v in q.iter_mut() {
                        *v += 2.0 * g.next() - 1.0;
                    }
                }
                if t % 11 == 0 {
                    q[0] = f64::NAN;
                }
                for own in [None, Some(base), Some((base * 7 + 1) % n)] {
                    assert_eq!(
                        idx.nearest(&q, own),
                        scan(&pts, d, &q, own),
                        "n {n}, d {d}, query {t}, own {own:?}"
                    );
                }
            }
        }
        assert!(pruned_some, "the index was never used");
    }

    #[test]
    fn axes_are_orthonormal() {
        let mut g = Lcg(9);
        let (n, d) = (1000, 30);
        let pts: Vec<f64> = (0..n * d).map(|_| g.next() * 10.0).collect();
        let idx = Nearest::new(&pts, d);
        assert_eq!(idx.axes.len(), AXES);
        for (a, u) in idx.axes.iter().enumerate() {
            for (b, v) in idx.axes.iter().enumerate() {
                let dot: f64 = u.iter().zip(v).map(|(x, y)| x * y).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-12, "{a} {b} {dot}");
            }
        }
    }
}
