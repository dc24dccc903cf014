//! The ids port: mints every prefixed id idlink makes (`usr_…`, `bnd_…`,
//! `evt_…`, …), each a prefix and 128 random bits in hex. Nothing else in
//! core builds an id by hand, so the prefixes live in one place
//! (`idlink_domain::ids`) and a test can make ids deterministic by seeding
//! the randomness behind them.

use idlink_crypto::Random;
use idlink_domain::{
    AgreementId, ApiKeyId, AuthzRequestId, BindingId, BiometricChallengeId, CaseId, ChallengeId, ClientId, ConsentId, DeviceId, EndpointId,
    EventId, GrantId, GuardianshipId, MaintenanceId, OperatorId, OperatorSessionId, ProposalId, QueryId, RefreshFamilyId, RequestId,
    SessionId, StepUpId, StreamId, UserId, VerificationId,
};
use std::sync::Arc;

/// Mints ids. Every method has a default over [`Ids::entropy`], so an
/// implementation supplies only the randomness.
pub trait Ids: Send + Sync {
    /// 128 fresh random bits.
    fn entropy(&self) -> [u8; 16];

    fn user(&self) -> UserId {
        UserId::from_random(self.entropy())
    }
    fn api_key(&self) -> ApiKeyId {
        ApiKeyId::from_random(self.entropy())
    }
    fn request(&self) -> RequestId {
        RequestId::from_random(self.entropy())
    }
    fn device(&self) -> DeviceId {
        DeviceId::from_random(self.entropy())
    }
    fn session(&self) -> SessionId {
        SessionId::from_random(self.entropy())
    }
    fn challenge(&self) -> ChallengeId {
        ChallengeId::from_random(self.entropy())
    }
    fn step_up(&self) -> StepUpId {
        StepUpId::from_random(self.entropy())
    }
    fn biometric_challenge(&self) -> BiometricChallengeId {
        BiometricChallengeId::from_random(self.entropy())
    }
    fn verification(&self) -> VerificationId {
        VerificationId::from_random(self.entropy())
    }
    fn case(&self) -> CaseId {
        CaseId::from_random(self.entropy())
    }
    fn guardianship(&self) -> GuardianshipId {
        GuardianshipId::from_random(self.entropy())
    }
    fn binding(&self) -> BindingId {
        BindingId::from_random(self.entropy())
    }
    fn agreement(&self) -> AgreementId {
        AgreementId::from_random(self.entropy())
    }
    /// A balance query's id, ordered by time like a UUIDv7: its first six
    /// bytes are the milliseconds of `at`, the other ten random. The history
    /// is the one table every query inserts into by id; random ids put each
    /// insert on a random page of an index that outgrows the cache (224 MB
    /// at a million users), time-ordered ids all on its right edge.
    fn query(&self, at: jiff::Timestamp) -> QueryId {
        let mut bytes = self.entropy();
        let millis = u64::try_from(at.as_millisecond()).unwrap_or(0).to_be_bytes();
        bytes[..6].copy_from_slice(&millis[2..]);
        QueryId::from_random(bytes)
    }
    fn operator(&self) -> OperatorId {
        OperatorId::from_random(self.entropy())
    }
    fn operator_session(&self) -> OperatorSessionId {
        OperatorSessionId::from_random(self.entropy())
    }
    fn event(&self) -> EventId {
        EventId::from_random(self.entropy())
    }
    fn proposal(&self) -> ProposalId {
        ProposalId::from_random(self.entropy())
    }
    fn maintenance(&self) -> MaintenanceId {
        MaintenanceId::from_random(self.entropy())
    }
    fn client(&self) -> ClientId {
        ClientId::from_random(self.entropy())
    }
    fn grant(&self) -> GrantId {
        GrantId::from_random(self.entropy())
    }
    fn consent(&self) -> ConsentId {
        ConsentId::from_random(self.entropy())
    }
    fn authz_request(&self) -> AuthzRequestId {
        AuthzRequestId::from_random(self.entropy())
    }
    fn refresh_family(&self) -> RefreshFamilyId {
        RefreshFamilyId::from_random(self.entropy())
    }
    fn stream(&self) -> StreamId {
        StreamId::from_random(self.entropy())
    }
    fn endpoint(&self) -> EndpointId {
        EndpointId::from_random(self.entropy())
    }
    /// The id of a bank event idlink infers from a bank's answer (a lost
    /// card reported in a balance answer), in the bank's event-id space.
    fn bank_answer_event(&self) -> String {
        format!("answer-{}", hex::encode(self.entropy()))
    }
    /// 256 random bits for the secret half of a credential minted with an id
    /// (an API key's `key_….secret`): the id and its secret come from one port.
    fn secret(&self) -> [u8; 32] {
        let (a, b) = (self.entropy(), self.entropy());
        let mut out = [0; 32];
        out[..16].copy_from_slice(&a);
        out[16..].copy_from_slice(&b);
        out
    }
    /// A revocation saga (`rvk_…`).
    fn revocation(&self) -> String {
        format!("rvk_{}", hex::encode(self.entropy()))
    }
    /// A claim token (outbox claims, idempotency claims): opaque, never shown.
    fn claim_token(&self) -> String {
        hex::encode(self.entropy())
    }
}

/// Every randomness source mints ids (a seeded one makes them deterministic).
impl<T: Random + ?Sized> Ids for T {
    fn entropy(&self) -> [u8; 16] {
        self.bytes16()
    }
}

/// Ids from a shared randomness port (the CSPRNG in production), as one value.
#[derive(Clone)]
pub struct RandomIds(pub Arc<dyn Random>);

impl Random for RandomIds {
    fn fill(&self, buf: &mut [u8]) {
        self.0.fill(buf);
    }
}

impl std::fmt::Debug for RandomIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RandomIds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_carries_its_prefix_and_parses_back() {
        let ids = RandomIds(Arc::new(idlink_crypto::SeededRandom::new(3)));
        assert!(ids.binding().as_str().starts_with("bnd_"));
        assert_eq!(BindingId::parse(ids.binding().as_str()).map(|b| b.as_str().len()), Ok(36));
        assert!(ids.event().as_str().starts_with("evt_"));
        assert!(ids.bank_answer_event().starts_with("answer-"));
        assert_ne!(ids.session(), ids.session());
    }

    proptest::proptest! {
        /// Query ids sort as their instants (a millisecond apart or more), and two of one instant differ.
        #[test]
        fn query_ids_sort_by_time(a in 0i64..4_000_000_000_000, gap in 1i64..1_000_000_000, seed in 0u64..1000) {
            let ids = RandomIds(Arc::new(idlink_crypto::SeededRandom::new(seed)));
            let at = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            let (first, second) = (ids.query(at(a)), ids.query(at(a + gap)));
            proptest::prop_assert!(first.as_str() < second.as_str(), "{first} {second}");
            proptest::prop_assert!(QueryId::parse(first.as_str()).is_ok());
            proptest::prop_assert_ne!(ids.query(at(a)), ids.query(at(a)));
        }
    }
}
