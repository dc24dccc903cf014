//! The personal credit report as a document (SPEC CR4–CR5, issue 15): the
//! report header, then 个人基本信息, 信息概要, 信贷交易信息明细 (each account
//! with its five-year repayment grid), 公共信息明细 and 查询记录, and the
//! legend of the codes. Each section is a level-1 heading (the outline), its
//! parts level-2.
//!
//! Identity numbers and phone numbers are masked in the body: the file is
//! downloaded and may be forwarded, and its holder knows their own. The
//! watermark names the holder (masked by the caller), the purpose and the time.

use crate::{Block, Document, PdfError, Rendered, render};
use idlink_domain::Fen;
use idlink_domain::credit_report::{AccountKind, CreditAccount, CreditReport, PublicRecordKind};
use idlink_domain::pii::{mask_id_number, mask_phone};
use idlink_domain::repayment::RepaymentStatus;
use jiff::civil::Date;

/// The document's title, as printed and in the metadata.
pub const TITLE: &str = "个人信用报告（本人查询版）";
/// The section titles, in order (each is in the outline).
pub const SECTIONS: [&str; 5] = ["个人基本信息", "信息概要", "信贷交易信息明细", "公共信息明细", "查询记录"];

/// What the watermark on every page says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The holder's name, masked (`张*`).
    pub holder: String,
    /// Why the report was made (`本人查询`).
    pub purpose: String,
    /// When it was made, as shown (`2026-11-30 10:15 (UTC+8)`).
    pub at: String,
}

impl Stamp {
    pub fn lines(&self) -> Vec<String> {
        vec![format!("{} · {}", self.holder, self.purpose), self.at.clone()]
    }
}

/// Renders the report (CPU work: call from a blocking task).
pub fn render_report(report: &CreditReport, stamp: &Stamp) -> Result<Rendered, PdfError> {
    render(&document(report, stamp))
}

/// The report laid out as blocks.
pub fn document(report: &CreditReport, stamp: &Stamp) -> Document {
    let mut b = Vec::with_capacity(64 + report.accounts.len() * 4);
    header(&mut b, report);
    personal(&mut b, report);
    summary(&mut b, report);
    accounts(&mut b, report);
    public_records(&mut b, report);
    queries(&mut b, report);
    legend(&mut b);
    Document { title: TITLE.into(), lang: "zh-CN".into(), watermark: stamp.lines(), blocks: b }
}

fn h1(b: &mut Vec<Block>, text: &str) {
    b.push(Block::Heading { level: 1, text: text.into() });
}

fn h2(b: &mut Vec<Block>, text: &str) {
    b.push(Block::Heading { level: 2, text: text.into() });
}

fn p(b: &mut Vec<Block>, text: impl Into<String>) {
    b.push(Block::Paragraph(text.into()));
}

fn table(b: &mut Vec<Block>, columns: &[&str], rows: Vec<Vec<String>>, widths: &[f32]) {
    b.push(Block::Table { columns: columns.iter().map(|c| (*c).to_owned()).collect(), rows, widths: widths.to_vec() });
}

fn day(d: Date) -> String {
    d.strftime("%Y.%m.%d").to_string()
}

/// Yuan with thousands separators and two decimals: `1,200,000.00`.
fn yuan(f: Fen) -> String {
    let plain = f.to_string();
    let (sign, digits) = plain.strip_prefix('-').map_or(("", plain.as_str()), |d| ("-", d));
    let (whole, cents) = digits.split_once('.').unwrap_or((digits, "00"));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{cents}")
}

fn header(b: &mut Vec<Block>, r: &CreditReport) {
    let h = &r.header;
    h1(b, TITLE);
    table(
        b,
        &["报告编号", "报告时间", "信息截至"],
        vec![vec![
            h.report_no.clone(),
            idlink_domain::calendar::shanghai_display(h.queried_at),
            format!("{}（数据为T+1）", day(h.snapshot_date)),
        ]],
        &[1.4, 1.2, 1.0],
    );
    table(
        b,
        &["被查询者姓名", "证件类型", "证件号码", "查询机构", "查询原因"],
        vec![vec![h.name.clone(), h.id_type.clone(), mask_id_number(&h.id_number), h.institution.clone(), h.reason.clone()]],
        &[1.0, 1.0, 1.4, 1.8, 1.0],
    );
    if !h.other_ids.is_empty() {
        let rows = h.other_ids.iter().map(|o| vec![o.id_type.clone(), mask_id_number(&o.number)]).collect();
        table(b, &["其他证件类型", "证件号码"], rows, &[]);
    }
    match &h.fraud_alert {
        Some(a) => p(b, format!("防欺诈警示：{} 至 {}，联系电话 {}。", day(a.from), day(a.until), mask_phone(&a.phone))),
        None => p(b, "防欺诈警示：无。"),
    }
    if h.disputes > 0 {
        p(b, format!("异议提示：信息主体对本报告中的 {} 笔信息提出了异议，正在处理中。", h.disputes));
    }
}

fn personal(b: &mut Vec<Block>, r: &CreditReport) {
    let pi = &r.person;
    h1(b, SECTIONS[0]);
    h2(b, "身份信息");
    table(
        b,
        &["性别", "出生日期", "婚姻状况", "学历", "手机号码", "信息更新日期"],
        vec![vec![
            pi.gender.clone(),
            day(pi.birth_date),
            pi.marital_status.clone(),
            pi.education.clone(),
            mask_phone(&pi.phone),
            day(pi.updated_on),
        ]],
        &[0.6, 1.0, 0.8, 1.0, 1.1, 1.0],
    );
    table(b, &["通讯地址", "户籍地址"], vec![vec![pi.mailing_address.clone(), pi.household_address.clone()]], &[]);
    h2(b, "配偶信息");
    match &pi.spouse {
        Some(s) => table(
            b,
            &["姓名", "证件类型", "证件号码", "工作单位", "联系电话"],
            vec![vec![s.name.clone(), s.id_type.clone(), mask_id_number(&s.id_number), s.employer.clone(), mask_phone(&s.phone)]],
            &[0.8, 1.0, 1.4, 1.6, 1.1],
        ),
        None => p(b, "无配偶信息。"),
    }
    h2(b, "居住信息");
    let rows = pi.residences.iter().map(|x| vec![x.address.clone(), x.status.clone(), day(x.updated_on)]).collect();
    table(b, &["居住地址", "居住状况", "信息更新日期"], rows, &[2.4, 0.8, 1.0]);
    h2(b, "职业信息");
    let rows = pi
        .employments
        .iter()
        .map(|e| vec![e.employer.clone(), e.occupation.clone(), e.industry.clone(), e.since_year.to_string(), day(e.updated_on)])
        .collect();
    table(b, &["工作单位", "职业", "行业", "进入本单位年份", "信息更新日期"], rows, &[1.6, 1.2, 1.6, 0.8, 1.0]);
}

fn summary(b: &mut Vec<Block>, r: &CreditReport) {
    let s = r.summary();
    h1(b, SECTIONS[1]);
    h2(b, "信贷交易信息提示");
    let rows = AccountKind::ALL
        .iter()
        .map(|k| {
            let x = s.accounts.get(k).copied().unwrap_or_default();
            vec![k.title().to_owned(), x.accounts.to_string(), x.open.to_string(), yuan(x.amount), yuan(x.balance)]
        })
        .collect();
    table(b, &["业务类型", "账户数", "未结清账户数", "授信/借款/责任总额", "余额"], rows, &[1.4, 0.7, 0.9, 1.3, 1.2]);
    match s.first_opened {
        Some(d) => p(b, format!("首笔信贷业务发放月份：{}", d.strftime("%Y.%m"))),
        None => p(b, "暂无信贷交易信息。"),
    }
    h2(b, "逾期（透支）信息汇总");
    let rows = AccountKind::ALL
        .iter()
        .map(|k| {
            let x = s.accounts.get(k).copied().unwrap_or_default();
            vec![k.title().to_owned(), x.ever_overdue.to_string(), x.overdue_months.to_string(), x.longest_overdue_run.to_string()]
        })
        .collect();
    table(b, &["业务类型", "发生过逾期的账户数", "逾期月份数", "最长连续逾期月数"], rows, &[1.4, 1.0, 1.0, 1.0]);
    h2(b, "公共信息概要");
    let rows = PublicRecordKind::ALL
        .iter()
        .map(|k| {
            let (n, amount) = s.public_records.get(k).copied().unwrap_or((0, Fen::ZERO));
            vec![k.label().to_owned(), n.to_string(), yuan(amount)]
        })
        .collect();
    table(b, &["类型", "记录数", "涉及金额"], rows, &[]);
    h2(b, "查询记录概要");
    table(
        b,
        &["最近1个月内贷款及信用卡审批查询次数", "最近1个月内本人查询次数", "最近2年内贷后管理及担保资格审查查询次数"],
        vec![vec![s.approvals_last_month.to_string(), s.self_queries_last_month.to_string(), s.management_last_two_years.to_string()]],
        &[],
    );
}

fn accounts(b: &mut Vec<Block>, r: &CreditReport) {
    h1(b, SECTIONS[2]);
    if r.accounts.is_empty() {
        p(b, "暂无信贷交易信息明细。");
        return;
    }
    for kind in AccountKind::ALL {
        let mut of_kind = r.accounts.iter().filter(|a| a.kind == kind).peekable();
        if of_kind.peek().is_none() {
            continue;
        }
        h2(b, kind.title());
        for (n, a) in of_kind.enumerate() {
            account(b, n + 1, a, r.header.snapshot_date);
        }
    }
}

fn account(b: &mut Vec<Block>, n: usize, a: &CreditAccount, snapshot: Date) {
    p(b, format!("账户{n}　{}　{}", a.institution, a.business));
    let amount_title = match a.kind {
        AccountKind::CreditCard => "授信额度",
        AccountKind::Guarantee => "责任金额",
        AccountKind::Loan | AccountKind::RevolvingLoan => "借款金额",
    };
    table(
        b,
        &["账户标识", "开立日期", "到期日期", amount_title, "担保方式", "账户状态", "五级分类", "余额", "当前逾期总额"],
        vec![vec![
            a.account_ref.clone(),
            day(a.opened_on),
            a.due_on.map_or_else(|| "--".to_owned(), day),
            yuan(a.amount),
            a.guarantee.clone(),
            a.state.label().to_owned(),
            a.classification.clone().unwrap_or_else(|| "--".into()),
            yuan(a.balance),
            yuan(a.overdue_amount),
        ]],
        &[1.3, 1.0, 1.0, 1.2, 0.9, 0.6, 0.6, 1.1, 1.0],
    );
    // The five-year grid: a row per year the account existed in, months as columns.
    let first = a.history_from.first_of_month();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut year = None;
    for (i, status) in a.history.months().iter().enumerate() {
        let month = first.saturating_add(jiff::Span::new().months(i64::try_from(i).unwrap_or(0)));
        let column = usize::try_from(month.month()).unwrap_or(1);
        if year != Some(month.year()) {
            year = Some(month.year());
            let mut row = vec![String::new(); 13];
            row[0] = month.year().to_string();
            rows.push(row);
        }
        if let Some(cell) = rows.last_mut().and_then(|r| r.get_mut(column)) {
            cell.push(status.code());
        }
    }
    // A year before the account opened says nothing.
    rows.retain(|r| r.iter().skip(1).any(|c| !c.is_empty() && c != "/"));
    if rows.is_empty() {
        return;
    }
    p(b, format!("最近5年的还款记录（截至{}）", snapshot.strftime("%Y.%m")));
    let columns = ["年份", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"];
    let mut widths = [1.0f32; 13];
    widths[0] = 1.6;
    table(b, &columns, rows, &widths);
}

fn public_records(b: &mut Vec<Block>, r: &CreditReport) {
    h1(b, SECTIONS[3]);
    if r.public_records.is_empty() {
        p(b, "暂无公共信息记录。");
        return;
    }
    for kind in PublicRecordKind::ALL {
        let rows: Vec<Vec<String>> = r
            .public_records
            .iter()
            .filter(|x| x.kind == kind)
            .map(|x| vec![x.authority.clone(), x.matter.clone(), day(x.date), yuan(x.amount)])
            .collect();
        if rows.is_empty() {
            continue;
        }
        h2(b, &format!("{}记录", kind.label()));
        table(b, &["机构", "事由", "日期", "金额"], rows, &[1.8, 1.4, 0.9, 1.0]);
    }
}

fn queries(b: &mut Vec<Block>, r: &CreditReport) {
    h1(b, SECTIONS[4]);
    if r.queries.is_empty() {
        p(b, "暂无查询记录。");
        return;
    }
    let rows = r
        .queries
        .iter()
        .enumerate()
        .map(|(i, q)| vec![(i + 1).to_string(), day(q.date), q.institution.clone(), q.reason.label().to_owned()])
        .collect();
    table(b, &["编号", "查询日期", "查询机构", "查询原因"], rows, &[0.5, 1.0, 2.6, 1.2]);
}

fn legend(b: &mut Vec<Block>) {
    h2(b, "报告说明");
    p(b, "本报告由信用信息提供方的数据生成，数据为T+1：信息截至报告所示日期。还款记录中每个月份的状态代码如下：");
    let rows = RepaymentStatus::all().into_iter().map(|s| vec![s.code().to_string(), s.legend()]).collect();
    table(b, &["代码", "含义"], rows, &[0.4, 4.0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped() {
        assert_eq!(yuan(Fen(120_000_000)), "1,200,000.00");
        assert_eq!(yuan(Fen(5)), "0.05");
        assert_eq!(yuan(Fen(-12_345_678)), "-123,456.78");
        assert_eq!(yuan(Fen(100_000)), "1,000.00");
    }
}
