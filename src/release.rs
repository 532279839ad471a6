//! The release step: how an exact count becomes a figure staff may see.
//!
//! Mechanism: the discrete Laplace (two-sided geometric) mechanism of Ghosh,
//! Roughgarden and Sundararajan ("Universally utility-maximizing privacy
//! mechanisms", STOC 2009): a count whose value one unit of privacy can
//! change by at most `sensitivity` is released as `count + Z` with
//! `P(Z = z) ∝ α^|z|`, `α = exp(-ε / sensitivity)`, which is ε-differentially
//! private for that count. Released counts are clamped at zero and withheld
//! below the threshold (post-processing, which costs no privacy).
//!
//! Existence: a figure of a group nobody was in is never computed, so a
//! released row would prove that someone was, if noise could lift a group of
//! one over the threshold often. The threshold is therefore at least the
//! smallest `T` with `P(1 + Z ≥ T) ≤ δ` ([`DELTA`]): a group of one shows
//! with probability at most δ, an empty group never, so the two look alike
//! but for δ ((ε, δ)-differential privacy of the row's existence).
//!
//! Consistency: the noise of a count is not random per request but drawn
//! from HMAC-SHA256 under `reporting.noise_key` of the count's [`Cell`] (what
//! is counted, where and when, at the finest granularity released), so
//! asking again, in another order or through another surface gives the same
//! figure: repeating a question and averaging gains nothing.
//!
//! Owns: [`NoiseKey`], [`Cell`], the mechanism ([`Mechanism::noise`]) and
//! [`Mechanism::release`]. Pure: no I/O, no clock, no thread-local
//! randomness.
//! Must never: let a caller choose the noise, or release a count below the
//! threshold.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The secret the noise of every cell is derived from (`reporting.noise_key`).
/// Whoever holds it can remove the noise: it is kept like the share key,
/// and its `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct NoiseKey(Vec<u8>);

impl NoiseKey {
    pub fn new(secret: &str) -> NoiseKey {
        NoiseKey(secret.as_bytes().to_vec())
    }
}

impl std::fmt::Debug for NoiseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoiseKey(..)")
    }
}

/// What a released count counts: its identity, in fields that are hashed
/// length-prefixed, so no two different cells share their noise by
/// accident of concatenation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell<'a> {
    /// The table of cells, e.g. `daily` for the per-UTC-day cube.
    pub family: &'a str,
    /// The site or campaign.
    pub subject: &'a str,
    /// The UTC day, as days since 1970-01-01.
    pub day: u16,
    /// The dimension broken down (`''` for totals) and its value.
    pub dimension: &'a str,
    pub value: &'a str,
    /// Which count of the cell: `visitors`, `pageviews`, ...
    pub metric: &'a str,
}

/// The chance a group of one person is released at all: what separates
/// "a group of one" from "nobody" in whether a figure exists.
pub const DELTA: f64 = 1e-6;

/// The parameters of the release step, validated by `config`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mechanism {
    key: NoiseKey,
    /// ε of each released count.
    epsilon: f64,
    /// A figure whose noisy count of people is below this is withheld:
    /// `min_group_size`, or the existence threshold of ε and [`DELTA`] when
    /// higher.
    threshold: u64,
}

/// A released count: its noisy value, or withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    Shown(u64),
    Withheld,
}

impl Mechanism {
    pub fn new(key: NoiseKey, epsilon: f64, min_group_size: u64) -> Mechanism {
        Mechanism {
            key,
            epsilon,
            threshold: min_group_size.max(existence_threshold(epsilon, DELTA)),
        }
    }

    /// The smallest released count of people that is shown.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    /// `α = exp(-ε / sensitivity)`: the ratio of the probabilities of two
    /// neighbouring noise values.
    fn alpha(&self, sensitivity: u64) -> f64 {
        (-self.epsilon / sensitivity.max(1) as f64).exp()
    }

    /// The noise of `cell`, for a count that one unit changes by at most
    /// `sensitivity`: a discrete Laplace draw, the same for the same key,
    /// cell and sensitivity.
    pub fn noise(&self, cell: &Cell<'_>, sensitivity: u64) -> i64 {
        let bytes = self.cell_hash(cell);
        let uniform = |half: &[u8]| {
            let n = u64::from_be_bytes(half.try_into().expect("eight bytes"));
            // In (0, 1): never 0, whose logarithm is infinite.
            (n as f64 + 0.5) / 18_446_744_073_709_551_616.0
        };
        let geometric = |u: f64| (u.ln() / self.alpha(sensitivity).ln()).floor() as i64;
        // The difference of two geometric draws is a discrete Laplace draw.
        geometric(uniform(&bytes[..8])) - geometric(uniform(&bytes[8..16]))
    }

    /// `exact` as it is released for `cell`: plus its noise, at least zero.
    /// Whether it is shown is [`Mechanism::shows`]'s, on the count of people
    /// it stands beside.
    pub fn release(&self, cell: &Cell<'_>, exact: u64, sensitivity: u64) -> u64 {
        let noisy = exact as i64 + self.noise(cell, sensitivity);
        noisy.max(0) as u64
    }

    /// Whether a released count of people may be shown.
    pub fn shows(&self, released_people: u64) -> Released {
        if released_people >= self.threshold {
            Released::Shown(released_people)
        } else {
            Released::Withheld
        }
    }

    /// Half the width of the interval that holds the noise with 95%
    /// probability, for a count of `sensitivity`: what the figure's
    /// "± margin" says.
    pub fn margin95(&self, sensitivity: u64) -> u64 {
        let alpha = self.alpha(sensitivity);
        // P(|Z| > m) = 2 α^(m+1) / (1 + α); the smallest m with that ≤ 5%.
        let m = ((0.05 * (1.0 + alpha) / 2.0).ln() / alpha.ln() - 1.0).ceil();
        m.max(0.0) as u64
    }

    fn cell_hash(&self, cell: &Cell<'_>) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key.0)
            .expect("HMAC takes a key of any length");
        mac.update(b"beaconhouse/noise/v1");
        let day = cell.day.to_string();
        for field in [
            cell.family,
            cell.subject,
            &day,
            cell.dimension,
            cell.value,
            cell.metric,
        ] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}

/// The smallest threshold `T` at which a count of one person, plus
/// discrete Laplace noise of scale 1/ε, reaches `T` with probability at most
/// `delta`: `P(Z ≥ T - 1) = α^(T-1) / (1 + α) ≤ δ`.
pub fn existence_threshold(epsilon: f64, delta: f64) -> u64 {
    let alpha = (-epsilon).exp();
    let steps = ((delta * (1.0 + alpha)).ln() / alpha.ln()).ceil();
    1 + steps.max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mechanism(key: &str) -> Mechanism {
        Mechanism::new(NoiseKey::new(key), 1.0, 5)
    }

    fn cell(value: &str) -> Cell<'_> {
        Cell {
            family: "daily",
            subject: "optimumabq.com",
            day: 20_758,
            dimension: "path",
            value,
            metric: "visitors",
        }
    }

    #[test]
    fn the_same_cell_gets_the_same_noise_and_another_key_changes_it() {
        let one = mechanism("k".repeat(32).as_str());
        let values: Vec<String> = (0..200).map(|i| format!("/page/{i}")).collect();
        let noises: Vec<i64> = values.iter().map(|v| one.noise(&cell(v), 1)).collect();
        let again: Vec<i64> = values
            .iter()
            .rev()
            .map(|v| one.noise(&cell(v), 1))
            .collect();
        assert_eq!(noises, again.into_iter().rev().collect::<Vec<_>>());
        let other = mechanism("q".repeat(32).as_str());
        let changed = values
            .iter()
            .zip(&noises)
            .filter(|(v, n)| other.noise(&cell(v), 1) != **n)
            .count();
        assert!(changed > 100, "{changed} of 200 changed");
    }

    #[test]
    fn fields_do_not_run_into_each_other() {
        let m = mechanism("k");
        let a = Cell {
            dimension: "pa",
            value: "th/x",
            ..cell("")
        };
        let b = Cell {
            dimension: "path",
            value: "/x",
            ..cell("")
        };
        assert_ne!(m.cell_hash(&a), m.cell_hash(&b));
    }

    /// Over many cells the noise has the discrete Laplace distribution:
    /// each value's frequency against its probability, and the variance
    /// `2α / (1 - α)²`. The key is fixed, so the draw is too.
    #[test]
    fn the_noise_is_discrete_laplace() {
        let m = mechanism("a fixed key for the distribution test");
        let n = 200_000;
        let mut counts = std::collections::HashMap::<i64, u64>::new();
        let (mut sum, mut squares) = (0f64, 0f64);
        for i in 0..n {
            let value = i.to_string();
            let z = m.noise(&cell(&value), 1);
            *counts.entry(z).or_default() += 1;
            sum += z as f64;
            squares += (z * z) as f64;
        }
        let alpha = (-1f64).exp();
        let probability = |z: i64| (1.0 - alpha) / (1.0 + alpha) * alpha.powi(z.abs() as i32);
        let mut chi_square = 0.0;
        for z in -6..=6 {
            let expected = probability(z) * n as f64;
            let seen = *counts.get(&z).unwrap_or(&0) as f64;
            chi_square += (seen - expected).powi(2) / expected;
        }
        // 13 buckets, 12 degrees of freedom: 32.9 is the 0.1% critical value.
        assert!(chi_square < 32.9, "chi-square {chi_square}");
        let mean = sum / n as f64;
        let variance = squares / n as f64 - mean * mean;
        let expected_variance = 2.0 * alpha / (1.0 - alpha).powi(2);
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!(
            (variance / expected_variance - 1.0).abs() < 0.02,
            "variance {variance} against {expected_variance}"
        );
    }

    #[test]
    fn larger_sensitivity_means_proportionally_wider_noise() {
        let m = mechanism("k");
        let spread = |sensitivity: u64| {
            (0..20_000)
                .map(|i| {
                    let value = i.to_string();
                    m.noise(&cell(&value), sensitivity).unsigned_abs()
                })
                .sum::<u64>() as f64
                / 20_000.0
        };
        let ratio = spread(10) / spread(1);
        // E|Z| = 2α/(1-α²): 0.85 at ε = 1, 9.98 at ε = 0.1.
        assert!((ratio - 9.98 / 0.851).abs() < 0.6, "ratio {ratio}");
    }

    #[test]
    fn margins_hold_95_percent_of_the_noise() {
        let m = mechanism("k");
        for sensitivity in [1, 10] {
            let margin = m.margin95(sensitivity) as i64;
            let inside = (0..20_000)
                .filter(|i| {
                    let value = i.to_string();
                    m.noise(&cell(&value), sensitivity).abs() <= margin
                })
                .count();
            assert!(inside >= 19_000, "{inside} inside ±{margin}");
            let tighter = (0..20_000)
                .filter(|i| {
                    let value = i.to_string();
                    m.noise(&cell(&value), sensitivity).abs() < margin
                })
                .count();
            assert!(tighter < 19_300, "±{margin} is not wider than needed");
        }
        assert_eq!(m.margin95(1), 3);
    }

    #[test]
    fn counts_are_never_negative_and_small_ones_are_withheld() {
        let m = mechanism("k");
        let mut zeros = 0;
        for i in 0..1000 {
            let value = i.to_string();
            let c = cell(&value);
            let z = m.noise(&c, 1);
            assert_eq!(m.release(&c, 0, 1), z.max(0) as u64);
            assert_eq!(m.release(&c, 10, 1), (10 + z).max(0) as u64);
            zeros += usize::from(m.release(&c, 0, 1) == 0);
        }
        // P(Z <= 0) = 1/2 + P(Z = 0)/2 = 0.73 at ε = 1.
        assert!((680..780).contains(&zeros), "{zeros} zeros");
        assert_eq!(m.shows(m.threshold() - 1), Released::Withheld);
        assert_eq!(m.shows(m.threshold()), Released::Shown(m.threshold()));
    }

    #[test]
    fn a_group_of_one_is_released_with_probability_at_most_delta() {
        for epsilon in [0.1, 0.5, 1.0, 2.0] {
            let m = Mechanism::new(NoiseKey::new("k"), epsilon, 1);
            let t = m.threshold();
            // One person reaches T when the noise is T - 1 or more: at most
            // δ, and T is the smallest such threshold.
            // P(Z ≥ n) = α^n / (1 + α), n ≥ 1.
            let alpha = m.alpha(1);
            let upper_tail = |n: u64| alpha.powi(n as i32) / (1.0 + alpha);
            assert!(upper_tail(t - 1) <= DELTA, "ε {epsilon}: T {t}");
            assert!(
                upper_tail(t - 2) > DELTA,
                "ε {epsilon}: T {t} is not the smallest"
            );
        }
        assert_eq!(existence_threshold(1.0, DELTA), 15);
        assert_eq!(existence_threshold(2.0, DELTA), 8);
        // min_group_size wins when it is higher.
        assert_eq!(Mechanism::new(NoiseKey::new("k"), 2.0, 20).threshold(), 20);
        // Over many groups of one, none shows (expected 0.2 in 200,000).
        let m = mechanism("a fixed key for the existence test");
        let shown = (0..200_000)
            .filter(|i| {
                let value = i.to_string();
                m.shows(m.release(&cell(&value), 1, 1)) != Released::Withheld
            })
            .count();
        assert!(shown <= 2, "{shown} groups of one shown");
    }
}
