//! FreeSewing's encryption at rest (v3/v4 backend, `src/utils/crypto.mjs`): the key string
//! (`BACKEND_ENC_KEY`, or the backend's trimmed `encryption.key` file) is stretched by
//! scrypt (salt "FreeSewing", N = 16384, r = 8, p = 1, 32 bytes); each value is
//! `JSON.stringify`-ed, AES-256-CBC encrypted (PKCS#7, random IV) and stored as
//! `{"iv":"<hex>","ct":"<hex>"}`. Decrypted values stay in memory; the key and anything
//! derived from it are never printed or written.

use aes::cipher::{
    block_padding::Pkcs7, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit, KeyIvInit,
};
use serde_json::Value;

/// The derived key. Debug shows nothing of it.
#[derive(Clone)]
pub struct StoreKey {
    key: [u8; 32],
    /// The expanded AES key, made once (not per value).
    cipher: aes::Aes256,
    /// The key string, for the checker to prove no output holds it.
    text: String,
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

/// Why a stored value could not be read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptError {
    /// Not hex, an IV that is not 16 bytes, a cipher text that is not whole blocks.
    Malformed,
    /// The padding or the text does not come out right: another key, or a damaged value.
    WrongKeyOrDamaged,
}

impl StoreKey {
    /// Derives the key from the key string as the backend uses it.
    pub fn derive(key: &str) -> StoreKey {
        let params = scrypt::Params::new(14, 8, 1).expect("FreeSewing's scrypt parameters");
        let mut out = [0u8; 32];
        scrypt::scrypt(key.as_bytes(), b"FreeSewing", &params, &mut out).expect("a 32-byte output");
        StoreKey {
            key: out,
            cipher: aes::Aes256::new(&out.into()),
            text: key.to_string(),
        }
    }

    /// The derived key's bytes, for tests of the derivation.
    pub fn derived_bytes(&self) -> &[u8] {
        &self.key
    }

    /// The key string, for the checker's secrets search only.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Decrypts a `{"iv","ct"}` pair to the UTF-8 text that was encrypted.
    pub fn decrypt_text(&self, iv: &str, ct: &str) -> Result<String, DecryptError> {
        let mut iv_bytes = [0u8; 16];
        if iv.len() != 32 || faster_hex::hex_decode(iv.as_bytes(), &mut iv_bytes).is_err() {
            return Err(DecryptError::Malformed);
        }
        let iv = iv_bytes;
        let ct = faster_hex::hex_decode_vec(ct.as_bytes()).map_err(|_| DecryptError::Malformed)?;
        if ct.is_empty() || ct.len() % 16 != 0 {
            return Err(DecryptError::Malformed);
        }
        let plain = cbc::Decryptor::<aes::Aes256>::inner_iv_init(self.cipher.clone(), &iv.into())
            .decrypt_padded_vec::<Pkcs7>(&ct)
            .map_err(|_| DecryptError::WrongKeyOrDamaged)?;
        String::from_utf8(plain).map_err(|_| DecryptError::WrongKeyOrDamaged)
    }

    /// Encrypts `text` as the backend stores it (for synthetic samples and tests).
    pub fn encrypt_text(&self, text: &str, iv: [u8; 16]) -> String {
        let ct = cbc::Encryptor::<aes::Aes256>::new(&self.key.into(), &iv.into())
            .encrypt_padded_vec::<Pkcs7>(text.as_bytes());
        format!(
            "{{\"iv\":\"{}\",\"ct\":\"{}\"}}",
            hex::encode(iv),
            hex::encode(ct)
        )
    }

    /// Reads a stored value back: the JSON that was encrypted, parsed. For JSON fields
    /// (`measies`, `User.data`) written by the later model decorator the plaintext is a
    /// JSON string holding JSON: `json_field` parses that once more.
    pub fn decrypt_value(
        &self,
        iv: &str,
        ct: &str,
        json_field: bool,
    ) -> Result<Value, DecryptError> {
        let text = self.decrypt_text(iv, ct)?;
        let v: Value = serde_json::from_str(&text).map_err(|_| DecryptError::WrongKeyOrDamaged)?;
        match v {
            Value::String(inner) if json_field => {
                serde_json::from_str(&inner).map_err(|_| DecryptError::WrongKeyOrDamaged)
            }
            v => Ok(v),
        }
    }
}

/// The `iv` and `ct` of a stored encrypted value, if `v` is one (exactly those two
/// string members).
pub fn encrypted_parts(v: &serde_json::Map<String, Value>) -> Option<(&str, &str)> {
    if v.len() != 2 {
        return None;
    }
    Some((v.get("iv")?.as_str()?, v.get("ct")?.as_str()?))
}

/// The `iv` and `ct` of stored text exactly as the backend writes it
/// (`{"iv":"<hex>","ct":"<hex>"}`), without a JSON parse; other spellings: None (and
/// [`encrypted_text`] reads them).
pub fn backend_text(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix("{\"iv\":\"")?;
    let (iv, rest) = rest.split_once("\",\"ct\":\"")?;
    let ct = rest.strip_suffix("\"}")?;
    // Hex digits are checked when decoded; a quote or backslash inside is another
    // spelling, read by the JSON parse.
    let plain = |x: &str| memchr::memchr2(b'"', b'\\', x.as_bytes()).is_none();
    (plain(iv) && plain(ct)).then_some((iv, ct))
}

/// The same for stored text: `{"iv":"..","ct":".."}`.
pub fn encrypted_text(s: &str) -> Option<(String, String)> {
    if let Some((iv, ct)) = backend_text(s) {
        return Some((iv.to_string(), ct.to_string()));
    }
    let t = s.trim_start();
    if !t.starts_with('{') || !t.contains("\"iv\"") {
        return None;
    }
    let v: serde_json::Map<String, Value> = serde_json::from_str(t).ok()?;
    encrypted_parts(&v).map(|(a, b)| (a.to_string(), b.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known-answer vectors of shared/reference/freesewing/STORES.md ("Building a faithful
    // fixture"), computed in Node 20 and cross-checked with Python's cryptography.
    const IV: &str = "000102030405060708090a0b0c0d0e0f";

    #[test]
    fn scrypt_matches_node() {
        assert_eq!(
            hex::encode(StoreKey::derive("test-key").derived_bytes()),
            "a0117f942f5bd9374379278026675e452b02a03ce1b1b13cab4dd0b66920c11f"
        );
    }

    #[test]
    fn known_answer_vectors_decrypt_and_encrypt() {
        let k = StoreKey::derive("test-key");
        let single = "878abb788efb6ee62574b0723d0c07e6e249898bad818cbe102f2a21c10ed90e";
        let double = "e9bffe0525ed70061d9480b9c97769baa40e25db34ed4ca8e01c45b9bb9ab4f4c7f55c5179ed14978fa6df929f46f1c2";
        let want = serde_json::json!({"chest": 950, "waist": 800.5});
        assert_eq!(k.decrypt_value(IV, single, true).unwrap(), want);
        assert_eq!(k.decrypt_value(IV, double, true).unwrap(), want);
        // Without the JSON-field rule the double encoding stays a string.
        assert!(k.decrypt_value(IV, double, false).unwrap().is_string());
        assert_eq!(
            k.decrypt_value(IV, "958ef9421c0212bdd36b433b42289588", false)
                .unwrap(),
            serde_json::json!("Me")
        );
        assert_eq!(
            k.decrypt_value(
                IV,
                "77e5da83133475b63d43fbc158f4f9ee7d29371a11411b2286755099cbf3af53",
                false
            )
            .unwrap(),
            serde_json::json!("someone@example.org")
        );
        let iv: [u8; 16] = hex::decode(IV).unwrap().try_into().unwrap();
        assert_eq!(
            k.encrypt_text("{\"chest\":950,\"waist\":800.5}", iv),
            format!("{{\"iv\":\"{IV}\",\"ct\":\"{single}\"}}")
        );
    }

    #[test]
    fn another_key_or_damage_is_an_error_never_a_value() {
        let k = StoreKey::derive("another-key");
        let single = "878abb788efb6ee62574b0723d0c07e6e249898bad818cbe102f2a21c10ed90e";
        assert!(k.decrypt_value(IV, single, true).is_err());
        let right = StoreKey::derive("test-key");
        assert_eq!(
            right.decrypt_text("00", single),
            Err(DecryptError::Malformed)
        );
        assert_eq!(right.decrypt_text(IV, "zz"), Err(DecryptError::Malformed));
        assert_eq!(
            right.decrypt_text(IV, &single[..30]),
            Err(DecryptError::Malformed)
        );
        let mut flipped = single.to_string();
        flipped.replace_range(62..64, "00");
        assert!(right.decrypt_value(IV, &flipped, true).is_err());
    }

    #[test]
    fn stored_text_is_recognised() {
        assert_eq!(
            backend_text(r#"{"iv":"00ab","ct":"11"}"#),
            Some(("00ab", "11"))
        );
        assert_eq!(backend_text(r#"{"iv":"00","ct":"1\"1"}"#), None);
        assert_eq!(backend_text(r#"{"ct":"11","iv":"00"}"#), None);
        assert_eq!(backend_text(r#"{"iv": "00","ct":"11"}"#), None);
        let (iv, ct) = encrypted_text(r#"{"iv":"00","ct":"11"}"#).unwrap();
        assert_eq!((iv.as_str(), ct.as_str()), ("00", "11"));
        assert!(encrypted_text(r#"{"chest":950}"#).is_none());
        assert!(encrypted_text(r#"{"iv":"00","ct":"11","x":1}"#).is_none());
        assert!(encrypted_text("{}").is_none());
        assert!(encrypted_text("").is_none());
    }

    #[test]
    fn debug_shows_nothing_of_the_key() {
        assert_eq!(
            format!("{:?}", StoreKey::derive("test-key")),
            "StoreKey(..)"
        );
    }
}
