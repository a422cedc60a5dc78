//! API keys: `tui_<id>_<secret>`.
//!
//! The id (12 lowercase letters/digits) is public: it names the key in the
//! store, the CLI, the ledger and the logs. The secret (32 base-62
//! characters, ~190 bits) is shown once when the key is made; the store keeps
//! only its Argon2id hash (PHC string). Checking a hash is deliberately slow
//! (tens of milliseconds), so [`Verified`] remembers the keys already checked
//! by a SHA-256 of the whole key.

use super::AuthError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

/// Prefix of every key (lets secret scanners recognise them).
pub const PREFIX: &str = "tui_";
/// Length of a key id.
pub const ID_LEN: usize = 12;
/// Length of a key secret.
pub const SECRET_LEN: usize = 32;

const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A key as presented by a caller, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    /// The public id.
    pub id: &'a str,
    /// The whole key (for hashing).
    pub whole: &'a str,
    /// The secret part.
    pub secret: &'a str,
}

/// Splits a presented key; `None` when it does not have the key's shape.
pub fn parse(key: &str) -> Option<PresentedKey<'_>> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let ok = id.len() == ID_LEN
        && id.bytes().all(|b| ID_ALPHABET.contains(&b))
        && secret.len() == SECRET_LEN
        && secret.bytes().all(|b| SECRET_ALPHABET.contains(&b));
    ok.then_some(PresentedKey {
        id,
        whole: key,
        secret,
    })
}

/// True when a text looks like one of our keys (used to tell API keys from JWTs).
pub fn looks_like_key(token: &str) -> bool {
    token.starts_with(PREFIX)
}

fn random_text(alphabet: &[u8], len: usize) -> Result<String, AuthError> {
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf)
            .map_err(|e| AuthError::Config(format!("no system randomness: {e}")))?;
        for b in buf {
            if (b as usize) < limit && out.len() < len {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    Ok(out)
}

/// A freshly made key: the text to hand to its owner once, and what to store.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The public id.
    pub id: String,
    /// The whole key, `tui_<id>_<secret>`: shown once, never stored.
    pub key: String,
    /// The Argon2id hash of the secret (PHC string), stored.
    pub hash: String,
}

/// Makes a new random key.
pub fn generate() -> Result<NewKey, AuthError> {
    let id = random_text(ID_ALPHABET, ID_LEN)?;
    let secret = random_text(SECRET_ALPHABET, SECRET_LEN)?;
    from_parts(&id, &secret)
}

/// Makes a key from a given id and secret (the demo's published keys).
pub fn from_parts(id: &str, secret: &str) -> Result<NewKey, AuthError> {
    let key = format!("{PREFIX}{id}_{secret}");
    if parse(&key).is_none() {
        return Err(AuthError::Config(format!(
            "a key id is {ID_LEN} characters a-z0-9 and a secret {SECRET_LEN} characters A-Za-z0-9"
        )));
    }
    Ok(NewKey {
        id: id.to_string(),
        hash: hash_secret(secret)?,
        key,
    })
}

/// Hashes a secret with Argon2id and a random salt.
pub fn hash_secret(secret: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| AuthError::Config(format!("no system randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Config(e.to_string()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Config(format!("cannot hash the key: {e}")))
}

/// Checks a secret against a stored hash (slow on purpose).
pub fn verify_secret(secret: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Keys whose secret has already been checked against their stored hash.
///
/// Entries are keyed by key id and hold the SHA-256 of the whole presented
/// key and the stored hash it matched: a different secret, or a hash changed
/// in the store, misses and is checked again. Revocation is not cached here:
/// callers read the key's record on every request.
pub struct Verified {
    seen: moka::sync::Cache<String, ([u8; 32], String)>,
}

impl Default for Verified {
    fn default() -> Self {
        Verified {
            seen: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(std::time::Duration::from_secs(3600))
                .build(),
        }
    }
}

impl Verified {
    /// True when this very key was already found to match `stored`.
    pub fn known(&self, key: &PresentedKey<'_>, stored: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(key.whole.as_bytes()).into();
        self.seen
            .get(key.id)
            .is_some_and(|(seen, hash)| seen == digest && hash == stored)
    }

    /// Remembers that `key` matches `stored` (after [`verify_secret`]).
    pub fn remember(&self, key: &PresentedKey<'_>, stored: &str) {
        let digest: [u8; 32] = Sha256::digest(key.whole.as_bytes()).into();
        self.seen
            .insert(key.id.to_string(), (digest, stored.to_string()));
    }

    /// True when `key` matches `stored`, checking the hash only the first time.
    pub fn check(&self, key: &PresentedKey<'_>, stored: &str) -> bool {
        if self.known(key, stored) {
            return true;
        }
        let ok = verify_secret(key.secret, stored);
        if ok {
            self.remember(key, stored);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_verify() {
        let k = generate().unwrap();
        let p = parse(&k.key).unwrap();
        assert_eq!(p.id, k.id);
        assert!(
            !k.hash.contains(p.secret),
            "the hash must not hold the secret"
        );
        assert!(k.hash.starts_with("$argon2id$"));
        assert!(verify_secret(p.secret, &k.hash));
        let mut wrong = p.secret.to_string();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'A' { 'B' } else { 'A' });
        assert!(!verify_secret(&wrong, &k.hash));
        assert_ne!(generate().unwrap().key, k.key);
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        for bad in [
            "",
            "tui_",
            "tui_abc_def",
            "abc_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "tui_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "tui_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!",
            "tui_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        assert!(parse("tui_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_some());
    }

    #[test]
    fn the_cache_does_not_accept_another_secret() {
        let k = generate().unwrap();
        let verified = Verified::default();
        let good = parse(&k.key).unwrap();
        assert!(verified.check(&good, &k.hash));
        assert!(verified.check(&good, &k.hash));
        let forged = format!("{PREFIX}{}_{}", k.id, "B".repeat(SECRET_LEN));
        let forged = parse(&forged).unwrap();
        assert!(!verified.check(&forged, &k.hash));
        // A rotated hash in the store is checked again.
        let other = from_parts(&k.id, &"C".repeat(SECRET_LEN)).unwrap();
        assert!(!verified.check(&good, &other.hash));
    }
}
