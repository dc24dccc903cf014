//! The sandbox bureau's credit files: a realistic second-generation report
//! for any identity, made up deterministically from the ID number (the same
//! person always has the same loans, cards and history), plus what the
//! control API added since (queries, overdue months, public records).
//!
//! A file is made relative to its *anchor*, the day the bureau first read it
//! ([`Additions::anchor`]): its records keep their dates as time passes and
//! only the five-year window moves with the snapshot, so two reports of the
//! same person a day apart differ only by what really happened in between
//! (what the alerts compare).
//!
//! Sizes: [`FileSize::Typical`] is a mortgage, a consumer loan, a credit
//! line, three cards and a guarantee with about ten queries (four pages);
//! [`FileSize::Thin`] has no credit at all; [`FileSize::Large`] has 200
//! accounts (about forty pages); [`FileSize::Adverse`] adds overdue months,
//! a bad debt, a court judgment, a fraud alert and a dispute.

use idlink_domain::Fen;
use idlink_domain::credit_report::{
    AccountKind, AccountState, CreditAccount, CreditReport, Employment, FraudAlert, OtherId, PersonalInfo, PublicRecord, PublicRecordKind,
    QueryReason, QueryRecord, ReportHeader, Residence, Spouse,
};
use idlink_domain::repayment::{OverdueLevel, RepaymentGrid, RepaymentStatus};
use jiff::Timestamp;
use jiff::civil::{Date, date};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSize {
    Thin,
    Typical,
    Adverse,
    Large,
}

/// What the bureau knows of a person's file beyond what is made up: when
/// it first read it, and what the control API added since.
#[derive(Debug, Clone, Default)]
pub struct Additions {
    /// The snapshot the file was first made at: its made-up records are
    /// dated from it (none: the report's own snapshot).
    pub anchor: Option<Date>,
    pub queries: Vec<QueryRecord>,
    pub public_records: Vec<PublicRecord>,
    /// Months (their first day) in default on the first open account, one entry per month added.
    pub overdue: Vec<Date>,
}

/// A small deterministic generator (SplitMix64) seeded by the ID number:
/// sandbox data, not secrets.
struct Dice(u64);

impl Dice {
    fn for_person(id_number: &str) -> Self {
        // FNV-1a of the number.
        Self(id_number.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        items.get(i).copied().unwrap_or("")
    }
}

const BANKS: &[&str] = &[
    "中国工商银行股份有限公司北京分行",
    "中国建设银行股份有限公司上海分行",
    "招商银行股份有限公司信用卡中心",
    "中国银行股份有限公司广东省分行",
    "交通银行股份有限公司太平洋信用卡中心",
    "平安银行股份有限公司信用卡中心",
    "上海浦东发展银行股份有限公司杭州分行",
    "中信银行股份有限公司信用卡中心",
    "北京银行股份有限公司",
    "马上消费金融股份有限公司",
];
const QUERIERS: &[&str] = &[
    "招商银行股份有限公司信用卡中心",
    "中国工商银行股份有限公司北京分行",
    "平安银行股份有限公司",
    "马上消费金融股份有限公司",
    "重庆度小满小额贷款有限公司",
    "中国建设银行股份有限公司上海分行",
];
const STREETS: &[&str] = &[
    "北京市朝阳区建国路88号",
    "上海市浦东新区世纪大道100号",
    "广州市天河区天河路385号",
    "杭州市西湖区文三路478号",
    "成都市武侯区人民南路四段1号",
];
const EMPLOYERS: &[&str] = &["北京某科技有限公司", "上海某贸易有限公司", "某市人民医院", "某市第一中学", "某会计师事务所（特殊普通合伙）"];
const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
const GIVEN: &[&str] = &["芳", "娜", "敏", "静", "伟", "强", "磊", "军", "洋", "勇"];

/// The bureau's snapshot date at `now`: yesterday, Shanghai time (T+1).
pub fn snapshot_of(now: Timestamp) -> Date {
    let today = idlink_domain::calendar::shanghai_today(now);
    today.yesterday().unwrap_or(today)
}

/// The person's report as of `now` (the bureau's data is as of yesterday, Shanghai time).
pub fn report(name: &str, id_number: &str, now: Timestamp, serial: u64, size: FileSize, added: &Additions) -> CreditReport {
    let mut dice = Dice::for_person(id_number);
    let today = idlink_domain::calendar::shanghai_today(now);
    let snapshot = snapshot_of(now);
    // The made-up records are dated from the file's anchor, so they do not move with time.
    let anchor = added.anchor.unwrap_or(snapshot).min(snapshot);
    let birth = birth_date(id_number).unwrap_or(date(1990, 1, 1));
    // ASCII digits have their value's parity.
    let male = id_number.as_bytes().get(16).is_some_and(|d| d % 2 == 1);
    let married = size != FileSize::Thin && dice.below(3) > 0;
    let phone = format!("13{:09}", dice.below(1_000_000_000));
    let header = ReportHeader {
        report_no: format!("{}{:014}", today.strftime("%Y%m%d"), serial % 100_000_000_000_000),
        queried_at: now,
        snapshot_date: snapshot,
        institution: "互联网个人信用信息服务平台".into(),
        reason: "本人查询".into(),
        name: name.to_owned(),
        id_type: "居民身份证".into(),
        id_number: id_number.to_owned(),
        other_ids: if size == FileSize::Adverse || dice.below(4) == 0 {
            vec![OtherId { id_type: "护照".into(), number: format!("E{:08}", dice.below(100_000_000)) }]
        } else {
            Vec::new()
        },
        fraud_alert: (size == FileSize::Adverse).then(|| FraudAlert {
            from: anchor.saturating_sub(jiff::Span::new().months(2)),
            until: anchor.saturating_add(jiff::Span::new().months(10)),
            phone: phone.clone(),
        }),
        disputes: u32::from(size == FileSize::Adverse),
    };
    let street = dice.pick(STREETS);
    let person = PersonalInfo {
        gender: if male { "男" } else { "女" }.into(),
        birth_date: birth,
        marital_status: if married { "已婚" } else { "未婚" }.into(),
        education: dice.pick(&["大学本科", "硕士研究生", "大学专科", "高中"]).into(),
        phone: phone.clone(),
        mailing_address: street.into(),
        household_address: street.into(),
        updated_on: anchor.saturating_sub(jiff::Span::new().days(dice.below(700) as i64 + 30)),
        spouse: married.then(|| Spouse {
            name: format!("{}{}", dice.pick(SURNAMES), dice.pick(GIVEN)),
            id_type: "居民身份证".into(),
            id_number: spouse_number(id_number),
            employer: dice.pick(EMPLOYERS).into(),
            phone: format!("13{:09}", dice.below(1_000_000_000)),
        }),
        residences: vec![Residence {
            address: street.into(),
            status: dice.pick(&["按揭", "自置", "租住", "亲属楼宇"]).into(),
            updated_on: anchor.saturating_sub(jiff::Span::new().days(200)),
        }],
        employments: vec![Employment {
            employer: dice.pick(EMPLOYERS).into(),
            occupation: dice.pick(&["专业技术人员", "办事人员和有关人员", "商业、服务业人员"]).into(),
            industry: dice.pick(&["信息传输、软件和信息技术服务业", "教育", "卫生和社会工作", "金融业"]).into(),
            since_year: anchor.year() - i16::try_from(dice.below(10)).unwrap_or(0) - 1,
            updated_on: anchor.saturating_sub(jiff::Span::new().days(120)),
        }],
    };
    let mut accounts = match size {
        FileSize::Thin => Vec::new(),
        FileSize::Typical | FileSize::Adverse => typical_accounts(&mut dice, anchor, snapshot, size == FileSize::Adverse),
        FileSize::Large => (0..200).map(|i| random_account(&mut dice, anchor, snapshot, i)).collect(),
    };
    // The bureau's data is T+1: a month in default shows once the snapshot reaches it.
    let overdue: Vec<Date> = added.overdue.iter().copied().filter(|m| *m <= snapshot).collect();
    if !overdue.is_empty()
        && let Some(a) = accounts.iter_mut().find(|a| a.state.is_open())
    {
        a.history = with_defaults(&a.history, a.history_from, &overdue);
        a.state = AccountState::Overdue;
    }
    let mut public_records = if size == FileSize::Adverse {
        vec![PublicRecord {
            kind: PublicRecordKind::CivilJudgment,
            authority: "北京市朝阳区人民法院".into(),
            matter: "信用卡纠纷".into(),
            date: anchor.saturating_sub(jiff::Span::new().months(14)),
            amount: Fen(2_356_800),
        }]
    } else {
        Vec::new()
    };
    // The bureau's data is T+1: what was added today shows from tomorrow.
    public_records.extend(added.public_records.iter().filter(|r| r.date <= snapshot).cloned());
    let query_count = match size {
        FileSize::Thin => 1,
        FileSize::Typical | FileSize::Adverse => 10,
        FileSize::Large => 40,
    };
    let mut queries: Vec<QueryRecord> = (0..query_count)
        .map(|_| {
            let reason = match dice.below(5) {
                0 => QueryReason::LoanApproval,
                1 => QueryReason::CardApproval,
                2 | 3 => QueryReason::PostLoanManagement,
                _ => QueryReason::SelfQuery,
            };
            let institution = if reason == QueryReason::SelfQuery { "本人" } else { dice.pick(QUERIERS) };
            QueryRecord {
                date: anchor.saturating_sub(jiff::Span::new().days(dice.below(700) as i64 + 40)),
                institution: institution.into(),
                reason,
            }
        })
        .collect();
    queries.extend(added.queries.iter().filter(|q| q.date <= snapshot).cloned());
    queries.sort_by_key(|q| std::cmp::Reverse(q.date));
    CreditReport { header, person, accounts, public_records, queries }
}

fn birth_date(id_number: &str) -> Option<Date> {
    let digits = id_number.get(6..14)?;
    Date::strptime("%Y%m%d", digits).ok()
}

/// A made-up spouse's number: the person's number with another sequence
/// and a recomputed check character.
fn spouse_number(id_number: &str) -> String {
    let mut first: [u8; 17] = [b'0'; 17];
    for (i, b) in id_number.bytes().take(17).enumerate() {
        if let Some(slot) = first.get_mut(i) {
            *slot = b;
        }
    }
    first[14] = b'1';
    first[15] = b'2';
    first[16] = if id_number.as_bytes().get(16).is_some_and(|d| d % 2 == 1) { b'2' } else { b'1' };
    let mut out = String::from_utf8_lossy(&first).into_owned();
    out.push(idlink_domain::idnumber::check_character(&first));
    out
}

/// The first month of the five-year window ending at the snapshot's month.
fn window_start(snapshot: Date) -> Date {
    snapshot.first_of_month().saturating_sub(jiff::Span::new().months(59))
}

/// The calendar months (their first day) an account was late in: `n`
/// months after it opened and before it was settled (or the anchor), drawn
/// with exactly `2n` throws of the dice, so what follows in the file does
/// not depend on when it is read; each with its level (1 or 2).
fn late_months(dice: &mut Dice, opened: Date, end: Date, n: usize) -> Vec<(Date, u8)> {
    let first = opened.first_of_month();
    let span = (i64::from(end.year()) - i64::from(first.year())) * 12 + i64::from(end.month()) - i64::from(first.month());
    let throws: Vec<(u64, u64)> = (0..n).map(|_| (dice.below(1_000), dice.below(2))).collect();
    // A month strictly between the opening month and the end's month, if there is one.
    let inner = u64::try_from(span - 1).unwrap_or(0);
    throws
        .into_iter()
        .filter(|_| inner > 0)
        .map(|(o, l)| {
            let offset = 1 + i64::try_from(o % inner.max(1)).unwrap_or(0);
            (first.saturating_add(jiff::Span::new().months(offset)), 1 + u8::try_from(l).unwrap_or(0))
        })
        .collect()
}

/// Sixty months of history ending at the snapshot's month: `/` before the
/// account opened, `*` its first month, `C` after it was settled, the late
/// months at their levels, else `N`.
fn history(snapshot: Date, opened: Date, settled: Option<Date>, late: &[(Date, u8)]) -> RepaymentGrid {
    let start = window_start(snapshot);
    let mut codes = String::with_capacity(60);
    for m in 0..60i64 {
        let month = start.saturating_add(jiff::Span::new().months(m));
        let opened_month = opened.first_of_month();
        let c = if month < opened_month {
            '/'
        } else if month == opened_month {
            '*'
        } else if settled.is_some_and(|s| month >= s.first_of_month()) {
            'C'
        } else if let Some((_, level)) = late.iter().find(|(l, _)| *l == month) {
            char::from(b'0' + level)
        } else {
            'N'
        };
        codes.push(c);
    }
    RepaymentGrid::parse(&codes).unwrap_or_default()
}

/// `grid` (whose first month is `from`) with `months` in default: a month
/// added `k` times is `k` levels late.
fn with_defaults(grid: &RepaymentGrid, from: Date, months: &[Date]) -> RepaymentGrid {
    let mut statuses: Vec<RepaymentStatus> = grid.months().to_vec();
    for (i, s) in statuses.iter_mut().enumerate() {
        let month = from.first_of_month().saturating_add(jiff::Span::new().months(i64::try_from(i).unwrap_or(0)));
        let times = months.iter().filter(|m| m.first_of_month() == month).count();
        if times > 0 {
            let level = u8::try_from(times).unwrap_or(7).min(7);
            *s = OverdueLevel::new(level).map_or(RepaymentStatus::BadDebt, RepaymentStatus::Overdue);
        }
    }
    let codes: String = statuses.iter().map(|s| s.code()).collect();
    RepaymentGrid::parse(&codes).unwrap_or_else(|_| grid.clone())
}

fn add_overdue(grid: &RepaymentGrid, months: usize) -> RepaymentGrid {
    let mut statuses: Vec<RepaymentStatus> = grid.months().to_vec();
    let n = statuses.len();
    for (i, s) in statuses.iter_mut().skip(n.saturating_sub(months)).enumerate() {
        let level = u8::try_from(i + 1).unwrap_or(7).min(7);
        *s = OverdueLevel::new(level).map_or(RepaymentStatus::BadDebt, RepaymentStatus::Overdue);
    }
    let codes: String = statuses.iter().map(|s| s.code()).collect();
    RepaymentGrid::parse(&codes).unwrap_or_else(|_| grid.clone())
}

fn months_before(snapshot: Date, months: i64) -> Date {
    snapshot.saturating_sub(jiff::Span::new().months(months))
}

fn account_ref(dice: &mut Dice) -> String {
    format!("{:04}****{:04}", dice.below(10_000), dice.below(10_000))
}

fn typical_accounts(dice: &mut Dice, anchor: Date, snapshot: Date, adverse: bool) -> Vec<CreditAccount> {
    let mortgage_open = months_before(anchor, 70 + dice.below(30) as i64);
    let consumer_open = months_before(anchor, 40);
    let consumer_settled = months_before(anchor, 6);
    let line_open = months_before(anchor, 26);
    let mut out = vec![
        CreditAccount {
            kind: AccountKind::Loan,
            institution: BANKS[0].into(),
            account_ref: account_ref(dice),
            business: "个人住房商业贷款".into(),
            guarantee: "抵押".into(),
            opened_on: mortgage_open,
            due_on: Some(mortgage_open.saturating_add(jiff::Span::new().years(30))),
            amount: Fen(120_000_000 + 1_000_000 * dice.below(80) as i64),
            state: AccountState::Normal,
            classification: Some("正常".into()),
            balance: Fen(98_000_000 + 100_000 * dice.below(500) as i64),
            overdue_amount: Fen::ZERO,
            history_from: window_start(snapshot),
            history: history(snapshot, mortgage_open, None, &[]),
        },
        CreditAccount {
            kind: AccountKind::Loan,
            institution: BANKS[9].into(),
            account_ref: account_ref(dice),
            business: "个人消费贷款".into(),
            guarantee: "信用/免担保".into(),
            opened_on: consumer_open,
            due_on: Some(consumer_open.saturating_add(jiff::Span::new().months(36))),
            amount: Fen(5_000_000),
            state: AccountState::Settled,
            classification: None,
            balance: Fen::ZERO,
            overdue_amount: Fen::ZERO,
            history_from: window_start(snapshot),
            history: history(
                snapshot,
                consumer_open,
                Some(consumer_settled),
                &late_months(dice, consumer_open, consumer_settled, usize::from(adverse) * 2),
            ),
        },
        CreditAccount {
            kind: AccountKind::RevolvingLoan,
            institution: BANKS[8].into(),
            account_ref: account_ref(dice),
            business: "个人经营性贷款".into(),
            guarantee: "保证".into(),
            opened_on: line_open,
            due_on: Some(line_open.saturating_add(jiff::Span::new().years(3))),
            amount: Fen(30_000_000),
            state: AccountState::Normal,
            classification: Some("正常".into()),
            balance: Fen(12_000_000),
            overdue_amount: Fen::ZERO,
            history_from: window_start(snapshot),
            history: history(snapshot, line_open, None, &[]),
        },
    ];
    for (i, bank) in [BANKS[2], BANKS[4], BANKS[5]].into_iter().enumerate() {
        let opened = months_before(anchor, 20 + 15 * i as i64 + dice.below(12) as i64);
        let late = if adverse && i == 2 { 3 } else { usize::from(i == 1 && dice.below(2) == 0) };
        let bad = adverse && i == 2;
        out.push(CreditAccount {
            kind: AccountKind::CreditCard,
            institution: bank.into(),
            account_ref: account_ref(dice),
            business: "贷记卡".into(),
            guarantee: "信用/免担保".into(),
            opened_on: opened,
            due_on: None,
            amount: Fen(1_000_000 * (3 + dice.below(8) as i64)),
            state: if bad { AccountState::BadDebt } else { AccountState::Normal },
            classification: None,
            balance: Fen(10_000 * dice.below(3_000) as i64),
            overdue_amount: if bad { Fen(1_856_300) } else { Fen::ZERO },
            history_from: window_start(snapshot),
            history: if bad {
                add_overdue(&history(snapshot, opened, None, &[]), 8)
            } else {
                history(snapshot, opened, None, &late_months(dice, opened, anchor, late))
            },
        });
    }
    out.push(CreditAccount {
        kind: AccountKind::Guarantee,
        institution: BANKS[1].into(),
        account_ref: account_ref(dice),
        business: "为个人贷款提供保证".into(),
        guarantee: "保证".into(),
        opened_on: months_before(anchor, 18),
        due_on: Some(months_before(anchor, 18).saturating_add(jiff::Span::new().years(5))),
        amount: Fen(20_000_000),
        state: AccountState::Normal,
        classification: Some("正常".into()),
        balance: Fen(16_500_000),
        overdue_amount: Fen::ZERO,
        history_from: window_start(snapshot),
        history: history(snapshot, months_before(anchor, 18), None, &[]),
    });
    out
}

fn random_account(dice: &mut Dice, anchor: Date, snapshot: Date, i: usize) -> CreditAccount {
    let kind = match i % 5 {
        0 => AccountKind::Loan,
        1 => AccountKind::RevolvingLoan,
        4 => AccountKind::Guarantee,
        _ => AccountKind::CreditCard,
    };
    let opened = months_before(anchor, 3 + dice.below(110) as i64);
    let settled = (dice.below(4) == 0).then(|| months_before(anchor, dice.below(3) as i64));
    let late = usize::try_from(dice.below(3)).unwrap_or(0);
    let late = late_months(dice, opened, settled.unwrap_or(anchor), late);
    CreditAccount {
        kind,
        institution: dice.pick(BANKS).into(),
        account_ref: account_ref(dice),
        business: match kind {
            AccountKind::Loan => "个人消费贷款",
            AccountKind::RevolvingLoan => "个人经营性贷款",
            AccountKind::CreditCard => "贷记卡",
            AccountKind::Guarantee => "为个人贷款提供保证",
        }
        .into(),
        guarantee: dice.pick(&["信用/免担保", "保证", "抵押"]).into(),
        opened_on: opened,
        due_on: (kind != AccountKind::CreditCard).then(|| opened.saturating_add(jiff::Span::new().years(3))),
        amount: Fen(100_000 * (10 + dice.below(5_000) as i64)),
        state: if settled.is_some() { AccountState::Settled } else { AccountState::Normal },
        classification: (kind != AccountKind::CreditCard).then(|| "正常".to_owned()),
        balance: if settled.is_some() { Fen::ZERO } else { Fen(10_000 * dice.below(20_000) as i64) },
        overdue_amount: Fen::ZERO,
        history_from: window_start(snapshot),
        history: history(snapshot, opened, settled, &late),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_same_person_has_the_same_file() {
        let now = at("2026-11-30T02:00:00Z");
        let a = report("张三", "11010519491231002X", now, 1, FileSize::Typical, &Additions::default());
        let b = report("张三", "11010519491231002X", now, 1, FileSize::Typical, &Additions::default());
        assert_eq!(a, b);
        assert_eq!(a.header.snapshot_date, date(2026, 11, 29));
        assert_eq!(a.header.report_no.len(), 22);
        assert_eq!(a.person.birth_date, date(1949, 12, 31));
        assert_eq!(a.person.gender, "女");
        assert_eq!(a.accounts.len(), 7);
        for acc in &a.accounts {
            assert_eq!(acc.history.months().len(), 60);
            assert!(acc.opened_on <= a.header.snapshot_date);
        }
        if let Some(s) = &a.person.spouse {
            assert!(idlink_domain::IdNumber::parse(&s.id_number, date(2026, 11, 30)).is_ok(), "{}", s.id_number);
        }
    }

    #[test]
    fn sizes_and_additions() {
        let now = at("2026-11-30T02:00:00Z");
        let none = Additions::default();
        assert!(report("李四", "110105199001010011", now, 1, FileSize::Thin, &none).accounts.is_empty());
        assert_eq!(report("李四", "110105199001010011", now, 1, FileSize::Large, &none).accounts.len(), 200);
        let adverse = report("李四", "110105199001010011", now, 1, FileSize::Adverse, &none);
        assert!(adverse.header.fraud_alert.is_some() && adverse.public_records.len() == 1);
        assert!(adverse.accounts.iter().any(|a| a.state == AccountState::BadDebt));
        let added = Additions { overdue: vec![date(2026, 11, 1), date(2026, 10, 1)], ..Additions::default() };
        let before = report("李四", "110105199001010011", now, 1, FileSize::Typical, &none);
        let after = report("李四", "110105199001010011", now, 1, FileSize::Typical, &added);
        let changes = idlink_domain::credit_report::changes(&before, &after);
        assert!(changes.iter().any(|c| matches!(c, idlink_domain::credit_report::RecordChange::NewOverdue { .. })), "{changes:?}");
    }

    /// A file read again a day, a month or a year after its anchor has the
    /// same records: nothing changed, nothing for the alerts to announce.
    #[test]
    fn a_file_keeps_its_records_as_time_passes() {
        let first = at("2026-11-30T02:00:00Z");
        for size in [FileSize::Typical, FileSize::Adverse, FileSize::Large] {
            let added = Additions { anchor: Some(snapshot_of(first)), ..Additions::default() };
            let before = report("李四", "110105199001010011", first, 1, size, &added);
            for later in ["2026-12-01T02:00:00Z", "2027-01-15T02:00:00Z", "2027-11-30T02:00:00Z"] {
                let after = report("李四", "110105199001010011", at(later), 2, size, &added);
                let found = idlink_domain::credit_report::changes(&before, &after);
                let adverse_bad_debt = |c: &idlink_domain::credit_report::RecordChange| {
                    matches!(c, idlink_domain::credit_report::RecordChange::NewOverdue { kind: AccountKind::CreditCard, .. })
                        && size == FileSize::Adverse
                };
                // A bad debt stays in default: each new month of it is a new month in default.
                assert!(found.iter().all(adverse_bad_debt), "{size:?} at {later}: {found:?}");
                assert_eq!(after.queries.len(), before.queries.len(), "{size:?} at {later}");
            }
        }
    }
}
