//! The node's libp2p key file: an encrypted keystore (what `xroute init` writes) or libp2p's
//! protobuf encoding, created on first start when missing.

use std::path::Path;

use libp2p::identity::Keypair;

use super::P2pError;

fn key_error(path: &Path, reason: String) -> P2pError {
    P2pError::Key {
        path: path.display().to_string(),
        reason,
    }
}

/// The node key in `path`: an encrypted keystore holding the ed25519 secret, or libp2p's
/// protobuf encoding.
pub fn load_key(path: &Path) -> Result<Keypair, P2pError> {
    let err = |reason: String| key_error(path, reason);
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if bytes.first() == Some(&b'{') {
        let mut secret = xroute_adapters::keys::ed25519_secret("p2p.key_file", path)
            .map_err(|e| err(e.to_string()))?;
        return Keypair::ed25519_from_bytes(&mut *secret)
            .map_err(|e| err(format!("not an ed25519 key: {e}")));
    }
    Keypair::from_protobuf_encoding(&bytes).map_err(|e| err(format!("not a libp2p key: {e}")))
}

/// Loads the node key from `path`: an encrypted keystore holding the ed25519 secret (what
/// `xroute init` writes) or libp2p's protobuf encoding; creates an ed25519 key there in the
/// protobuf encoding (mode 0600) if the file does not exist.
pub fn load_or_create_key(path: &Path) -> Result<Keypair, P2pError> {
    let err = |reason: String| key_error(path, reason);
    if path.exists() {
        return load_key(path);
    }
    let key = Keypair::generate_ed25519();
    let bytes = key.to_protobuf_encoding().map_err(|e| err(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| err(e.to_string()))?;
        std::io::Write::write_all(&mut file, &bytes).map_err(|e| err(e.to_string()))?;
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The key is made once, private to the owner, and the same peer id comes back on every
    /// start; a file that is not a key is an error naming it, and is left as it was.
    #[test]
    fn node_key_is_created_once_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/node.key");
        let made = load_or_create_key(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create_key(&path).unwrap();
        assert_eq!(made.public().to_peer_id(), again.public().to_peer_id());

        let garbage = dir.path().join("garbage.key");
        std::fs::write(&garbage, b"not a key").unwrap();
        let err = load_or_create_key(&garbage).unwrap_err().to_string();
        assert!(
            err.contains("garbage.key") && err.contains("not a libp2p key"),
            "{err}"
        );
        assert_eq!(std::fs::read(&garbage).unwrap(), b"not a key");
    }

    /// The only test of this crate that sets the process's keystore passphrase.
    #[test]
    fn a_node_key_in_a_keystore_loads_to_the_same_peer_id() {
        let dir = tempfile::tempdir().unwrap();
        let key = libp2p::identity::ed25519::Keypair::generate();
        let mut secret = [0u8; 32];
        secret.copy_from_slice(key.secret().as_ref());
        let path = dir.path().join("p2p.json");
        xroute_adapters::keys::write_keystore(&path, &secret, "p2p passphrase").unwrap();
        xroute_adapters::keys::set_passphrase("p2p passphrase".to_string().into());
        let loaded = load_or_create_key(&path).unwrap();
        assert_eq!(
            loaded.public().to_peer_id(),
            Keypair::from(key).public().to_peer_id()
        );
    }
}
