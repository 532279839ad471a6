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
//! from its [`Cell`] (what is counted, where and when, at the finest
//! granularity released) under `reporting.noise_key`, so asking again, in
//! another order or through another surface gives the same figure:
//! repeating a question and averaging gains nothing. HMAC-SHA256 of the cell
//! but its day seeds a ChaCha20 stream; the day's noise is the two 64-bit
//! words at the day's own position in it ([`DERIVATION`] 2). Version 1
//! hashed each cell with its day: thirty HMACs for a 30-day figure.
//!
//! Owns: [`NoiseKey`], [`Cell`], the mechanism ([`Mechanism::noise`]) and
//! [`Mechanism::release`]. Pure: no I/O, no clock, no thread-local
//! randomness.
//! Must never: let a caller choose the noise, or release a count below the
//! threshold.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use hmac::{Hmac, KeyInit, Mac};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
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
    /// The part of the day counted, as seconds after UTC midnight
    /// `[from, to)`; `None` for the whole day. A report in a time zone whose
    /// midnight is not UTC's reads the edges of its period as such parts.
    pub span: Option<(u32, u32)>,
    /// The report's filters, in their canonical text; `""` for none.
    pub filters: &'a str,
}

impl<'a> Cell<'a> {
    /// A whole day's cell of `dimension` and `value`, without filters: the
    /// cells of `released.daily`.
    pub fn whole_day(
        family: &'a str,
        subject: &'a str,
        day: u16,
        dimension: &'a str,
        value: &'a str,
        metric: &'a str,
    ) -> Cell<'a> {
        Cell {
            family,
            subject,
            day,
            dimension,
            value,
            metric,
            span: None,
            filters: "",
        }
    }
}

/// How noise is derived from the key and the cell, recorded with each
/// released day so that a change releases every day again.
pub const DERIVATION: u64 = 2;

/// The chance a group of one person is released at all: what separates
/// "a group of one" from "nobody" in whether a figure exists.
pub const DELTA: f64 = 1e-6;

/// A quantile of summed noise: sensitivity, cells summed, the tail's bits.
type QuantileKey = (u64, usize, u64);

/// The parameters of the release step, validated by `config`.
#[derive(Clone)]
pub struct Mechanism {
    key: NoiseKey,
    /// HMAC-SHA256 with `key` already absorbed: cloned per series of cells.
    keyed: Hmac<Sha256>,
    /// [`sum_quantile`]'s answers, by (sensitivity, cells, tail): a report
    /// asks the same few again and again.
    quantiles: Arc<Mutex<HashMap<QuantileKey, u64>>>,
    /// ε of each released count.
    epsilon: f64,
    min_group_size: u64,
    /// A figure whose noisy count of people is below this is withheld:
    /// `min_group_size`, or the existence threshold of ε and [`DELTA`] when
    /// higher.
    threshold: u64,
}

/// A released count: its noisy value, or withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Shown(u64),
    Withheld,
}

impl Mechanism {
    pub fn new(key: NoiseKey, epsilon: f64, min_group_size: u64) -> Mechanism {
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0)
            .expect("HMAC takes a key of any length");
        Mechanism {
            key,
            keyed,
            quantiles: Arc::default(),
            epsilon,
            min_group_size,
            threshold: min_group_size.max(existence_threshold(epsilon, DELTA)),
        }
    }

    /// The smallest released count of people that is shown, for a count of
    /// one cell.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    /// The smallest released count of people that is shown, for a count
    /// summed over `cells` cells (each with its own noise): the sum of a
    /// group of one reaches it with probability at most [`DELTA`] however
    /// many cells hold it, so a figure over one person and a figure over
    /// nobody look alike. `min_group_size` when that is higher.
    pub fn threshold_of_sum(&self, cells: usize) -> u64 {
        if cells <= 1 {
            return self.threshold;
        }
        // One person reaches T when the summed noise is T - 1 or more.
        self.min_group_size
            .max(1 + self.sum_quantile(1, cells, DELTA))
    }

    /// ε of each released count.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
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
        self.noises(cell, sensitivity).of_day(cell.day)
    }

    /// The noise of the cells that differ from `cell` in their day alone
    /// (its `day` is ignored): what [`Mechanism::noise`] gives each, at the
    /// cost of one HMAC for them all.
    pub fn noises(&self, cell: &Cell<'_>, sensitivity: u64) -> Noises {
        Noises {
            stream: ChaCha20Rng::from_seed(self.series_seed(cell)),
            next_day: None,
            ln_alpha: -self.epsilon / sensitivity.max(1) as f64,
        }
    }

    /// `exact` as it is released for `cell`: plus its noise, at least zero.
    /// Whether it is shown is [`Mechanism::shows`]'s, on the count of people
    /// it stands beside.
    pub fn release(&self, cell: &Cell<'_>, exact: u64, sensitivity: u64) -> u64 {
        let noisy = exact as i64 + self.noise(cell, sensitivity);
        noisy.max(0) as u64
    }

    /// Whether a released count of people may be shown.
    pub fn shows(&self, released_people: u64) -> Verdict {
        if released_people >= self.threshold {
            Verdict::Shown(released_people)
        } else {
            Verdict::Withheld
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

    /// [`Mechanism::margin95`] of a sum of `cells` counts, each with its own
    /// noise: the smallest `m` with `P(|S| > m) ≤ 5%`.
    pub fn margin95_of_sum(&self, sensitivity: u64, cells: usize) -> u64 {
        if cells <= 1 {
            return self.margin95(sensitivity);
        }
        // Symmetric: P(|S| > m) = 2 P(S ≥ m + 1).
        self.sum_quantile(sensitivity, cells, 0.025) - 1
    }

    fn sum_quantile(&self, sensitivity: u64, cells: usize, tail: f64) -> u64 {
        let key = (sensitivity, cells, tail.to_bits());
        let cached = self
            .quantiles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied();
        cached.unwrap_or_else(|| {
            let quantile = sum_quantile(self.alpha(sensitivity), cells, tail);
            self.quantiles
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, quantile);
            quantile
        })
    }

    /// HMAC-SHA256 of everything that identifies `cell` but its day.
    fn series_seed(&self, cell: &Cell<'_>) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(b"beaconhouse/noise/v2");
        for field in [
            cell.family,
            cell.subject,
            cell.dimension,
            cell.value,
            cell.metric,
        ] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        // Appended only when present, so a whole day's unfiltered cell is
        // the cell `released.daily` was released with.
        if let Some((from, to)) = cell.span {
            mac.update(b"span");
            mac.update(&from.to_be_bytes());
            mac.update(&to.to_be_bytes());
        }
        if !cell.filters.is_empty() {
            mac.update(b"filters");
            mac.update(&(cell.filters.len() as u64).to_be_bytes());
            mac.update(cell.filters.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}

/// The noise of a series of cells, by day: [`Mechanism::noises`].
pub struct Noises {
    stream: ChaCha20Rng,
    /// The day whose words the stream reads next, if it was just read.
    next_day: Option<u16>,
    /// `ln α`, `-ε / sensitivity`.
    ln_alpha: f64,
}

impl Noises {
    /// The noise of the series' cell of `day`: the difference of two
    /// geometric draws (a discrete Laplace draw), from the two 64-bit words
    /// at `4 × day` 32-bit words into the stream. Days read in order cost
    /// no seek.
    pub fn of_day(&mut self, day: u16) -> i64 {
        if self.next_day != Some(day) {
            self.stream.set_word_pos(u128::from(day) * 4);
        }
        self.next_day = day.checked_add(1);
        let (first, second) = (self.stream.next_u64(), self.stream.next_u64());
        self.geometric(first) - self.geometric(second)
    }

    fn geometric(&self, word: u64) -> i64 {
        // Uniform in (0, 1): never 0, whose logarithm is infinite.
        let uniform = (word as f64 + 0.5) / 18_446_744_073_709_551_616.0;
        (uniform.ln() / self.ln_alpha).floor() as i64
    }
}

impl std::fmt::Debug for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mechanism")
            .field("key", &self.key)
            .field("epsilon", &self.epsilon)
            .field("threshold", &self.threshold)
            .finish()
    }
}

impl PartialEq for Mechanism {
    fn eq(&self, other: &Mechanism) -> bool {
        (&self.key, self.epsilon, self.min_group_size)
            == (&other.key, other.epsilon, other.min_group_size)
    }
}

/// The smallest threshold `T` at which a count of one person, plus
/// discrete Laplace noise of scale 1/ε, reaches `T` with probability at most
/// `delta`: `P(Z ≥ T - 1) = α^(T-1) / (1 + α) ≤ δ`.
pub fn existence_threshold(epsilon: f64, delta: f64) -> u64 {
    1 + sum_quantile((-epsilon).exp(), 1, delta)
}

/// The smallest `x ≥ 1` with `P(Z₁ + … + Z_cells ≥ x) ≤ tail` for
/// independent discrete Laplace draws of ratio `alpha`, computed exactly: the
/// sum is the difference of two independent negative binomial draws
/// `NB(cells, 1 - α)` (each a sum of `cells` geometric draws), so
/// `P(S ≥ x) = Σₖ P(G = k) P(G ≥ x + k)`.
fn sum_quantile(alpha: f64, cells: usize, tail: f64) -> u64 {
    let cells = cells.max(1) as f64;
    // P(G = k), from its logarithm (P(G = 0) = (1-α)^cells underflows for
    // long sums at small ε), until what is left past k is negligible.
    let mut pmf = Vec::new();
    let mut log_p = cells * (1.0 - alpha).ln();
    let mean = cells * alpha / (1.0 - alpha);
    for k in 0u32.. {
        let p = log_p.exp();
        pmf.push(p);
        if f64::from(k) > mean && p < 1e-300 || pmf.len() > 4_000_000 {
            break;
        }
        let k = f64::from(k) + 1.0;
        log_p += ((k + cells - 1.0) / k).ln() + alpha.ln();
    }
    // at_least[n] = P(G ≥ n).
    let mut at_least = vec![0.0; pmf.len() + 1];
    for n in (0..pmf.len()).rev() {
        at_least[n] = at_least[n + 1] + pmf[n];
    }
    let upper = |x: usize| -> f64 {
        pmf.iter()
            .enumerate()
            .take_while(|(k, _)| x + k < at_least.len())
            .map(|(k, p)| p * at_least[x + k])
            .sum()
    };
    // P(S ≥ x) falls as x grows: the smallest x past `tail`, by bisection.
    let (mut low, mut high) = (1usize, pmf.len());
    while low < high {
        let mid = (low + high) / 2;
        if upper(mid) <= tail {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    low as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mechanism(key: &str) -> Mechanism {
        Mechanism::new(NoiseKey::new(key), 1.0, 5)
    }

    fn cell(value: &str) -> Cell<'_> {
        Cell::whole_day("daily", "optimumabq.com", 20_758, "path", value, "visitors")
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
        assert_ne!(m.series_seed(&a), m.series_seed(&b));
    }

    /// Over many cells the noise has the discrete Laplace distribution:
    /// each value's frequency against its probability, and the variance
    /// `2α / (1 - α)²`; across series (one cell each) and along one
    /// series (every day of it). The key is fixed, so the draw is too.
    #[test]
    fn the_noise_is_discrete_laplace() {
        let m = mechanism("a fixed key for the distribution test");
        let values: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
        assert_discrete_laplace(values.iter().map(|value| m.noise(&cell(value), 1)));
        let mut one_series = m.noises(&cell("/"), 1);
        assert_discrete_laplace((0..=u16::MAX).map(|day| one_series.of_day(day)));
    }

    /// A series gives each day the noise of that day's cell alone, read in
    /// order, backwards or skipping.
    #[test]
    fn a_series_gives_each_day_its_own_cells_noise() {
        let m = mechanism("k");
        let alone = |day: u16| m.noise(&Cell { day, ..cell("/") }, 3);
        let mut series = m.noises(&cell("/"), 3);
        for day in [5, 6, 7, 2, 9000, 9001, 6, u16::MAX] {
            assert_eq!(series.of_day(day), alone(day), "day {day}");
        }
        let days: Vec<i64> = (0..50).map(alone).collect();
        assert!(days.windows(2).any(|pair| pair[0] != pair[1]));
    }

    fn assert_discrete_laplace(noise: impl Iterator<Item = i64>) {
        let mut n = 0u64;
        let mut counts = std::collections::HashMap::<i64, u64>::new();
        let (mut sum, mut squares) = (0f64, 0f64);
        for z in noise {
            n += 1;
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
        assert_eq!(m.shows(m.threshold() - 1), Verdict::Withheld);
        assert_eq!(m.shows(m.threshold()), Verdict::Shown(m.threshold()));
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
                m.shows(m.release(&cell(&value), 1, 1)) != Verdict::Withheld
            })
            .count();
        assert!(shown <= 2, "{shown} groups of one shown");
    }

    #[test]
    fn spans_and_filters_are_cells_of_their_own() {
        let m = mechanism("k");
        let whole = cell("/");
        let span = Cell {
            span: Some((0, 3600)),
            ..whole
        };
        let other_span = Cell {
            span: Some((0, 7200)),
            ..whole
        };
        let filtered = Cell {
            filters: "country==US",
            ..whole
        };
        let hashes = [&whole, &span, &other_span, &filtered].map(|c| m.series_seed(c));
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    /// The exact distribution of a sum of `cells` discrete Laplace draws,
    /// by convolution, from -`reach` to `reach`.
    fn sum_distribution(alpha: f64, cells: usize, reach: i64) -> Vec<f64> {
        let one: Vec<f64> = (-reach..=reach)
            .map(|z| (1.0 - alpha) / (1.0 + alpha) * alpha.powi(z.unsigned_abs() as i32))
            .collect();
        let mut sum = one.clone();
        for _ in 1..cells {
            let mut next = vec![0.0; one.len()];
            for (i, p) in sum.iter().enumerate() {
                for (j, q) in one.iter().enumerate() {
                    let k = i as i64 + j as i64 - reach;
                    if (0..one.len() as i64).contains(&k) {
                        next[k as usize] += p * q;
                    }
                }
            }
            sum = next;
        }
        sum
    }

    #[test]
    fn a_sum_over_one_person_is_shown_with_probability_at_most_delta() {
        for epsilon in [0.5, 1.0, 2.0] {
            let m = Mechanism::new(NoiseKey::new("k"), epsilon, 1);
            assert_eq!(m.threshold_of_sum(1), m.threshold());
            let mut previous = m.threshold();
            for cells in 2..=6 {
                let t = m.threshold_of_sum(cells);
                assert!(t >= previous, "more cells, more noise: {t} < {previous}");
                previous = t;
                let reach = 400;
                let distribution = sum_distribution(m.alpha(1), cells, reach);
                // P(1 + S ≥ T) = P(S ≥ T - 1).
                let tail: f64 = distribution[(reach + t as i64 - 1) as usize..].iter().sum();
                assert!(tail <= DELTA, "ε {epsilon}, {cells} cells: T {t}, {tail}");
                // The bound costs little: a few counts above the exact T.
                let exact = (1..)
                    .find(|&x: &i64| {
                        distribution[(reach + x - 1) as usize..].iter().sum::<f64>() <= DELTA
                    })
                    .unwrap();
                assert_eq!(t as i64, exact, "ε {epsilon}, {cells} cells");
            }
        }
        let m = mechanism("k");
        // A 30-day period in a time zone west of UTC: 29 whole days, two edges.
        assert_eq!(m.threshold_of_sum(31), 41);
    }

    #[test]
    fn margins_of_sums_hold_95_percent_of_the_summed_noise() {
        let m = mechanism("a fixed key for the margins of sums");
        for (sensitivity, cells) in [(1, 2), (1, 31), (10, 3)] {
            let margin = m.margin95_of_sum(sensitivity, cells) as i64;
            let inside = (0..5_000)
                .filter(|i| {
                    let total: i64 = (0..cells)
                        .map(|c| {
                            let value = format!("{i}/{c}");
                            m.noise(&cell(&value), sensitivity)
                        })
                        .sum();
                    total.abs() <= margin
                })
                .count();
            assert!(inside >= 4_750, "{inside} of 5000 inside ±{margin}");
            assert!(inside <= 4_900, "±{margin} is wider than needed: {inside}");
        }
    }
}
