//! API key rotation (SPEC P5, issue 18 point 3) on both databases, through
//! the HTTP API: during the overlap both keys work, after it the old one is
//! refused as `api_key_expired` and the new one still works; a key is
//! rotated once (two rotations racing: one wins); each key keeps its last use.

use crate::{databases, expect_problem, start_full};
use idlink::serve::Runtime;
use idlink_core::apikeys::{self, KeyState, RotateError, Rotation};
use idlink_core::ports::apikeys::ApiKeyStore;
use idlink_core::ports::clock::{Clock, ManualClock};
use idlink_core::ports::ids::RandomIds;
use idlink_domain::ApiKeyId;
use jiff::SignedDuration;
use std::sync::Arc;

/// The answer to `GET /v1/audit/verify` (scope `audit:read`) with `token`.
async fn call(s: &crate::Server, token: &str) -> reqwest::Response {
    s.client().get(s.url("/v1/audit/verify")).bearer_auth(token).send().await.unwrap_or_else(|e| panic!("{e}"))
}

/// Waits for the server to record a use of `id` later than `after` (it is
/// written off the request's path), and answers the last use recorded.
async fn last_use(store: &dyn ApiKeyStore, id: &ApiKeyId, after: Option<jiff::Timestamp>) -> Option<jiff::Timestamp> {
    for _ in 0..100 {
        let at = store.api_key(id).await.ok().flatten().and_then(|k| k.last_used_at);
        if at > after {
            return at;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_works_beside_the_new_one_for_the_overlap_then_is_refused() {
    for db in databases().await {
        let clock = Arc::new(ManualClock::new("2026-12-01T02:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"))));
        let rt = Runtime { clock: clock.clone(), ..Runtime::default() };
        let s = start_full(db, &[], rt.clone()).await;
        let kind = s.kind;
        let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
        let ids = RandomIds(rt.rng.clone());
        let old_id = ApiKeyId::parse(s.token.split('.').next().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));

        assert_eq!(call(&s, &s.token).await.status().as_u16(), 200, "{kind}");
        let first_use = last_use(&store, &old_id, None).await;
        assert_eq!(first_use, Some(clock.now()), "{kind}: the use is recorded");

        // Out-of-range overlaps and lives are refused before anything is written.
        let bad = Rotation { overlap: SignedDuration::from_secs(59), expires_in: None };
        assert!(matches!(apikeys::rotate(&store, &ids, clock.as_ref(), &old_id, bad, "test").await, Err(RotateError::Invalid(_))));
        let bad = Rotation { overlap: SignedDuration::from_hours(2), expires_in: Some(SignedDuration::from_hours(1)) };
        assert!(matches!(apikeys::rotate(&store, &ids, clock.as_ref(), &old_id, bad, "test").await, Err(RotateError::Invalid(_))));

        let rotation = Rotation { overlap: SignedDuration::from_hours(1), expires_in: Some(SignedDuration::from_hours(24 * 90)) };
        // Two rotations of the same key at once: exactly one wins.
        let (a, b) = tokio::join!(
            apikeys::rotate(&store, &ids, clock.as_ref(), &old_id, rotation, "test"),
            apikeys::rotate(&store, &ids, clock.as_ref(), &old_id, rotation, "test"),
        );
        let (done, lost) = match (a, b) {
            (Ok(done), Err(lost)) | (Err(lost), Ok(done)) => (done, lost),
            (a, b) => panic!("{kind}: one rotation wins, the other is told: {a:?} {b:?}"),
        };
        assert!(matches!(lost, RotateError::AlreadyRotated(ref old, ref next) if *old == old_id && *next == done.key.id), "{kind}: {lost}");
        let start = clock.now();
        assert_eq!(done.old_expires_at, start + SignedDuration::from_hours(1), "{kind}");
        assert_eq!(done.key.replaces.as_ref(), Some(&old_id));
        assert_eq!(done.key.name, "e2e", "{kind}: the same name");
        let named = store.list_api_keys().await.unwrap_or_default().into_iter().filter(|k| k.name == "e2e").count();
        assert_eq!(named, 2, "{kind}: one new key, not two");

        // The overlap: both keys work.
        clock.advance(SignedDuration::from_mins(59));
        assert_eq!(call(&s, &s.token).await.status().as_u16(), 200, "{kind}: the old key in the overlap");
        assert_eq!(call(&s, &done.token).await.status().as_u16(), 200, "{kind}: the new key");
        assert_eq!(last_use(&store, &done.key.id, None).await, Some(clock.now()), "{kind}");
        assert_eq!(last_use(&store, &old_id, first_use).await, Some(clock.now()), "{kind}: the old key's use in the overlap");
        let listed = store.list_api_keys().await.unwrap_or_default();
        let old = listed.iter().find(|k| k.id == old_id).unwrap_or_else(|| panic!("{kind}: listed"));
        assert_eq!(KeyState::of(old, clock.now()), KeyState::Expiring(done.old_expires_at), "{kind}");

        // The end of the overlap: the old key is refused, the new one works.
        clock.advance(SignedDuration::from_mins(1));
        expect_problem(call(&s, &s.token).await, 401, "api_key_expired").await;
        assert_eq!(call(&s, &done.token).await.status().as_u16(), 200, "{kind}: the new key after the overlap");
        assert!(matches!(
            apikeys::rotate(&store, &ids, clock.as_ref(), &old_id, rotation, "test").await,
            Err(RotateError::NotWorking(_, "expired"))
        ));

        // The new key's own life: 90 days.
        clock.advance(SignedDuration::from_hours(24 * 90));
        expect_problem(call(&s, &done.token).await, 401, "api_key_expired").await;

        let actions = crate::console::audit_actions(&s).await;
        let rotations = actions.iter().filter(|(who, action, _)| who == "test" && action == "apikey.rotate").count();
        assert_eq!(rotations, 1, "{kind}: the one rotation is audited: {actions:?}");
    }
}
