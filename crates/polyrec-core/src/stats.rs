//! The statistics that judge an experiment: a treatment against the control group on a rate
//! (two-proportion z-test) or a mean (Welch's t-test), each with the absolute and relative lift
//! and a 95 % confidence interval, and the sample-ratio-mismatch check (Pearson's χ² against
//! the configured traffic ratios).
//!
//! The distributions are `statrs`'s (a well-kept crate, not hand-written continued fractions):
//! the standard normal's tail, Student's t tail and quantile, and the χ² tail.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

/// A treatment against the control on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    pub control: f64,
    pub treatment: f64,
    /// treatment − control.
    pub absolute_lift: f64,
    /// The 95 % confidence interval of the absolute lift.
    pub absolute_ci: [f64; 2],
    /// (treatment − control) / control; absent when the control is 0.
    pub relative_lift: Option<f64>,
    /// The absolute interval divided by the control value.
    pub relative_ci: Option<[f64; 2]>,
    /// Two-sided.
    pub p_value: f64,
    /// p < 0.05.
    pub significant: bool,
}

const Z_95: f64 = 1.959_963_984_540_054;

fn comparison(control: f64, treatment: f64, ci: [f64; 2], p_value: f64) -> Comparison {
    let relative = (control != 0.0).then(|| (treatment - control) / control);
    Comparison {
        control,
        treatment,
        absolute_lift: treatment - control,
        absolute_ci: ci,
        relative_lift: relative,
        relative_ci: (control != 0.0).then(|| [ci[0] / control.abs(), ci[1] / control.abs()]),
        p_value,
        significant: p_value < 0.05,
    }
}

/// Two-proportion z-test of `x_b / n_b` against `x_a / n_a` (pooled variance for the test,
/// unpooled for the interval). `None` when a group has no trials.
pub fn two_proportions(x_a: u64, n_a: u64, x_b: u64, n_b: u64) -> Option<Comparison> {
    if n_a == 0 || n_b == 0 {
        return None;
    }
    let (na, nb) = (n_a as f64, n_b as f64);
    let (pa, pb) = (x_a as f64 / na, x_b as f64 / nb);
    let pooled = (x_a + x_b) as f64 / (na + nb);
    let se_test = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    let p_value = if se_test == 0.0 { 1.0 } else { 2.0 * normal_sf(((pb - pa) / se_test).abs()) };
    let se = (pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb).sqrt();
    let diff = pb - pa;
    Some(comparison(pa, pb, [diff - Z_95 * se, diff + Z_95 * se], p_value))
}

/// A sample's count, mean and unbiased variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub n: u64,
    pub mean: f64,
    pub variance: f64,
}

impl Sample {
    /// From the count, the sum and the sum of squares.
    pub fn from_sums(n: u64, sum: f64, sum_squares: f64) -> Self {
        if n == 0 {
            return Self { n, mean: 0.0, variance: 0.0 };
        }
        let mean = sum / n as f64;
        let variance = if n < 2 { 0.0 } else { ((sum_squares - sum * mean) / (n - 1) as f64).max(0.0) };
        Self { n, mean, variance }
    }
}

/// Welch's t-test of `b`'s mean against `a`'s. `None` with fewer than two observations in a
/// group.
pub fn welch(a: Sample, b: Sample) -> Option<Comparison> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let (va, vb) = (a.variance / a.n as f64, b.variance / b.n as f64);
    let se = (va + vb).sqrt();
    let diff = b.mean - a.mean;
    if se == 0.0 {
        let p_value = if diff == 0.0 { 1.0 } else { 0.0 };
        return Some(comparison(a.mean, b.mean, [diff, diff], p_value));
    }
    // Welch–Satterthwaite degrees of freedom.
    let df = (va + vb).powi(2) / (va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64);
    let t = diff / se;
    let p_value = student_t_sf(t.abs(), df) * 2.0;
    let q = student_t_quantile(0.975, df);
    Some(comparison(a.mean, b.mean, [diff - q * se, diff + q * se], p_value.min(1.0)))
}

/// Pearson's χ² test of observed counts against expected shares (normalised to sum to 1): the
/// sample-ratio-mismatch check. `None` with fewer than two groups or no observations.
pub fn chi_square(observed: &[u64], shares: &[f64]) -> Option<f64> {
    let total: u64 = observed.iter().sum();
    let share_sum: f64 = shares.iter().sum();
    if observed.len() < 2 || observed.len() != shares.len() || total == 0 || share_sum <= 0.0 {
        return None;
    }
    let statistic: f64 = observed
        .iter()
        .zip(shares)
        .map(|(o, s)| {
            let expected = total as f64 * s / share_sum;
            (*o as f64 - expected).powi(2) / expected
        })
        .sum();
    Some(chi_square_sf(statistic, (observed.len() - 1) as f64))
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    Normal::standard().sf(z)
}

/// P(T > t) for Student's t with `df` degrees of freedom (NaN for a `df` that is not positive).
pub fn student_t_sf(t: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |dist| dist.sf(t))
}

/// The `p` quantile of Student's t (NaN for a `df` that is not positive).
fn student_t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |dist| dist.inverse_cdf(p))
}

/// P(X > x) for a χ² variable with `df` degrees of freedom.
fn chi_square_sf(x: f64, df: f64) -> f64 {
    ChiSquared::new(df).map_or(f64::NAN, |dist| dist.sf(x))
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn the_special_functions_match_published_values() {
        // Standard normal tail: Φ(1.96) = 0.975, P(Z > 3) = 0.0013499.
        assert!(close(normal_sf(1.959_963_984_540_054), 0.025, 1e-9));
        assert!(close(normal_sf(3.0), 0.001_349_898_031_630_1, 1e-10));
        assert!(close(normal_sf(-1.0), 0.841_344_746_068_542_9, 1e-10));
        // Student's t: P(T > 2.228) with 10 df = 0.025; the 0.975 quantile with 30 df = 2.0423.
        assert!(close(student_t_sf(2.228_138_851_986_274, 10.0), 0.025, 1e-9));
        assert!(close(student_t_quantile(0.975, 30.0), 2.042_272_456_301_238, 1e-9));
        // χ² with 1 df: P(X > 3.841459) = 0.05; with 3 df: P(X > 7.814728) = 0.05.
        assert!(close(chi_square_sf(3.841_458_820_694_124, 1.0), 0.05, 1e-9));
        assert!(close(chi_square_sf(7.814_727_903_251_178, 3.0), 0.05, 1e-9));
    }

    #[test]
    fn two_proportions_against_a_worked_example() {
        // 200 of 1000 against 250 of 1000: z = 2.6774, p = 0.0074196 (pooled p = 0.225; the
        // values scipy.stats gives for the same test).
        let c = two_proportions(200, 1000, 250, 1000).unwrap();
        assert!(close(c.absolute_lift, 0.05, 1e-12));
        assert!(close(c.relative_lift.unwrap(), 0.25, 1e-12));
        assert!(close(c.p_value, 0.007_419_649_261, 1e-9), "{c:?}");
        assert!(c.significant);
        // The unpooled interval: 0.05 ± 1.96 × sqrt(0.2·0.8/1000 + 0.25·0.75/1000).
        let half = Z_95 * (0.2f64 * 0.8 / 1000.0 + 0.25 * 0.75 / 1000.0).sqrt();
        assert!(close(c.absolute_ci[0], 0.05 - half, 1e-12) && close(c.absolute_ci[1], 0.05 + half, 1e-12));
        assert!(two_proportions(0, 0, 1, 10).is_none());
        assert_eq!(two_proportions(0, 10, 0, 10).unwrap().p_value, 1.0);
    }

    #[test]
    fn welch_against_a_worked_example() {
        // n 10, mean 20, sd 4 against n 12, mean 24, sd 5: t = 2.0842, df = 19.98, p = 0.0501893
        // (scipy.stats.ttest_ind_from_stats(..., equal_var=False)); the interval's lower end is
        // 4 − t₀.₉₇₅(19.98) × se = −0.0036363.
        let a = Sample { n: 10, mean: 20.0, variance: 16.0 };
        let b = Sample { n: 12, mean: 24.0, variance: 25.0 };
        let c = welch(a, b).unwrap();
        assert!(close(c.p_value, 0.050_189_264_568, 1e-9), "{c:?}");
        assert!(close(c.absolute_ci[0], -0.003_636_318_102, 1e-8), "{c:?}");
        assert!(!c.significant);
        let s = Sample::from_sums(4, 10.0, 30.0); // 1, 2, 3, 4
        assert!(close(s.mean, 2.5, 1e-12) && close(s.variance, 5.0 / 3.0, 1e-12));
    }

    /// Successes of `n` trials with probability `p`, from a seeded generator.
    fn binomial(rng: &mut StdRng, n: u64, p: f64) -> u64 {
        (0..n).filter(|_| rng.random::<f64>() < p).count() as u64
    }

    #[test]
    fn a_a_tests_are_significant_about_five_percent_of_the_time_and_a_real_lift_is_found() {
        let mut rng = StdRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
        let runs = 2_000;
        let false_positives = (0..runs)
            .filter(|_| {
                two_proportions(binomial(&mut rng, 2_000, 0.1), 2_000, binomial(&mut rng, 2_000, 0.1), 2_000)
                    .unwrap()
                    .significant
            })
            .count();
        let rate = false_positives as f64 / runs as f64;
        // 5 % ± 4 standard errors of a proportion over 2,000 runs.
        assert!((0.05 - rate).abs() < 4.0 * (0.05f64 * 0.95 / runs as f64).sqrt(), "A/A false positives {rate}");
        let found = (0..200)
            .filter(|_| {
                two_proportions(binomial(&mut rng, 5_000, 0.10), 5_000, binomial(&mut rng, 5_000, 0.13), 5_000)
                    .unwrap()
                    .significant
            })
            .count();
        assert!(found >= 195, "a 30 % lift on 5,000 impressions a group is found: {found} of 200");
    }

    #[test]
    fn sample_ratio_mismatch() {
        assert!(chi_square(&[5_010, 4_990], &[0.5, 0.5]).unwrap() > 0.5);
        assert!(chi_square(&[5_500, 4_500], &[0.5, 0.5]).unwrap() < 1e-10);
        assert!(chi_square(&[3_000, 1_000], &[0.75, 0.25]).unwrap() > 0.9);
        assert!(chi_square(&[10], &[1.0]).is_none());
    }
}
