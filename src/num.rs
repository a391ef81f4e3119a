//! Rounding as the hot passes do it, without a call into libm.

/// `x.round() as i64` (half away from zero, then the saturating cast), bit for bit, inline:
/// the build targets baseline x86-64, where `f64::round` is a call to libm's `round`, and
/// the uniqueness and reproduction passes round hundreds of millions of values.
#[inline]
pub fn round_i64(x: f64) -> i64 {
    // Below 2^52 in size the truncation is exact, and so is the fraction `x - t` (the two
    // are within a factor of two, or `t` is 0). From 2^52 on every f64 is an integer, and
    // NaN and the infinities go to the cast as `round` would leave them.
    if x.abs() < 4_503_599_627_370_496.0 {
        let t = x as i64;
        let f = x - t as f64;
        // Without branches: which way a fraction goes is a coin toss to the predictor.
        t + (f >= 0.5) as i64 - (f <= -0.5) as i64
    } else {
        x as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_as_f64_round_then_cast() {
        let mut xs: Vec<f64> = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.49999999999999994,
            -0.49999999999999994,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::EPSILON,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9_007_199_254_740_993.0,
            9.3e18,
            -9.3e18,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        // Halves and their neighbours over a wide range, and arbitrary bit patterns.
        for k in -2000..2000 {
            let h = k as f64 + 0.5;
            xs.extend([
                h,
                h.next_up(),
                h.next_down(),
                k as f64 * 0.1,
                k as f64 / 3.0,
            ]);
        }
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let x = f64::from_bits(s);
            xs.extend([
                x,
                (s >> 11) as f64 / 1024.0 - 4.5e12,
                (s >> 40) as f64 / 7.0,
            ]);
        }
        for x in xs {
            assert_eq!(round_i64(x), x.round() as i64, "{x:e} ({:#x})", x.to_bits());
        }
    }
}
