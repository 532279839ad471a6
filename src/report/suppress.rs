//! Small-group suppression: the rule that keeps reports aggregate.
//!
//! Owns: which groups a report may show on their own. A group counted over
//! fewer than `min_group_size` unique visitors (or recipients) could point at
//! one person, so it is folded into `(other)`; so are groups past the row
//! limit. Totals are computed separately and stay exact.
//! Must never: show a group below the threshold, whatever the limit.

use super::sql::GroupRow;

/// The label of the row that stands for every folded group.
pub const OTHER: &str = "(other)";

/// The groups a breakdown shows, and how many it folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub shown: Vec<GroupRow>,
    pub folded: usize,
}

/// Keeps, in order, at most `limit` groups of at least `min_group_size`
/// uniques; everything else is folded.
pub fn fold(groups: Vec<GroupRow>, min_group_size: u64, limit: usize) -> Folded {
    let total = groups.len();
    let shown: Vec<GroupRow> = groups
        .into_iter()
        .filter(|g| g.unique >= min_group_size)
        .take(limit)
        .collect();
    Folded {
        folded: total - shown.len(),
        shown,
    }
}

/// Whether a figure counted over `unique` people may be shown: none at all
/// is not a group of anyone; a few is.
pub fn may_show(unique: u64, min_group_size: u64) -> bool {
    unique == 0 || unique >= min_group_size
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(key: &str, unique: u64) -> GroupRow {
        GroupRow {
            group_key: key.into(),
            unique,
            count: unique * 2,
        }
    }

    #[test]
    fn small_groups_and_groups_past_the_limit_are_folded() {
        let groups = vec![
            group("/", 50),
            group("/pricing", 9),
            group("/tour", 5),
            group("/jobs", 4),
            group("/me", 1),
        ];
        let f = fold(groups.clone(), 5, 10);
        let keys: Vec<&str> = f.shown.iter().map(|g| g.group_key.as_str()).collect();
        assert_eq!(keys, ["/", "/pricing", "/tour"]);
        assert_eq!(f.folded, 2);
        let f = fold(groups.clone(), 5, 2);
        assert_eq!(f.shown.len(), 2);
        assert_eq!(f.folded, 3);
        let f = fold(groups, 1, 10);
        assert_eq!((f.shown.len(), f.folded), (5, 0));
    }

    #[test]
    fn a_group_below_the_threshold_is_never_shown_even_out_of_order() {
        let f = fold(vec![group("/me", 1), group("/", 50)], 5, 10);
        assert!(f.shown.iter().all(|g| g.unique >= 5));
        assert_eq!(f.folded, 1);
    }

    #[test]
    fn figures_over_few_people_are_withheld() {
        assert!(may_show(0, 5));
        assert!(!may_show(1, 5));
        assert!(!may_show(4, 5));
        assert!(may_show(5, 5));
    }
}
