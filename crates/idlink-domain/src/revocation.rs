//! The preflight of a real-name revocation or an account cancellation
//! (SPEC RV1, CP; issue 17) as pure rules: which blockers stand in the way,
//! from every registered source at once.
//!
//! The host app's stores (its wallet, lending, subscriptions, directories)
//! answer through connectors with a deadline; idlink adds its own rules
//! (an abnormal login in the last 30 days, a request from a device that is
//! not the user's primary one, a real-name change in the last 90 days). A
//! registered source that did not answer is itself a blocker ("could not
//! check your wallet, retry in N s"), never a silent pass; a blocker a
//! source named is never dropped. The saga's final check runs the same
//! function on fresh answers, so nothing blocks later that a preflight with
//! the same answers would not have named.
//!
//! Two kinds of user need an operator before either operation (RV3): a
//! minor (with an approved guardian, whose evidence the reviewer sees) and
//! the holder of a foreign document or permit. Their review is a blocker
//! like the others until an operator approved it.

use crate::Fen;
use crate::pii::DocumentType;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// What the user asks for: both share the preflight and the saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Revoke the real-name identity; the account stays, downgraded (RV3).
    RevokeRealName,
    /// Cancel the whole account (CP).
    CancelAccount,
}

impl Operation {
    pub const ALL: [Operation; 2] = [Operation::RevokeRealName, Operation::CancelAccount];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::RevokeRealName => "revoke_real_name",
            Operation::CancelAccount => "cancel_account",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Where a blocker comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The host app's wallet: balance, pending transactions, red packets.
    Wallet,
    Lending,
    /// Auto-renew and auto-debit contracts.
    Subscriptions,
    /// Admin roles on enterprise or official accounts.
    Directories,
    /// idlink's own rules.
    Idlink,
}

impl Source {
    /// The host's sources, in the order a preflight lists them (idlink's own rules come last).
    pub const HOST: [Source; 4] = [Source::Wallet, Source::Lending, Source::Subscriptions, Source::Directories];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Wallet => "wallet",
            Source::Lending => "lending",
            Source::Subscriptions => "subscriptions",
            Source::Directories => "directories",
            Source::Idlink => "idlink",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Source::Wallet, Source::Lending, Source::Subscriptions, Source::Directories, Source::Idlink].into_iter().find(|x| x.as_str() == s)
    }
}

/// What stands in the way, by its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockerKind {
    /// Any balance left in the wallet, even 0.01 yuan.
    WalletBalance,
    PendingTransactions,
    UnclaimedRedPackets,
    ActiveLoans,
    /// An auto-renew or auto-debit contract still running.
    AutoRenewContracts,
    /// The admin of an enterprise or official account.
    DirectoryAdmin,
    /// An abnormal login in the last [`OwnRules::abnormal_login_within`].
    AbnormalLogin,
    /// The request comes from a device that is not the user's primary one.
    NonPrimaryDevice,
    /// A real-name change in the last [`OwnRules::real_name_change_within`].
    RecentRealNameChange,
    /// A minor without an approved guardian (SPEC ID4): the guardian comes first.
    GuardianRequired,
    /// A minor or a foreign document: an operator reviews the request first (the item says which).
    ReviewRequired,
    /// That review is asked and not decided yet.
    ReviewPending,
    /// That review was refused; it may be asked again.
    ReviewRefused,
    /// A registered source did not answer in time.
    SourceUnavailable,
}

impl BlockerKind {
    /// Every kind; `SourceUnavailable` last (only idlink names it, of a silent source).
    pub const ALL: [BlockerKind; 14] = [
        BlockerKind::WalletBalance,
        BlockerKind::PendingTransactions,
        BlockerKind::UnclaimedRedPackets,
        BlockerKind::ActiveLoans,
        BlockerKind::AutoRenewContracts,
        BlockerKind::DirectoryAdmin,
        BlockerKind::AbnormalLogin,
        BlockerKind::NonPrimaryDevice,
        BlockerKind::RecentRealNameChange,
        BlockerKind::GuardianRequired,
        BlockerKind::ReviewRequired,
        BlockerKind::ReviewPending,
        BlockerKind::ReviewRefused,
        BlockerKind::SourceUnavailable,
    ];

    /// The stable code clients and pages key on.
    pub fn code(self) -> &'static str {
        match self {
            BlockerKind::WalletBalance => "wallet_balance",
            BlockerKind::PendingTransactions => "pending_transactions",
            BlockerKind::UnclaimedRedPackets => "unclaimed_red_packets",
            BlockerKind::ActiveLoans => "active_loans",
            BlockerKind::AutoRenewContracts => "auto_renew_contracts",
            BlockerKind::DirectoryAdmin => "directory_admin",
            BlockerKind::AbnormalLogin => "abnormal_login",
            BlockerKind::NonPrimaryDevice => "non_primary_device",
            BlockerKind::RecentRealNameChange => "recent_real_name_change",
            BlockerKind::GuardianRequired => "guardian_required",
            BlockerKind::ReviewRequired => "review_required",
            BlockerKind::ReviewPending => "review_pending",
            BlockerKind::ReviewRefused => "review_refused",
            BlockerKind::SourceUnavailable => "source_unavailable",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The source that may name it (`None`: only idlink's verdict on a silent store).
    pub fn named_by(self) -> Option<Source> {
        match self {
            BlockerKind::WalletBalance | BlockerKind::PendingTransactions | BlockerKind::UnclaimedRedPackets => Some(Source::Wallet),
            BlockerKind::ActiveLoans => Some(Source::Lending),
            BlockerKind::AutoRenewContracts => Some(Source::Subscriptions),
            BlockerKind::DirectoryAdmin => Some(Source::Directories),
            BlockerKind::AbnormalLogin
            | BlockerKind::NonPrimaryDevice
            | BlockerKind::RecentRealNameChange
            | BlockerKind::GuardianRequired
            | BlockerKind::ReviewRequired
            | BlockerKind::ReviewPending
            | BlockerKind::ReviewRefused => Some(Source::Idlink),
            BlockerKind::SourceUnavailable => None,
        }
    }

    /// The action that clears it, by a stable code (the host app maps each to a deep link).
    pub fn clears_by(self) -> &'static str {
        match self {
            BlockerKind::WalletBalance => "withdraw_balance",
            BlockerKind::PendingTransactions => "wait_for_transactions",
            BlockerKind::UnclaimedRedPackets => "claim_or_return_red_packets",
            BlockerKind::ActiveLoans => "repay_loans",
            BlockerKind::AutoRenewContracts => "cancel_contracts",
            BlockerKind::DirectoryAdmin => "transfer_admin_role",
            BlockerKind::AbnormalLogin => "wait_after_abnormal_login",
            BlockerKind::NonPrimaryDevice => "use_primary_device",
            BlockerKind::RecentRealNameChange => "wait_after_real_name_change",
            BlockerKind::GuardianRequired => "name_guardian",
            BlockerKind::ReviewRequired | BlockerKind::ReviewRefused => "ask_for_review",
            BlockerKind::ReviewPending => "wait_for_review",
            BlockerKind::SourceUnavailable => "retry_later",
        }
    }
}

/// One blocker as a preflight lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub kind: BlockerKind,
    pub source: Source,
    /// The item concerned as the source names it (masked where it is personal data).
    pub item: Option<String>,
    /// The amount concerned, when there is one.
    pub amount: Option<Fen>,
    /// When the blocker lifts by itself (a waiting period), or when to retry an unavailable source.
    pub until: Option<Timestamp>,
}

impl Blocker {
    pub fn new(kind: BlockerKind, source: Source) -> Self {
        Self { kind, source, item: None, amount: None, until: None }
    }
}

/// What a host source said, or that it did not answer in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceAnswer {
    /// The source's blockers (none: it has nothing against the revocation).
    Answered(Vec<Blocker>),
    /// No answer within the deadline; retry after `retry_at`.
    Unanswered { retry_at: Timestamp },
}

/// idlink's own rules (the defaults are RV1's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnRules {
    pub abnormal_login_within: SignedDuration,
    pub real_name_change_within: SignedDuration,
}

impl Default for OwnRules {
    fn default() -> Self {
        Self { abnormal_login_within: SignedDuration::from_hours(30 * 24), real_name_change_within: SignedDuration::from_hours(90 * 24) }
    }
}

/// What idlink knows of the user for its own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnFacts {
    /// The latest abnormal login (a new device in another region, a breached password…), if any.
    pub last_abnormal_login: Option<Timestamp>,
    /// The request comes from the user's primary device.
    pub primary_device: bool,
    /// The latest change of the real-name identity, if any.
    pub last_real_name_change: Option<Timestamp>,
    /// A minor with no approved guardian.
    pub minor_without_guardian: bool,
    /// Where the operator's review of this request stands, when one is needed.
    pub review: ReviewStanding,
}

/// Why a request needs an operator's review first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewNeed {
    /// Under 18: the guardian's evidence is reviewed.
    Minor,
    /// Verified with a passport or a permit, not the resident ID card.
    ForeignDocument,
}

impl ReviewNeed {
    pub const ALL: [ReviewNeed; 2] = [ReviewNeed::Minor, ReviewNeed::ForeignDocument];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewNeed::Minor => "minor",
            ReviewNeed::ForeignDocument => "foreign_document",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

/// Whether a user needs a review before revoking or cancelling: a minor
/// first (their guardian answers for them), then a foreign document.
pub fn review_need(minor: bool, document: DocumentType) -> Option<ReviewNeed> {
    if minor {
        Some(ReviewNeed::Minor)
    } else if document != DocumentType::ResidentId {
        Some(ReviewNeed::ForeignDocument)
    } else {
        None
    }
}

/// Where a needed review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStanding {
    /// No review is needed, or one was approved and still holds.
    Clear,
    NotAsked(ReviewNeed),
    /// Asked; an operator decides by `decide_by` (the case's first-response target).
    Pending {
        need: ReviewNeed,
        decide_by: Timestamp,
    },
    Refused(ReviewNeed),
}

/// idlink's own blockers at `now`.
pub fn own_blockers(facts: &OwnFacts, rules: &OwnRules, now: Timestamp) -> Vec<Blocker> {
    let recent = |at: Option<Timestamp>, within: SignedDuration| at.and_then(|at| at.checked_add(within).ok()).filter(|until| now < *until);
    let mut out = Vec::new();
    if let Some(until) = recent(facts.last_abnormal_login, rules.abnormal_login_within) {
        out.push(Blocker { until: Some(until), ..Blocker::new(BlockerKind::AbnormalLogin, Source::Idlink) });
    }
    if !facts.primary_device {
        out.push(Blocker::new(BlockerKind::NonPrimaryDevice, Source::Idlink));
    }
    if let Some(until) = recent(facts.last_real_name_change, rules.real_name_change_within) {
        out.push(Blocker { until: Some(until), ..Blocker::new(BlockerKind::RecentRealNameChange, Source::Idlink) });
    }
    if facts.minor_without_guardian {
        out.push(Blocker::new(BlockerKind::GuardianRequired, Source::Idlink));
    }
    let review =
        |kind, need: ReviewNeed, until| Blocker { item: Some(need.as_str().to_owned()), until, ..Blocker::new(kind, Source::Idlink) };
    match facts.review {
        ReviewStanding::Clear => {}
        ReviewStanding::NotAsked(need) => out.push(review(BlockerKind::ReviewRequired, need, None)),
        ReviewStanding::Pending { need, decide_by } => out.push(review(BlockerKind::ReviewPending, need, Some(decide_by))),
        ReviewStanding::Refused(need) => out.push(review(BlockerKind::ReviewRefused, need, None)),
    }
    out
}

/// What a revoked real name leaves the account's payments (RV3; the
/// defaults are the seed's numbers: 50,000 → 2,000 yuan a day received,
/// withdrawals paused 72 h, auto-debit contracts ended). idlink publishes
/// them; the host's payment system enforces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DowngradeRules {
    pub daily_receiving_limit: Fen,
    pub revoked_daily_receiving_limit: Fen,
    pub withdrawal_pause: SignedDuration,
}

impl Default for DowngradeRules {
    fn default() -> Self {
        Self {
            daily_receiving_limit: Fen(5_000_000),
            revoked_daily_receiving_limit: Fen(200_000),
            withdrawal_pause: SignedDuration::from_hours(72),
        }
    }
}

/// The payment capabilities of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PaymentLimits {
    pub daily_receiving_limit: Fen,
    /// Withdrawals are paused until then.
    pub withdrawals_paused_until: Option<Timestamp>,
    pub auto_debit_allowed: bool,
}

/// The account's payment capabilities at `now`, given when its real name
/// was revoked (none: never, or verified again since).
pub fn payment_limits(revoked_at: Option<Timestamp>, now: Timestamp, rules: &DowngradeRules) -> PaymentLimits {
    match revoked_at {
        None => {
            PaymentLimits { daily_receiving_limit: rules.daily_receiving_limit, withdrawals_paused_until: None, auto_debit_allowed: true }
        }
        Some(at) => PaymentLimits {
            daily_receiving_limit: rules.revoked_daily_receiving_limit,
            withdrawals_paused_until: at.checked_add(rules.withdrawal_pause).ok().filter(|until| now < *until),
            auto_debit_allowed: false,
        },
    }
}

/// Every blocker at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preflight {
    pub blockers: Vec<Blocker>,
}

impl Preflight {
    /// Nothing stands in the way: the revocation may start.
    pub fn is_clear(&self) -> bool {
        self.blockers.is_empty()
    }
}

/// The preflight from the answers of the `registered` host sources and
/// idlink's own blockers. A registered source with no answer, or one that
/// did not answer in time, is a `source_unavailable` blocker; an answer
/// from a source that is not registered is ignored (nothing asked it).
/// Blockers are listed by source (the host's in [`Source::HOST`] order,
/// idlink's last), then by kind, whatever order the answers came in.
pub fn preflight(registered: &[Source], answers: &[(Source, SourceAnswer)], own: Vec<Blocker>) -> Preflight {
    let mut blockers = Vec::new();
    let mut seen = Vec::new();
    for source in registered.iter().copied().filter(|s| *s != Source::Idlink) {
        if seen.contains(&source) {
            continue;
        }
        seen.push(source);
        let answered: Vec<&SourceAnswer> = answers.iter().filter(|(s, _)| *s == source).map(|(_, a)| a).collect();
        // Several answers of one source (a retry): any that did not come in time makes it unavailable.
        let unanswered = answered.iter().filter_map(|a| match a {
            SourceAnswer::Unanswered { retry_at } => Some(*retry_at),
            SourceAnswer::Answered(_) => None,
        });
        match (answered.is_empty(), unanswered.max()) {
            (true, _) => blockers.push(Blocker::new(BlockerKind::SourceUnavailable, source)),
            (false, Some(retry_at)) => {
                blockers.push(Blocker { until: Some(retry_at), ..Blocker::new(BlockerKind::SourceUnavailable, source) })
            }
            (false, None) => {
                // The source answers for itself: its blockers carry its name, whatever they said.
                // Two equal blockers in one answer are two things (two red packets of 8.88 from 张**);
                // the same one in two answers of a retry is one: each is kept as often as one answer names it.
                let mut kept: Vec<Blocker> = Vec::new();
                for a in answered {
                    if let SourceAnswer::Answered(found) = a {
                        let found: Vec<Blocker> = found.iter().cloned().map(|b| Blocker { source, ..b }).collect();
                        for b in &found {
                            let here = found.iter().filter(|x| *x == b).count();
                            let already = kept.iter().filter(|x| *x == b).count();
                            if already < here {
                                kept.push(b.clone());
                            }
                        }
                    }
                }
                blockers.extend(kept);
            }
        }
    }
    blockers.extend(own.into_iter().map(|b| Blocker { source: Source::Idlink, ..b }));
    blockers.sort_by(|a, b| {
        (a.source, a.kind, &a.item, a.amount.map(|f| f.0), a.until).cmp(&(b.source, b.kind, &b.item, b.amount.map(|f| f.0), b.until))
    });
    Preflight { blockers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn codes_are_stable_and_parse_back() {
        for k in BlockerKind::ALL {
            assert_eq!(BlockerKind::parse(k.code()), Some(k));
            assert!(!k.clears_by().is_empty());
        }
        for s in Source::HOST {
            assert_eq!(Source::parse(s.as_str()), Some(s));
        }
        assert_eq!(BlockerKind::WalletBalance.code(), "wallet_balance");
        for k in BlockerKind::ALL {
            let host = k.named_by().is_some_and(|s| Source::HOST.contains(&s));
            assert_eq!(
                host,
                !matches!(
                    k,
                    BlockerKind::AbnormalLogin
                        | BlockerKind::NonPrimaryDevice
                        | BlockerKind::RecentRealNameChange
                        | BlockerKind::GuardianRequired
                        | BlockerKind::ReviewRequired
                        | BlockerKind::ReviewPending
                        | BlockerKind::ReviewRefused
                        | BlockerKind::SourceUnavailable
                ),
                "{k:?}"
            );
        }
        for o in Operation::ALL {
            assert_eq!(Operation::parse(o.as_str()), Some(o));
        }
    }

    #[test]
    fn a_silent_source_blocks_and_every_kind_is_named_at_once() {
        let wallet = SourceAnswer::Answered(vec![
            Blocker { amount: Some(Fen(1)), ..Blocker::new(BlockerKind::WalletBalance, Source::Wallet) },
            Blocker::new(BlockerKind::PendingTransactions, Source::Wallet),
            Blocker { item: Some("red packet 2".into()), ..Blocker::new(BlockerKind::UnclaimedRedPackets, Source::Wallet) },
        ]);
        let lending = SourceAnswer::Unanswered { retry_at: at(30) };
        let subs = SourceAnswer::Answered(vec![Blocker::new(BlockerKind::AutoRenewContracts, Source::Subscriptions)]);
        let own = own_blockers(
            &OwnFacts {
                last_abnormal_login: Some(at(-86_400)),
                primary_device: false,
                last_real_name_change: Some(at(-86_400)),
                minor_without_guardian: true,
                review: ReviewStanding::NotAsked(ReviewNeed::Minor),
            },
            &OwnRules::default(),
            at(0),
        );
        let p = preflight(&Source::HOST, &[(Source::Subscriptions, subs), (Source::Wallet, wallet), (Source::Lending, lending)], own);
        let kinds: Vec<(&str, &str)> = p.blockers.iter().map(|b| (b.source.as_str(), b.kind.code())).collect();
        assert_eq!(
            kinds,
            [
                ("wallet", "wallet_balance"),
                ("wallet", "pending_transactions"),
                ("wallet", "unclaimed_red_packets"),
                ("lending", "source_unavailable"),
                ("subscriptions", "auto_renew_contracts"),
                ("directories", "source_unavailable"),
                ("idlink", "abnormal_login"),
                ("idlink", "non_primary_device"),
                ("idlink", "recent_real_name_change"),
                ("idlink", "guardian_required"),
                ("idlink", "review_required"),
            ]
        );
        assert_eq!(p.blockers[0].amount, Some(Fen(1)), "even 0.01 yuan blocks");
        assert_eq!(p.blockers[3].until, Some(at(30)), "retry the lending source then");
        assert!(!p.is_clear());
    }

    #[test]
    fn equal_blockers_in_one_answer_are_each_listed_and_a_retry_adds_none() {
        let packet =
            Blocker {
                item: Some("张**".into()), amount: Some(Fen(888)), ..Blocker::new(BlockerKind::UnclaimedRedPackets, Source::Wallet)
            };
        let twice = SourceAnswer::Answered(vec![packet.clone(), packet.clone()]);
        let p = preflight(&[Source::Wallet], &[(Source::Wallet, twice.clone())], Vec::new());
        assert_eq!(p.blockers.len(), 2, "two red packets of the same sender and amount are two");
        let p = preflight(&[Source::Wallet], &[(Source::Wallet, twice.clone()), (Source::Wallet, twice)], Vec::new());
        assert_eq!(p.blockers.len(), 2, "the same answer twice (a retry) is still two");
    }

    #[test]
    fn a_revoked_real_name_lowers_the_limits_and_pauses_withdrawals_for_72_hours() {
        let rules = DowngradeRules::default();
        let normal = payment_limits(None, at(0), &rules);
        assert_eq!(
            (normal.daily_receiving_limit, normal.withdrawals_paused_until, normal.auto_debit_allowed),
            (Fen(5_000_000), None, true)
        );
        let hours = |h: i64| 3_600 * h;
        let just = payment_limits(Some(at(0)), at(1), &rules);
        assert_eq!(just.daily_receiving_limit, Fen(200_000), "2,000 yuan a day");
        assert_eq!(just.withdrawals_paused_until, Some(at(hours(72))));
        assert!(!just.auto_debit_allowed);
        assert_eq!(payment_limits(Some(at(0)), at(hours(72) - 1), &rules).withdrawals_paused_until, Some(at(hours(72))));
        let later = payment_limits(Some(at(0)), at(hours(72)), &rules);
        assert_eq!((later.withdrawals_paused_until, later.daily_receiving_limit), (None, Fen(200_000)), "the pause ends, the limit stays");
    }

    #[test]
    fn own_rules_lift_at_their_boundaries() {
        let rules = OwnRules::default();
        let facts = |login: i64, change: i64| OwnFacts {
            last_abnormal_login: Some(at(login)),
            primary_device: true,
            last_real_name_change: Some(at(change)),
            minor_without_guardian: false,
            review: ReviewStanding::Clear,
        };
        let thirty = 30 * 86_400;
        let ninety = 90 * 86_400;
        assert_eq!(own_blockers(&facts(-thirty + 1, -ninety + 1), &rules, at(0)).len(), 2, "a second inside each window");
        assert!(own_blockers(&facts(-thirty, -ninety), &rules, at(0)).is_empty(), "exactly 30 and 90 days on: lifted");
        let none = OwnFacts {
            last_abnormal_login: None,
            primary_device: true,
            last_real_name_change: None,
            minor_without_guardian: false,
            review: ReviewStanding::Clear,
        };
        assert!(own_blockers(&none, &rules, at(0)).is_empty());
    }

    #[test]
    fn minors_and_foreign_documents_wait_for_a_review_that_names_why() {
        assert_eq!(review_need(true, DocumentType::Passport), Some(ReviewNeed::Minor), "a minor's guardian answers first");
        assert_eq!(review_need(false, DocumentType::HkMacauPermit), Some(ReviewNeed::ForeignDocument));
        assert_eq!(review_need(false, DocumentType::ResidentId), None);
        let facts = |review| OwnFacts {
            last_abnormal_login: None,
            primary_device: true,
            last_real_name_change: None,
            minor_without_guardian: false,
            review,
        };
        let rules = OwnRules::default();
        let one = |review| {
            let b = own_blockers(&facts(review), &rules, at(0));
            assert_eq!(b.len(), 1, "{review:?}");
            (b[0].kind, b[0].item.clone(), b[0].until, b[0].kind.clears_by())
        };
        assert_eq!(
            one(ReviewStanding::NotAsked(ReviewNeed::ForeignDocument)),
            (BlockerKind::ReviewRequired, Some("foreign_document".into()), None, "ask_for_review")
        );
        assert_eq!(
            one(ReviewStanding::Pending { need: ReviewNeed::Minor, decide_by: at(3_600) }),
            (BlockerKind::ReviewPending, Some("minor".into()), Some(at(3_600)), "wait_for_review")
        );
        assert_eq!(
            one(ReviewStanding::Refused(ReviewNeed::Minor)),
            (BlockerKind::ReviewRefused, Some("minor".into()), None, "ask_for_review")
        );
        assert!(own_blockers(&facts(ReviewStanding::Clear), &rules, at(0)).is_empty(), "an approved review clears");
    }

    /// What a source may name (not `source_unavailable`: that is the preflight's verdict on a silent source).
    fn kind() -> impl Strategy<Value = BlockerKind> {
        (0usize..BlockerKind::ALL.len() - 1).prop_map(|i| BlockerKind::ALL[i])
    }

    fn source() -> impl Strategy<Value = Source> {
        (0usize..4).prop_map(|i| Source::HOST[i])
    }

    fn answer() -> impl Strategy<Value = (Source, SourceAnswer)> {
        let blockers = proptest::collection::vec((kind(), source(), proptest::option::of(1i64..100_000)), 0..4);
        prop_oneof![
            3 => (source(), blockers).prop_map(|(s, bs)| (
                s,
                SourceAnswer::Answered(bs.into_iter().map(|(k, from, fen)| Blocker { amount: fen.map(Fen), ..Blocker::new(k, from) }).collect())
            )),
            1 => (source(), 0i64..600).prop_map(|(s, secs)| (s, SourceAnswer::Unanswered { retry_at: at(secs) })),
        ]
    }

    proptest! {
        /// Whatever the sources answer: every registered source is heard or
        /// is a blocker; no blocker a source named is dropped; the preflight
        /// is clear only when every source answered with nothing; and the
        /// order the answers came in changes nothing.
        #[test]
        fn no_source_passes_silently_and_no_blocker_is_lost(
            registered in proptest::collection::vec(source(), 0..5),
            answers in proptest::collection::vec(answer(), 0..8),
        ) {
            let p = preflight(&registered, &answers, Vec::new());
            for s in &registered {
                let heard = answers.iter().any(|(from, _)| from == s);
                let silent = answers.iter().any(|(from, a)| from == s && matches!(a, SourceAnswer::Unanswered { .. }));
                let unavailable = p.blockers.iter().any(|b| b.source == *s && b.kind == BlockerKind::SourceUnavailable);
                prop_assert_eq!(unavailable, !heard || silent, "source {:?}", s);
                if heard && !silent {
                    for (_, a) in answers.iter().filter(|(from, _)| from == s) {
                        if let SourceAnswer::Answered(found) = a {
                            for b in found {
                                let same = |k: &Blocker| k.kind == b.kind && k.amount == b.amount && k.item == b.item && k.until == b.until;
                                let named = found.iter().filter(|k| same(k)).count();
                                let kept = p.blockers.iter().filter(|k| k.source == *s && same(k)).count();
                                prop_assert!(kept >= named, "{:?} from {:?}: named {} times in one answer, listed {}", b.kind, s, named, kept);
                            }
                        }
                    }
                }
            }
            prop_assert!(p.blockers.iter().all(|b| registered.contains(&b.source)), "only registered sources are listed");
            let all_quiet = registered.iter().all(|s| {
                let theirs: Vec<&SourceAnswer> = answers.iter().filter(|(from, _)| from == s).map(|(_, a)| a).collect();
                !theirs.is_empty() && theirs.iter().all(|a| matches!(a, SourceAnswer::Answered(found) if found.is_empty()))
            });
            prop_assert_eq!(p.is_clear(), all_quiet);
            let mut reversed = answers.clone();
            reversed.reverse();
            prop_assert_eq!(&preflight(&registered, &reversed, Vec::new()), &p);
        }
    }
}
