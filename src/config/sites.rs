//! `[[sites]]`: the websites whose hits are accepted: each one's id, the
//! hosts its pages are served from, the paths only it knows to be personal,
//! the time zone its reports use, and the event property keys it keeps.
//!
//! Refuses no site at all, an empty or overlong id, an id given twice, a
//! site without hosts, a host that is a URL rather than a bare name, a path
//! pattern `enrich::scrub` cannot parse, an unknown time zone, and more than
//! ten property keys or one `enrich::props` would not read back.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::validate::ConfigError;
use crate::enrich::props::{MAX_KEY_CHARS, MAX_KEYS_PER_SITE, is_valid_key};
use crate::enrich::scrub::PathPattern;
use crate::goal::{Funnel, Goal, SiteConversions, Target};
use crate::row::{MAX_EVENT_NAME_CHARS, PAGEVIEW};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    id: String,
    hostnames: Vec<String>,
    #[serde(default)]
    path_patterns: Vec<String>,
    #[serde(default = "utc")]
    time_zone: String,
    #[serde(default)]
    props: Vec<String>,
    #[serde(default)]
    goals: Vec<RawGoal>,
    #[serde(default)]
    funnels: Vec<RawFunnel>,
}

/// `[[sites.goals]]`: a name and one of `event` or `page`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGoal {
    name: String,
    #[serde(flatten)]
    target: RawTarget,
}

/// `[[sites.funnels]]`: a name and its steps, each `{ goal = "..." }`,
/// `{ event = "..." }` or `{ page = "..." }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFunnel {
    name: String,
    steps: Vec<RawTarget>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    goal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<String>,
}

/// Most goals, and most funnels, a site may define; most steps of a funnel.
pub const MAX_GOALS: usize = 20;
pub const MAX_FUNNELS: usize = 10;
pub const MAX_FUNNEL_STEPS: usize = 8;
const MAX_NAME_CHARS: usize = 100;

fn utc() -> String {
    "UTC".into()
}

/// A website whose hits are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The id pages send as `site`, e.g. `optimumabq.com`.
    pub id: String,
    /// Hosts the site's pages are served from; a hit whose page URL names
    /// another host is not counted (someone copied the snippet elsewhere).
    pub hostnames: Vec<String>,
    /// Paths whose segments only the site knows to be personal, such as
    /// `/members/:id`; applied before a path is stored.
    pub path_patterns: Vec<PathPattern>,
    /// The IANA time zone its reports use unless a request names another.
    pub time_zone: String,
    /// The event property keys kept (`enrich::props`); any other is dropped.
    pub props: Vec<String>,
    /// Its goals and funnels (`goal`).
    pub conversions: SiteConversions,
}

/// Sites by id, host names lower-cased.
pub(super) fn validate_sites(raw: Vec<RawSite>) -> Result<HashMap<String, Site>, ConfigError> {
    let mut sites = HashMap::new();
    for (i, site) in raw.into_iter().enumerate() {
        let key = format!("sites[{i}]");
        if site.id.trim().is_empty() || site.id.len() > 100 {
            return Err(ConfigError::invalid(
                format!("{key}.id"),
                "must be 1 to 100 characters, e.g. \"optimumabq.com\"",
            ));
        }
        if site.hostnames.is_empty() {
            return Err(ConfigError::invalid(
                format!("{key}.hostnames"),
                "must list at least one host the site is served from",
            ));
        }
        let hostnames: Vec<String> = site
            .hostnames
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        if let Some(bad) = hostnames
            .iter()
            .find(|h| h.is_empty() || h.contains(['/', ':', ' ']))
        {
            return Err(ConfigError::invalid(
                format!("{key}.hostnames"),
                format!("must be bare host names such as www.example.com, got {bad:?}"),
            ));
        }
        let path_patterns = site
            .path_patterns
            .iter()
            .map(|p| PathPattern::parse(p))
            .collect::<Result<_, _>>()
            .map_err(|e| ConfigError::invalid(format!("{key}.path_patterns"), e.to_string()))?;
        let time_zone = site.time_zone.trim().to_string();
        if time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::invalid(
                format!("{key}.time_zone"),
                format!(
                    "must be an IANA time zone name such as \"America/Denver\" or \"UTC\", got {time_zone:?}"
                ),
            ));
        }
        if site.props.len() > MAX_KEYS_PER_SITE {
            return Err(ConfigError::invalid(
                format!("{key}.props"),
                format!("may list at most {MAX_KEYS_PER_SITE} property keys"),
            ));
        }
        if let Some(bad) = site.props.iter().find(|k| !is_valid_key(k)) {
            return Err(ConfigError::invalid(
                format!("{key}.props"),
                format!(
                    "must be keys of 1 to {MAX_KEY_CHARS} letters, digits, `_`, `-` or `.`, such as \"plan\", got {bad:?}"
                ),
            ));
        }
        let conversions = conversions(&key, &site.goals, &site.funnels)?;
        let id = site.id.clone();
        if sites
            .insert(
                id.clone(),
                Site {
                    id: site.id,
                    hostnames,
                    path_patterns,
                    time_zone,
                    props: site.props,
                    conversions,
                },
            )
            .is_some()
        {
            return Err(ConfigError::invalid(
                format!("{key}.id"),
                format!("{id:?} is configured twice"),
            ));
        }
    }
    if sites.is_empty() {
        return Err(ConfigError::invalid(
            "sites",
            "must list at least one site, e.g. [[sites]] id = \"example.com\" hostnames = [\"example.com\"]",
        ));
    }
    Ok(sites)
}

/// A site's goals and funnels, checked: names given once, each goal an
/// event or a page, each funnel of 2 to [`MAX_FUNNEL_STEPS`] steps, a step
/// naming a goal the site has.
fn conversions(
    site_key: &str,
    raw_goals: &[RawGoal],
    raw_funnels: &[RawFunnel],
) -> Result<SiteConversions, ConfigError> {
    let mut conversions = SiteConversions::default();
    if raw_goals.len() > MAX_GOALS {
        return Err(ConfigError::invalid(
            format!("{site_key}.goals"),
            format!("may list at most {MAX_GOALS} goals"),
        ));
    }
    for (i, raw) in raw_goals.iter().enumerate() {
        let key = format!("{site_key}.goals[{i}]");
        let name = display_name(&key, &raw.name)?;
        if conversions.goal(&name).is_some() {
            return Err(ConfigError::invalid(
                format!("{key}.name"),
                format!("{name:?} is given to two goals; give each its own name"),
            ));
        }
        if raw.target.goal.is_some() {
            return Err(ConfigError::invalid(
                format!("{key}.goal"),
                "a goal is an `event` or a `page`, not another goal",
            ));
        }
        let target = target(&key, &raw.target, &conversions)?;
        conversions.goals.push(Goal { name, target });
    }
    if raw_funnels.len() > MAX_FUNNELS {
        return Err(ConfigError::invalid(
            format!("{site_key}.funnels"),
            format!("may list at most {MAX_FUNNELS} funnels"),
        ));
    }
    for (i, raw) in raw_funnels.iter().enumerate() {
        let key = format!("{site_key}.funnels[{i}]");
        let name = display_name(&key, &raw.name)?;
        if conversions.funnel(&name).is_some() {
            return Err(ConfigError::invalid(
                format!("{key}.name"),
                format!("{name:?} is given to two funnels; give each its own name"),
            ));
        }
        if !(2..=MAX_FUNNEL_STEPS).contains(&raw.steps.len()) {
            return Err(ConfigError::invalid(
                format!("{key}.steps"),
                format!(
                    "must list 2 to {MAX_FUNNEL_STEPS} steps, e.g. [{{ page = \"/pricing\" }}, {{ goal = \"Book a tour\" }}]"
                ),
            ));
        }
        let steps = raw
            .steps
            .iter()
            .enumerate()
            .map(|(j, step)| target(&format!("{key}.steps[{j}]"), step, &conversions))
            .collect::<Result<_, _>>()?;
        conversions.funnels.push(Funnel { name, steps });
    }
    Ok(conversions)
}

fn display_name(key: &str, name: &str) -> Result<String, ConfigError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ConfigError::invalid(
            format!("{key}.name"),
            format!("must be 1 to {MAX_NAME_CHARS} characters, e.g. \"Book a tour\""),
        ));
    }
    Ok(name.to_string())
}

/// What one of `event`, `page` or (in a funnel) `goal` names.
fn target(
    key: &str,
    raw: &RawTarget,
    conversions: &SiteConversions,
) -> Result<Target, ConfigError> {
    match (&raw.goal, &raw.event, &raw.page) {
        (Some(goal), None, None) => conversions
            .goal(goal.trim())
            .map(|goal| goal.target.clone())
            .ok_or_else(|| {
                ConfigError::invalid(
                    format!("{key}.goal"),
                    format!("{goal:?} is not one of the site's goals; define it under [[sites.goals]] first"),
                )
            }),
        (None, Some(event), None) => {
            let event = event.trim();
            if event.is_empty()
                || event.chars().count() > MAX_EVENT_NAME_CHARS
                || event == PAGEVIEW
                || event.chars().any(char::is_control)
            {
                return Err(ConfigError::invalid(
                    format!("{key}.event"),
                    format!(
                        "must be a custom event's name as the site sends it (1 to {MAX_EVENT_NAME_CHARS} characters, not \"{PAGEVIEW}\": use `page` for page views)"
                    ),
                ));
            }
            Ok(Target::Event(event.to_string()))
        }
        (None, None, Some(page)) => {
            let page = page.trim();
            if !page.starts_with('/')
                || page.chars().count() > MAX_NAME_CHARS * 2
                || page.chars().any(char::is_control)
            {
                return Err(ConfigError::invalid(
                    format!("{key}.page"),
                    "must be a path that starts with /, where * stands for any text, e.g. \"/thank-you\" or \"/blog/*\"",
                ));
            }
            Ok(Target::Page(page.to_string()))
        }
        _ => Err(ConfigError::invalid(
            key.to_string(),
            "give exactly one of `event`, `page` (or, in a funnel, `goal`)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{Case, assert_rejections_name_their_keys};

    #[test]
    fn each_rejection_names_its_key() {
        let cases: &[Case] = &[
            ("", &[], "sites"),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\ntime_zone = \"America/Denvr\"",
                &[],
                "sites[0].time_zone",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = []",
                &[],
                "sites[0].hostnames",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\npath_patterns = [\"members/:id\"]",
                &[],
                "sites[0].path_patterns",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\nprops = [\"plan\", \"e mail\"]",
                &[],
                "sites[0].props",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\nprops = [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\"]",
                &[],
                "sites[0].props",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"https://a.com/\"]",
                &[],
                "sites[0].hostnames",
            ),
            (
                "[[sites]]\nid = \"a\"\nhostnames = [\"a\"]\n[[sites]]\nid = \"a\"\nhostnames = [\"b\"]",
                &[],
                "sites[1].id",
            ),
        ];
        assert_rejections_name_their_keys(cases);
    }
}
