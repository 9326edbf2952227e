//! The grants against real stores (SQLite and PostgreSQL), including races.

use std::sync::Arc;

use super::*;
use crate::audit::AuditLog;
use crate::clock::SystemClock;
use crate::ids::{AgentId, TenantId, UserId};
use crate::model::{ClientType, McpServer, Scope, User};
use crate::oauth::pkce::s256;
use crate::secret::{Secret, SecretKind};
use crate::store::agents::AgentSecrets;
use crate::store::tokens::{CodeRecord, RefreshState};
use crate::testing::{each_backend, TestDatabase};

const NOW: i64 = 1_800_000_000_000;
const VERIFIER: &str = "a-verifier-that-is-long-enough-to-be-valid-0123";
const REDIRECT: &str = "http://127.0.0.1/cb";

struct Fixture {
    store: Store,
    scopes: Vec<Scope>,
    keys: KeySet,
    audit: AuditLog,
    server: McpServer,
    public: Agent,
    confidential: Agent,
    secret: Secret,
    user: User,
    request: RequestContext,
    _db: TestDatabase,
}

fn agent(id: &str, client_type: ClientType, grants: &[&str]) -> Agent {
    let method = if client_type == ClientType::Public {
        "none"
    } else {
        "client_secret_basic"
    };
    Agent {
        client_type,
        token_endpoint_auth_method: method.into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: grants.iter().map(|g| (*g).to_owned()).collect(),
        application_type: "native".into(),
        ..Agent::sample(id)
    }
}

async fn fixture(db: TestDatabase) -> Fixture {
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    let keys = KeySet::ephemeral().expect("keys");
    let server = McpServer::new("notes", "Notes", "https://notes.example.com/mcp", 0);
    let scope = |n: &str| Scope {
        name: n.into(),
        display_name: n.into(),
        description: String::new(),
        sensitive: false,
        mandatory: false,
        default_on: true,
    };
    let scopes = vec![
        scope("notes.read"),
        scope("notes.write"),
        scope("notes.share"),
    ];
    store
        .insert_mcp_server(&server, &scopes)
        .await
        .expect("server");
    let public = agent(
        "public-agent",
        ClientType::Public,
        &["authorization_code", "refresh_token"],
    );
    store
        .insert_agent(&public, &AgentSecrets::default())
        .await
        .expect("public");
    let confidential = agent("machine", ClientType::Confidential, &["client_credentials"]);
    let secret = Secret::generate(SecretKind::ClientSecret);
    store
        .insert_agent(
            &confidential,
            &AgentSecrets {
                client_secret: Some(secret.hash()),
                registration_token: None,
            },
        )
        .await
        .expect("confidential");
    let user = User {
        id: UserId::generate(),
        email: "ada@example.com".into(),
        display_name: "Ada".into(),
        must_change_password: false,
        is_project_admin: false,
        disabled: false,
        created_at: 0,
    };
    store.insert_user(&user, None).await.expect("user");
    let audit = AuditLog::spawn(store.clone(), Arc::new(SystemClock));
    Fixture {
        store,
        scopes,
        keys,
        audit,
        server,
        public,
        confidential,
        secret,
        user,
        request: RequestContext::default(),
        _db: db,
    }
}

impl Fixture {
    fn ctx(&self, now: i64) -> TokenContext<'_> {
        TokenContext {
            store: &self.store,
            keys: &self.keys,
            audit: &self.audit,
            issuer: "http://as.example/s/notes",
            server: &self.server,
            server_scopes: &self.scopes,
            client_allowance: None,
            now,
            request: &self.request,
        }
    }

    /// Stores a fresh code for the public agent in tenant `tenant-1` and returns it.
    async fn code(&self, scopes: &str) -> String {
        self.code_in("tenant-1", scopes).await
    }

    /// Stores a fresh code for the public agent acting in `tenant` and returns it.
    async fn code_in(&self, tenant: &str, scopes: &str) -> String {
        let family = TokenFamily {
            id: uuid::Uuid::new_v4().to_string(),
            agent_id: self.public.id.to_string(),
            user_id: Some(self.user.id.to_string()),
            tenant_id: Some(tenant.into()),
            mcp_server_id: self.server.id.to_string(),
            auth_time: Some(NOW - 1000),
            acr: None,
            amr: vec!["pwd".into()],
            created_at: NOW,
            expires_at: NOW + 90 * 24 * 3600 * 1000,
            revoked_at: None,
            claims: Default::default(),
        };
        let code = Secret::generate(SecretKind::AuthorizationCode);
        let record = CodeRecord {
            family_id: family.id.clone(),
            agent_id: family.agent_id.clone(),
            user_id: self.user.id.to_string(),
            tenant_id: family.tenant_id.clone(),
            mcp_server_id: family.mcp_server_id.clone(),
            redirect_uri: REDIRECT.into(),
            code_challenge: s256(VERIFIER),
            resource: self.server.resource_url.clone(),
            scopes: scopes.into(),
            auth_time: NOW - 1000,
            acr: None,
            amr: "[\"pwd\"]".into(),
            created_at: NOW,
            expires_at: NOW + 60_000,
        };
        self.store
            .insert_code(&family, &code.hash(), &record)
            .await
            .expect("code");
        code.expose().to_owned()
    }

    async fn redeem(
        &self,
        code: &str,
        verifier: &str,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let req = TokenRequest::AuthorizationCode {
            code: code.into(),
            redirect_uri: Some(REDIRECT.into()),
            code_verifier: Some(verifier.into()),
            resource: Some("https://notes.example.com/mcp/".into()),
        };
        exchange(&self.ctx(now), &self.public, req).await
    }

    /// A refresh token from a fresh authorization of `scopes`, its code redeemed at `NOW`.
    async fn refresh_token(&self, scopes: &str) -> String {
        let code = self.code(scopes).await;
        self.redeem(&code, VERIFIER, NOW)
            .await
            .expect("tokens")
            .refresh_token
            .expect("rt")
    }

    /// A fresh authorization of `notes.read`, its code redeemed at `NOW`: its refresh token, the
    /// jti of its access token, and its family's id.
    async fn authorization(&self) -> (String, String, String) {
        let tokens = self
            .redeem(&self.code("notes.read").await, VERIFIER, NOW)
            .await
            .expect("tokens");
        let rt = tokens.refresh_token.expect("rt");
        let jti = self.claims(&tokens.access_token, NOW).jti;
        let family = self.refresh_state(&rt).await.family.id;
        (rt, jti, family)
    }

    /// The stored state of refresh token `rt`.
    async fn refresh_state(&self, rt: &str) -> RefreshState {
        self.store
            .refresh_token_state(&Secret::presented(rt).hash())
            .await
            .expect("read")
            .expect("state")
    }

    /// The issuance a refresh of `rt` at `now` would record, rotating it: what the grant hands
    /// the audit writer once its checks passed.
    async fn rotation_of(&self, rt: &str, now: i64) -> Minted {
        let state = self.refresh_state(rt).await;
        let scopes = ScopeSet::parse(&state.scopes).expect("scopes");
        let mut minted = mint(
            &self.ctx(now),
            &Grant {
                client: &self.public,
                family: Some(&state.family),
                scopes: &scopes,
                with_refresh: true,
                event: EventType::TokenRefreshed,
            },
        )
        .expect("minted");
        minted.issuance.rotates = Some(Secret::presented(rt).hash());
        minted
    }

    async fn refresh(
        &self,
        token: &str,
        scope: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let req = TokenRequest::RefreshToken {
            refresh_token: token.into(),
            scope: scope.map(Into::into),
            resource: None,
        };
        exchange(&self.ctx(now), &self.public, req).await
    }

    /// Refreshes with `rt` at `now`, which must be refused as `invalid_grant` with a
    /// description containing `why`, with no access token written.
    async fn refused_issuing_nothing(&self, rt: &str, now: i64, why: &str) {
        let count = "SELECT COUNT(*) FROM access_tokens";
        let before = self.rows(count).await;
        let refused = self.refresh(rt, None, now).await.expect_err(why);
        assert_eq!(refused.code, ErrorCode::InvalidGrant);
        assert!(refused.description.contains(why), "{}", refused.description);
        assert_eq!(self.rows(count).await, before, "nothing issued");
    }

    fn claims(&self, token: &str, now: i64) -> AccessTokenClaims {
        self.keys
            .verify(token, "http://as.example/s/notes", now / 1000)
            .expect("valid token")
    }

    async fn rows(&self, count: &str) -> i64 {
        sqlx::query_scalar(count)
            .fetch_one(self.store.pool())
            .await
            .expect("count")
    }

    async fn events(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(self.store.pool())
            .await
            .expect("count")
    }
}

#[tokio::test]
async fn code_exchange_issues_a_bound_rfc_9068_token_and_a_refresh_token() {
    for db in each_backend().await {
        let f = fixture(db).await;
        let code = f.code("notes.read notes.share").await;
        let t = f.redeem(&code, VERIFIER, NOW + 1000).await.expect("tokens");
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.expires_in, 600);
        assert_eq!(t.scope, "notes.read notes.share");
        assert!(t
            .refresh_token
            .as_deref()
            .is_some_and(|r| r.starts_with("mdt_rt_")));
        let c = f.claims(&t.access_token, NOW + 1000);
        assert_eq!(c.aud, "https://notes.example.com/mcp");
        assert_eq!(c.sub, f.user.id.to_string());
        assert_eq!(c.client_id, "public-agent");
        assert_eq!(c.tenant.as_deref(), Some("tenant-1"));
        assert_eq!(c.act.map(|a| a.sub).as_deref(), Some("public-agent"));
        assert_eq!(c.amr, Some(vec!["pwd".to_owned()]));
        assert_eq!(c.exp - c.iat, 600);
        assert_eq!(f.events("token.issued").await, 1, "issuance is audited");
    }
}

#[tokio::test]
async fn code_replay_fails_and_revokes_every_token_from_that_code() {
    for db in each_backend().await {
        let f = fixture(db).await;
        let code = f.code("notes.read").await;
        let first = f.redeem(&code, VERIFIER, NOW + 1000).await.expect("first");
        let again = f
            .redeem(&code, VERIFIER, NOW + 2000)
            .await
            .expect_err("replay");
        assert_eq!(again.code, ErrorCode::InvalidGrant);
        let jti = f.claims(&first.access_token, NOW + 1000).jti;
        assert_eq!(
            f.store.access_token_revoked(&jti).await.expect("state"),
            Some(true)
        );
        let refreshed = f
            .refresh(
                first.refresh_token.as_deref().expect("rt"),
                None,
                NOW + 3000,
            )
            .await;
        assert_eq!(
            refreshed.expect_err("family revoked").code,
            ErrorCode::InvalidGrant
        );
        assert_eq!(f.events("token.code_replay_detected").await, 1);
    }
}

#[tokio::test]
async fn code_bindings_pkce_redirect_client_and_resource_are_enforced() {
    for db in each_backend().await {
        let f = fixture(db).await;
        let code = f.code("notes.read").await;
        let wrong = "b".repeat(43);
        assert_eq!(
            f.redeem(&code, &wrong, NOW).await.expect_err("pkce").code,
            ErrorCode::InvalidGrant
        );

        let code = f.code("notes.read").await;
        let req = TokenRequest::AuthorizationCode {
            code: code.clone(),
            redirect_uri: Some("http://127.0.0.1/other".into()),
            code_verifier: Some(VERIFIER.into()),
            resource: None,
        };
        assert_eq!(
            exchange(&f.ctx(NOW), &f.public, req)
                .await
                .expect_err("redirect")
                .code,
            ErrorCode::InvalidGrant
        );

        // Another client presenting a code does not consume it.
        let code = f.code("notes.read").await;
        let mut other = f.public.clone();
        other.id = AgentId::from_string("machine");
        other.grant_types.push("authorization_code".into());
        let req = TokenRequest::AuthorizationCode {
            code: code.clone(),
            redirect_uri: None,
            code_verifier: Some(VERIFIER.into()),
            resource: None,
        };
        assert_eq!(
            exchange(&f.ctx(NOW), &other, req)
                .await
                .expect_err("client")
                .code,
            ErrorCode::InvalidGrant
        );
        let req = TokenRequest::AuthorizationCode {
            code: code.clone(),
            redirect_uri: None,
            code_verifier: Some(VERIFIER.into()),
            resource: Some("https://evil.example.com/mcp".into()),
        };
        assert_eq!(
            exchange(&f.ctx(NOW), &f.public, req)
                .await
                .expect_err("resource")
                .code,
            ErrorCode::InvalidTarget
        );

        let code = f.code("notes.read").await;
        assert_eq!(
            f.redeem(&code, VERIFIER, NOW + 61_000)
                .await
                .expect_err("expired")
                .code,
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            f.redeem("mdt_ac_nonsense", VERIFIER, NOW)
                .await
                .expect_err("unknown")
                .code,
            ErrorCode::InvalidGrant
        );
    }
}

#[tokio::test]
async fn exactly_one_of_twenty_concurrent_redemptions_succeeds() {
    for db in each_backend().await {
        let f = Arc::new(fixture(db).await);
        let code = f.code("notes.read").await;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let f = f.clone();
            let code = code.clone();
            tasks.push(tokio::spawn(async move {
                f.redeem(&code, VERIFIER, NOW + 1000).await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.expect("task") {
                Ok(_) => ok += 1,
                Err(e) => assert_eq!(e.code, ErrorCode::InvalidGrant),
            }
        }
        assert_eq!(ok, 1);
    }
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    for db in each_backend().await {
        let f = fixture(db).await;
        let code = f.code("notes.read notes.share").await;
        let first = f.redeem(&code, VERIFIER, NOW).await.expect("tokens");
        let rt1 = first.refresh_token.expect("rt1");
        let second = f.refresh(&rt1, None, NOW + 1000).await.expect("refresh");
        let rt2 = second.refresh_token.clone().expect("rt2");
        assert_ne!(rt1, rt2, "rotated");
        assert_eq!(
            second.scope, "notes.read notes.share",
            "keeps the granted scopes"
        );
        assert_eq!(
            f.claims(&second.access_token, NOW + 1000).aud,
            "https://notes.example.com/mcp",
            "keeps the resource"
        );

        let retry = f
            .refresh(&rt1, None, NOW + 1500)
            .await
            .expect_err("concurrent retry");
        assert_eq!(retry.code, ErrorCode::InvalidGrant);
        assert_eq!(
            f.events("token.refresh_reuse_detected").await,
            0,
            "a retry within the grace window is not reuse"
        );
        let reuse = f
            .refresh(&rt1, None, NOW + 10_000)
            .await
            .expect_err("reuse");
        assert_eq!(reuse.code, ErrorCode::InvalidGrant);
        assert_eq!(
            f.refresh(&rt2, None, NOW + 11_000)
                .await
                .expect_err("family revoked")
                .code,
            ErrorCode::InvalidGrant
        );
        let jti = f.claims(&second.access_token, NOW + 1000).jti;
        assert_eq!(
            f.store.access_token_revoked(&jti).await.expect("state"),
            Some(true)
        );
        assert_eq!(f.events("token.refresh_reuse_detected").await, 1);
    }
}

#[tokio::test]
async fn a_familys_tokens_end_with_the_family_revoked_or_deleted_without_touching_their_rows() {
    for db in each_backend().await {
        let f = fixture(db).await;
        let (_, jti, family) = f.authorization().await;
        assert_eq!(
            f.store.access_token_revoked(&jti).await.expect("state"),
            Some(false)
        );
        f.store
            .revoke_family(&family, "test", NOW + 1)
            .await
            .expect("revoke");
        assert_eq!(
            f.store.access_token_revoked(&jti).await.expect("state"),
            Some(true),
            "revoked through its family"
        );
        assert_eq!(
            f.rows("SELECT COUNT(*) FROM access_tokens WHERE revoked_at IS NOT NULL")
                .await,
            0,
            "revoking a family writes the family's row only"
        );

        // A family that is gone (its agent or server deleted) leaves nothing usable either.
        let (rt, jti, family) = f.authorization().await;
        sqlx::query("DELETE FROM token_families WHERE id = $1")
            .bind(&family)
            .execute(f.store.pool())
            .await
            .expect("delete the family");
        assert_eq!(
            f.store.access_token_revoked(&jti).await.expect("state"),
            Some(true),
            "a token of a deleted family counts as revoked"
        );
        let err = f
            .refresh(&rt, None, NOW + 1000)
            .await
            .expect_err("the family is gone");
        assert_eq!(err.code, ErrorCode::InvalidGrant);
    }
}

#[tokio::test]
async fn the_sweep_deletes_what_can_no_longer_be_presented_and_keeps_reuse_detection() {
    use crate::store::token_sweep::SweepReport;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    for db in each_backend().await {
        let f = fixture(db).await;
        let a1 = f.refresh_token("notes.read").await;
        let a2 = f.refresh(&a1, None, NOW + 1000).await.expect("a2");
        let a2 = a2.refresh_token.expect("rt");
        let b1 = f.refresh_token("notes.read").await;
        let b2 = f.refresh(&b1, None, NOW + 1000).await.expect("b2");
        let b2 = b2.refresh_token.expect("rt");
        let cc = TokenRequest::ClientCredentials {
            scope: None,
            resource: None,
        };
        exchange(&f.ctx(NOW), &f.confidential, cc)
            .await
            .expect("cc");
        for (hash, expires_at) in [("expired-link", NOW + 1000), ("live-link", NOW + 100 * DAY)] {
            sqlx::query(
                "INSERT INTO password_links (token_hash, user_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(hash)
            .bind(f.user.id.to_string())
            .bind(NOW)
            .bind(expires_at)
            .execute(f.store.pool())
            .await
            .expect("link");
        }
        let sweep = |at: i64| {
            let store = f.store.clone();
            async move { store.sweep_expired_tokens(at).await.expect("sweep") }
        };

        // Two hours on: every access token has expired, no refresh token has.
        let s1 = NOW + 2 * HOUR;
        let report = SweepReport {
            access_tokens: 5,
            refresh_tokens: 0,
            families: 0,
            password_links: 1,
        };
        assert_eq!(sweep(s1).await, report);
        assert_eq!(sweep(s1).await, SweepReport::default(), "nothing twice");
        // A rotated token that has not expired is still there to reveal its reuse.
        f.refresh(&b1, None, s1).await.expect_err("reuse");
        assert_eq!(f.events("token.refresh_reuse_detected").await, 1);
        f.refused_issuing_nothing(&b2, s1, "revoked").await;
        let a3 = f.refresh(&a2, None, s1).await.expect("a3");
        let a3 = a3.refresh_token.expect("rt");

        // Past the sliding lifetime of the first four refresh tokens: a rotated one is refused
        // as expired, its family kept, the same before and after its row is swept.
        let s2 = NOW + 14 * DAY + 90 * 60_000;
        f.refused_issuing_nothing(&a1, s2, "expired").await;
        assert_eq!(sweep(s2).await.refresh_tokens, 4);
        f.refused_issuing_nothing(&a1, s2, "not valid").await;
        assert_eq!(f.events("token.refresh_reuse_detected").await, 1);
        let a4 = f.refresh(&a3, None, s2).await.expect("the family lives on");
        assert!(a4.refresh_token.is_some());

        // A day past the families' absolute lifetime: they go, with their codes and tokens.
        let s3 = NOW + 91 * DAY + 2 * HOUR;
        let report = SweepReport {
            access_tokens: 1,
            refresh_tokens: 2,
            families: 2,
            password_links: 0,
        };
        assert_eq!(sweep(s3).await, report);
        for table in [
            "access_tokens",
            "refresh_tokens",
            "token_families",
            "authorization_codes",
        ] {
            let count = format!("SELECT COUNT(*) FROM {table}");
            assert_eq!(f.rows(&count).await, 0, "{table}");
        }
        assert_eq!(
            f.rows("SELECT COUNT(*) FROM password_links").await,
            1,
            "the live link stays"
        );
    }
}

#[tokio::test]
async fn refresh_may_narrow_but_never_widen_scope() {
    for db in each_backend().await {
        let f = fixture(db).await;
        let code = f.code("notes.read notes.share").await;
        let t = f.redeem(&code, VERIFIER, NOW).await.expect("tokens");
        let wide = f
            .refresh(
                t.refresh_token.as_deref().expect("rt"),
                Some("notes.read notes.write"),
                NOW + 1,
            )
            .await;
        assert_eq!(wide.expect_err("escalation").code, ErrorCode::InvalidScope);
        // The refused request did not rotate the token: it still works, narrowed.
        let narrow = f
            .refresh(
                t.refresh_token.as_deref().expect("rt"),
                Some("notes.read"),
                NOW + 2,
            )
            .await;
        let narrow = narrow.expect("narrowing is allowed");
        assert_eq!(narrow.scope, "notes.read");
        // The narrowed token's successor carries the narrowed scope.
        let next = f
            .refresh(narrow.refresh_token.as_deref().expect("rt"), None, NOW + 3)
            .await
            .expect("again");
        assert_eq!(next.scope, "notes.read");
    }
}

#[tokio::test]
async fn refresh_tokens_are_bound_to_their_client_and_expire() {
    for db in each_backend().await {
        let f = fixture(db).await;
        let code = f.code("notes.read").await;
        let t = f.redeem(&code, VERIFIER, NOW).await.expect("tokens");
        let rt = t.refresh_token.expect("rt");
        let mut other = f.public.clone();
        other.id = AgentId::from_string("machine");
        let req = TokenRequest::RefreshToken {
            refresh_token: rt.clone(),
            scope: None,
            resource: None,
        };
        assert_eq!(
            exchange(&f.ctx(NOW), &other, req)
                .await
                .expect_err("client")
                .code,
            ErrorCode::InvalidGrant
        );
        let late = NOW + f.server.refresh_token_ttl_secs * 1000 + 1;
        assert_eq!(
            f.refresh(&rt, None, late).await.expect_err("expired").code,
            ErrorCode::InvalidGrant
        );
    }
}

#[tokio::test]
async fn exactly_one_of_twenty_concurrent_refreshes_succeeds() {
    for db in each_backend().await {
        let f = Arc::new(fixture(db).await);
        let rt = f.refresh_token("notes.read").await;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let f = f.clone();
            let rt = rt.clone();
            tasks.push(tokio::spawn(async move {
                f.refresh(&rt, None, NOW + 1000).await
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            if let Ok(tokens) = t.await.expect("task") {
                winners.push(tokens);
            }
        }
        assert_eq!(winners.len(), 1);
        // Only the winner's issuance was written: one more access token and refresh token in
        // the family, one `token.refreshed` event; the others recorded their refusal.
        assert_eq!(f.rows("SELECT COUNT(*) FROM refresh_tokens").await, 2);
        assert_eq!(
            f.rows("SELECT COUNT(*) FROM access_tokens WHERE family_id IS NOT NULL")
                .await,
            2
        );
        assert_eq!(f.events("token.refreshed").await, 1);
        assert_eq!(f.events("token.failed").await, 19);
        // The winner's new refresh token works: concurrent retries did not revoke the family.
        let next = winners[0].refresh_token.clone().expect("rt");
        assert!(f.refresh(&next, None, NOW + 1500).await.is_ok());
    }
}

#[tokio::test]
async fn a_refresh_whose_family_is_revoked_before_its_commit_writes_nothing() {
    for db in each_backend().await {
        let f = fixture(db).await;
        let rt = f.refresh_token("notes.read").await;
        // What the grant does after its checks passed on the token's state ...
        let minted = f.rotation_of(&rt, NOW + 1000).await;
        let jti = minted.issuance.jti.clone();
        let family_id = minted.issuance.family_id.clone().expect("a family");
        // ... while the authorization is revoked in between.
        f.store
            .revoke_family(&family_id, "test", NOW + 1000)
            .await
            .expect("revoke");
        let written = f
            .audit
            .record_rotation(minted.event, minted.issuance)
            .await
            .expect("recorded");
        assert!(!written, "a revoked family's token is not rotated");
        assert_eq!(
            f.store.access_token_revoked(&jti).await.expect("read"),
            None,
            "no access token was recorded"
        );
        let after = f.refresh_state(&rt).await;
        assert_eq!(after.rotated_at, None, "the old token was left as it was");
        // Through the grant, the same token is refused for the revocation.
        let err = f.refresh(&rt, None, NOW + 1500).await.expect_err("revoked");
        assert_eq!(err.code, ErrorCode::InvalidGrant);
        assert_eq!(err.description, "the authorization has been revoked");
    }
}

#[tokio::test]
async fn rotations_committed_in_one_batch_rotate_each_token_once_first_come_first_written() {
    for db in each_backend().await {
        let f = fixture(db).await;
        let shared = f.refresh_token("notes.read").await;
        let other = f.refresh_token("notes.read").await;
        let later = f.refresh_token("notes.read").await;
        let revoked = f.refresh_token("notes.read").await;
        let expired = f.refresh_token("notes.read").await;
        let expiry = f.refresh_state(&expired).await.expires_at;
        let rotations = [
            f.rotation_of(&shared, NOW + 1000).await,
            f.rotation_of(&shared, NOW + 1000).await,
            f.rotation_of(&other, NOW + 1000).await,
            f.rotation_of(&later, NOW + 2000).await,
            f.rotation_of(&revoked, NOW + 1000).await,
            f.rotation_of(&expired, expiry).await,
        ];
        // The authorization behind `revoked` ends after the grant's checks passed.
        let family = rotations[4].issuance.family_id.clone().expect("a family");
        f.store
            .revoke_family(&family, "test", NOW + 500)
            .await
            .expect("revoke");
        let jtis = rotations.each_ref().map(|m| m.issuance.jti.clone());
        // Queued together, before the writer runs: one batch, in this order.
        let before = f.audit.writer_stats();
        let [a, b, c, d, e, g] = rotations;
        let written = tokio::join!(
            f.audit.record_rotation(a.event, a.issuance),
            f.audit.record_rotation(b.event, b.issuance),
            f.audit.record_rotation(c.event, c.issuance),
            f.audit.record_rotation(d.event, d.issuance),
            f.audit.record_rotation(e.event, e.issuance),
            f.audit.record_rotation(g.event, g.issuance),
        );
        let written = [
            written.0, written.1, written.2, written.3, written.4, written.5,
        ]
        .map(|w| w.expect("recorded"));
        assert_eq!(
            written,
            [true, false, true, true, false, false],
            "the first request presenting a token is written, a second is not; other tokens' \
             are, unless their family was revoked or they had expired by their request's time"
        );
        let after = f.audit.writer_stats();
        assert_eq!(
            (after.batches - before.batches, after.events - before.events),
            (1, 3),
            "one batch, counting only the events it wrote"
        );
        let mut recorded = Vec::new();
        for jti in &jtis {
            recorded.push(f.store.access_token_revoked(jti).await.expect("read"));
        }
        assert_eq!(
            recorded,
            [Some(false), None, Some(false), Some(false), None, None],
            "the winners' access tokens are recorded, nothing of the others'"
        );
        let mut rotated_at = Vec::new();
        for rt in [&shared, &other, &later, &revoked, &expired] {
            rotated_at.push(f.refresh_state(rt).await.rotated_at);
        }
        assert_eq!(
            rotated_at,
            [
                Some(NOW + 1000),
                Some(NOW + 1000),
                Some(NOW + 2000),
                None,
                None
            ],
            "each rotated at the time of its own refresh; the refused left as they were"
        );
    }
}

/// What the grant keeps of a token it has just issued (`store::fresh_refresh`) never outvotes
/// the database: a token rotated, or a family revoked, by another Mandate process on the same
/// database (written here straight to the tables, past this store's memory) is refused, and
/// nothing is issued for it.
#[tokio::test]
async fn a_token_this_process_just_issued_is_judged_on_the_database_when_exchanged() {
    for db in each_backend().await {
        let f = fixture(db).await;
        let rotated = f.refresh_token("notes.read").await;
        sqlx::query("UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2")
            .bind(NOW + 1_000)
            .bind(Secret::presented(rotated.as_str()).hash().as_str())
            .execute(f.store.pool())
            .await
            .expect("rotated elsewhere");
        f.refused_issuing_nothing(&rotated, NOW + 10_000, "already been used")
            .await;
        assert!(
            f.refresh_state(&rotated).await.family.revoked_at.is_some(),
            "presenting a rotated token is reuse: the family is revoked"
        );
        assert_eq!(f.events("token.refresh_reuse_detected").await, 1);

        let orphan = f.refresh_token("notes.read").await;
        sqlx::query("UPDATE token_families SET revoked_at = $1 WHERE id = $2")
            .bind(NOW + 1_000)
            .bind(f.refresh_state(&orphan).await.family.id)
            .execute(f.store.pool())
            .await
            .expect("revoked elsewhere");
        f.refused_issuing_nothing(&orphan, NOW + 10_000, "revoked")
            .await;

        // Untouched, a token is exchanged once; its rotation is what the database holds.
        let kept = f.refresh_token("notes.read").await;
        let next = f.refresh(&kept, None, NOW + 10_000).await.expect("refresh");
        assert_eq!(
            f.refresh_state(&kept).await.rotated_at,
            Some(NOW + 10_000),
            "rotated in the database"
        );
        let again = f
            .refresh(&kept, None, NOW + 10_500)
            .await
            .expect_err("exchanged once");
        assert_eq!(again.code, ErrorCode::InvalidGrant);
        let newest = next.refresh_token.expect("rotated");
        f.refresh(&newest, Some("notes.read"), NOW + 20_000)
            .await
            .expect("the new token, as this process issued it, refreshes");
    }
}

#[tokio::test]
async fn client_credentials_is_for_confidential_clients_within_their_allowance() {
    for db in each_backend().await {
        let f = fixture(db).await;
        let cc = |scope: Option<&str>| TokenRequest::ClientCredentials {
            scope: scope.map(Into::into),
            resource: None,
        };
        let t = exchange(&f.ctx(NOW), &f.confidential, cc(Some("notes.read")))
            .await
            .expect("cc");
        let c = f.claims(&t.access_token, NOW);
        assert_eq!(c.sub, "machine");
        assert_eq!(c.act, None);
        assert!(t.refresh_token.is_none());

        let allowance = vec!["notes.read".to_owned()];
        let mut narrowed = f.ctx(NOW);
        narrowed.client_allowance = Some(&allowance);
        let err = exchange(&narrowed, &f.confidential, cc(Some("notes.write")))
            .await
            .expect_err("beyond");
        assert_eq!(err.code, ErrorCode::InvalidScope);
        let all = exchange(&narrowed, &f.confidential, cc(None))
            .await
            .expect("default");
        assert_eq!(all.scope, "notes.read");

        let mut public = f.public.clone();
        public.grant_types.push("client_credentials".into());
        assert_eq!(
            exchange(&f.ctx(NOW), &public, cc(None))
                .await
                .expect_err("public")
                .code,
            ErrorCode::UnauthorizedClient
        );
        assert_eq!(
            exchange(&f.ctx(NOW), &f.public, cc(None))
                .await
                .expect_err("grant")
                .code,
            ErrorCode::UnauthorizedClient
        );
        assert!(f.secret.expose().starts_with("mdt_cs_"));
        assert!(f.events("token.failed").await >= 3, "refusals are audited");
    }
}

/// How an access token can stop being live, each through the store.
#[derive(Debug, Clone, Copy)]
enum Revocation {
    Token,
    Family,
    Grant,
    UserDisabled,
    MembershipRemoved,
    AgentDisabled,
    AgentDeleted,
    ServerDeleted,
}

impl Fixture {
    /// A machine token and a person's token, both read as live twice (so both are remembered).
    async fn remembered_live_tokens(&self) -> (String, String) {
        let cc = TokenRequest::ClientCredentials {
            scope: Some("notes.read".into()),
            resource: None,
        };
        let machine = exchange(&self.ctx(NOW), &self.confidential, cc)
            .await
            .expect("cc");
        let code = self.code("notes.read").await;
        let person = self.redeem(&code, VERIFIER, NOW).await.expect("code");
        let jtis = (
            self.claims(&machine.access_token, NOW).jti,
            self.claims(&person.access_token, NOW).jti,
        );
        for jti in [&jtis.0, &jtis.1] {
            for _ in 0..2 {
                assert_eq!(
                    self.store.access_token_revoked(jti).await.expect("state"),
                    Some(false)
                );
            }
        }
        jtis
    }

    /// Creates the tenants `ids` and makes the person a member of each.
    async fn member_of(&self, ids: &[&str]) {
        for &id in ids {
            let tenant = crate::model::Tenant {
                id: TenantId::from_string(id),
                ..crate::store::tenants::new_tenant(id, id, &[], NOW)
            };
            self.store.insert_tenant(&tenant).await.expect("tenant");
            self.store
                .set_membership(&tenant.id, &self.user.id, &[], &[], false, NOW)
                .await
                .expect("membership");
        }
    }

    async fn revoke(&self, how: Revocation, machine_jti: &str, person_jti: &str) {
        let family: String =
            sqlx::query_scalar("SELECT family_id FROM access_tokens WHERE jti = $1")
                .bind(person_jti)
                .fetch_one(self.store.pool())
                .await
                .expect("family");
        let store = &self.store;
        let done = match how {
            Revocation::Token => store
                .revoke_access_token(machine_jti, "machine", NOW)
                .await
                .expect("revoke"),
            Revocation::Family => store
                .revoke_family(&family, "test", NOW)
                .await
                .expect("revoke"),
            Revocation::Grant => {
                self.member_of(&["tenant-1"]).await;
                let grant = crate::model::Grant {
                    id: "grant-1".into(),
                    user_id: self.user.id.to_string(),
                    agent_id: self.public.id.to_string(),
                    tenant_id: "tenant-1".into(),
                    mcp_server_id: self.server.id.to_string(),
                    granted_scopes: vec!["notes.read".into()],
                    rejected_scopes: vec![],
                    remembered: true,
                    created_at: NOW,
                    updated_at: NOW,
                    last_used_at: None,
                };
                let id = store.record_grant(&grant).await.expect("grant");
                store
                    .revoke_grant(&grant.user_id, &id, NOW)
                    .await
                    .expect("revoke")
                    .is_some()
            }
            Revocation::UserDisabled => store
                .set_user_disabled(&self.user.id, true, NOW)
                .await
                .expect("disable"),
            Revocation::MembershipRemoved => {
                self.member_of(&["tenant-1"]).await;
                store
                    .remove_membership(&TenantId::from_string("tenant-1"), &self.user.id, NOW)
                    .await
                    .expect("remove")
            }
            Revocation::AgentDisabled => store
                .set_agent_disabled(&self.confidential.id, true, NOW)
                .await
                .expect("disable"),
            Revocation::AgentDeleted => store
                .delete_agent(&self.confidential.id)
                .await
                .expect("delete"),
            Revocation::ServerDeleted => store
                .delete_mcp_server(&self.server.id)
                .await
                .expect("delete"),
        };
        assert!(done, "{how:?} changed nothing");
    }
}

/// Taking a person out of a tenant ends what agents hold for them there, and only there: the
/// refresh token and access token of the tenant they left stop working at once, those of the
/// tenant they stay in keep working.
#[tokio::test]
async fn removing_a_person_from_a_tenant_ends_the_tokens_agents_hold_for_them_there() {
    for db in each_backend().await {
        let backend = db.backend;
        let f = fixture(db).await;
        f.member_of(&["tenant-1", "tenant-2"]).await;
        let mut held = Vec::new();
        for tenant in ["tenant-1", "tenant-2"] {
            let code = f.code_in(tenant, "notes.read").await;
            let tokens = f.redeem(&code, VERIFIER, NOW).await.expect("tokens");
            held.push((
                f.claims(&tokens.access_token, NOW).jti,
                tokens.refresh_token.expect("rt"),
            ));
        }
        let [(left_jti, left_rt), (stay_jti, stay_rt)] = <[_; 2]>::try_from(held).expect("two");

        let removed = f
            .store
            .remove_membership(&TenantId::from_string("tenant-1"), &f.user.id, NOW + 1_000)
            .await
            .expect("remove");
        assert!(removed, "{backend:?}: the membership existed");

        let revoked = |jti: String| {
            let store = f.store.clone();
            async move { store.access_token_revoked(&jti).await.expect("state") }
        };
        assert_eq!(revoked(left_jti).await, Some(true), "{backend:?}");
        assert_eq!(revoked(stay_jti).await, Some(false), "{backend:?}");
        f.refused_issuing_nothing(&left_rt, NOW + 2_000, "revoked")
            .await;
        assert_eq!(
            f.refresh_state(&left_rt).await.family.revoked_at,
            Some(NOW + 1_000),
            "{backend:?}"
        );
        f.refresh(&stay_rt, None, NOW + 2_000)
            .await
            .expect("the other tenant's grant still refreshes");
    }
}

/// Introspection remembers a token it found live; every way of revoking one through the store
/// must be seen by the very next check, not a second later.
#[tokio::test]
async fn every_revocation_is_seen_at_once_by_a_token_remembered_as_live() {
    use Revocation::*;
    // (how, the machine token's state after, the person's token's state after)
    let cases = [
        (Token, Some(true), Some(false)),
        (Family, Some(false), Some(true)),
        (Grant, Some(false), Some(true)),
        (UserDisabled, Some(false), Some(true)),
        (MembershipRemoved, Some(false), Some(true)),
        (AgentDisabled, Some(true), Some(false)),
        (AgentDeleted, None, Some(false)),
        (ServerDeleted, None, None),
    ];
    for (how, machine_after, person_after) in cases {
        for db in each_backend().await {
            let backend = db.backend;
            let f = fixture(db).await;
            let (machine, person) = f.remembered_live_tokens().await;
            f.revoke(how, &machine, &person).await;
            let state = |jti: String| {
                let store = f.store.clone();
                async move { store.access_token_revoked(&jti).await.expect("state") }
            };
            assert_eq!(
                state(machine).await,
                machine_after,
                "{backend:?} {how:?} machine"
            );
            assert_eq!(
                state(person).await,
                person_after,
                "{backend:?} {how:?} person"
            );
        }
    }
}
