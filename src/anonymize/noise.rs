//! Keyed, reproducible noise on the integer grid.
//!
//! The discrete Laplace sampler follows Canonne, Kamath and Steinke (2020), "The Discrete
//! Gaussian for Differential Privacy", algorithms 1 and 2: only integer uniform draws and
//! rational arithmetic, no floating-point Laplace (whose rounding leaks, Mironov 2012).
//!
//! Each class gets one ChaCha20 stream seeded by HMAC-SHA256(key, series | class members'
//! owner pseudonyms), and draws its columns' noise from it in release order, one draw per
//! column (held by the class's pattern or not, so a column's draw does not depend on which
//! others its stratum holds). The same input and key give the same noise in every
//! re-release (re-releases cannot be averaged), and a class's rows all get the same draw
//! (they stay identical).

use crate::pipeline::NoiseScale;
use hmac::{Hmac, Mac};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn keyed(bytes: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(bytes).expect("HMAC takes keys of any length")
}

/// The secret noise key. Never written, logged, or put in metadata; `Debug` hides it.
pub struct NoiseKey {
    bytes: Vec<u8>,
    /// HMAC keyed once: cloned for every pseudonym and stream.
    keyed: HmacSha256,
    /// False when the key was drawn at random because none was given.
    pub reproducible: bool,
}

impl std::fmt::Debug for NoiseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoiseKey(<{} bytes, hidden>)", self.bytes.len())
    }
}

impl NoiseKey {
    pub fn from_bytes(bytes: Vec<u8>) -> Option<NoiseKey> {
        (bytes.len() >= 16).then(|| NoiseKey {
            keyed: keyed(&bytes),
            bytes,
            reproducible: true,
        })
    }

    pub fn random() -> NoiseKey {
        let mut bytes = vec![0u8; 32];
        rand::rng().fill(&mut bytes[..]);
        NoiseKey {
            keyed: keyed(&bytes),
            bytes,
            reproducible: false,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    /// A keyed pseudonym for an owner: stable across releases, useless without the key.
    pub fn pseudonym(&self, owner: &str) -> [u8; 32] {
        let mut m = self.mac();
        m.update(b"opentape/owner\0");
        m.update(owner.as_bytes());
        m.finalize().into_bytes().into()
    }

    /// A class's noise seed: keyed by the series and the owner pseudonyms of the class's
    /// people (`members`, sorted). Hashed once per class, not once per column.
    pub fn class_seed(&self, series: &str, members: &[[u8; 32]]) -> [u8; 32] {
        let mut m = self.mac();
        m.update(b"opentape/class\0");
        m.update(series.as_bytes());
        m.update(b"\0");
        for p in members {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// The RNG of one use `what` of a seed: `HMAC(key, seed, what)`.
    pub fn rng(&self, seed: &[u8; 32], what: &str) -> ChaCha20Rng {
        let mut m = self.mac();
        m.update(b"opentape/noise\0");
        m.update(seed);
        m.update(what.as_bytes());
        ChaCha20Rng::from_seed(m.finalize().into_bytes().into())
    }

    /// A class's noise stream, from its [`class_seed`](Self::class_seed): its columns draw
    /// from it one after the other, in release order.
    pub fn class_rng(&self, class_seed: &[u8; 32]) -> ChaCha20Rng {
        self.rng(class_seed, "\0columns")
    }
}

/// Bernoulli(n/d), exactly.
fn bernoulli<R: Rng>(rng: &mut R, n: u64, d: u64) -> bool {
    rng.random_range(0..d) < n
}

/// Bernoulli(exp(-n/d)) for 0 <= n/d <= 1 (CKS algorithm 1, first part).
fn bernoulli_exp1<R: Rng>(rng: &mut R, n: u64, d: u64) -> bool {
    let mut k: u64 = 1;
    loop {
        if bernoulli(rng, n, d.saturating_mul(k)) {
            k += 1;
        } else {
            return k % 2 == 1;
        }
    }
}

/// Bernoulli(exp(-n/d)) for any n/d >= 0.
fn bernoulli_exp<R: Rng>(rng: &mut R, mut n: u64, d: u64) -> bool {
    while n > d {
        if !bernoulli_exp1(rng, 1, 1) {
            return false;
        }
        n -= d;
    }
    bernoulli_exp1(rng, n, d)
}

/// Discrete Laplace with scale t/s: P(x) proportional to exp(-|x| s / t) (CKS algorithm 2).
pub fn discrete_laplace<R: Rng>(rng: &mut R, s: u64, t: u64) -> i64 {
    loop {
        let u = rng.random_range(0..t);
        if !bernoulli_exp(rng, u, t) {
            continue;
        }
        let mut v: u64 = 0;
        while bernoulli_exp(rng, 1, 1) {
            v += 1;
        }
        let y = (u + t * v) / s;
        let negative = bernoulli(rng, 1, 2);
        if negative && y == 0 {
            continue;
        }
        return if negative { -(y as i64) } else { y as i64 };
    }
}

/// Variance of the discrete Laplace with this scale (0 for no noise), in grid units:
/// 2q / (1 - q)^2 with q = exp(-1/scale).
pub fn variance(scale: NoiseScale) -> f64 {
    match scale.ratio() {
        None => 0.0,
        Some((s, t)) => {
            let q = (-(s as f64) / t as f64).exp();
            2.0 * q / (1.0 - q).powi(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discrete_laplace_has_the_right_shape() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let (s, t) = NoiseScale::new(2.0).unwrap().ratio().unwrap();
        let n = 200_000;
        let draws: Vec<i64> = (0..n).map(|_| discrete_laplace(&mut rng, s, t)).collect();
        let mean = draws.iter().sum::<i64>() as f64 / n as f64;
        // Discrete Laplace with scale b: P(0) = tanh(1/(2b)), variance 2e^{-1/b}/(1-e^{-1/b})^2.
        let b: f64 = 2.0;
        let p0 = (1.0 / (2.0 * b)).tanh();
        let q = (-1.0 / b).exp();
        let var = 2.0 * q / (1.0 - q).powi(2);
        let zeros = draws.iter().filter(|&&x| x == 0).count() as f64 / n as f64;
        let got_var = draws
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((zeros - p0).abs() < 0.01, "P(0) {zeros} vs {p0}");
        assert!((got_var / var - 1.0).abs() < 0.05, "var {got_var} vs {var}");
        // Symmetric.
        let pos = draws.iter().filter(|&&x| x > 0).count() as f64;
        let neg = draws.iter().filter(|&&x| x < 0).count() as f64;
        assert!((pos / neg - 1.0).abs() < 0.03);
    }

    #[test]
    fn same_key_same_stream_other_key_other_stream() {
        let k1 = NoiseKey::from_bytes(vec![1; 32]).unwrap();
        let k2 = NoiseKey::from_bytes(vec![2; 32]).unwrap();
        let members = [k1.pseudonym("owner-a"), k1.pseudonym("owner-b")];
        let draw = |k: &NoiseKey, col: &str| {
            let mut r = k.rng(&k.class_seed("series", &members), col);
            (0..16)
                .map(|_| discrete_laplace(&mut r, 10, 20))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(&k1, "chest"), draw(&k1, "chest"));
        assert_ne!(draw(&k1, "chest"), draw(&k1, "waist"));
        assert_ne!(draw(&k1, "chest"), draw(&k2, "chest"));
        // Another class (other members) draws another stream.
        let other = [k1.pseudonym("owner-a"), k1.pseudonym("owner-c")];
        let mut r = k1.rng(&k1.class_seed("series", &other), "chest");
        let third: Vec<i64> = (0..16).map(|_| discrete_laplace(&mut r, 10, 20)).collect();
        assert_ne!(draw(&k1, "chest"), third);
        // A class's stream: the same for the same members and key, another for others.
        let class = |k: &NoiseKey, m: &[[u8; 32]]| {
            let mut r = k.class_rng(&k.class_seed("series", m));
            (0..16)
                .map(|_| discrete_laplace(&mut r, 10, 20))
                .collect::<Vec<_>>()
        };
        assert_eq!(class(&k1, &members), class(&k1, &members));
        assert_ne!(class(&k1, &members), class(&k1, &other));
        assert_ne!(class(&k1, &members), class(&k2, &members));
        assert_ne!(class(&k1, &members), draw(&k1, ""));
        assert!(!format!("{k1:?}").contains("1, 1"));
        assert!(
            NoiseKey::from_bytes(vec![0; 8]).is_none(),
            "short keys are refused"
        );
    }
}
