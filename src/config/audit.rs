//! `[audit]`: what `beaconhouse audit` needs besides the rest of the
//! configuration: the staff SQL user it signs in as, to check that staff
//! cannot read the raw tables.
//!
//! Refuses a password without a user, and an empty user. Reaches nothing
//! itself: the audit does (`audit`, `store::audit_probe`).

use serde::{Deserialize, Serialize};

use super::validate::ConfigError;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAudit {
    staff_user: Option<String>,
    staff_password: Option<String>,
}

/// What `beaconhouse audit` signs in as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditConfig {
    /// The staff SQL user (`deploy/clickhouse-staff-user.xml`,
    /// `deploy/grants.sql`); `None`: the audit skips that check and says so.
    pub staff: Option<StaffUser>,
}

/// The ClickHouse user staff run their own SQL as. Its `Debug` output never
/// shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffUser {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for StaffUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaffUser({:?}, <password>)", self.user)
    }
}

impl RawAudit {
    pub(super) fn validate(self) -> Result<AuditConfig, ConfigError> {
        let staff = match (self.staff_user, self.staff_password) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "audit.staff_password",
                    "is set without audit.staff_user; name the staff SQL user it belongs to",
                ));
            }
            (Some(user), _) if user.trim().is_empty() => {
                return Err(ConfigError::invalid(
                    "audit.staff_user",
                    "is empty; name the staff SQL user (`reporting` in deploy/clickhouse-staff-user.xml and deploy/grants.sql), or leave it out to skip that check",
                ));
            }
            (Some(user), password) => Some(StaffUser {
                user,
                password: password.unwrap_or_default(),
            }),
        };
        Ok(AuditConfig { staff })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{MINIMAL, assert_rejections_name_their_keys, load};

    #[test]
    fn the_staff_user_is_optional_and_named_with_its_password() {
        assert_eq!(load(MINIMAL, &[]).unwrap().audit, AuditConfig::default());
        let set = load(
            &format!("{MINIMAL}\n[audit]\nstaff_user = \"reporting\"\n"),
            &[("BEACONHOUSE_AUDIT_STAFF_PASSWORD", "0123 secret")],
        )
        .unwrap()
        .audit;
        let staff = set.staff.unwrap();
        assert_eq!(
            (staff.user.as_str(), staff.password.as_str()),
            ("reporting", "0123 secret")
        );
        assert!(!format!("{staff:?}").contains("secret"));
        assert_rejections_name_their_keys(&[
            (
                &format!("{MINIMAL}\n[audit]\nstaff_password = \"x\"\n"),
                &[],
                "audit.staff_password",
            ),
            (
                MINIMAL,
                &[("BEACONHOUSE_AUDIT_STAFF_USER", " ")],
                "audit.staff_user",
            ),
        ]);
    }

    #[test]
    fn the_staff_password_is_a_secret_of_the_file() {
        let text = "[audit]\nstaff_user = \"reporting\"\nstaff_password = \"pw\"\n";
        assert_eq!(crate::config::secrets_in(text), ["audit.staff_password"]);
    }
}
