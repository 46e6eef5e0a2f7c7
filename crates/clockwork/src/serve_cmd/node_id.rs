//! This node's name in the database, stable across restarts.
//!
//! A restarted node must recognise the runs its previous process held, to
//! take them back at once instead of waiting for their leases to expire.
//! So the id outlives the process: `--node-id` when given, else the one
//! stored in the data directory's `node-id` file, created on first start.

use std::path::Path;

use anyhow::{Context, Result};

/// The file in the data directory that keeps a generated node id.
const NODE_ID_FILE: &str = "node-id";

/// `given` (`--node-id`), else the data directory's stored id, created
/// from the host name and the first start's instant when missing.
pub(crate) fn node_id(given: Option<&str>, data_dir: &Path) -> Result<String> {
    if let Some(id) = given {
        return Ok(id.to_owned());
    }
    let path = data_dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(stored) if !stored.trim().is_empty() => return Ok(stored.trim().to_owned()),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", path.display()));
        }
    }
    let id = generated();
    std::fs::write(&path, format!("{id}\n"))
        .with_context(|| format!("cannot store the node id in {}", path.display()))?;
    Ok(id)
}

/// The host name and a suffix unique to this first start, so two data
/// directories on one host never share an id.
fn generated() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "node".to_owned());
    let unique = jiff::Timestamp::now().as_nanosecond() as u64 ^ u64::from(std::process::id());
    format!("{host}-{unique:x}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_generated_id_is_kept_and_a_given_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let first = node_id(None, dir.path()).unwrap();
        assert_eq!(node_id(None, dir.path()).unwrap(), first);
        assert_eq!(node_id(Some("n1"), dir.path()).unwrap(), "n1");
        let other = tempfile::tempdir().unwrap();
        assert_ne!(node_id(None, other.path()).unwrap(), first);
    }
}
