//! Which released groups a breakdown shows, and what it says of the rest:
//! the one folding rule of every grouped report (API JSON and CSV, CLI,
//! dashboard).
//!
//! Groups come released ([`super::released::Figure`]): noisy, and marked
//! shown only when their released people reach the threshold. A breakdown
//! shows, largest released first, at most `limit` shown groups; everything
//! else folds into `(other)`, which is always listed, so that whether
//! anything folded says nothing. Its count is the released total's less the
//! shown groups' (at least zero): arithmetic on released figures, which
//! yields noise, not a person; withheld with the total. Its people are not given: a person in two
//! folded groups would count twice.
//!
//! Owns: the order of groups and the fold, as pure functions.
//! Must never: show a group the release step did not mark shown, or order
//! groups by anything but released figures.

use super::released::Figure;

/// The label of the row that stands for every folded group.
pub const OTHER: &str = "(other)";

/// A released group of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub key: String,
    pub figure: Figure,
}

/// The groups a breakdown shows, and the count of `(other)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub shown: Vec<Group>,
    /// `None` when the total is withheld: `(other)` would show what the
    /// total's count was.
    pub other: Option<u64>,
}

/// Keeps the `limit` largest shown groups (by released people, then count,
/// then key, so answers are stable); `(other)` counts the released total's
/// rest, and is withheld with the total.
pub fn fold(mut groups: Vec<Group>, total: &Figure, limit: usize) -> Folded {
    groups.retain(|g| g.figure.shown);
    groups.sort_by(|a, b| {
        (b.figure.people, b.figure.count)
            .cmp(&(a.figure.people, a.figure.count))
            .then_with(|| a.key.cmp(&b.key))
    });
    groups.truncate(limit);
    let shown_count: u64 = groups.iter().map(|g| g.figure.count).sum();
    Folded {
        other: total.shown.then(|| total.count.saturating_sub(shown_count)),
        shown: groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(key: &str, people: u64, shown: bool) -> Group {
        Group {
            key: key.into(),
            figure: Figure {
                people,
                count: people * 2,
                shown,
            },
        }
    }

    fn total(people: u64, count: u64) -> Figure {
        Figure {
            people,
            count,
            shown: true,
        }
    }

    #[test]
    fn withheld_groups_and_groups_past_the_limit_fold_into_other() {
        let groups = vec![
            group("/tour", 30, true),
            group("/", 50, true),
            group("/me", 3, false),
            group("/pricing", 30, true),
        ];
        let f = fold(groups.clone(), &total(120, 250), 10);
        let keys: Vec<&str> = f.shown.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(
            keys,
            ["/", "/pricing", "/tour"],
            "largest first, ties by key"
        );
        assert_eq!(f.other, Some(250 - 220));
        let f = fold(groups, &total(120, 250), 1);
        assert_eq!(f.shown.len(), 1);
        assert_eq!(f.other, Some(150));
    }

    #[test]
    fn other_is_never_negative_and_a_fold_of_nothing_still_lists_it() {
        let f = fold(vec![group("/", 50, true)], &total(40, 60), 10);
        assert_eq!(f.other, Some(0));
        let f = fold(Vec::new(), &total(0, 0), 10);
        assert_eq!((f.shown.len(), f.other), (0, Some(0)));
    }

    #[test]
    fn a_withheld_total_withholds_other_too() {
        // One person behind a filter, or nobody: the total's count differs
        // (under the same noise), so (other) must not show it.
        for exact in [0, 7] {
            let hidden = Figure {
                people: 3,
                count: exact + 5,
                shown: false,
            };
            let f = fold(vec![group("/x", 1, false)], &hidden, 10);
            assert_eq!((f.shown.len(), f.other), (0, None));
        }
    }
}
