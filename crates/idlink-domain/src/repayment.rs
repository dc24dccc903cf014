//! The repayment-status codes of the second-generation personal credit
//! report (SPEC CR4, issue 15; 还款状态) and the five-year history grid
//! they fill: one code per month, oldest first, as the report prints it
//! under each loan and card. Pure rules: parsing, the legend the report
//! carries, and what a grid says (months overdue, the worst overdue level),
//! which the report's summary and the record-change alerts read.

use std::fmt;

/// A month's repayment status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepaymentStatus {
    /// `N`: repaid on time and in full (a card: at least the minimum).
    OnTime,
    /// `1`–`7`: overdue 1–30, 31–60, … 151–180 days, and `7` beyond 180
    /// (a card: 1 to 7 or more minimum payments missed).
    Overdue(OverdueLevel),
    /// `C`: settled or closed (normally, early, by a guarantor or by assets).
    Settled,
    /// `G`: ended other than by settlement (transferred out, for example).
    Ended,
    /// `D`: repaid by the guarantor.
    GuarantorRepaid,
    /// `Z`: repaid with assets (the repaid part).
    RepaidWithAssets,
    /// `B`: bad debt.
    BadDebt,
    /// `#`: the account is open, this month's status is unknown.
    Unknown,
    /// `/`: the account was not open yet.
    NotOpen,
    /// `*`: nothing was due this month.
    NothingDue,
}

/// How far overdue a month is: 1 (1–30 days) to 7 (over 180 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OverdueLevel(u8);

impl OverdueLevel {
    pub fn new(level: u8) -> Option<Self> {
        (1..=7).contains(&level).then_some(Self(level))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// The days overdue this level stands for, as the legend prints them.
    pub fn days(self) -> &'static str {
        match self.0 {
            1 => "1–30",
            2 => "31–60",
            3 => "61–90",
            4 => "91–120",
            5 => "121–150",
            6 => "151–180",
            _ => "180+",
        }
    }
}

impl RepaymentStatus {
    /// Every code, in the legend's order (each overdue level once).
    pub fn all() -> Vec<Self> {
        let mut all = vec![Self::OnTime];
        all.extend((1..=7).filter_map(OverdueLevel::new).map(Self::Overdue));
        all.extend([
            Self::Settled,
            Self::Ended,
            Self::GuarantorRepaid,
            Self::RepaidWithAssets,
            Self::BadDebt,
            Self::Unknown,
            Self::NotOpen,
            Self::NothingDue,
        ]);
        all
    }

    pub fn parse(code: char) -> Option<Self> {
        Some(match code {
            'N' => Self::OnTime,
            '1'..='7' => Self::Overdue(OverdueLevel::new(u8::try_from(code.to_digit(10)?).ok()?)?),
            'C' => Self::Settled,
            'G' => Self::Ended,
            'D' => Self::GuarantorRepaid,
            'Z' => Self::RepaidWithAssets,
            'B' => Self::BadDebt,
            '#' => Self::Unknown,
            '/' => Self::NotOpen,
            '*' => Self::NothingDue,
            _ => return None,
        })
    }

    pub fn code(self) -> char {
        match self {
            Self::OnTime => 'N',
            Self::Overdue(level) => char::from(b'0' + level.get()),
            Self::Settled => 'C',
            Self::Ended => 'G',
            Self::GuarantorRepaid => 'D',
            Self::RepaidWithAssets => 'Z',
            Self::BadDebt => 'B',
            Self::Unknown => '#',
            Self::NotOpen => '/',
            Self::NothingDue => '*',
        }
    }

    /// The legend's wording (zh-CN, as the report prints it).
    pub fn legend(self) -> String {
        match self {
            Self::OnTime => "正常还款".into(),
            Self::Overdue(level) => format!("逾期{}天", level.days()),
            Self::Settled => "结清、销户".into(),
            Self::Ended => "结束（除结清外的其他终止情形）".into(),
            Self::GuarantorRepaid => "担保人代还".into(),
            Self::RepaidWithAssets => "以资抵债".into(),
            Self::BadDebt => "呆账".into(),
            Self::Unknown => "账户已开立，当月状态未知".into(),
            Self::NotOpen => "未开立账户".into(),
            Self::NothingDue => "当月无需还款".into(),
        }
    }

    /// A month the report counts as a default: overdue or bad debt.
    pub fn is_default(self) -> bool {
        matches!(self, Self::Overdue(_) | Self::BadDebt)
    }
}

impl fmt::Display for RepaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// Why a history string is not a grid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GridError {
    #[error("month {month} has `{code}`, which is not a repayment-status code")]
    Code { month: usize, code: char },
    #[error("a history has at most {max} months, this one {months}")]
    TooLong { months: usize, max: usize },
}

/// Up to five years of monthly statuses, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepaymentGrid(Vec<RepaymentStatus>);

/// What a grid says, as the report's summary counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GridSummary {
    /// Months overdue or in bad debt.
    pub default_months: usize,
    /// The worst overdue level reached (bad debt counts as 7).
    pub worst: Option<OverdueLevel>,
    /// The longest run of consecutive default months.
    pub longest_run: usize,
}

impl RepaymentGrid {
    /// Five years.
    pub const MAX_MONTHS: usize = 60;

    pub fn parse(codes: &str) -> Result<Self, GridError> {
        let months = codes.chars().count();
        if months > Self::MAX_MONTHS {
            return Err(GridError::TooLong { months, max: Self::MAX_MONTHS });
        }
        codes
            .chars()
            .enumerate()
            .map(|(month, code)| RepaymentStatus::parse(code).ok_or(GridError::Code { month: month + 1, code }))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn months(&self) -> &[RepaymentStatus] {
        &self.0
    }

    pub fn summary(&self) -> GridSummary {
        let mut out = GridSummary::default();
        let mut run = 0;
        for status in &self.0 {
            if status.is_default() {
                out.default_months += 1;
                run += 1;
                out.longest_run = out.longest_run.max(run);
                let level = match status {
                    RepaymentStatus::Overdue(level) => Some(*level),
                    _ => OverdueLevel::new(7),
                };
                out.worst = out.worst.max(level);
            } else {
                run = 0;
            }
        }
        out
    }
}

impl fmt::Display for RepaymentGrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|s| write!(f, "{s}"))
    }
}

/// A grid travels as its codes, oldest month first (`"//NN1N*C"`).
impl serde::Serialize for RepaymentGrid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RepaymentGrid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let codes = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&codes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status() -> impl Strategy<Value = RepaymentStatus> {
        proptest::sample::select(RepaymentStatus::all())
    }

    proptest! {
        #[test]
        fn a_grid_reads_back_as_it_was_written(months in proptest::collection::vec(status(), 0..=60)) {
            let grid = RepaymentGrid(months.clone());
            let parsed = RepaymentGrid::parse(&grid.to_string());
            prop_assert_eq!(parsed, Ok(grid));
        }

        /// The summary's counts agree with the months: no more default months
        /// than months, a run no longer than the count, a worst level exactly
        /// when something defaulted.
        #[test]
        fn the_summary_agrees_with_the_months(months in proptest::collection::vec(status(), 0..=60)) {
            let summary = RepaymentGrid(months.clone()).summary();
            let defaults = months.iter().filter(|s| s.is_default()).count();
            prop_assert_eq!(summary.default_months, defaults);
            prop_assert!(summary.longest_run <= defaults);
            prop_assert_eq!(summary.worst.is_some(), defaults > 0);
            prop_assert_eq!(summary.longest_run > 0, defaults > 0);
        }

        /// One more overdue month never makes a grid look better.
        #[test]
        fn an_added_overdue_month_never_improves_the_summary(
            months in proptest::collection::vec(status(), 0..60),
            level in 1u8..=7,
        ) {
            let before = RepaymentGrid(months.clone()).summary();
            let mut more = months;
            more.push(RepaymentStatus::Overdue(OverdueLevel::new(level).unwrap_or(OverdueLevel(7))));
            let after = RepaymentGrid(more).summary();
            prop_assert!(after.default_months == before.default_months + 1);
            prop_assert!(after.worst >= before.worst && after.longest_run >= before.longest_run);
        }
    }

    #[test]
    fn the_codes_and_their_legend() {
        let codes: String = RepaymentStatus::all().iter().map(|s| s.code()).collect();
        assert_eq!(codes, "N1234567CGDZB#/*");
        assert_eq!(RepaymentStatus::parse('3').map(RepaymentStatus::legend).as_deref(), Some("逾期61–90天"));
        assert_eq!(RepaymentStatus::parse('8'), None);
        assert_eq!(RepaymentStatus::parse('0'), None);
        assert_eq!(RepaymentGrid::parse("NN1x"), Err(GridError::Code { month: 4, code: 'x' }));
        assert!(matches!(RepaymentGrid::parse(&"N".repeat(61)), Err(GridError::TooLong { months: 61, .. })));
        let s = RepaymentGrid::parse("////NNN12NB*NNC").map(|g| g.summary());
        assert_eq!(s, Ok(GridSummary { default_months: 3, worst: OverdueLevel::new(7), longest_run: 2 }));
    }
}
