//! Bodies: a latent-factor model (height, build) around the FreeSewing base sizes.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// (name, female-like mean, male-like mean, kind). Means are the FreeSewing base sizes.
/// Kind: L = length (follows height), G = girth (follows build), M = both.
pub(crate) const BODY: [(&str, f64, f64, char); 38] = [
    ("ankle", 245.0, 235.0, 'G'),
    ("biceps", 270.0, 350.0, 'G'),
    ("bustFront", 480.0, 560.0, 'G'),
    ("bustPointToUnderbust", 100.0, 60.0, 'M'),
    ("bustSpan", 160.0, 190.0, 'M'),
    ("chest", 925.0, 1000.0, 'G'),
    ("crossSeam", 740.0, 870.0, 'M'),
    ("crossSeamFront", 370.0, 410.0, 'M'),
    ("crotchDepth", 270.0, 340.0, 'M'),
    ("heel", 315.0, 360.0, 'M'),
    ("head", 565.0, 590.0, 'M'),
    ("highBust", 865.0, 1030.0, 'G'),
    ("highBustFront", 440.0, 570.0, 'G'),
    ("hips", 900.0, 840.0, 'G'),
    ("hpsToBust", 275.0, 280.0, 'L'),
    ("hpsToWaistBack", 395.0, 470.0, 'L'),
    ("hpsToWaistFront", 400.0, 460.0, 'L'),
    ("inseam", 765.0, 780.0, 'L'),
    ("knee", 380.0, 410.0, 'G'),
    ("neck", 340.0, 380.0, 'G'),
    ("seat", 1010.0, 1020.0, 'G'),
    ("seatBack", 520.0, 560.0, 'G'),
    ("shoulderSlope", 13.0, 13.0, 'S'),
    ("shoulderToElbow", 340.0, 360.0, 'L'),
    ("shoulderToShoulder", 415.0, 450.0, 'M'),
    ("shoulderToWrist", 590.0, 630.0, 'L'),
    ("underbust", 780.0, 980.0, 'G'),
    ("upperLeg", 570.0, 625.0, 'G'),
    ("waist", 750.0, 810.0, 'G'),
    ("waistBack", 380.0, 410.0, 'G'),
    ("waistToArmpit", 170.0, 210.0, 'L'),
    ("waistToFloor", 1050.0, 1160.0, 'L'),
    ("waistToHips", 125.0, 130.0, 'L'),
    ("waistToKnee", 600.0, 640.0, 'L'),
    ("waistToSeat", 250.0, 270.0, 'L'),
    ("waistToUnderbust", 80.0, 55.0, 'L'),
    ("waistToUpperLeg", 285.0, 340.0, 'L'),
    ("wrist", 165.0, 175.0, 'G'),
];
pub(crate) const BREASTS_ONLY: [&str; 7] = [
    "bustFront",
    "bustSpan",
    "highBust",
    "highBustFront",
    "hpsToWaistFront",
    "underbust",
    "waistToUnderbust",
];
/// One body: sex-like type and measurements in mm (shoulderSlope in degrees).
#[derive(Clone)]
pub(crate) struct Body {
    pub(crate) breasts: bool,
    pub(crate) values: [f64; 38],
    /// The measurements the owner entered (one bit each, BODY order): all of them unless
    /// the sample's entry is by designs.
    pub(crate) held: super::entry::Held,
}

impl Body {
    pub(crate) fn new(rng: &mut ChaCha8Rng) -> Body {
        let breasts = rng.random::<f64>() < 0.55;
        // Latent factors: height and build, mildly correlated.
        let h = normal(rng);
        let g = 0.35 * h + (1.0f64 - 0.35 * 0.35).sqrt() * normal(rng);
        let mut values = [0.0; 38];
        for (i, &(_, f, m, kind)) in BODY.iter().enumerate() {
            let mean = if breasts { f } else { m };
            let (a, b, cv) = match kind {
                'L' => (0.85, 0.15, 0.045),
                'G' => (0.15, 0.85, 0.085),
                'M' => (0.55, 0.5, 0.06),
                _ => (0.0, 0.3, 0.2),
            };
            let e = (1.0f64 - a * a - b * b).max(0.05).sqrt();
            let z = a * h + b * g + e * normal(rng);
            values[i] = (mean * (1.0 + cv * z)).round();
        }
        Body {
            breasts,
            values,
            held: super::entry::ALL,
        }
    }

    /// The same body measured again: a few millimetres off here and there.
    pub(crate) fn remeasured(&self, rng: &mut ChaCha8Rng) -> Body {
        let mut b = self.clone();
        for v in &mut b.values {
            *v += rng.random_range(-2..=2) as f64;
        }
        b
    }
}

pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; deterministic given the RNG stream.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
