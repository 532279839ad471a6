//! The salts behind the hashes, and the rules that say which one is current:
//! one random visitor salt per UTC day and one installation recipient key,
//! shared by every collector writing to the same database.
//!
//! Agreement without coordination: each collector proposes a random salt for a
//! day and everyone uses the smallest one stored ([`winner`]). Tomorrow's salt
//! is agreed a day ahead ([`days_to_agree`]), so by midnight every collector
//! has long read the same winner. Salts older than yesterday are forgotten
//! ([`first_kept_day`], [`expired`]); once the stored copies are destroyed too,
//! nobody, the operator included, can recompute that day's visitor ids.
//!
//! Owns: the in-memory salts every request reads, and the rules above, as pure
//! functions. Storing, reading and destroying salts in ClickHouse is
//! `store::salt_keeper`'s job.
//! Must never: do I/O, derive a daily salt from a fixed secret, or log a salt.

use std::sync::{Arc, RwLock};

use super::hash::Salt;

/// The days whose visitor salts a collector agrees on when it is `today`:
/// today's, and tomorrow's so that it is settled long before it is needed.
pub fn days_to_agree(today: u16) -> [u16; 2] {
    [today, today.saturating_add(1)]
}

/// The oldest day whose visitor salt is kept: yesterday, so that hits of the
/// day before that arrive late from a spool still hash like their day did.
pub fn first_kept_day(today: u16) -> u16 {
    today.saturating_sub(1)
}

/// Of the stored salts, which ones must be destroyed when it is `today`.
pub fn expired(stored_days: &[u16], today: u16) -> Vec<u16> {
    let first_kept = first_kept_day(today);
    let mut days: Vec<u16> = stored_days
        .iter()
        .copied()
        .filter(|day| *day < first_kept)
        .collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// Of the salts proposed for one day (or as the recipient key), the one every
/// collector uses: the smallest, byte by byte (the same order as their
/// lower-case hex). `None` when nobody has proposed a readable one.
pub fn winner(proposed: impl IntoIterator<Item = Salt>) -> Option<Salt> {
    proposed.into_iter().min_by(|a, b| a.0.cmp(&b.0))
}

/// What the installation agreed on when it was `today`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    pub today: u16,
    pub recipient_key: Salt,
    /// The visitor salt of each of [`days_to_agree`]`(today)`.
    pub visitor: Vec<(u16, Salt)>,
}

/// The salts a collector hashes with right now. Cheap to read from every request.
#[derive(Debug, Clone)]
pub struct Salts {
    inner: Arc<RwLock<Held>>,
}

#[derive(Debug)]
struct Held {
    /// (day, salt) for yesterday, today and tomorrow at most.
    visitor: Vec<(u16, Salt)>,
    recipient_key: Salt,
}

impl Salts {
    /// Salts held only in memory until an [`Agreement`] is adopted: used by
    /// tests and by a collector that could not reach ClickHouse at start.
    pub fn in_memory(recipient_key: Salt) -> Salts {
        Salts {
            inner: Arc::new(RwLock::new(Held {
                visitor: Vec::new(),
                recipient_key,
            })),
        }
    }

    /// The visitor salt of `day`. A day nobody has agreed on yet (ClickHouse
    /// could not be reached) gets a local random one, so hashing never stops;
    /// it is proposed, and kept or replaced, at the next agreement.
    pub fn visitor_salt(&self, day: u16) -> Salt {
        if let Some(salt) = self.read().visitor.iter().find(|(d, _)| *d == day) {
            return salt.1;
        }
        let mut held = self.write();
        if let Some(salt) = held.visitor.iter().find(|(d, _)| *d == day) {
            return salt.1;
        }
        let salt = Salt::random();
        held.visitor.push((day, salt));
        salt
    }

    pub fn recipient_key(&self) -> Salt {
        self.read().recipient_key
    }

    /// Hashes with what was agreed from now on, and forgets the salts of days
    /// before [`first_kept_day`].
    pub fn adopt(&self, agreement: &Agreement) {
        let first_kept = first_kept_day(agreement.today);
        let mut held = self.write();
        held.recipient_key = agreement.recipient_key;
        for (day, salt) in &agreement.visitor {
            held.visitor.retain(|(d, _)| d != day);
            held.visitor.push((*day, *salt));
        }
        held.visitor.retain(|(d, _)| *d >= first_kept);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        // A panic while holding the lock cannot leave `Held` half-written (every
        // write is a single push/retain), so a poisoned lock is still usable.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Held> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn salt(byte: u8) -> Salt {
        Salt([byte; 32])
    }

    /// (today, days agreed, first kept, stored days, destroyed days)
    type DayCase = (u16, [u16; 2], u16, &'static [u16], &'static [u16]);

    #[test]
    fn which_days_are_agreed_kept_and_destroyed() {
        let cases: &[DayCase] = &[
            (100, [100, 101], 99, &[97, 98, 99, 100, 101], &[97, 98]),
            (100, [100, 101], 99, &[99, 100], &[]),
            (100, [100, 101], 99, &[98, 98, 50], &[50, 98]),
            (0, [0, 1], 0, &[0, 1], &[]),
            (u16::MAX, [u16::MAX, u16::MAX], u16::MAX - 1, &[1], &[1]),
        ];
        for (today, agreed, kept, stored, destroyed) in cases {
            assert_eq!(days_to_agree(*today), *agreed, "today {today}");
            assert_eq!(first_kept_day(*today), *kept, "today {today}");
            assert_eq!(expired(stored, *today), *destroyed, "today {today}");
        }
    }

    #[test]
    fn the_smallest_proposal_wins_whatever_the_order() {
        let mut low = [9u8; 32];
        low[0] = 1;
        let cases: &[(&[Salt], Option<Salt>)] = &[
            (&[], None),
            (&[salt(7)], Some(salt(7))),
            (&[salt(7), salt(3), salt(9)], Some(salt(3))),
            (&[salt(3), Salt(low)], Some(Salt(low))),
        ];
        for (proposed, expected) in cases {
            assert_eq!(winner(proposed.iter().copied()), *expected);
        }
        // Collectors once chose with `ORDER BY salt` on the hex text: same order.
        assert!(Salt(low).to_hex() < salt(3).to_hex());
    }

    #[test]
    fn a_day_without_an_agreed_salt_gets_one_random_salt() {
        let salts = Salts::in_memory(salt(0));
        let first = salts.visitor_salt(100);
        assert_eq!(salts.visitor_salt(100), first);
        assert_ne!(salts.visitor_salt(101), first);
    }

    #[test]
    fn adopting_an_agreement_replaces_local_salts_and_forgets_old_days() {
        let salts = Salts::in_memory(salt(0));
        let local_today = salts.visitor_salt(100);
        salts.adopt(&Agreement {
            today: 100,
            recipient_key: salt(9),
            visitor: vec![(100, salt(1)), (101, salt(2))],
        });
        assert_ne!(local_today, salt(1));
        assert_eq!(salts.visitor_salt(100), salt(1));
        assert_eq!(salts.visitor_salt(101), salt(2));
        assert_eq!(salts.recipient_key(), salt(9));

        salts.adopt(&Agreement {
            today: 102,
            recipient_key: salt(9),
            visitor: vec![(102, salt(3)), (103, salt(4))],
        });
        assert_eq!(salts.visitor_salt(101), salt(2), "yesterday is kept");
        assert_ne!(salts.visitor_salt(100), salt(1), "older days are forgotten");
    }
}
