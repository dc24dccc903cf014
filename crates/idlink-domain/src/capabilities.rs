//! What a user may do, given their real-name verification and age (SPEC
//! ID4): an unverified user uses none of the features below; a verified
//! minor needs a guardian approved by an operator for payments and balance
//! queries, and never has the credit report before the age of majority.
//! Pure: the caller says where the user stands.

use serde::Serialize;

/// Features a host app greys out when restricted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Payment,
    BalanceQuery,
    CreditReport,
    SocialSecurityCard,
    ThirdPartyAuthorisation,
}

impl Capability {
    /// Every capability, in the order a host app lists them.
    pub const ALL: [Capability; 5] = [
        Capability::Payment,
        Capability::BalanceQuery,
        Capability::CreditReport,
        Capability::SocialSecurityCard,
        Capability::ThirdPartyAuthorisation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Payment => "payment",
            Capability::BalanceQuery => "balance_query",
            Capability::CreditReport => "credit_report",
            Capability::SocialSecurityCard => "social_security_card",
            Capability::ThirdPartyAuthorisation => "third_party_authorisation",
        }
    }
}

/// Where the user stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Unverified,
    Minor { guardian_approved: bool },
    Adult,
}

/// What is restricted, and why (for the user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restrictions {
    pub restricted: Vec<Capability>,
    pub note: Option<&'static str>,
}

/// The restrictions of a standing.
pub fn restrictions(standing: Standing) -> Restrictions {
    use Capability::*;
    match standing {
        Standing::Unverified => Restrictions {
            restricted: vec![Payment, BalanceQuery, CreditReport, SocialSecurityCard, ThirdPartyAuthorisation],
            note: Some("Verify your real-name identity to use these."),
        },
        Standing::Minor { guardian_approved: true } => Restrictions {
            restricted: vec![CreditReport],
            note: Some("Under 18 with an approved guardian: the credit report stays with the guardian until 18."),
        },
        Standing::Minor { guardian_approved: false } => Restrictions {
            restricted: vec![Payment, BalanceQuery, CreditReport],
            note: Some("Under 18: these need a linked guardian and their evidence, reviewed by an operator."),
        },
        Standing::Adult => Restrictions { restricted: Vec::new(), note: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_standing_never_restricts_more() {
        let order = [
            Standing::Unverified,
            Standing::Minor { guardian_approved: false },
            Standing::Minor { guardian_approved: true },
            Standing::Adult,
        ];
        for pair in order.windows(2) {
            let (less, more) = (restrictions(pair[0]).restricted, restrictions(pair[1]).restricted);
            assert!(more.iter().all(|c| less.contains(c)), "{:?} restricts what {:?} does not", pair[1], pair[0]);
            assert!(more.len() < less.len());
        }
        assert!(restrictions(Standing::Minor { guardian_approved: true }).restricted.contains(&Capability::CreditReport));
    }
}
