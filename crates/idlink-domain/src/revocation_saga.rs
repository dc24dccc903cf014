//! The revocation saga (SPEC RV2, issue 17) as pure rules: which step to
//! take next, and what a step's outcome, a timeout or a funds operation
//! does to the saga. The driver (idlink-core) stores the saga after every
//! change and asks [`next`] what to do; a crash between two steps resumes
//! from the stored saga, on any node, because every step is idempotent and
//! every outcome applied twice changes nothing the second time.
//!
//! Forward: mark the identity `pending_recycle` → suspend every grant and
//! token → the host stores apply the change (each one's "prepare") →
//! commit (the point of no return: grants revoked for good, the stores
//! commit, the apps are told). Before commit, any failure, the window's
//! deadline or a funds operation reported during the window rolls back:
//! every step done is compensated, in reverse order, each once; so is the
//! stores' step when it was under way (some stores may have applied). Once
//! commit has begun it is only ever finished, never rolled back.

use serde::Serialize;

/// The forward steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The identity is marked `pending_recycle` (out of business use).
    MarkPending,
    /// Every OAuth grant and token is suspended (inactive at introspection).
    SuspendGrants,
    /// Each registered host store applies the change (and holds funds operations).
    ApplyStores,
    /// Grants revoked for good, stores committed, apps told: the point of no return.
    Commit,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::MarkPending, Step::SuspendGrants, Step::ApplyStores, Step::Commit];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::MarkPending => "mark_pending",
            Step::SuspendGrants => "suspend_grants",
            Step::ApplyStores => "apply_stores",
            Step::Commit => "commit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// Why a saga rolled back (a stable code the user and the audit see).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackReason {
    /// The window's deadline passed before every step was done.
    TimedOut,
    /// The wallet reported a funds operation during the window.
    FundsOperation,
    /// A step was refused (a store refused to apply, the identity changed meanwhile).
    StepRefused,
}

impl RollbackReason {
    pub const ALL: [RollbackReason; 3] = [RollbackReason::TimedOut, RollbackReason::FundsOperation, RollbackReason::StepRefused];

    pub fn as_str(self) -> &'static str {
        match self {
            RollbackReason::TimedOut => "timed_out",
            RollbackReason::FundsOperation => "funds_operation",
            RollbackReason::StepRefused => "step_refused",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Where a saga stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Steps are being taken; `done` of them are.
    Forward,
    /// Rolling back for `reason`: the steps still `done` are compensated, last first.
    Compensating,
    /// Every step done, commit included: the revocation holds.
    Committed,
    /// Every step done was compensated: nothing changed.
    RolledBack,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Forward => "forward",
            Phase::Compensating => "compensating",
            Phase::Committed => "committed",
            Phase::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Phase::Forward, Phase::Compensating, Phase::Committed, Phase::RolledBack].into_iter().find(|p| p.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Phase::Committed | Phase::RolledBack)
    }
}

/// A saga's state: what is stored after every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Saga {
    pub phase: Phase,
    /// How many forward steps are done (and not compensated): the first `done` of [`Step::ALL`].
    pub done: usize,
    /// The commit has begun: from then on the saga only goes forward.
    pub committing: bool,
    pub reason: Option<RollbackReason>,
}

impl Default for Saga {
    fn default() -> Self {
        Self::new()
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The driver is about to take `step` (recorded before a commit begins).
    Begin(Step),
    /// `step` is done.
    Done(Step),
    /// `step` was refused for good (not a timeout: those are retried until the deadline).
    Refused(Step),
    /// The window's deadline passed.
    DeadlinePassed,
    /// The wallet reported a funds operation during the window.
    FundsOperation,
    /// `step`'s compensation is done.
    Compensated(Step),
}

/// What the driver does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Take(Step),
    Compensate(Step),
    /// Nothing: the saga is final.
    Nothing,
}

impl Saga {
    pub fn new() -> Self {
        Self { phase: Phase::Forward, done: 0, committing: false, reason: None }
    }

    fn roll_back(self, reason: RollbackReason) -> Self {
        if self.committing || self.phase != Phase::Forward {
            // Past the point of no return, or already rolling back (the first reason stays).
            return self;
        }
        // The stores' step may have half happened (some stores applied, one silent): it is undone
        // too, which is safe for a store that never applied. idlink's own steps are all or nothing.
        let done = if Step::ALL.get(self.done) == Some(&Step::ApplyStores) { self.done + 1 } else { self.done };
        let phase = if done == 0 { Phase::RolledBack } else { Phase::Compensating };
        Self { phase, done, reason: Some(reason), ..self }
    }

    /// The saga after `event`. An outcome that does not fit (a step done
    /// twice, out of order, a compensation of a step not done) changes
    /// nothing, so a replay after a crash is harmless.
    pub fn apply(self, event: Event) -> Self {
        match (self.phase, event) {
            (Phase::Forward, Event::Begin(Step::Commit)) if self.done == Step::Commit.index() => Self { committing: true, ..self },
            // A commit counts only once it was recorded as begun.
            (Phase::Forward, Event::Done(step)) if step.index() == self.done && (step != Step::Commit || self.committing) => {
                let done = self.done + 1;
                if done == Step::ALL.len() { Self { phase: Phase::Committed, done, ..self } } else { Self { done, ..self } }
            }
            (Phase::Forward, Event::Refused(step)) if step.index() == self.done => self.roll_back(RollbackReason::StepRefused),
            (Phase::Forward, Event::DeadlinePassed) => self.roll_back(RollbackReason::TimedOut),
            (Phase::Forward, Event::FundsOperation) => self.roll_back(RollbackReason::FundsOperation),
            (Phase::Compensating, Event::Compensated(step)) if self.done > 0 && step.index() == self.done - 1 => {
                let done = self.done - 1;
                Self { done, phase: if done == 0 { Phase::RolledBack } else { Phase::Compensating }, ..self }
            }
            _ => self,
        }
    }

    /// What to do now.
    pub fn next(self) -> Action {
        match self.phase {
            Phase::Forward => Step::ALL.get(self.done).map_or(Action::Nothing, |s| Action::Take(*s)),
            Phase::Compensating => {
                self.done.checked_sub(1).and_then(|i| Step::ALL.get(i)).map_or(Action::Nothing, |s| Action::Compensate(*s))
            }
            Phase::Committed | Phase::RolledBack => Action::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(events: &[Event]) -> Saga {
        events.iter().fold(Saga::new(), |s, e| s.apply(*e))
    }

    #[test]
    fn forward_then_commit() {
        let mut s = Saga::new();
        for step in Step::ALL {
            assert_eq!(s.next(), Action::Take(step));
            if step == Step::Commit {
                s = s.apply(Event::Begin(step));
            }
            s = s.apply(Event::Done(step));
        }
        assert_eq!((s.phase, s.next()), (Phase::Committed, Action::Nothing));
    }

    #[test]
    fn a_funds_operation_rolls_back_every_step_done_in_reverse() {
        let s =
            run(&[Event::Done(Step::MarkPending), Event::Done(Step::SuspendGrants), Event::Done(Step::ApplyStores), Event::FundsOperation]);
        assert_eq!((s.phase, s.reason), (Phase::Compensating, Some(RollbackReason::FundsOperation)));
        assert_eq!(s.next(), Action::Compensate(Step::ApplyStores));
        let s = s.apply(Event::Compensated(Step::ApplyStores));
        assert_eq!(s.next(), Action::Compensate(Step::SuspendGrants));
        let s = s.apply(Event::Compensated(Step::SuspendGrants)).apply(Event::Compensated(Step::SuspendGrants));
        assert_eq!(s.next(), Action::Compensate(Step::MarkPending), "a replayed compensation changes nothing");
        let s = s.apply(Event::DeadlinePassed).apply(Event::Compensated(Step::MarkPending));
        assert_eq!((s.phase, s.reason, s.next()), (Phase::RolledBack, Some(RollbackReason::FundsOperation), Action::Nothing));
    }

    #[test]
    fn a_rollback_while_the_stores_apply_undoes_them_too() {
        let s = run(&[Event::Done(Step::MarkPending), Event::Done(Step::SuspendGrants), Event::DeadlinePassed]);
        assert_eq!((s.phase, s.next()), (Phase::Compensating, Action::Compensate(Step::ApplyStores)));
        let s = run(&[Event::DeadlinePassed]);
        assert_eq!((s.phase, s.reason), (Phase::RolledBack, Some(RollbackReason::TimedOut)), "nothing done, nothing to undo");
    }

    #[test]
    fn once_commit_begins_nothing_rolls_it_back() {
        let s = run(&[
            Event::Done(Step::MarkPending),
            Event::Done(Step::SuspendGrants),
            Event::Done(Step::ApplyStores),
            Event::Begin(Step::Commit),
        ]);
        let s = s.apply(Event::DeadlinePassed).apply(Event::FundsOperation).apply(Event::Refused(Step::Commit));
        assert_eq!((s.phase, s.next()), (Phase::Forward, Action::Take(Step::Commit)), "commit is retried until done");
        assert_eq!(s.apply(Event::Done(Step::Commit)).phase, Phase::Committed);
    }

    #[test]
    fn names_parse_back() {
        for s in Step::ALL {
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
        for r in RollbackReason::ALL {
            assert_eq!(RollbackReason::parse(r.as_str()), Some(r));
        }
        for p in [Phase::Forward, Phase::Compensating, Phase::Committed, Phase::RolledBack] {
            assert_eq!(Phase::parse(p.as_str()), Some(p));
        }
    }

    fn event() -> impl Strategy<Value = Event> {
        let step = (0usize..4).prop_map(|i| Step::ALL[i]);
        prop_oneof![
            1 => step.clone().prop_map(Event::Begin),
            4 => step.clone().prop_map(Event::Done),
            1 => step.clone().prop_map(Event::Refused),
            1 => Just(Event::DeadlinePassed),
            1 => Just(Event::FundsOperation),
            3 => step.prop_map(Event::Compensated),
        ]
    }

    proptest! {
        /// Whatever happens, in whatever order, replayed or not: a saga is
        /// committed only when every step is done and its commit had begun;
        /// a rollback compensates exactly the steps done, last first, each
        /// once; once commit begins it never rolls back; a final saga never
        /// moves; and applying any event twice is the same as once.
        #[test]
        fn the_saga_commits_whole_or_undoes_exactly_what_it_did(events in proptest::collection::vec((any::<bool>(), event()), 0..40)) {
            let mut s = Saga::new();
            let mut taken: Vec<Step> = Vec::new();
            for (follow, noise) in events {
                // Half the events are what a driver would do next, so runs reach commit and full rollbacks.
                let e = match (follow, s.next()) {
                    (true, Action::Take(Step::Commit)) if !s.committing => Event::Begin(Step::Commit),
                    (true, Action::Take(step)) => Event::Done(step),
                    (true, Action::Compensate(step)) => Event::Compensated(step),
                    _ => noise,
                };
                let before = s;
                let after = s.apply(e);
                prop_assert_eq!(after.apply(e), after, "idempotent replay of {:?}", e);
                if before.phase.is_final() {
                    prop_assert_eq!(after, before, "a final saga never moves");
                }
                if before.committing {
                    prop_assert!(after.committing && matches!(after.phase, Phase::Forward | Phase::Committed), "no rollback after commit began");
                }
                match (before.next(), after.done.cmp(&before.done)) {
                    (Action::Take(Step::ApplyStores), std::cmp::Ordering::Greater) if after.phase == Phase::Compensating => {
                        // Rolled back while the stores' step was under way: it is undone too.
                        prop_assert!(matches!(e, Event::Refused(_) | Event::DeadlinePassed | Event::FundsOperation), "{:?}", e);
                        prop_assert_eq!(after.done, before.done + 1);
                        taken.push(Step::ApplyStores);
                    }
                    (Action::Take(step), std::cmp::Ordering::Greater) => {
                        prop_assert_eq!(e, Event::Done(step));
                        taken.push(step);
                    }
                    (Action::Compensate(step), std::cmp::Ordering::Less) => {
                        prop_assert_eq!(e, Event::Compensated(step));
                        prop_assert_eq!(taken.pop(), Some(step), "compensations run last first, once each");
                    }
                    (_, std::cmp::Ordering::Equal) => {}
                    (action, _) => prop_assert!(false, "{:?} moved `done` under {:?}", e, action),
                }
                if after.phase == Phase::Committed {
                    prop_assert_eq!(taken.as_slice(), &Step::ALL[..], "commit means every step, in order");
                    prop_assert!(before.committing || before.phase == Phase::Committed, "commit had begun");
                }
                if after.phase == Phase::RolledBack {
                    prop_assert!(taken.is_empty(), "rolled back means everything done was undone");
                    prop_assert!(after.reason.is_some());
                }
                s = after;
            }
        }
    }
}
