//! Browser sessions. A session is an API token of the user's own, named `web session`, that
//! expires after `SESSION_HOURS` and is revoked at logout: so it is looked up like any token (one
//! keyed hash, one indexed read), shared by every relay node on one store, listed among the
//! user's tokens and revocable there. Opening one takes the user's password through the same
//! throttled, audited login as Basic authentication.

use stix::Timestamp;

use super::{Credentials, Relay};
use crate::audit::AuditEntry;
use crate::error::Error;
use crate::principal::{Origin, Principal};
use crate::store::{Change, NewToken};
use crate::token;

/// The name a session's token carries.
pub const SESSION_TOKEN_NAME: &str = "web session";

/// How long a session lasts, from login.
pub const SESSION_HOURS: i64 = 12;

/// A session just opened: its secret goes in the browser's cookie and nowhere else.
pub struct Session {
    pub secret: String,
    pub expires: Timestamp,
    pub principal: Principal,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("expires", &self.expires)
            .field("user", &self.principal.user_name)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Logs a user in with a password (or one of its tokens) and opens a session.
    pub async fn open_session(
        &self,
        user: &str,
        password: &str,
        origin: Origin,
    ) -> Result<Session, Error> {
        let who = self
            .authenticate(
                &Credentials::Basic {
                    user: user.to_owned(),
                    password: password.to_owned(),
                },
                origin,
            )
            .await?;
        let mut expires =
            Timestamp::from_micros(Timestamp::now().as_micros() + SESSION_HOURS * 3_600_000_000);
        // A token given as the password (the first administrator has no other) opens a session
        // no longer than the token lives; a session's own token opens none, or a stolen cookie
        // could be renewed for ever.
        if who.token_id != 0 {
            let used = self
                .store
                .list_tokens()
                .await?
                .into_iter()
                .find(|t| t.id == who.token_id)
                .ok_or(Error::Unauthenticated)?;
            if used.name == SESSION_TOKEN_NAME {
                return Err(Error::Unauthenticated);
            }
            if let Some(end) = used.expires {
                expires = expires.min(end);
            }
        }
        let secret = token::generate_token();
        let id = self
            .apply(
                Change::CreateToken(NewToken {
                    user_name: who.user_name.clone(),
                    name: SESSION_TOKEN_NAME.to_owned(),
                    hash: self.hasher.hash(&secret),
                    read_only: who.read_only,
                    expires: Some(expires),
                }),
                AuditEntry::by(&who, "session.open").detail(format!("until {expires}")),
            )
            .await?;
        let mut principal = who;
        principal.token_id = id;
        Ok(Session {
            secret,
            expires,
            principal,
        })
    }

    /// The principal of a live session.
    pub async fn session(&self, secret: &str, origin: Origin) -> Result<Principal, Error> {
        self.authenticate(&Credentials::Bearer(secret.to_owned()), origin)
            .await
    }

    /// Ends the caller's session: its token is revoked at once.
    pub async fn close_session(&self, who: &Principal) -> Result<(), Error> {
        if who.token_id == 0 {
            return Ok(());
        }
        self.apply(
            Change::RevokeToken {
                id: who.token_id,
                at: Timestamp::now(),
            },
            AuditEntry::by(who, "session.close"),
        )
        .await?;
        Ok(())
    }

    /// The anti-forgery token of a session (or of a login form's nonce): a keyed hash of its
    /// secret, so that a page can carry it without the secret, and no one without the secret
    /// can make it.
    pub fn form_token(&self, secret: &str) -> String {
        hex::encode(self.hasher.hash(&format!("form\u{0}{secret}")))
    }

    /// Whether `given` is the anti-forgery token of `secret`, compared in constant time.
    pub fn check_form_token(&self, secret: &str, given: &str) -> bool {
        let want = self.form_token(secret);
        want.len() == given.len()
            && want
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}
