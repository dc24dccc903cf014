//! The provincial bureaus as the core's [`SocialSecurityBureau`].

use super::{AccountDoc, Bureaus, LookupRequest};
use crate::executor::{CallError, Executor};
use crate::unavailable::Unavailable;
use async_trait::async_trait;
use idlink_core::ports::social_security::{
    Account, Accounts, Benefit, BureauUnavailable, Card, CardLookup, CardNamed, Channel, ConfirmAnswer, LookupAnswer, ServiceAnswer,
    SettleAnswer, Settled, SocialSecurityBureau, Statement,
};
use idlink_domain::Fen;
use idlink_domain::card::{BinTable, CardNumber};
use idlink_domain::ss_service::{ServiceKind, ServiceStatus};
use std::sync::Arc;

#[derive(Clone)]
pub struct SocialSecurityPort {
    bureaus: Bureaus,
    executor: Arc<Executor>,
}

impl SocialSecurityPort {
    pub fn new(bureaus: Bureaus, executor: Arc<Executor>) -> Self {
        Self { bureaus, executor }
    }
}

fn account(a: AccountDoc) -> Account {
    Account {
        balance_fen: a.balance_fen,
        statements: a.statements.into_iter().map(|s| Statement { month: s.month, kind: s.kind, amount_fen: s.amount_fen }).collect(),
    }
}

fn protocol(province: &str, detail: &str) -> BureauUnavailable {
    BureauUnavailable::from(CallError::Protocol { institution: super::institution_name(province), detail: detail.to_owned() })
}

#[async_trait]
impl SocialSecurityBureau for SocialSecurityPort {
    async fn lookup(&self, province: &str, req: &CardLookup<'_>) -> Result<(LookupAnswer, Channel), BureauUnavailable> {
        let (card_number, qr_payload) = match req.card {
            CardNamed::Number(n) => (Some(n), None),
            CardNamed::Qr(q) => (None, Some(q)),
        };
        let wire = LookupRequest {
            request_ref: req.request_ref,
            name: req.name.reveal(),
            id_number: req.document_number,
            document_type: req.document_type,
            phone: req.phone.reveal(),
            card_number,
            qr_payload,
        };
        let exec = &self.executor;
        let (res, via) = self.bureaus.call(exec, province, |api| api.lookup(exec, &wire)).await?;
        let answer = match (res.result.as_str(), res.reference, res.region) {
            ("code_sent", Some(reference), _) => LookupAnswer::CodeSent { reference },
            ("no_card", _, _) => LookupAnswer::NoCard,
            ("unreadable_qr", _, _) => LookupAnswer::UnreadableQr,
            ("other_region", _, Some(region)) => LookupAnswer::OtherRegion { region },
            ("risk", _, _) => LookupAnswer::Risk { reason: res.reason.unwrap_or_else(|| "unspecified".into()) },
            (other, _, _) => LookupAnswer::Pending { status: other.to_owned() },
        };
        Ok((answer, via))
    }

    async fn confirm(&self, province: &str, reference: &str, code: &str) -> Result<(ConfirmAnswer, Channel), BureauUnavailable> {
        let exec = &self.executor;
        let (res, via) = self.bureaus.call(exec, province, |api| api.confirm(exec, reference, code)).await?;
        let answer = match (res.result.as_str(), res.card) {
            ("confirmed", Some(c)) => {
                // A financial account no bank of the BIN table issued is not one idlink can verify.
                let account = CardNumber::parse(&c.financial_account.card_number, BinTable::bundled())
                    .map_err(|_| protocol(province, "the card's financial account is not a valid bank card number"))?;
                ConfirmAnswer::Confirmed(Box::new(Card {
                    card_ref: c.card_ref,
                    card_number: c.card_number,
                    region: c.region,
                    bank_code: c.financial_account.bank_code,
                    account,
                }))
            }
            ("wrong_code", _) => ConfirmAnswer::WrongCode,
            ("expired", _) => ConfirmAnswer::Expired,
            (other, _) => ConfirmAnswer::Pending { status: other.to_owned() },
        };
        Ok((answer, via))
    }

    async fn accounts(&self, province: &str, card_ref: &str) -> Result<(Accounts, Channel), BureauUnavailable> {
        let exec = &self.executor;
        let (res, via) = self.bureaus.call(exec, province, |api| api.accounts(exec, card_ref)).await?;
        Ok((Accounts { as_of: res.as_of, pension: account(res.pension), medical: account(res.medical) }, via))
    }

    async fn submit_service(
        &self,
        province: &str,
        request_ref: &str,
        card_ref: &str,
        kind: ServiceKind,
        to_region: Option<&str>,
    ) -> Result<ServiceAnswer, BureauUnavailable> {
        let exec = &self.executor;
        let (res, _) =
            self.bureaus.call(exec, province, |api| api.submit_service(exec, request_ref, card_ref, kind.as_str(), to_region)).await?;
        Ok(service(res))
    }

    async fn service_status(&self, province: &str, request_id: &str) -> Result<ServiceAnswer, BureauUnavailable> {
        let exec = &self.executor;
        let (res, _) = self.bureaus.call(exec, province, |api| api.service_status(exec, request_id)).await?;
        Ok(service(res))
    }

    async fn benefits(&self, province: &str, card_ref: &str) -> Result<Vec<Benefit>, BureauUnavailable> {
        let exec = &self.executor;
        let (res, _) = self.bureaus.call(exec, province, |api| api.benefits(exec, card_ref)).await?;
        Ok(res
            .benefits
            .into_iter()
            .map(|b| Benefit { payment_id: b.payment_id, month: b.month, amount: Fen(b.amount_fen), paid_at: b.paid_at })
            .collect())
    }

    async fn settle(
        &self,
        province: &str,
        settlement_ref: &str,
        card_ref: &str,
        amount: Fen,
        terminal: &str,
    ) -> Result<(SettleAnswer, Channel), BureauUnavailable> {
        let exec = &self.executor;
        let (res, via) = self.bureaus.call(exec, province, |api| api.settle(exec, settlement_ref, card_ref, amount.0, terminal)).await?;
        match (res.result.as_str(), res.settlement) {
            ("settled", Some(s)) => Ok((SettleAnswer::Settled(settled(s)), via)),
            ("settled", None) => Err(protocol(province, "a settlement answered `settled` without the settlement")),
            (refused, _) => Ok((SettleAnswer::Refused { reason: refused.to_owned() }, via)),
        }
    }

    async fn void_settlement(&self, province: &str, settlement_ref: &str) -> Result<Option<Settled>, BureauUnavailable> {
        let exec = &self.executor;
        let (res, _) = self.bureaus.call(exec, province, |api| api.void_settlement(exec, settlement_ref)).await?;
        match (res.result.as_str(), res.settlement) {
            ("settled", Some(s)) => Ok(Some(settled(s))),
            ("voided", _) => Ok(None),
            (other, _) => Err(protocol(province, &format!("a void answered `{other}`"))),
        }
    }
}

fn settled(s: super::SettlementDoc) -> Settled {
    Settled {
        settlement_id: s.settlement_id,
        amount: Fen(s.amount_fen),
        medical_account: Fen(s.medical_account_fen),
        pooled_fund: Fen(s.pooled_fund_fen),
    }
}

fn service(res: super::ServiceResponse) -> ServiceAnswer {
    match (res.status.as_str(), res.request_id, ServiceStatus::parse(&res.status)) {
        ("unknown_card", _, _) => ServiceAnswer::UnknownCard,
        (_, Some(request_id), Some(status)) => ServiceAnswer::Known { request_id, status, reason: res.reason },
        (other, _, _) => ServiceAnswer::Pending { status: other.to_owned() },
    }
}

impl From<CallError> for BureauUnavailable {
    fn from(e: CallError) -> Self {
        let u = Unavailable::from(e);
        Self { retry_after_secs: u.retry_after_secs, expected_end: u.expected_end }
    }
}
