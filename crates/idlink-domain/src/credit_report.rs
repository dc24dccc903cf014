//! The personal credit report (SPEC CR4, issue 15), shaped like the
//! national credit bureau's second-generation report (个人信用报告): the
//! header (report number, query, other identity numbers, fraud-alert and
//! dispute marks, the bureau's snapshot date: data is T+1), personal basic
//! information, credit transactions (loans, cards, guarantees, each with
//! five years of monthly repayment status), public records and query
//! records.
//!
//! The summary section is not carried: [`CreditReport::summary`] computes
//! it from the details, so what the report sums and what it lists can never
//! disagree. [`changes`] is the rule of the record-change alerts (CR6): what
//! a later report holds that an earlier one did not.
//!
//! The whole report is personal data of the highest class (C2): it is
//! stored only encrypted, and its `Debug` shows the report number and
//! counts, never a name or a number.

use crate::Fen;
use crate::repayment::{GridSummary, RepaymentGrid};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A report as the bureau answers it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditReport {
    pub header: ReportHeader,
    pub person: PersonalInfo,
    pub accounts: Vec<CreditAccount>,
    pub public_records: Vec<PublicRecord>,
    pub queries: Vec<QueryRecord>,
}

impl fmt::Debug for CreditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreditReport")
            .field("report_no", &self.header.report_no)
            .field("accounts", &self.accounts.len())
            .field("public_records", &self.public_records.len())
            .field("queries", &self.queries.len())
            .finish_non_exhaustive()
    }
}

/// 报告头: who was queried, by whom, why, and as of when. The parts that
/// name people have no `Debug`: only [`CreditReport`]'s, which names none.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportHeader {
    /// 报告编号: 22 digits, the report date then a serial.
    pub report_no: String,
    pub queried_at: Timestamp,
    /// The bureau's data is as of the end of this day (T+1).
    pub snapshot_date: Date,
    /// 查询机构.
    pub institution: String,
    /// 查询原因.
    pub reason: String,
    pub name: String,
    /// 证件类型, e.g. 居民身份证.
    pub id_type: String,
    pub id_number: String,
    /// 其他证件信息.
    #[serde(default)]
    pub other_ids: Vec<OtherId>,
    /// 防欺诈警示.
    #[serde(default)]
    pub fraud_alert: Option<FraudAlert>,
    /// 异议标注: disputes the person raised and the bureau is handling.
    #[serde(default)]
    pub disputes: u32,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherId {
    pub id_type: String,
    pub number: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudAlert {
    pub from: Date,
    pub until: Date,
    pub phone: String,
}

/// 个人基本信息.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalInfo {
    pub gender: String,
    pub birth_date: Date,
    pub marital_status: String,
    pub education: String,
    pub phone: String,
    pub mailing_address: String,
    pub household_address: String,
    pub updated_on: Date,
    #[serde(default)]
    pub spouse: Option<Spouse>,
    #[serde(default)]
    pub residences: Vec<Residence>,
    #[serde(default)]
    pub employments: Vec<Employment>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spouse {
    pub name: String,
    pub id_type: String,
    pub id_number: String,
    pub employer: String,
    pub phone: String,
}

/// 居住信息.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Residence {
    pub address: String,
    /// 居住状况: 自置, 按揭, 租住, 亲属楼宇…
    pub status: String,
    pub updated_on: Date,
}

/// 职业信息.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employment {
    pub employer: String,
    pub occupation: String,
    pub industry: String,
    pub since_year: i16,
    pub updated_on: Date,
}

/// The kinds of credit account, in the order the report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// 非循环贷账户: an instalment loan (mortgage, car, consumer).
    Loan,
    /// 循环贷账户: a revolving credit line.
    RevolvingLoan,
    /// 贷记卡账户: a credit card.
    CreditCard,
    /// 相关还款责任: a guarantee for someone else's debt.
    Guarantee,
}

impl AccountKind {
    pub const ALL: [AccountKind; 4] = [AccountKind::Loan, AccountKind::RevolvingLoan, AccountKind::CreditCard, AccountKind::Guarantee];

    /// The section title the report uses.
    pub fn title(self) -> &'static str {
        match self {
            AccountKind::Loan => "非循环贷账户",
            AccountKind::RevolvingLoan => "循环贷账户",
            AccountKind::CreditCard => "贷记卡账户",
            AccountKind::Guarantee => "相关还款责任信息",
        }
    }
}

/// 账户状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    Normal,
    Overdue,
    Settled,
    BadDebt,
    Closed,
    Frozen,
}

impl AccountState {
    pub fn label(self) -> &'static str {
        match self {
            AccountState::Normal => "正常",
            AccountState::Overdue => "逾期",
            AccountState::Settled => "结清",
            AccountState::BadDebt => "呆账",
            AccountState::Closed => "销户",
            AccountState::Frozen => "冻结",
        }
    }

    /// Whether the account still counts toward what is owed.
    pub fn is_open(self) -> bool {
        !matches!(self, AccountState::Settled | AccountState::Closed)
    }
}

/// One credit account with its state at the snapshot and its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditAccount {
    pub kind: AccountKind,
    /// 管理机构 / 发卡机构.
    pub institution: String,
    /// 账户标识, as the bureau prints it.
    pub account_ref: String,
    /// 业务种类: 个人住房商业贷款, 个人消费贷款, 贷记卡…
    pub business: String,
    /// 担保方式: 信用/免担保, 保证, 抵押…
    pub guarantee: String,
    pub opened_on: Date,
    #[serde(default)]
    pub due_on: Option<Date>,
    /// 借款金额, 授信额度 or 责任金额.
    pub amount: Fen,
    pub state: AccountState,
    /// 五级分类 (loans and guarantees): 正常, 关注, 次级, 可疑, 损失.
    #[serde(default)]
    pub classification: Option<String>,
    pub balance: Fen,
    /// 当前逾期总额.
    pub overdue_amount: Fen,
    /// The first month of [`Self::history`] (its day is ignored).
    pub history_from: Date,
    /// 最近5年的历史表现, oldest month first.
    pub history: RepaymentGrid,
}

impl CreditAccount {
    pub fn history_summary(&self) -> GridSummary {
        self.history.summary()
    }
}

/// The kinds of public record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicRecordKind {
    /// 欠税记录.
    TaxArrears,
    /// 民事判决记录.
    CivilJudgment,
    /// 强制执行记录.
    Enforcement,
    /// 行政处罚记录.
    AdministrativePenalty,
}

impl PublicRecordKind {
    pub const ALL: [PublicRecordKind; 4] = [
        PublicRecordKind::TaxArrears,
        PublicRecordKind::CivilJudgment,
        PublicRecordKind::Enforcement,
        PublicRecordKind::AdministrativePenalty,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PublicRecordKind::TaxArrears => "欠税",
            PublicRecordKind::CivilJudgment => "民事判决",
            PublicRecordKind::Enforcement => "强制执行",
            PublicRecordKind::AdministrativePenalty => "行政处罚",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicRecord {
    pub kind: PublicRecordKind,
    /// 主管税务机关, 立案法院, 处罚机构…
    pub authority: String,
    /// 案由 or 处罚内容.
    pub matter: String,
    pub date: Date,
    pub amount: Fen,
}

/// Why an institution looked at the record (查询原因).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryReason {
    LoanApproval,
    CardApproval,
    PostLoanManagement,
    GuarantorCheck,
    MerchantCheck,
    /// 本人查询: the person themselves.
    SelfQuery,
}

impl QueryReason {
    pub fn label(self) -> &'static str {
        match self {
            QueryReason::LoanApproval => "贷款审批",
            QueryReason::CardApproval => "信用卡审批",
            QueryReason::PostLoanManagement => "贷后管理",
            QueryReason::GuarantorCheck => "担保资格审查",
            QueryReason::MerchantCheck => "特约商户实名审查",
            QueryReason::SelfQuery => "本人查询",
        }
    }
}

/// 查询记录: who looked, when, why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueryRecord {
    pub date: Date,
    pub institution: String,
    pub reason: QueryReason,
}

/// 信息概要, computed from the details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Per account kind: accounts, open accounts, total amount (credit
    /// limit or loan), balance of the open ones, accounts ever overdue.
    pub accounts: BTreeMap<AccountKind, KindSummary>,
    /// The first month any credit account opened.
    pub first_opened: Option<Date>,
    /// Per public-record kind: records and their total amount.
    pub public_records: BTreeMap<PublicRecordKind, (usize, Fen)>,
    /// Queries by institutions in the month before the snapshot, for loans and cards.
    pub approvals_last_month: usize,
    /// The person's own queries in the month before the snapshot.
    pub self_queries_last_month: usize,
    /// Post-loan and guarantor queries in the two years before the snapshot.
    pub management_last_two_years: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KindSummary {
    pub accounts: usize,
    pub open: usize,
    pub amount: Fen,
    pub balance: Fen,
    pub ever_overdue: usize,
    pub overdue_months: usize,
    pub longest_overdue_run: usize,
}

impl CreditReport {
    /// The summary section, computed from the details (sums saturate
    /// rather than wrap: no real report comes near `i64` fen).
    pub fn summary(&self) -> Summary {
        let mut out = Summary::default();
        for a in &self.accounts {
            let k = out.accounts.entry(a.kind).or_default();
            let h = a.history_summary();
            k.accounts += 1;
            k.amount = Fen(k.amount.0.saturating_add(a.amount.0));
            if a.state.is_open() {
                k.open += 1;
                k.balance = Fen(k.balance.0.saturating_add(a.balance.0));
            }
            if h.default_months > 0 {
                k.ever_overdue += 1;
            }
            k.overdue_months += h.default_months;
            k.longest_overdue_run = k.longest_overdue_run.max(h.longest_run);
            if a.kind != AccountKind::Guarantee {
                out.first_opened = Some(out.first_opened.map_or(a.opened_on, |f| f.min(a.opened_on)));
            }
        }
        for r in &self.public_records {
            let e = out.public_records.entry(r.kind).or_insert((0, Fen::ZERO));
            e.0 += 1;
            e.1 = Fen(e.1.0.saturating_add(r.amount.0));
        }
        let snapshot = self.header.snapshot_date;
        let month_ago = snapshot.saturating_sub(jiff::Span::new().months(1));
        let two_years_ago = snapshot.saturating_sub(jiff::Span::new().years(2));
        for q in &self.queries {
            let in_month = q.date > month_ago && q.date <= snapshot;
            match q.reason {
                QueryReason::LoanApproval | QueryReason::CardApproval if in_month => out.approvals_last_month += 1,
                QueryReason::SelfQuery if in_month => out.self_queries_last_month += 1,
                QueryReason::PostLoanManagement | QueryReason::GuarantorCheck if q.date > two_years_ago && q.date <= snapshot => {
                    out.management_last_two_years += 1
                }
                _ => {}
            }
        }
        out
    }
}

/// A change in the record between two reports, as the alerts announce it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordChange {
    /// An institution (not the person) queried the record.
    NewQuery { date: Date, institution: String, reason: QueryReason },
    /// An account has months in default that the earlier report did not show
    /// in default (`default_months` of them; a new account's count all of its).
    NewOverdue { institution: String, kind: AccountKind, default_months: usize },
    /// A public record not in the earlier report.
    NewPublicRecord { kind: PublicRecordKind, authority: String, date: Date },
}

/// The calendar months (as `year * 12 + month - 1`) an account's history shows in default.
fn default_months_of(a: &CreditAccount) -> BTreeSet<i32> {
    let start = i32::from(a.history_from.year()) * 12 + i32::from(a.history_from.month()) - 1;
    a.history.months().iter().zip(start..).filter(|(status, _)| status.is_default()).map(|(_, month)| month).collect()
}

/// What `later` holds that `earlier` did not: queries by institutions,
/// accounts with more default months, and public records. The person's own
/// queries are not news to them. Records are matched by content, so a
/// repeated identical query on the same day is reported once per extra
/// occurrence, never twice for the same one.
pub fn changes(earlier: &CreditReport, later: &CreditReport) -> Vec<RecordChange> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<(Date, &str, u8), usize> = BTreeMap::new();
    fn key(q: &QueryRecord) -> (Date, &str, u8) {
        (q.date, q.institution.as_str(), q.reason as u8)
    }
    for q in &earlier.queries {
        *seen.entry(key(q)).or_default() += 1;
    }
    for q in &later.queries {
        match seen.get_mut(&key(q)) {
            Some(n) if *n > 0 => *n -= 1,
            _ if q.reason == QueryReason::SelfQuery => {}
            _ => out.push(RecordChange::NewQuery { date: q.date, institution: q.institution.clone(), reason: q.reason }),
        }
    }
    // Months are compared by calendar month, not counted: the five-year
    // window slides, so an old default leaving it while a new one enters
    // would leave the count unchanged.
    let before: BTreeMap<(&str, &str), BTreeSet<i32>> =
        earlier.accounts.iter().map(|a| ((a.institution.as_str(), a.account_ref.as_str()), default_months_of(a))).collect();
    for a in &later.accounts {
        let was = before.get(&(a.institution.as_str(), a.account_ref.as_str()));
        let new = default_months_of(a).iter().filter(|m| !was.is_some_and(|w| w.contains(m))).count();
        if new > 0 {
            out.push(RecordChange::NewOverdue { institution: a.institution.clone(), kind: a.kind, default_months: new });
        }
    }
    let mut records: Vec<&PublicRecord> = earlier.public_records.iter().collect();
    for r in &later.public_records {
        match records.iter().position(|e| *e == r) {
            Some(i) => {
                records.swap_remove(i);
            }
            None => out.push(RecordChange::NewPublicRecord { kind: r.kind, authority: r.authority.clone(), date: r.date }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repayment::RepaymentGrid;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn grid(codes: &str) -> RepaymentGrid {
        RepaymentGrid::parse(codes).unwrap_or_else(|e| panic!("{e}"))
    }

    fn account(kind: AccountKind, reference: &str, codes: &str, state: AccountState) -> CreditAccount {
        CreditAccount {
            kind,
            institution: "中国工商银行北京分行".into(),
            account_ref: reference.into(),
            business: "个人消费贷款".into(),
            guarantee: "信用/免担保".into(),
            opened_on: date(2022, 3, 15),
            due_on: Some(date(2027, 3, 15)),
            amount: Fen(10_000_000),
            state,
            classification: Some("正常".into()),
            balance: Fen(4_000_000),
            overdue_amount: Fen::ZERO,
            history_from: date(2022, 3, 1),
            history: grid(codes),
        }
    }

    fn report(accounts: Vec<CreditAccount>, queries: Vec<QueryRecord>, public_records: Vec<PublicRecord>) -> CreditReport {
        CreditReport {
            header: ReportHeader {
                report_no: "2026113000000000000001".into(),
                queried_at: Timestamp::UNIX_EPOCH,
                snapshot_date: date(2026, 11, 29),
                institution: "互联网个人信用信息服务平台".into(),
                reason: "本人查询".into(),
                name: "张三".into(),
                id_type: "居民身份证".into(),
                id_number: "110101199003074514".into(),
                other_ids: Vec::new(),
                fraud_alert: None,
                disputes: 0,
            },
            person: PersonalInfo {
                gender: "男".into(),
                birth_date: date(1990, 3, 7),
                marital_status: "已婚".into(),
                education: "本科".into(),
                phone: "13800138000".into(),
                mailing_address: "北京市东城区".into(),
                household_address: "北京市东城区".into(),
                updated_on: date(2025, 1, 1),
                spouse: None,
                residences: Vec::new(),
                employments: Vec::new(),
            },
            accounts,
            public_records,
            queries,
        }
    }

    fn query(day: i8, institution: &str, reason: QueryReason) -> QueryRecord {
        QueryRecord { date: date(2026, 11, day), institution: institution.into(), reason }
    }

    #[test]
    fn the_summary_counts_the_details() {
        let r = report(
            vec![
                account(AccountKind::Loan, "L1", "NNN1NN", AccountState::Normal),
                account(AccountKind::Loan, "L2", "NNNC", AccountState::Settled),
                account(AccountKind::CreditCard, "C1", "NN12N", AccountState::Normal),
            ],
            vec![
                query(20, "招商银行", QueryReason::CardApproval),
                query(21, "本人", QueryReason::SelfQuery),
                QueryRecord { date: date(2025, 6, 1), institution: "工商银行".into(), reason: QueryReason::PostLoanManagement },
                QueryRecord { date: date(2023, 6, 1), institution: "工商银行".into(), reason: QueryReason::PostLoanManagement },
            ],
            vec![PublicRecord {
                kind: PublicRecordKind::CivilJudgment,
                authority: "北京市东城区人民法院".into(),
                matter: "合同纠纷".into(),
                date: date(2024, 5, 1),
                amount: Fen(100_000),
            }],
        );
        let s = r.summary();
        let loans = s.accounts.get(&AccountKind::Loan).copied().unwrap_or_default();
        assert_eq!(
            (loans.accounts, loans.open, loans.balance, loans.ever_overdue, loans.amount),
            (2, 1, Fen(4_000_000), 1, Fen(20_000_000))
        );
        let cards = s.accounts.get(&AccountKind::CreditCard).copied().unwrap_or_default();
        assert_eq!((cards.overdue_months, cards.longest_overdue_run), (2, 2));
        assert_eq!(s.public_records.get(&PublicRecordKind::CivilJudgment), Some(&(1, Fen(100_000))));
        assert_eq!((s.approvals_last_month, s.self_queries_last_month, s.management_last_two_years), (1, 1, 1));
        assert_eq!(s.first_opened, Some(date(2022, 3, 15)));
    }

    #[test]
    fn debug_never_shows_the_person() {
        let r = report(Vec::new(), Vec::new(), Vec::new());
        let shown = format!("{r:?}");
        assert!(!shown.contains("张三") && !shown.contains("110101199003074514") && !shown.contains("13800138000"), "{shown}");
        assert!(shown.contains("2026113000000000000001"));
    }

    #[test]
    fn a_report_reads_back_from_json() {
        let r = report(vec![account(AccountKind::CreditCard, "C1", "//NN1N*C", AccountState::Closed)], Vec::new(), Vec::new());
        let json = serde_json::to_string(&r).unwrap_or_else(|e| panic!("{e}"));
        assert!(json.contains(r#""history":"//NN1N*C""#), "{json}");
        let back: CreditReport = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, r);
        assert!(serde_json::from_str::<CreditReport>(&json.replace("//NN1N*C", "NNQ")).is_err());
    }

    #[test]
    fn changes_name_new_queries_overdues_and_records() {
        let before = report(
            vec![account(AccountKind::Loan, "L1", "NNN", AccountState::Normal)],
            vec![query(1, "招商银行", QueryReason::CardApproval)],
            Vec::new(),
        );
        let judgment = PublicRecord {
            kind: PublicRecordKind::Enforcement,
            authority: "北京市第一中级人民法院".into(),
            matter: "借款合同纠纷".into(),
            date: date(2026, 11, 20),
            amount: Fen(500_000),
        };
        let after = report(
            vec![account(AccountKind::Loan, "L1", "NNN1", AccountState::Overdue)],
            vec![
                query(1, "招商银行", QueryReason::CardApproval),
                query(25, "某消费金融公司", QueryReason::LoanApproval),
                query(26, "本人", QueryReason::SelfQuery),
            ],
            vec![judgment],
        );
        let found = changes(&before, &after);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(matches!(&found[0], RecordChange::NewQuery { institution, .. } if institution == "某消费金融公司"));
        assert!(matches!(&found[1], RecordChange::NewOverdue { default_months: 1, .. }));
        assert!(matches!(&found[2], RecordChange::NewPublicRecord { kind: PublicRecordKind::Enforcement, .. }));
        assert!(changes(&after, &after).is_empty());
    }

    /// The five-year window slides a month: the oldest default leaves it as a
    /// new one enters. The count is the same; the new month is still news.
    #[test]
    fn a_new_default_is_seen_when_an_old_one_leaves_the_window() {
        let mut before = account(AccountKind::CreditCard, "C1", "1NNN", AccountState::Normal);
        before.history_from = date(2026, 7, 1);
        let mut after = account(AccountKind::CreditCard, "C1", "NNN1", AccountState::Overdue);
        after.history_from = date(2026, 8, 1);
        assert_eq!(before.history_summary().default_months, after.history_summary().default_months);
        let found = changes(&report(vec![before.clone()], Vec::new(), Vec::new()), &report(vec![after], Vec::new(), Vec::new()));
        assert!(matches!(found.as_slice(), [RecordChange::NewOverdue { default_months: 1, .. }]), "{found:?}");
        // The same months seen again a month later (shifted, no new default): nothing.
        let mut shifted = account(AccountKind::CreditCard, "C1", "NNNN", AccountState::Normal);
        shifted.history_from = date(2026, 8, 1);
        assert!(changes(&report(vec![before], Vec::new(), Vec::new()), &report(vec![shifted], Vec::new(), Vec::new())).is_empty());
    }

    fn arb_query() -> impl Strategy<Value = QueryRecord> {
        (
            1i8..=28,
            prop::sample::select(vec!["招商银行", "工商银行", "某小贷"]),
            prop::sample::select(vec![QueryReason::LoanApproval, QueryReason::SelfQuery, QueryReason::CardApproval]),
        )
            .prop_map(|(d, i, r)| query(d, i, r))
    }

    proptest! {
        /// A report compared with itself, or with an earlier one it only
        /// adds to, announces exactly the institutions' added queries.
        #[test]
        fn only_what_was_added_is_announced(
            old in proptest::collection::vec(arb_query(), 0..12),
            added in proptest::collection::vec(arb_query(), 0..12),
        ) {
            let earlier = report(Vec::new(), old.clone(), Vec::new());
            prop_assert!(changes(&earlier, &earlier).is_empty());
            let mut all = old;
            all.extend(added.iter().cloned());
            let later = report(Vec::new(), all, Vec::new());
            let announced = changes(&earlier, &later).len();
            prop_assert_eq!(announced, added.iter().filter(|q| q.reason != QueryReason::SelfQuery).count());
        }
    }
}
