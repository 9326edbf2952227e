//! Which repeated answers the audit trail records. A resource server that introspects the
//! token of every call it serves asks about one token many times a minute and gets the same
//! answer each time; recording each would bury the trail's other events under copies of one
//! (and cost a row with nine index entries per read). So an answer is recorded when it is the
//! first of its kind (the caller, what was asked about) in a window; the repeats within the
//! window are counted, and the next recorded answer of that kind carries the count.
//!
//! What changes anything is never filtered here: issuances, refreshes and revocations are
//! recorded one by one, and so is every answer that refuses (an inactive token, a failed client
//! authentication), since those are the ones an investigation looks for.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::UnixMillis;

/// Past this many remembered kinds, those whose window has ended are forgotten, and if that
/// frees less than a quarter, all are: each one's next answer is then recorded (the safe side).
pub const MAX_KINDS: usize = 16_384;

/// Remembers, per kind of answer, when one was last recorded and how many repeats followed.
#[derive(Debug)]
pub struct RepeatWindow {
    window_ms: UnixMillis,
    kinds: Mutex<HashMap<String, Recorded>>,
}

#[derive(Debug, Clone, Copy)]
struct Recorded {
    at: UnixMillis,
    repeats: u64,
}

/// What to do with one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Record it; `unrecorded_before` identical answers were given since the last recorded one.
    Record { unrecorded_before: u64 },
    /// A repeat within the window: count it only.
    Skip,
}

impl Repeat {
    /// The first answer of its kind (or one recorded without a window): nothing went unrecorded.
    pub const FIRST: Self = Self::Record {
        unrecorded_before: 0,
    };
}

impl RepeatWindow {
    /// A window of `secs` seconds; `0` records every answer.
    pub fn new(secs: u32) -> Self {
        Self {
            window_ms: UnixMillis::from(secs) * 1000,
            kinds: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the answer given to `caller` about `subject` at `now` is recorded.
    pub fn check(&self, caller: &str, subject: &str, now: UnixMillis) -> Repeat {
        if self.window_ms == 0 {
            return Repeat::FIRST;
        }
        // A poisoned lock only means another request panicked mid-update: record.
        let Ok(mut kinds) = self.kinds.lock() else {
            return Repeat::FIRST;
        };
        // The NUL cannot occur in a client id, so the key names one pair only.
        let key = format!("{caller}\0{subject}");
        if let Some(seen) = kinds.get_mut(&key) {
            // A clock set back counts as the window's end, not as a longer window.
            let within = now >= seen.at && now - seen.at < self.window_ms;
            if within {
                seen.repeats += 1;
                return Repeat::Skip;
            }
            let unrecorded_before = seen.repeats;
            *seen = Recorded {
                at: now,
                repeats: 0,
            };
            return Repeat::Record { unrecorded_before };
        }
        if kinds.len() >= MAX_KINDS {
            let window_ms = self.window_ms;
            kinds.retain(|_, seen| now >= seen.at && now - seen.at < window_ms);
            // Unless that freed a quarter, start over, so that a full table is scanned at most
            // once per MAX_KINDS / 4 new kinds.
            if kinds.len() > MAX_KINDS / 4 * 3 {
                kinds.clear();
            }
        }
        kinds.insert(
            key,
            Recorded {
                at: now,
                repeats: 0,
            },
        );
        Repeat::FIRST
    }

    /// How many kinds are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.kinds.lock().map_or(0, |kinds| kinds.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: Repeat = Repeat::FIRST;

    #[test]
    fn the_first_answer_is_recorded_and_repeats_within_the_window_are_counted() {
        let w = RepeatWindow::new(60);
        assert_eq!(w.check("rs", "jti-1", 1_000), RECORD);
        assert_eq!(w.check("rs", "jti-1", 1_001), Repeat::Skip);
        assert_eq!(w.check("rs", "jti-1", 60_999), Repeat::Skip);
        // The window is measured from the recorded answer, not from the last repeat.
        assert_eq!(
            w.check("rs", "jti-1", 61_000),
            Repeat::Record {
                unrecorded_before: 2
            }
        );
        assert_eq!(w.check("rs", "jti-1", 61_001), Repeat::Skip);
        assert_eq!(
            w.check("rs", "jti-1", 121_000),
            Repeat::Record {
                unrecorded_before: 1
            }
        );
        assert_eq!(w.check("rs", "jti-1", 181_000), RECORD);
    }

    #[test]
    fn each_caller_and_each_subject_is_its_own_kind() {
        let w = RepeatWindow::new(60);
        assert_eq!(w.check("rs", "jti-1", 1_000), RECORD);
        assert_eq!(w.check("other", "jti-1", 1_000), RECORD);
        assert_eq!(w.check("rs", "jti-2", 1_000), RECORD);
        // The separator keeps ("a", "bc") and ("ab", "c") apart.
        assert_eq!(w.check("a", "bc", 1_000), RECORD);
        assert_eq!(w.check("ab", "c", 1_000), RECORD);
        assert_eq!(w.check("rs", "jti-1", 2_000), Repeat::Skip);
        assert_eq!(w.len(), 5);
    }

    #[test]
    fn a_window_of_zero_records_everything() {
        let w = RepeatWindow::new(0);
        for now in [1_000, 1_000, 1_001] {
            assert_eq!(w.check("rs", "jti-1", now), RECORD);
        }
        assert_eq!(w.len(), 0, "nothing is remembered");
    }

    #[test]
    fn a_clock_set_back_ends_the_window() {
        let w = RepeatWindow::new(60);
        assert_eq!(w.check("rs", "jti-1", 100_000), RECORD);
        assert_eq!(w.check("rs", "jti-1", 100_500), Repeat::Skip);
        assert_eq!(
            w.check("rs", "jti-1", 99_000),
            Repeat::Record {
                unrecorded_before: 1
            }
        );
    }

    #[test]
    fn memory_is_bounded_and_a_full_table_errs_towards_recording() {
        let w = RepeatWindow::new(60);
        for i in 0..MAX_KINDS {
            assert_eq!(w.check("rs", &format!("jti-{i}"), 1_000), RECORD);
        }
        assert_eq!(w.len(), MAX_KINDS);
        // Full, every window still open: all are forgotten, so repeats are recorded again.
        assert_eq!(w.check("rs", "one-more", 2_000), RECORD);
        assert_eq!(w.len(), 1);
        assert_eq!(w.check("rs", "jti-0", 2_000), RECORD);

        // Full with some windows ended: only those are forgotten.
        let w = RepeatWindow::new(60);
        for i in 0..MAX_KINDS {
            let at = if i % 2 == 0 { 1_000 } else { 50_000 };
            w.check("rs", &format!("jti-{i}"), at);
        }
        assert_eq!(w.check("rs", "one-more", 70_000), RECORD);
        assert_eq!(w.len(), MAX_KINDS / 2 + 1);
        assert_eq!(w.check("rs", "jti-1", 70_001), Repeat::Skip, "kept");
        assert_eq!(w.check("rs", "jti-0", 70_001), RECORD, "forgotten");

        // Full with fewer than a quarter ended: all are forgotten (no scan per new kind).
        let w = RepeatWindow::new(60);
        for i in 0..MAX_KINDS {
            let at = if i % 8 == 0 { 1_000 } else { 50_000 };
            w.check("rs", &format!("jti-{i}"), at);
        }
        assert_eq!(w.check("rs", "one-more", 70_000), RECORD);
        assert_eq!(w.len(), 1);
        assert_eq!(w.check("rs", "jti-1", 70_001), RECORD, "forgotten too");
    }
}
