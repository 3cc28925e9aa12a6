//! Cryptography: sealing session_keys at rest (AES-256-GCM under the server key), WeChat's
//! open-data decryption (AES-128-CBC, strict PKCS#7), the rawData signature (SHA-1) and the
//! login-state signature (HMAC-SHA256) used by checksession.

use std::fmt;

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::ids::SessionKey;
use crate::random::{Random, bytes};

/// Format versions of sealed values, the first byte: 1 (nonce, ciphertext) before keys had
/// ids; 2 (key id, nonce, ciphertext), what is sealed now.
const SEALED_V1: u8 = 1;
const SEALED_V2: u8 = 2;
const NONCE_LEN: usize = 12;
const KEY_ID_LEN: usize = 4;

/// A server key's id: the first 4 bytes of HMAC-SHA256 under the key of a fixed label. Every
/// instance with the same key computes the same id, and the id says nothing about the key.
type KeyId = [u8; KEY_ID_LEN];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key_id(key: &[u8; 32]) -> KeyId {
    let mut mac = hmac_with(key);
    mac.update(b"login-core sealing key id");
    let tag = mac.finalize().into_bytes();
    [tag[0], tag[1], tag[2], tag[3]]
}

/// The server keys that seal session_keys at rest: the current one seals, and opens with the
/// previous ones, so a key can be rotated while values sealed under the old one are still
/// stored. Each sealed value names its key's id.
#[derive(Clone)]
pub struct SealKey {
    current: (KeyId, Aes256Gcm),
    previous: Vec<(KeyId, Aes256Gcm)>,
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed value is corrupt or was sealed with another key")]
pub struct SealError;

impl SealKey {
    /// One key from 32 bytes.
    pub fn new(key: [u8; 32]) -> Self {
        Self::rotated(key, &[])
    }

    /// `current` seals; `previous` keys (older first or not: each value names its key) still
    /// open what they sealed.
    pub fn rotated(current: [u8; 32], previous: &[[u8; 32]]) -> Self {
        let entry = |k: &[u8; 32]| (key_id(k), Aes256Gcm::new(&(*k).into()));
        Self {
            current: entry(&current),
            previous: previous
                .iter()
                .filter(|k| **k != current)
                .map(entry)
                .collect(),
        }
    }

    /// A key from base64 text of 32 bytes.
    pub fn from_base64(text: &str) -> Option<Self> {
        key_from_base64(text).map(Self::new)
    }

    /// The current key's id, as sealed values carry it (hex), for logs.
    pub fn current_id(&self) -> String {
        hex(&self.current.0)
    }

    /// How many previous keys still open.
    pub fn previous_count(&self) -> usize {
        self.previous.len()
    }

    /// The id of the key a sealed value names (hex), for logs; none for values from before
    /// key ids.
    pub fn id_of(sealed: &[u8]) -> Option<String> {
        match sealed.split_first() {
            Some((&SEALED_V2, rest)) => rest.get(..KEY_ID_LEN).map(hex),
            _ => None,
        }
    }

    /// Seals `plaintext` under the current key, bound to `aad` (a sealed value moved to
    /// another row fails to open).
    pub fn seal(&self, random: &dyn Random, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = bytes(random);
        let (id, cipher) = &self.current;
        let mut out = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + plaintext.len() + 16);
        out.push(SEALED_V2);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        // Encryption with a valid key and in-memory buffers cannot fail.
        if let Ok(ct) = cipher.encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        ) {
            out.extend_from_slice(&ct);
        }
        out
    }

    /// Opens a value sealed by [`SealKey::seal`] with the same `aad`, under whichever of the
    /// keys it names (a value from before key ids: under any of them).
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.open_with_key(aad, sealed).map(|(plain, _)| plain)
    }

    /// Like [`SealKey::open`], and whether the value was sealed under the current key (a value
    /// that was not should be sealed again).
    pub fn open_with_key(&self, aad: &[u8], sealed: &[u8]) -> Result<(Vec<u8>, bool), SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError)?;
        let keys = std::iter::once(&self.current).chain(&self.previous);
        let (candidates, body): (Vec<&(KeyId, Aes256Gcm)>, &[u8]) = match version {
            SEALED_V2 if rest.len() >= KEY_ID_LEN => {
                let (id, body) = rest.split_at(KEY_ID_LEN);
                (keys.filter(|(k, _)| k == id).collect(), body)
            }
            SEALED_V1 => (keys.collect(), rest),
            _ => return Err(SealError),
        };
        if body.len() < NONCE_LEN + 16 {
            return Err(SealError);
        }
        let (nonce, ct) = body.split_at(NONCE_LEN);
        candidates
            .into_iter()
            .find_map(|(id, cipher)| {
                cipher
                    .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
                    .ok()
                    .map(|plain| (plain, version == SEALED_V2 && *id == self.current.0))
            })
            .ok_or(SealError)
    }
}

/// Reads base64 text of exactly 32 bytes (a server key).
pub fn key_from_base64(text: &str) -> Option<[u8; 32]> {
    STANDARD.decode(text.trim()).ok()?.try_into().ok()
}

/// The key of SMS code hashes: HMAC-SHA256 of a fixed label under the server key, so a stolen
/// database does not give codes away (a 6-digit code is guessed offline in no time from a
/// plain hash) and the key is not the sealing key itself.
#[derive(Clone)]
pub struct CodeKey([u8; 32]);

impl fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeKey(<redacted>)")
    }
}

impl CodeKey {
    /// The code key of a server key.
    pub fn derive(server_key: &[u8; 32]) -> Self {
        let mut mac = hmac_with(server_key);
        mac.update(b"login-core sms code key v1");
        Self(mac.finalize().into_bytes().into())
    }

    /// HMAC-SHA256 of `parts`, each followed by a NUL byte (no part contains one).
    pub fn hash(&self, parts: &[&str]) -> [u8; 32] {
        let mut mac = hmac_with(&self.0);
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac.finalize().into_bytes().into()
    }
}

/// HMAC-SHA256 under a 32-byte key: the key zero-padded to the 64-byte block, as HMAC pads
/// it anyway, so the infallible constructor serves.
fn hmac_with(key: &[u8; 32]) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    <Hmac<Sha256> as KeyInit>::new(&block.into())
}

/// Why open data could not be decrypted. The variants follow the checks of WeChat's own demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenDataError {
    /// The stored session_key is not base64 of 16 bytes.
    #[error("the stored session_key is unusable")]
    BadSessionKey,
    /// `iv` is not base64 of 16 bytes.
    #[error("must be base64 of 16 bytes (24 characters)")]
    BadIv,
    /// `encryptedData` is not base64, or not whole AES blocks.
    #[error("must be base64 of a whole number of 16-byte blocks")]
    BadCiphertext,
    /// Decryption gave bad padding: wrong key, wrong iv, or altered data.
    #[error("does not decrypt with this session's key")]
    Undecryptable,
}

/// The iv and ciphertext of open data, if their base64 and lengths are right.
fn open_data_parts(encrypted_data: &str, iv: &str) -> Result<([u8; 16], Vec<u8>), OpenDataError> {
    let iv: [u8; 16] = STANDARD
        .decode(iv)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(OpenDataError::BadIv)?;
    let ct = STANDARD
        .decode(encrypted_data)
        .map_err(|_| OpenDataError::BadCiphertext)?;
    if ct.is_empty() || ct.len() % 16 != 0 {
        return Err(OpenDataError::BadCiphertext);
    }
    Ok((iv, ct))
}

/// Checks the form of open data (base64, an iv of 16 bytes, whole blocks) without a key: bad
/// input is refused before anything is asked of WeChat.
pub fn check_open_data_shape(encrypted_data: &str, iv: &str) -> Result<(), OpenDataError> {
    open_data_parts(encrypted_data, iv).map(|_| ())
}

/// Decrypts `encryptedData` with the session_key and `iv` (AES-128-CBC, strict PKCS#7).
pub fn decrypt_open_data(
    session_key: &SessionKey,
    encrypted_data: &str,
    iv: &str,
) -> Result<Vec<u8>, OpenDataError> {
    let key = session_key.aes_key().ok_or(OpenDataError::BadSessionKey)?;
    let (iv, ct) = open_data_parts(encrypted_data, iv)?;
    cbc::Decryptor::<aes::Aes128>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&ct)
        .map_err(|_| OpenDataError::Undecryptable)
}

/// `hex(SHA1(rawData + session_key))`, the signature `wx.getUserInfo` sends with rawData.
pub fn raw_data_signature(raw_data: &str, session_key: &SessionKey) -> String {
    let mut h = Sha1::new();
    h.update(raw_data.as_bytes());
    h.update(session_key.expose().as_bytes());
    hex::encode(h.finalize())
}

/// `hex(HMAC-SHA256(key = session_key text, message = body))`, the login-state signature
/// checksession and resetusersessionkey expect (an empty body for GET).
pub fn login_signature(session_key: &SessionKey, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(session_key.expose().as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn official_vector_decrypts() {
        let key = SessionKey::new("tiihtNczf5v6AKRyjwEUhQ==");
        let data = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==";
        let iv = "r7BXXKkLb8qrSNn05n0qiA==";
        let plain = decrypt_open_data(&key, data, iv).expect("vector decrypts");
        let v: serde_json::Value = serde_json::from_slice(&plain).expect("json");
        assert_eq!(v["nickName"], "Band");
        assert_eq!(v["watermark"]["appid"], "wx4f4bc4dec97d474b");
        assert_eq!(plain.len(), 393);
    }

    #[test]
    fn bad_inputs_are_refused_with_their_reason() {
        let key = SessionKey::new("tiihtNczf5v6AKRyjwEUhQ==");
        let iv = "r7BXXKkLb8qrSNn05n0qiA==";
        assert_eq!(
            decrypt_open_data(&key, "AAAA", "AAAA"),
            Err(OpenDataError::BadIv)
        );
        assert_eq!(
            decrypt_open_data(&key, "not base64!", iv),
            Err(OpenDataError::BadCiphertext)
        );
        assert_eq!(
            decrypt_open_data(&key, "AAAA", iv),
            Err(OpenDataError::BadCiphertext)
        );
        assert_eq!(
            decrypt_open_data(&key, &STANDARD.encode([0u8; 32]), iv),
            Err(OpenDataError::Undecryptable)
        );
        assert_eq!(
            decrypt_open_data(&SessionKey::new("c2hvcnQ="), "AAAA", iv),
            Err(OpenDataError::BadSessionKey)
        );
    }

    #[test]
    fn signature_vectors() {
        let raw = r#"{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}"#;
        assert_eq!(
            raw_data_signature(raw, &SessionKey::new("HyVFkGl5F5OQWJZZaNzBBg==")),
            "75e81ceda165f4ffa64f4068af58c64b8f54b88c"
        );
        assert_eq!(
            login_signature(
                &SessionKey::new("o0q0otL8aEzpcZL/FT9WsQ=="),
                br#"{"foo":"bar"}"#
            ),
            "654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b"
        );
        assert_eq!(
            login_signature(&SessionKey::new("tiihtNczf5v6AKRyjwEUhQ=="), b""),
            "7154f9f8b4b76b92f541cbf0e37d48840fa06e5e42da92a6f80168a1516a4735"
        );
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }

    #[test]
    fn code_hashes_are_keyed_and_unambiguous() {
        let key = CodeKey::derive(&[7; 32]);
        let h = key.hash(&["login", "+8613800138000", "123456"]);
        assert_eq!(h, key.hash(&["login", "+8613800138000", "123456"]));
        assert_ne!(
            h,
            CodeKey::derive(&[8; 32]).hash(&["login", "+8613800138000", "123456"])
        );
        assert_ne!(h, key.hash(&["login", "+8613800138000", "123457"]));
        assert_ne!(h, key.hash(&["login", "+861380013800", "0123456"]));
        // An independent HMAC: the padded key is the key.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[7; 32]).expect("any length");
        mac.update(b"login-core sms code key v1");
        let derived: [u8; 32] = mac.finalize().into_bytes().into();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&derived).expect("any length");
        mac.update(b"a\0");
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(key.hash(&["a"]), expected);
        assert_eq!(format!("{key:?}"), "CodeKey(<redacted>)");
        assert!(constant_time_eq_bytes(&h, &h));
        assert!(!constant_time_eq_bytes(&h, &h[..31]));
    }

    #[test]
    fn a_rotated_key_seals_and_the_previous_ones_still_open() {
        let random = SeededRandom::new(2);
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let before = SealKey::new(old).seal(&random, b"a", b"kept");
        assert_eq!(before[0], SEALED_V2);
        assert_eq!(before[1..5], key_id(&old));
        let rotated = SealKey::rotated(new, &[old]);
        assert_eq!(
            rotated.open_with_key(b"a", &before),
            Ok((b"kept".to_vec(), false))
        );
        let after = rotated.seal(&random, b"a", b"fresh");
        assert_eq!(after[1..5], key_id(&new));
        assert_eq!(
            rotated.open_with_key(b"a", &after),
            Ok((b"fresh".to_vec(), true))
        );
        assert_eq!(rotated.current_id().len(), 8);
        assert_eq!(SealKey::id_of(&after), Some(rotated.current_id()));
        assert_eq!(
            SealKey::id_of(&before),
            Some(SealKey::new(old).current_id())
        );
        assert_eq!(rotated.previous_count(), 1);
        // Once the old key is retired, what it sealed no longer opens; the old key never
        // opened what the new one sealed.
        assert_eq!(SealKey::new(new).open(b"a", &before), Err(SealError));
        assert_eq!(SealKey::new(old).open(b"a", &after), Err(SealError));
        // A value naming a key id nobody has is refused, not tried with every key.
        let mut unknown = after.clone();
        unknown[1] ^= 0xff;
        assert_eq!(rotated.open(b"a", &unknown), Err(SealError));
        // Values from before key ids (version 1) open under any key of the ring.
        let nonce = [7u8; NONCE_LEN];
        let ct = Aes256Gcm::new(&old.into())
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: b"legacy",
                    aad: b"a",
                },
            )
            .expect("encrypts");
        let v1 = [&[SEALED_V1][..], &nonce, &ct].concat();
        assert_eq!(
            rotated.open_with_key(b"a", &v1),
            Ok((b"legacy".to_vec(), false))
        );
        assert_eq!(SealKey::new(new).open(b"a", &v1), Err(SealError));
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_binding() {
        let random = SeededRandom::new(1);
        let key = SealKey::new([9; 32]);
        let sealed = key.seal(&random, b"wx1/o1", b"secret");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(key.open(b"wx1/o1", &sealed).expect("opens"), b"secret");
        assert_eq!(key.open(b"wx1/o2", &sealed), Err(SealError));
        assert_eq!(
            SealKey::new([8; 32]).open(b"wx1/o1", &sealed),
            Err(SealError)
        );
        let mut flipped = sealed.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert_eq!(key.open(b"wx1/o1", &flipped), Err(SealError));
        assert_eq!(key.open(b"wx1/o1", &[]), Err(SealError));
        assert_eq!(key.open(b"wx1/o1", &sealed[..10]), Err(SealError));
        assert!(SealKey::from_base64("c2hvcnQ=").is_none());
        assert!(SealKey::from_base64(&STANDARD.encode([1u8; 32])).is_some());
        assert_eq!(format!("{key:?}"), "SealKey(<redacted>)");
    }
}
