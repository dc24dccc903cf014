//! The social-security card binding's six steps (SPEC SS2) as pure rules:
//! entry (region check) → identity → card → bank → agreement → features,
//! in that order, each once. A binding is open while a person works
//! through it (and may leave and come back, from any device), frozen on a
//! theft-binding risk until an operator decides (SS4: releasing it, or
//! rejecting it, which cancels it), and ends bound, expired or cancelled.
//! A bound card can be unbound by its holder, which ends it for good.

use serde::Serialize;

/// The steps, in order. A binding exists once its entry (the region check) passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Entry,
    /// Face + the three elements (name, ID number, phone); an SMS code when the face check fails.
    Identity,
    /// The card by its number or QR payload, confirmed by the bureau's dynamic code.
    Card,
    /// The card's financial account, confirmed by its bank's code.
    Bank,
    /// The mobile-payment service agreement signed.
    Agreement,
    /// The features chosen: the binding is then bound.
    Features,
}

impl Step {
    pub const ALL: [Step; 6] = [Step::Entry, Step::Identity, Step::Card, Step::Bank, Step::Agreement, Step::Features];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Entry => "entry",
            Step::Identity => "identity",
            Step::Card => "card",
            Step::Bank => "bank",
            Step::Agreement => "agreement",
            Step::Features => "features",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The step after this one; none after the last.
    pub fn next(self) -> Option<Step> {
        Self::ALL.into_iter().skip_while(|s| *s != self).nth(1)
    }

    /// 1 to 6, for "step 3 of 6".
    pub fn number(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).map_or(0, |i| i + 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Being worked through; `step` is the one to do.
    Open,
    /// A theft-binding risk: nothing moves until an operator decides.
    Frozen,
    Bound,
    /// Its whole-binding deadline passed before it was bound.
    Expired,
    /// Ended by the user, or by an operator on a risk.
    Cancelled,
    /// Bound, then unbound by its holder.
    Unbound,
}

impl Status {
    pub const ALL: [Status; 6] = [Status::Open, Status::Frozen, Status::Bound, Status::Expired, Status::Cancelled, Status::Unbound];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Frozen => "frozen",
            Status::Bound => "bound",
            Status::Expired => "expired",
            Status::Cancelled => "cancelled",
            Status::Unbound => "unbound",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// No step can be taken again (a bound card can still be unbound).
    pub fn is_final(self) -> bool {
        matches!(self, Status::Bound | Status::Expired | Status::Cancelled | Status::Unbound)
    }
}

/// Where a binding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The step to do now (the last one once bound).
    pub step: Step,
    pub status: Status,
}

/// What happens to a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A step was completed.
    Done(Step),
    /// A theft-binding risk was found.
    Freeze,
    /// An operator found the risk unfounded: work resumes where it stopped.
    Release,
    /// The whole-binding deadline passed.
    Expire,
    /// The user ended it (not while frozen: an operator's rejection ends a frozen one).
    Cancel,
    /// The holder unbound the bound card.
    Unbind,
}

/// Why an event does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The step was done already: asking again changes nothing (idempotent).
    #[error("step already done")]
    AlreadyDone,
    /// An earlier step is not done yet.
    #[error("an earlier step comes first: {0:?}")]
    NotYet(Step),
    #[error("the binding is frozen pending review")]
    Frozen,
    #[error("the binding has ended ({0:?})")]
    Ended(Status),
    #[error("nothing to release: the binding is not frozen")]
    NotFrozen,
    #[error("only a bound card is unbound")]
    NotBound,
}

impl Progress {
    /// A binding whose entry (the region check) just passed.
    pub fn entered() -> Self {
        Self { step: Step::Identity, status: Status::Open }
    }

    /// Whether `step` is done.
    pub fn is_done(&self, step: Step) -> bool {
        self.status == Status::Bound || step < self.step
    }

    /// The binding after `event`.
    pub fn apply(self, event: Event) -> Result<Progress, Refusal> {
        match (self.status, event) {
            (Status::Bound | Status::Expired | Status::Cancelled | Status::Unbound, Event::Done(s)) if self.is_done(s) => {
                Err(Refusal::AlreadyDone)
            }
            (Status::Bound, Event::Unbind) => Ok(Progress { status: Status::Unbound, ..self }),
            (s, _) if s.is_final() => Err(Refusal::Ended(s)),
            (_, Event::Unbind) => Err(Refusal::NotBound),
            (Status::Frozen, Event::Release) => Ok(Progress { status: Status::Open, ..self }),
            (_, Event::Release) => Err(Refusal::NotFrozen),
            (_, Event::Expire) => Ok(Progress { status: Status::Expired, ..self }),
            // Under review, the user cannot walk away from the case: the operator decides.
            (Status::Frozen, Event::Cancel) => Err(Refusal::Frozen),
            (_, Event::Cancel) => Ok(Progress { status: Status::Cancelled, ..self }),
            (Status::Frozen, _) => Err(Refusal::Frozen),
            (_, Event::Freeze) => Ok(Progress { status: Status::Frozen, ..self }),
            (_, Event::Done(s)) if s < self.step => Err(Refusal::AlreadyDone),
            (_, Event::Done(s)) if s > self.step => Err(Refusal::NotYet(self.step)),
            (_, Event::Done(s)) => Ok(match s.next() {
                Some(next) => Progress { step: next, status: Status::Open },
                None => Progress { step: s, status: Status::Bound },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            6 => (0usize..6).prop_map(|i| Event::Done(Step::ALL[i])),
            1 => Just(Event::Freeze),
            1 => Just(Event::Release),
            1 => Just(Event::Expire),
            1 => Just(Event::Cancel),
            1 => Just(Event::Unbind),
        ]
    }

    #[test]
    fn the_six_steps_in_order_bind() {
        let mut p = Progress::entered();
        assert_eq!(p.apply(Event::Done(Step::Card)), Err(Refusal::NotYet(Step::Identity)));
        for s in &Step::ALL[1..] {
            p = p.apply(Event::Done(*s)).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(p.status, Status::Bound);
        assert_eq!(p.apply(Event::Done(Step::Bank)), Err(Refusal::AlreadyDone));
        assert_eq!(p.apply(Event::Cancel), Err(Refusal::Ended(Status::Bound)));
        let unbound = p.apply(Event::Unbind).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unbound.status, Status::Unbound);
        assert_eq!(unbound.apply(Event::Unbind), Err(Refusal::Ended(Status::Unbound)));
        assert_eq!(unbound.apply(Event::Done(Step::Bank)), Err(Refusal::AlreadyDone), "a step asked again answers where it is");
        assert_eq!(unbound.apply(Event::Cancel), Err(Refusal::Ended(Status::Unbound)));
        assert_eq!(Progress::entered().apply(Event::Unbind), Err(Refusal::NotBound));
        assert_eq!((Step::Entry.number(), Step::Features.number(), Step::Features.next()), (1, 6, None));
    }

    proptest! {
        /// Whatever happens, a binding is bound only after every step was
        /// done once, in order, while open; a frozen binding moves only by a
        /// release or expiry; an ended one never moves again.
        #[test]
        fn steps_are_taken_once_in_order_and_only_while_open(events in proptest::collection::vec(event(), 0..40)) {
            let mut p = Progress::entered();
            let mut done = vec![Step::Entry];
            for e in events {
                let before = p;
                match p.apply(e) {
                    Ok(next) => {
                        // Only unbinding moves a bound card; nothing moves an ended binding.
                        prop_assert_eq!(before.status.is_final(), e == Event::Unbind);
                        prop_assert_eq!(next.status == Status::Unbound, e == Event::Unbind);
                        if e == Event::Unbind {
                            prop_assert_eq!(before.status, Status::Bound);
                        }
                        if let Event::Done(s) = e {
                            prop_assert_eq!(before.status, Status::Open);
                            prop_assert_eq!(Some(s), done.last().and_then(|l| l.next()));
                            done.push(s);
                        }
                        if before.status == Status::Frozen {
                            prop_assert!(matches!(e, Event::Release | Event::Expire));
                        }
                        p = next;
                    }
                    Err(Refusal::AlreadyDone) => prop_assert!(matches!(e, Event::Done(s) if done.contains(&s))),
                    Err(_) => {}
                }
                if p.status == Status::Bound {
                    prop_assert_eq!(&done, &Step::ALL.to_vec());
                }
            }
        }
    }
}
