//! Passwords: the policy a new one must meet, and argon2id hashes in PHC string form
//! (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), salted from the injected [`Random`].
//!
//! Every check costs one argon2 computation whatever the account: a number without a password
//! is checked against a dummy hash made at startup with the same parameters, and a number
//! without an account has its new password hashed. So the time of an answer does not tell
//! "wrong password" from "no password" (the texts differ on purpose, see
//! `service/password.rs`). The work is CPU-bound: callers run it off the async threads.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::PasswordHashConfig;
use crate::random::{Random, bytes};

/// Longest password accepted, in characters.
pub const MAX_CHARS: usize = 128;

/// A password as the client sent it, checked against the policy; redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// Checks `text`: `min_chars` to [`MAX_CHARS`] characters, no control characters. The error
    /// says what to fix.
    pub fn parse(text: &str, min_chars: usize) -> Result<Self, String> {
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        let chars = text.chars().count();
        if chars < min_chars {
            return Err(format!("must be at least {min_chars} characters"));
        }
        if chars > MAX_CHARS {
            return Err(format!("must be at most {MAX_CHARS} characters"));
        }
        if text.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(text.to_owned()))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A stored password hash (PHC string).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashText(pub String);

impl fmt::Debug for PasswordHashText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a secret, but offline guessing starts from it: keep it out of logs.
        f.write_str("PasswordHashText(..)")
    }
}

/// Hashing and checking passwords with argon2id.
pub struct Passwords {
    argon: Argon2<'static>,
    /// Checked against when an account has no password, to spend the same time.
    dummy: PasswordHashText,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passwords")
            .field("params", self.argon.params())
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// A hasher with these parameters; the dummy hash is made with `random`.
    pub fn new(config: &PasswordHashConfig, random: &dyn Random) -> Result<Self, String> {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(|e| format!("phone.password_hash: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut passwords = Self {
            argon,
            dummy: PasswordHashText(String::new()),
        };
        let dummy_password = Password(hex::encode(bytes::<16>(random)));
        passwords.dummy = passwords
            .hash(&dummy_password, random)
            .map_err(|e| format!("phone.password_hash: {e}"))?;
        Ok(passwords)
    }

    /// The hash of `password` with a fresh salt.
    pub fn hash(
        &self,
        password: &Password,
        random: &dyn Random,
    ) -> Result<PasswordHashText, argon2::password_hash::Error> {
        let salt = SaltString::encode_b64(&bytes::<16>(random))?;
        let hash = self.argon.hash_password(password.bytes(), &salt)?;
        Ok(PasswordHashText(hash.to_string()))
    }

    /// Whether `password` matches `hash` (with the parameters written in the hash). A hash that
    /// does not parse matches nothing; it is logged.
    pub fn verify(&self, password: &Password, hash: &PasswordHashText) -> bool {
        match PasswordHash::new(&hash.0) {
            Ok(parsed) => self
                .argon
                .verify_password(password.bytes(), &parsed)
                .is_ok(),
            Err(e) => {
                tracing::error!(error = %e, "a stored password hash does not parse");
                // Spend the time anyway.
                self.burn(password);
                false
            }
        }
    }

    /// Checks `password` against the dummy hash: the cost of a check, with no answer.
    pub fn burn(&self, password: &Password) {
        if let Ok(parsed) = PasswordHash::new(&self.dummy.0) {
            let _ = self.argon.verify_password(password.bytes(), &parsed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn cheap() -> PasswordHashConfig {
        PasswordHashConfig {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let random = SeededRandom::new(3);
        let p = Passwords::new(&cheap(), &random).expect("params");
        let pw = Password::parse("correct horse", 8).expect("policy");
        let h1 = p.hash(&pw, &random).expect("hash");
        let h2 = p.hash(&pw, &random).expect("hash");
        assert!(h1.0.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{}", h1.0);
        assert_ne!(h1, h2, "a fresh salt each time");
        assert!(p.verify(&pw, &h1) && p.verify(&pw, &h2));
        let wrong = Password::parse("correct horsf", 8).expect("policy");
        assert!(!p.verify(&wrong, &h1));
        assert!(!p.verify(&pw, &PasswordHashText("not a hash".into())));
        assert!(!format!("{h1:?}{pw:?}").contains("horse"));
        assert!(!format!("{h1:?}").contains("argon2id"));
        // A hash made with other parameters still verifies (they are in the string).
        let other = Passwords::new(
            &PasswordHashConfig {
                memory_kib: 128,
                ..cheap()
            },
            &random,
        )
        .expect("params");
        assert!(p.verify(&pw, &other.hash(&pw, &random).expect("hash")));
    }

    #[test]
    fn the_policy_names_the_problem() {
        assert_eq!(
            Password::parse("short", 8).expect_err("short"),
            "must be at least 8 characters"
        );
        assert!(
            Password::parse("八个汉字的密码呀", 8).is_ok(),
            "characters, not bytes"
        );
        assert!(Password::parse(&"a".repeat(129), 8).is_err());
        assert!(Password::parse(&"a".repeat(128), 8).is_ok());
        assert!(Password::parse("tab\there!", 8).is_err());
        assert!(
            Passwords::new(
                &PasswordHashConfig {
                    memory_kib: 1,
                    ..cheap()
                },
                &SeededRandom::new(1)
            )
            .is_err()
        );
    }
}
