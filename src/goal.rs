//! Goals and funnels: what counts as a conversion on a site, as
//! `[[sites.goals]]` and `[[sites.funnels]]` define them and the goals and
//! funnel reports read them.
//!
//! A goal is reached by a custom event of one name, or by a page view of a
//! path that matches a pattern (`/thank-you`, or `/blog/*`: `*` stands for
//! any run of characters). A funnel is an ordered list of such targets,
//! reached in order within a visitor's UTC day (visitor ids change daily).
//!
//! Owns: [`Target`], [`Goal`], [`Funnel`], [`Conversions`] and the text a
//! target is written as ([`Target::definition`]), which names it in reports'
//! cells, so renaming a goal changes no figure.
//! Must never: do I/O; it is data the configuration validates once.

use std::collections::HashMap;
use std::sync::Arc;

/// What reaches a goal or a funnel step.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A custom event of this name.
    Event(String),
    /// A page view whose path matches this pattern.
    Page(String),
}

impl Target {
    const EVENT: &'static str = "event:";
    const PAGE: &'static str = "page:";

    /// `event:<name>` or `page:<pattern>`: what [`Target::parse`] reads.
    pub fn definition(&self) -> String {
        match self {
            Target::Event(name) => format!("{}{name}", Target::EVENT),
            Target::Page(pattern) => format!("{}{pattern}", Target::PAGE),
        }
    }

    pub fn parse(definition: &str) -> Option<Target> {
        if let Some(name) = definition.strip_prefix(Target::EVENT) {
            return Some(Target::Event(name.to_string()));
        }
        definition
            .strip_prefix(Target::PAGE)
            .map(|pattern| Target::Page(pattern.to_string()))
    }

    /// Whether the pattern of a page target stands for more than one path.
    pub fn is_pattern(&self) -> bool {
        matches!(self, Target::Page(pattern) if pattern.contains('*'))
    }

    /// Whether an event of `name` at `path` reaches the target (what the
    /// reports' SQL asks of ClickHouse; the tests' brute-force check).
    pub fn reached_by(&self, name: &str, path: &str) -> bool {
        match self {
            Target::Event(event) => name != "pageview" && name == event,
            Target::Page(pattern) => name == "pageview" && wildcard_match(pattern, path),
        }
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of
/// characters.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A goal of a site: its display name and what reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goal {
    pub name: String,
    pub target: Target,
}

/// A funnel of a site: its display name and its steps, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funnel {
    pub name: String,
    pub steps: Vec<Target>,
}

/// A site's goals and funnels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteConversions {
    pub goals: Vec<Goal>,
    pub funnels: Vec<Funnel>,
}

impl SiteConversions {
    pub fn goal(&self, name: &str) -> Option<&Goal> {
        self.goals.iter().find(|goal| goal.name == name)
    }

    pub fn funnel(&self, name: &str) -> Option<&Funnel> {
        self.funnels.iter().find(|funnel| funnel.name == name)
    }
}

/// Every site's goals and funnels, by site id, shared by the reports.
pub type Conversions = Arc<HashMap<String, SiteConversions>>;

/// A goal as the rollup counts it: a site and what reaches the goal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteGoal {
    pub site: String,
    pub target: Target,
}

/// A funnel as the rollup counts it: a site and its steps.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SiteFunnel {
    pub site: String,
    pub steps: Vec<Target>,
}

/// The text that names a funnel by its steps: each step's definition, each
/// ended by the unit separator (U+001F, which no configured step may hold,
/// so two step lists never read alike, and which keeps a statement on one
/// line). Two funnels of the same steps are one funnel.
pub fn steps_definition(steps: &[Target]) -> String {
    steps
        .iter()
        .map(|step| step.definition() + "\u{1f}")
        .collect()
}

/// The text that names a set of goals and funnels (a site's, as a part of a
/// day from its local midnight was counted with them): the goals'
/// definitions and the funnels' [`steps_definition`]s, each list sorted,
/// each item once, as JSON (one line, whatever a definition holds). The
/// same set in any order or repetition reads the same.
pub fn conversions_definition<'a>(
    goals: impl Iterator<Item = &'a Target>,
    funnels: impl Iterator<Item = &'a [Target]>,
) -> String {
    let sorted = |mut definitions: Vec<String>| {
        definitions.sort();
        definitions.dedup();
        definitions
    };
    let goals = sorted(goals.map(Target::definition).collect());
    let funnels = sorted(funnels.map(steps_definition).collect());
    serde_json::json!({ "goals": goals, "funnels": funnels }).to_string()
}

/// Every site's funnels, each once per site, in order.
pub fn site_funnels(conversions: &HashMap<String, SiteConversions>) -> Vec<SiteFunnel> {
    let mut funnels: Vec<SiteFunnel> = conversions
        .iter()
        .flat_map(|(site, c)| {
            c.funnels.iter().map(|funnel| SiteFunnel {
                site: site.clone(),
                steps: funnel.steps.clone(),
            })
        })
        .collect();
    funnels.sort();
    funnels.dedup();
    funnels
}

/// Every site's goals, each target once per site, in order.
pub fn site_goals(conversions: &HashMap<String, SiteConversions>) -> Vec<SiteGoal> {
    let mut goals: Vec<SiteGoal> = conversions
        .iter()
        .flat_map(|(site, c)| {
            c.goals.iter().map(|goal| SiteGoal {
                site: site.clone(),
                target: goal.target.clone(),
            })
        })
        .collect();
    goals.sort();
    goals.dedup();
    goals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_read_back() {
        for target in [
            Target::Event("book_tour".into()),
            Target::Page("/blog/*".into()),
            Target::Page("/a:b".into()),
        ] {
            assert_eq!(Target::parse(&target.definition()), Some(target));
        }
        assert_eq!(Target::parse("path:/x"), None);
    }

    #[test]
    fn a_set_of_goals_and_funnels_reads_the_same_in_any_order() {
        let (tour, blog) = (
            Target::Event("book_tour".into()),
            Target::Page("/blog/*".into()),
        );
        let steps = [blog.clone(), tour.clone()];
        let funnels: [&[Target]; 1] = [&steps];
        let one = conversions_definition([&tour, &blog].into_iter(), funnels.into_iter());
        let other = conversions_definition([&blog, &tour, &blog].into_iter(), funnels.into_iter());
        assert_eq!(one, other);
        assert_ne!(
            one,
            conversions_definition([&tour].into_iter(), funnels.into_iter())
        );
        assert_ne!(
            one,
            conversions_definition([&tour, &blog].into_iter(), std::iter::empty())
        );
        assert_eq!(
            conversions_definition(std::iter::empty(), std::iter::empty()),
            r#"{"funnels":[],"goals":[]}"#
        );
    }

    #[test]
    fn what_reaches_a_target() {
        let blog = Target::Page("/blog/*".into());
        assert!(blog.reached_by("pageview", "/blog/"));
        assert!(blog.reached_by("pageview", "/blog/2026/hello"));
        assert!(!blog.reached_by("pageview", "/blog"));
        assert!(!blog.reached_by("subscribe", "/blog/x"), "page views only");
        let thanks = Target::Page("/thank-you".into());
        assert!(thanks.reached_by("pageview", "/thank-you"));
        assert!(!thanks.reached_by("pageview", "/thank-you/again"));
        let middle = Target::Page("/t/*/b*".into());
        assert!(middle.reached_by("pageview", "/t/x/y/bz"));
        assert!(!middle.reached_by("pageview", "/t/x/y/z"));
        let tour = Target::Event("book_tour".into());
        assert!(tour.reached_by("book_tour", "/tour"));
        assert!(!tour.reached_by("pageview", "/tour"));
        assert!(!Target::Event("pageview".into()).reached_by("pageview", "/"));
        assert!(blog.is_pattern() && !thanks.is_pattern() && !tour.is_pattern());
    }
}
