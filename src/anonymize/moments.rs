//! Moment restoration for centroid releases.
//!
//! Class means shrink spreads and distort correlations. Within a category stratum, one
//! linear map of the class-mean table, `m' = mu + A (m - mu)`, can give the release the
//! eligible data's covariance (`A = S_y^{1/2} S_x^{-1/2}`: whiten the class means, recolor
//! with the original covariance). Rows of a class stay identical (k-anonymity untouched);
//! only where the class points sit moves. A partial map `alpha * A + (1 - alpha) * I`
//! trades utility back for privacy (BENCHMARKS.md: the earlier frontier).

use faer::{Accum, Mat, MatRef, Par, Side};
use rayon::prelude::*;

/// Records per product when sums over people are taken as products (the noisy figures,
/// the targets' pair sums): small enough that a product sums over its records in one pass
/// (no blocking that could depend on the machine's caches).
pub const BLOCK: usize = 128;

/// Adds `a b^T` (a, b: d x records, records as columns) to `dst` (d x d), sequentially:
/// callers run fixed chunks in parallel and add their sums in order, so the sums are the
/// same whatever the thread count.
pub fn add_products(dst: &mut Mat<f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>) {
    faer::linalg::matmul::matmul(dst.as_mut(), Accum::Add, a, b.transpose(), 1.0, Par::Seq);
}

/// A row-major `d x d` slice as a faer matrix.
fn square(a: &[f64], d: usize) -> MatRef<'_, f64> {
    MatRef::from_row_major_slice(a, d, d)
}

/// A faer matrix as a row-major slice.
fn row_major(m: MatRef<'_, f64>) -> Vec<f64> {
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)]))
        .collect()
}

/// Symmetric eigen-decomposition (faer's self-adjoint solver, which reads the lower
/// triangle): (eigenvalues in nondecreasing order, eigenvectors as columns, row-major
/// d x d). A matrix it cannot decompose (non-finite entries) gives NaN eigenvalues.
pub fn sym_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    match square(a, d).self_adjoint_eigen(Side::Lower) {
        Ok(e) => {
            let l = e.S().column_vector();
            ((0..d).map(|k| l[k]).collect(), row_major(e.U()))
        }
        Err(_) => (
            vec![f64::NAN; d],
            row_major(Mat::<f64>::identity(d, d).as_ref()),
        ),
    }
}

/// `V f(L) V^T` for a symmetric matrix given as its decomposition (row-major).
pub fn sym_fn(e: &(Vec<f64>, Vec<f64>), d: usize, f: impl Fn(f64) -> f64) -> Vec<f64> {
    row_major(sym_mat(e, d, f).as_ref())
}

fn sym_mat((l, v): &(Vec<f64>, Vec<f64>), d: usize, f: impl Fn(f64) -> f64) -> Mat<f64> {
    let v = square(v, d);
    let scaled = Mat::from_fn(d, d, |i, k| v[(i, k)] * f(l[k]));
    scaled * v.transpose()
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
    let x = sym_eigen(s_x, d);
    let floor = x.0.iter().cloned().fold(0.0, f64::max) * 1e-9;
    let inv_sqrt_x = sym_mat(&x, d, |x| if x > floor { 1.0 / x.sqrt() } else { 0.0 });
    let sqrt_y = sym_mat(&sym_eigen(s_y, d), d, |x| x.max(0.0).sqrt());
    let full = sqrt_y * inv_sqrt_x;
    let a = Mat::from_fn(d, d, |i, j| {
        let id = if i == j { 1.0 } else { 0.0 };
        alpha * full[(i, j)] + (1.0 - alpha) * id
    });
    row_major(a.as_ref())
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

/// Rows per task where a table's rows are taken through faer in parallel: fixed, so every
/// result is the same whatever the thread count.
const ROWS_PER_TASK: usize = 2048;

/// A task's rows (row-major f32, `d` wide) as a faer matrix in f64, records as columns.
fn records(rows: &[f32], d: usize, shift: &[f64]) -> Mat<f64> {
    Mat::from_fn(d, rows.len() / d, |j, r| rows[r * d + j] as f64 - shift[j])
}

/// Mean vector and covariance (population, row-major) of `rows` (n x d, row-major f32),
/// unweighted: each task's sums and `x x^T` as one faer product, tasks summed in order.
/// The values are taken less the first row's (`s`), and the centred products come from
/// those raw ones, `E[(x - s)(x - s)^T] - (mu - s)(mu - s)^T`: near the mean, so little
/// cancels, and a measurement with one value throughout gets exactly 0.
pub fn table_moments(rows: &[f32], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len() / d.max(1);
    if n == 0 || d == 0 {
        return (vec![0.0; d], vec![0.0; d * d]);
    }
    let shift: Vec<f64> = rows[..d].iter().map(|&v| v as f64).collect();
    let parts: Vec<(Vec<f64>, Mat<f64>)> = rows
        .par_chunks(ROWS_PER_TASK * d)
        .map(|task| {
            let x = records(task, d, &shift);
            let sums = (0..d).map(|j| x.row(j).iter().sum()).collect();
            let mut g = Mat::zeros(d, d);
            add_products(&mut g, x.as_ref(), x.as_ref());
            (sums, g)
        })
        .collect();
    let mut sums = vec![0.0; d];
    let mut g = Mat::<f64>::zeros(d, d);
    for (s, p) in parts {
        for (a, b) in sums.iter_mut().zip(s) {
            *a += b;
        }
        g += p;
    }
    let m: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
    let cov = (0..d * d)
        .map(|ij| {
            let (i, j) = (ij / d, ij % d);
            g[(i, j)] / n as f64 - m[i] * m[j]
        })
        .collect();
    (m.iter().zip(&shift).map(|(m, s)| s + m).collect(), cov)
}

/// Every row `x` of `rows` (row-major f32, `d` wide) replaced by `x P` (`p` row-major
/// `d x d`), a faer product per task of rows.
pub fn transform_rows(rows: &mut [f32], d: usize, p: &[f64]) {
    if d == 0 {
        return;
    }
    let p = square(p, d);
    rows.par_chunks_mut(ROWS_PER_TASK * d).for_each(|task| {
        let b = task.len() / d;
        let x = Mat::from_fn(b, d, |r, j| task[r * d + j] as f64);
        let mut y = Mat::<f64>::zeros(b, d);
        faer::linalg::matmul::matmul(y.as_mut(), Accum::Replace, x.as_ref(), p, 1.0, Par::Seq);
        for (r, row) in task.chunks_exact_mut(d).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = y[(r, j)] as f32;
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

/// A symmetric matrix with unit diagonal made a correlation matrix: eigenvalues floored
/// at a thousandth of the largest, then rescaled to a unit diagonal.
pub fn nearest_correlation(r: &[f64], n: usize) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    let e = sym_eigen(r, n);
    let floor = e.0.iter().cloned().fold(0.0, f64::max) * 1e-3;
    if e.0.iter().all(|&x| x >= floor) {
        return r.to_vec();
    }
    let mut out = sym_fn(&e, n, |lk| lk.max(floor));
    let diag: Vec<f64> = (0..n).map(|a| out[a * n + a].max(1e-12).sqrt()).collect();
    for a in 0..n {
        for b in 0..n {
            out[a * n + b] /= diag[a] * diag[b];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn eigen_reconstructs_the_matrix() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let e = sym_eigen(&a, 3);
        assert!(e.0.windows(2).all(|w| w[0] <= w[1]), "{:?}", e.0);
        let b = sym_fn(&e, 3, |x| x);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-10);
        }
        let s = sym_mat(&e, 3, f64::sqrt);
        let back = row_major((&s * &s).as_ref());
        for (x, y) in a.iter().zip(&back) {
            assert!((x - y).abs() < 1e-10);
        }
        let (l, _) = sym_eigen(&[f64::NAN, 0.0, 0.0, 1.0], 2);
        assert!(l.iter().all(|x| x.is_nan()));
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

    /// A measurement with one value throughout has exactly that mean and no spread, however
    /// large the value (no cancellation leaves a spread of rounding).
    #[test]
    fn table_moments_of_a_constant_column_are_exact() {
        let n = ROWS_PER_TASK + 5;
        let rows: Vec<f32> = (0..n).flat_map(|i| [1234.567f32, i as f32 * 0.5]).collect();
        let (mu, cov) = table_moments(&rows, 2);
        assert_eq!(mu[0], 1234.567f32 as f64);
        assert_eq!((cov[0], cov[1], cov[2]), (0.0, 0.0, 0.0));
        assert!(cov[3] > 0.0);
    }

    /// The faer versions over tasks of rows agree with the plain sums (to rounding), on
    /// row counts that do and do not fill a task, and give the same bits on 1 and 2
    /// threads.
    #[test]
    fn table_moments_and_transform_agree_with_plain_sums() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for (n, d) in [
            (1, 1),
            (5, 3),
            (ROWS_PER_TASK + 17, 7),
            (3 * ROWS_PER_TASK, 2),
        ] {
            let rows: Vec<f32> = (0..n * d)
                .map(|i| 500.0 + (i % d) as f32 * 40.0 + rng.random_range(-30.0..30.0))
                .collect();
            let (mu, cov) = table_moments(&rows, d);
            let (mu0, cov0) = moments(&rows, &vec![1.0; n], d);
            for j in 0..d {
                assert!((mu[j] - mu0[j]).abs() < 1e-9 * mu0[j].abs(), "mean {j}");
            }
            for ij in 0..d * d {
                let scale = (cov0[ij / d * (d + 1)] * cov0[ij % d * (d + 1)]).sqrt();
                assert!(
                    (cov[ij] - cov0[ij]).abs() < 1e-7 * scale.max(1.0),
                    "cov {ij}"
                );
            }
            let p: Vec<f64> = (0..d * d).map(|_| rng.random_range(-2.0..2.0)).collect();
            let want: Vec<f32> = rows
                .chunks(d)
                .flat_map(|x| {
                    (0..d).map(|k| (0..d).map(|i| x[i] as f64 * p[i * d + k]).sum::<f64>())
                })
                .map(|v| v as f32)
                .collect();
            let on = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
                pool.unwrap().install(|| {
                    let mut got = rows.clone();
                    transform_rows(&mut got, d, &p);
                    (table_moments(&rows, d), got)
                })
            };
            let (one, two) = (on(1), on(2));
            assert_eq!(one, two, "n {n}, d {d}");
            for (g, w) in one.1.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-3 * w.abs().max(1.0), "{g} vs {w}");
            }
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
