//! k-of-n sharing of a master key among custodians (Shamir over GF(256),
//! through the `blahaj` crate).
//!
//! A share is one line of text:
//! `idlink-share:1:<key id>:<threshold>:<key fingerprint>:<hex share>`.
//! The fingerprint lets `combine` prove the recovered key is the original one,
//! and refuse shares of different keys mixed together.

use crate::keyring::MasterKey;
use blahaj::{Share, Sharks};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("threshold must be at least 2 and at most the number of shares (got {threshold} of {shares}), and shares at most 255")]
    BadParameters { threshold: u8, shares: u8 },
    #[error("share {0} is not an idlink share line: expected idlink-share:1:<key id>:<threshold>:<fingerprint>:<hex>")]
    Malformed(usize),
    #[error("the shares belong to different keys or thresholds; give shares of one split only")]
    Mixed,
    #[error("{needed} shares are needed, {given} were given")]
    TooFew { needed: u8, given: usize },
    #[error("the shares do not recombine into the original key (fingerprint mismatch); a share is wrong or damaged")]
    Mismatch,
}

/// Splits `key` into `shares` lines of which any `threshold` recover it.
pub fn split(key: &MasterKey, threshold: u8, shares: u8) -> Result<Vec<String>, ShareError> {
    if threshold < 2 || threshold > shares {
        return Err(ShareError::BadParameters { threshold, shares });
    }
    let fp = key.fingerprint();
    Ok(Sharks(threshold)
        .dealer(key.reveal())
        .take(usize::from(shares))
        .map(|s| format!("idlink-share:1:{}:{threshold}:{fp}:{}", key.id, hex::encode(Vec::from(&s))))
        .collect())
}

/// Recovers a master key from share lines made by [`split`].
pub fn combine(lines: &[String]) -> Result<MasterKey, ShareError> {
    let mut meta: Option<(String, u8, String)> = None;
    let mut shares = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let parts: Vec<&str> = line.trim().split(':').collect();
        let [tag, "1", id, k, fp, data] = parts.as_slice() else {
            return Err(ShareError::Malformed(i + 1));
        };
        if *tag != "idlink-share" {
            return Err(ShareError::Malformed(i + 1));
        }
        let k: u8 = k.parse().map_err(|_| ShareError::Malformed(i + 1))?;
        let this = ((*id).to_owned(), k, (*fp).to_owned());
        match &meta {
            Some(m) if *m != this => return Err(ShareError::Mixed),
            _ => meta = Some(this),
        }
        let bytes = hex::decode(data).map_err(|_| ShareError::Malformed(i + 1))?;
        shares.push(Share::try_from(bytes.as_slice()).map_err(|_| ShareError::Malformed(i + 1))?);
    }
    let Some((id, k, fp)) = meta else {
        return Err(ShareError::TooFew { needed: 2, given: 0 });
    };
    if shares.len() < usize::from(k) {
        return Err(ShareError::TooFew { needed: k, given: shares.len() });
    }
    let secret = Sharks(k).recover(&shares).map_err(|_| ShareError::Mismatch)?;
    let key: [u8; 32] = secret.as_slice().try_into().map_err(|_| ShareError::Mismatch)?;
    let key = MasterKey::new(id, key);
    if key.fingerprint() != fp {
        return Err(ShareError::Mismatch);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn any_k_of_n_shares_recover_the_key_and_fewer_do_not() {
        let key = MasterKey::generate("mk-1", &SeededRandom::new(3));
        let lines = split(&key, 3, 5).unwrap_or_default();
        assert_eq!(lines.len(), 5);
        for pick in [[0, 1, 2], [0, 2, 4], [4, 3, 1]] {
            let chosen: Vec<String> = pick.iter().map(|&i| lines[i].clone()).collect();
            let back = combine(&chosen);
            assert_eq!(back.as_ref().map(|k| *k.reveal()), Ok(*key.reveal()));
        }
        assert_eq!(combine(&lines[..2]).err(), Some(ShareError::TooFew { needed: 3, given: 2 }));
        assert!(split(&key, 1, 5).is_err());
        assert!(split(&key, 6, 5).is_err());
    }

    #[test]
    fn damaged_or_mixed_shares_are_refused() {
        let rng = SeededRandom::new(4);
        let a = split(&MasterKey::generate("mk-a", &rng), 2, 3).unwrap_or_default();
        let b = split(&MasterKey::generate("mk-b", &rng), 2, 3).unwrap_or_default();
        assert_eq!(combine(&[a[0].clone(), b[1].clone()]).err(), Some(ShareError::Mixed));
        let mut damaged = a[1].clone();
        let last = damaged.pop().map(|c| if c == '0' { '1' } else { '0' }).unwrap_or('0');
        damaged.push(last);
        assert_eq!(combine(&[a[0].clone(), damaged]).err(), Some(ShareError::Mismatch));
        assert_eq!(combine(&["hello".into()]).err(), Some(ShareError::Malformed(1)));
    }
}
