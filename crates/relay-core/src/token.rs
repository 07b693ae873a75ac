//! API tokens: long random secrets, stored only as a keyed hash (HMAC-SHA256 under a key kept
//! in the store). A lookup is one hash and one indexed read, so authentication costs
//! microseconds, not the tens of milliseconds of a password hash on every request.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;

/// Every token the relay issues starts with this, so that secret scanners and people can
/// recognise one.
pub const TOKEN_PREFIX: &str = "isr_";

/// The shortest token accepted from an operator (for example `ISAC_RELAY_ADMIN_TOKEN`).
pub const MIN_TOKEN_LEN: usize = 20;

pub type TokenHash = [u8; 32];

#[derive(Clone)]
pub struct TokenHasher {
    key: Vec<u8>,
}

impl std::fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHasher(..)")
    }
}

impl TokenHasher {
    pub fn new(key: Vec<u8>) -> Self {
        TokenHasher { key }
    }

    pub fn hash(&self, token: &str) -> TokenHash {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// A fresh token: the prefix and 256 random bits, URL-safe.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A fresh key for the token hash.
pub fn generate_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

/// Checks a token an operator chose.
pub fn check_operator_token(token: &str) -> Result<(), String> {
    if token.len() < MIN_TOKEN_LEN {
        return Err(format!(
            "the token must be at least {MIN_TOKEN_LEN} characters long"
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the token must be printable ASCII without spaces".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_key_and_token() {
        let a = TokenHasher::new(vec![1; 32]);
        let b = TokenHasher::new(vec![2; 32]);
        assert_eq!(a.hash("t1"), a.hash("t1"));
        assert_ne!(a.hash("t1"), a.hash("t2"));
        assert_ne!(a.hash("t1"), b.hash("t1"));
    }

    #[test]
    fn generated_tokens_are_long_and_distinct() {
        let (t1, t2) = (generate_token(), generate_token());
        assert_ne!(t1, t2);
        assert!(t1.starts_with(TOKEN_PREFIX) && t1.len() > 40);
        check_operator_token(&t1).unwrap();
        assert!(check_operator_token("short").is_err());
    }
}
