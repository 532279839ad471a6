//! The one rule that keeps reports aggregate, applied to every figure a
//! staff-facing surface shows (API JSON and CSV, CLI, dashboard).
//!
//! A figure counted over fewer than `min_group_size` distinct people
//! (visitors, or recipients) is withheld, and a withheld figure looks the
//! same whatever it was, zero included: `None`, printed as `-` or `null`, so
//! that withholding itself says nothing (a filtered 0 and a filtered 3 read
//! alike). Breakdown groups under the threshold, and groups past the row
//! limit, fold into `(other)`, which is itself shown only when it provably
//! holds at least `min_group_size` people. Whole-site figures without
//! filters are exact and shown as they are; that choice is the caller's.
//!
//! Owns: which figures may be shown, as pure functions. (The requests
//! refused because they mostly serve differencing are refused where every
//! request is parsed, `request::ReportRequest::from_pairs`.)
//! Must never: show a figure over fewer people than the threshold, whatever
//! the limit, the filters or the order of groups.

use super::sql::{CountRow, GroupRow};

/// The label of the row that stands for every folded group.
pub const OTHER: &str = "(other)";

/// Whether a figure counted over `people` may be shown.
pub fn may_show(people: u64, min_group_size: u64) -> bool {
    people >= min_group_size
}

/// `value`, counted over `people`, or `None` when it is withheld.
pub fn shown(value: u64, people: u64, min_group_size: u64) -> Option<u64> {
    may_show(people, min_group_size).then_some(value)
}

/// The groups a breakdown shows, and what it says of the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub shown: Vec<GroupRow>,
    /// Whether any group was folded, so that `(other)` is listed.
    pub has_other: bool,
    /// The count of `(other)`, `None` when it is withheld (or nothing folded).
    pub other: Option<u64>,
}

/// How many of the largest groups [`fold`] needs to be given for a `limit`:
/// one more than it may show, the largest of those it folds. The groups past
/// them are folded anyway, so ClickHouse need not send them
/// (`sql::Aggregation::groups_by_size` cuts the list there).
pub fn groups_needed(limit: usize) -> usize {
    limit.saturating_add(1)
}

/// Keeps, in order, at most `limit` groups of at least `min_group_size`
/// people; everything else is folded. `(other)` shows its count only when
/// the folded groups hold at least `min_group_size` people for certain: at
/// least as many as the largest folded group, and at least as many as the
/// total's people that no shown group can account for. Its count is the
/// total's minus the shown groups', so it stays exact when `groups` holds
/// only the [`groups_needed`] largest (ordered by people, largest first):
/// the shown groups and the largest folded one are among them.
pub fn fold(groups: Vec<GroupRow>, total: CountRow, min_group_size: u64, limit: usize) -> Folded {
    let mut kept = Vec::new();
    let mut folded = Vec::new();
    for group in groups {
        if kept.len() < limit && may_show(group.unique, min_group_size) {
            kept.push(group);
        } else {
            folded.push(group);
        }
    }
    let kept_people: u64 = kept.iter().map(|g| g.unique).sum();
    let kept_count: u64 = kept.iter().map(|g| g.count).sum();
    let largest_folded = folded.iter().map(|g| g.unique).max().unwrap_or(0);
    let folded_people = largest_folded.max(total.unique.saturating_sub(kept_people));
    let other = if folded.is_empty() {
        None
    } else {
        shown(
            total.count.saturating_sub(kept_count),
            folded_people,
            min_group_size,
        )
    };
    Folded {
        has_other: !folded.is_empty(),
        shown: kept,
        other,
    }
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

    fn total(unique: u64, count: u64) -> CountRow {
        CountRow { unique, count }
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
        let f = fold(groups.clone(), total(60, 138), 5, 10);
        let keys: Vec<&str> = f.shown.iter().map(|g| g.group_key.as_str()).collect();
        assert_eq!(keys, ["/", "/pricing", "/tour"]);
        assert!(f.has_other);
        // 60 people, 64 in shown groups: the folded ones may hold only the 4
        // of /jobs (the largest), fewer than 5, so (other) is withheld.
        assert_eq!(f.other, None);
        let f = fold(groups.clone(), total(60, 138), 5, 2);
        assert_eq!((f.shown.len(), f.has_other), (2, true));
        assert_eq!(f.other, Some(138 - 118), "/tour alone holds 5 people");
        let f = fold(groups, total(60, 138), 1, 10);
        assert_eq!((f.shown.len(), f.has_other, f.other), (5, false, None));
    }

    #[test]
    fn other_shows_only_when_it_holds_enough_people_for_certain() {
        // (groups, total, expected other)
        let cases: Vec<(Vec<GroupRow>, CountRow, Option<u64>)> = vec![
            // One person on five small pages: five groups of 1, sum 5, but
            // the total says at most 1 person is outside the shown group.
            (
                vec![
                    group("/", 20),
                    group("/a", 1),
                    group("/b", 1),
                    group("/c", 1),
                    group("/d", 1),
                    group("/e", 1),
                ],
                total(21, 50),
                None,
            ),
            // Six people no shown group accounts for: shown.
            (
                vec![group("/", 20), group("/a", 3), group("/b", 3)],
                total(26, 52),
                Some(12),
            ),
            // A filter that leaves one person: nothing shown, nothing said.
            (vec![group("Firefox", 1)], total(1, 3), None),
            (vec![], total(0, 0), None),
        ];
        for (groups, total, expected) in cases {
            let f = fold(groups.clone(), total, 5, 10);
            assert_eq!(f.other, expected, "{groups:?} {total:?}");
            assert!(f.shown.iter().all(|g| g.unique >= 5));
        }
    }

    #[test]
    fn a_group_below_the_threshold_is_never_shown_even_out_of_order() {
        let f = fold(vec![group("/me", 1), group("/", 50)], total(51, 102), 5, 10);
        assert!(f.shown.iter().all(|g| g.unique >= 5));
        assert!(f.has_other);
    }

    #[test]
    fn the_largest_groups_alone_fold_as_all_of_them_do() {
        // Largest first, as ClickHouse sends them: big groups, a tie at the
        // threshold, then a long tail of small ones.
        let mut groups: Vec<GroupRow> = [40, 30, 12, 9, 5, 5, 4, 4, 3, 2, 1, 1, 1]
            .into_iter()
            .enumerate()
            .map(|(i, unique)| group(&format!("/{i}"), unique))
            .collect();
        groups.push(GroupRow {
            count: 9,
            ..group("/last", 1)
        });
        let people: u64 = groups.iter().map(|g| g.unique).sum();
        let hits: u64 = groups.iter().map(|g| g.count).sum();
        for total in [total(people, hits), total(people - 20, hits)] {
            for k in [1, 3, 5, 10, 50] {
                for limit in 1..=groups.len() + 2 {
                    let needed = groups_needed(limit).min(groups.len());
                    assert_eq!(
                        fold(groups[..needed].to_vec(), total, k, limit),
                        fold(groups.clone(), total, k, limit),
                        "k {k}, limit {limit}, {total:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn withheld_figures_look_alike_whatever_they_were() {
        for people in 0..5 {
            assert!(!may_show(people, 5));
            assert_eq!(shown(people * 3, people, 5), None, "{people} people");
        }
        assert_eq!(shown(17, 5, 5), Some(17));
    }
}
