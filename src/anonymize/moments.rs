//! Moment restoration for centroid releases.
//!
//! Class means shrink spreads and distort correlations. Within a category stratum, one
//! linear map of the class-mean table, `m' = mu + A (m - mu)`, can give the release the
//! eligible data's covariance (`A = S_y^{1/2} S_x^{-1/2}`: whiten the class means, recolor
//! with the original covariance). Rows of a class stay identical (k-anonymity untouched);
//! only where the class points sit moves. A partial map `alpha * A + (1 - alpha) * I`
//! trades utility back for privacy (BENCHMARKS.md: the earlier frontier).

use rayon::prelude::*;

/// Symmetric eigen-decomposition by cyclic Jacobi rotations: (eigenvalues, eigenvectors
/// as columns, row-major d x d). Exact enough for d up to a few hundred.
pub fn sym_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j].powi(2))
            .sum();
        let scale: f64 = (0..d)
            .map(|i| a[i * d + i].powi(2))
            .sum::<f64>()
            .max(1e-300);
        if off <= 1e-24 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let akp = a[k * d + p];
                    let akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let apk = a[p * d + k];
                    let aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let vkp = v[k * d + p];
                    let vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

/// `V f(L) V^T` for a symmetric matrix.
fn sym_fn(a: &[f64], d: usize, f: impl Fn(f64) -> f64) -> Vec<f64> {
    let (l, v) = sym_eigen(a, d);
    let fl: Vec<f64> = l.iter().map(|&x| f(x)).collect();
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            out[i * d + j] = (0..d).map(|k| v[i * d + k] * fl[k] * v[j * d + k]).sum();
        }
    }
    out
}

fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for k in 0..d {
            let aik = a[i * d + k];
            for j in 0..d {
                out[i * d + j] += aik * b[k * d + j];
            }
        }
    }
    out
}

/// Mean vector and covariance (population) of `rows` (n x d, row-major, `f64` or `f32`:
/// computed in `f64` either way), each row weighted.
pub fn moments<T: Copy + Into<f64> + Sync>(
    rows: &[T],
    weights: &[f64],
    d: usize,
) -> (Vec<f64>, Vec<f64>) {
    let w: f64 = weights.iter().sum();
    let mut mu = vec![0.0; d];
    for (r, &wi) in rows.chunks(d).zip(weights) {
        for j in 0..d {
            mu[j] += wi * r[j].into() / w;
        }
    }
    // Upper triangle, a block of rows per task (blocks of about equal work); each entry is
    // summed over the rows in order, so the result does not depend on the thread count,
    // and divided by the total weight once at the end (a division per product cost more
    // than the rest of the sum).
    let mut cov = vec![0.0; d * d];
    let tasks = 4 * rayon::current_num_threads();
    let total = d * (d + 1) / 2;
    let mut blocks: Vec<(usize, &mut [f64])> = Vec::new();
    let (mut rest, mut start, mut done) = (cov.as_mut_slice(), 0, 0);
    for i in 0..d {
        done += d - i;
        if done * tasks >= total * (blocks.len() + 1) || i + 1 == d {
            let (block, tail) = std::mem::take(&mut rest).split_at_mut((i + 1 - start) * d);
            blocks.push((start, block));
            (rest, start) = (tail, i + 1);
        }
    }
    blocks.into_par_iter().for_each(|(first, block)| {
        // Each row centred once (the same values the products would compute each time).
        let mut x = vec![0.0f64; d];
        for (r, &wi) in rows.chunks(d).zip(weights) {
            for ((x, &v), m) in x.iter_mut().zip(r).zip(&mu) {
                *x = v.into() - m;
            }
            for (bi, out) in block.chunks_mut(d).enumerate() {
                let i = first + bi;
                let di = x[i];
                for (o, &xj) in out[i..].iter_mut().zip(&x[i..]) {
                    *o += wi * di * xj;
                }
            }
        }
    });
    for i in 0..d {
        for j in i..d {
            cov[i * d + j] /= w;
        }
        for j in 0..i {
            cov[i * d + j] = cov[j * d + i];
        }
    }
    (mu, cov)
}

/// The map `A = alpha * S_y^{1/2} S_x^{-1/2} + (1 - alpha) I` (row-major), where S_x is the
/// covariance of the class-mean table and S_y the original covariance. Directions in which
/// the class means do not vary (eigenvalue below `1e-9` of the largest) are left alone.
pub fn restoring_map(s_x: &[f64], s_y: &[f64], d: usize, alpha: f64) -> Vec<f64> {
    let (lx, _) = sym_eigen(s_x, d);
    let floor = lx.iter().cloned().fold(0.0, f64::max) * 1e-9;
    let inv_sqrt_x = sym_fn(s_x, d, |x| if x > floor { 1.0 / x.sqrt() } else { 0.0 });
    let sqrt_y = sym_fn(s_y, d, |x| x.max(0.0).sqrt());
    let full = matmul(&sqrt_y, &inv_sqrt_x, d);
    let mut a = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            let id = if i == j { 1.0 } else { 0.0 };
            a[i * d + j] = alpha * full[i * d + j] + (1.0 - alpha) * id;
        }
    }
    a
}

/// Rows taken through a matrix at once: for every row `x` of `rows` (row-major, `d` wide,
/// `m` row-major `d x d`), `row[i] = store(i, sum_j m[i d + j] * load(j, x_j))`, each sum
/// over j in order from the neutral element of `Iterator::sum`, so every value is the
/// same bits as that sum row by row. A block of rows is summed side by side (the inner
/// loop runs across rows and vectorizes; one row's sum cannot be reordered).
pub fn map_rows<T: Copy + Send + Sync>(
    rows: &mut [T],
    d: usize,
    m: &[f64],
    load: impl Fn(usize, T) -> f64 + Sync,
    store: impl Fn(usize, f64) -> T + Sync,
) {
    const R: usize = 8;
    if d == 0 {
        return;
    }
    let zero: f64 = std::iter::empty::<f64>().sum();
    rows.par_chunks_mut(d * R).for_each(|block| {
        let n = block.len() / d;
        // The block's loaded values by column: xt[j][r].
        let mut xt = vec![[0.0f64; R]; d];
        for r in 0..n {
            for (j, x) in xt.iter_mut().enumerate() {
                x[r] = load(j, block[r * d + j]);
            }
        }
        let mut out = vec![[0.0f64; R]; d];
        for (o, mi) in out.iter_mut().zip(m.chunks_exact(d)) {
            let mut acc = [zero; R];
            for (&mij, x) in mi.iter().zip(&xt) {
                for r in 0..R {
                    acc[r] += mij * x[r];
                }
            }
            *o = acc;
        }
        for r in 0..n {
            for (i, o) in out.iter().enumerate() {
                block[r * d + i] = store(i, o[r]);
            }
        }
    });
}

/// `mu + A (x - mu)` for one row.
pub fn apply(a: &[f64], mu: &[f64], x: &[f64]) -> Vec<f64> {
    let d = mu.len();
    (0..d)
        .map(|i| mu[i] + (0..d).map(|j| a[i * d + j] * (x[j] - mu[j])).sum::<f64>())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn eigen_reconstructs_the_matrix() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let b = sym_fn(&a, 3, |x| x);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-10);
        }
        let s = sym_fn(&a, 3, f64::sqrt);
        let back = matmul(&s, &s, 3);
        for (x, y) in a.iter().zip(&back) {
            assert!((x - y).abs() < 1e-10);
        }
    }

    /// The blocked product gives the bits of the plain row-by-row sum, for row counts
    /// that do and do not fill a block.
    #[test]
    fn map_rows_is_the_row_by_row_sum_bit_for_bit() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for (n, d) in [(1, 1), (7, 3), (8, 5), (29, 93), (64, 2)] {
            let m: Vec<f64> = (0..d * d).map(|_| rng.random_range(-3.0..3.0)).collect();
            let mean: Vec<f64> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
            let rows: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1e3..1e3)).collect();
            let want: Vec<f64> = rows
                .chunks(d)
                .flat_map(|x| {
                    (0..d).map(|i| {
                        mean[i] + (0..d).map(|j| m[i * d + j] * (x[j] - mean[j])).sum::<f64>()
                    })
                })
                .collect();
            let mut got = rows.clone();
            map_rows(&mut got, d, &m, |j, v| v - mean[j], |i, s| mean[i] + s);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "n {n}, d {d}");
            assert_ne!(got, rows);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(30))]
        /// Full restoration of a class-mean table reproduces the input covariance: the
        /// mapped class means (weighted by class size) have the original mean and
        /// covariance, while members of a class stay identical.
        #[test]
        fn full_restoration_reproduces_the_covariance(
            seed in 0u64..1000,
            d in 2usize..6,
            classes in 8usize..30,
        ) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let size = 5;
            let n = classes * size;
            // Correlated data: y = L z.
            let l: Vec<f64> = (0..d * d).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut y = vec![0.0; n * d];
            for r in 0..n {
                let z: Vec<f64> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
                for i in 0..d {
                    y[r * d + i] = 100.0 + (0..d).map(|j| l[i * d + j] * z[j]).sum::<f64>() * 10.0;
                }
            }
            // Classes: consecutive blocks of `size` rows; each row replaced by its class mean.
            let mut x = vec![0.0; n * d];
            for c in 0..classes {
                for i in 0..d {
                    let m = (0..size).map(|r| y[(c * size + r) * d + i]).sum::<f64>() / size as f64;
                    for r in 0..size {
                        x[(c * size + r) * d + i] = m;
                    }
                }
            }
            let w = vec![1.0; n];
            let (mu_y, s_y) = moments(&y, &w, d);
            let (mu_x, s_x) = moments(&x, &w, d);
            let a = restoring_map(&s_x, &s_y, d, 1.0);
            let mapped: Vec<f64> = x.chunks(d).flat_map(|r| apply(&a, &mu_x, r)).collect();
            let (mu_m, s_m) = moments(&mapped, &w, d);
            for i in 0..d {
                prop_assert!((mu_m[i] - mu_y[i]).abs() < 1e-6);
                for j in 0..d {
                    let scale = (s_y[i * d + i] * s_y[j * d + j]).sqrt();
                    prop_assert!((s_m[i * d + j] - s_y[i * d + j]).abs() < 1e-6 * scale,
                        "cov[{},{}] {} vs {}", i, j, s_m[i * d + j], s_y[i * d + j]);
                }
            }
            // Rows of a class stay identical.
            for c in 0..classes {
                for r in 1..size {
                    prop_assert_eq!(&mapped[(c * size) * d..(c * size + 1) * d], &mapped[(c * size + r) * d..(c * size + r + 1) * d]);
                }
            }
        }
    }
}
