//! The runs the egress proxy serves: each has its own allowlist and its own log of every
//! connection it asked for, allowed or refused, with the bytes each way. A run is known by a
//! token it presents as the proxy's password (`http://bosun:<token>@proxy:port`); the table
//! holds only the tokens' SHA-256, so a lookup's timing says nothing useful about a token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::github::secret::Secret;
use crate::locks::lock;
use bosun_core::egress::Allowlist;

/// One connection a run asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub host: String,
    pub port: u16,
    pub allowed: bool,
    /// Why it was refused (or failed to connect).
    pub refused: Option<String>,
    /// Bytes from the run to the host, and back.
    pub sent: u64,
    pub received: u64,
}

/// A run's allowlist and its log.
#[derive(Debug)]
pub struct RunEgress {
    pub name: String,
    allowlist: Allowlist,
    log: Mutex<Vec<Connection>>,
}

impl RunEgress {
    pub fn allowlist(&self) -> &Allowlist {
        &self.allowlist
    }

    pub(super) fn note(&self, connection: Connection) {
        lock(&self.log).push(connection);
    }

    /// Every connection so far, in the order they ended.
    pub fn log(&self) -> Vec<Connection> {
        lock(&self.log).clone()
    }

    /// The hosts refused so far, each once, as `host:port`, for the tracking comment.
    pub fn refused_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = Vec::new();
        for c in lock(&self.log).iter().filter(|c| !c.allowed) {
            let host = format!("{}:{}", c.host, c.port);
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        hosts
    }
}

#[derive(Default)]
pub struct EgressRuns {
    by_token_hash: Mutex<HashMap<[u8; 32], Arc<RunEgress>>>,
}

impl EgressRuns {
    /// Registers a run; `name` is what the logs call it. The token is the run's only key.
    pub fn register(&self, name: &str, allowlist: Allowlist) -> (Secret, Arc<RunEgress>) {
        let token = format!("bosun-egress-{}", hex::encode(rand::random::<[u8; 32]>()));
        let run = Arc::new(RunEgress {
            name: name.to_string(),
            allowlist,
            log: Mutex::new(Vec::new()),
        });
        lock(&self.by_token_hash).insert(hash(&token), run.clone());
        (Secret::new(token), run)
    }

    /// Forgets the run: its token is dead from now on.
    pub fn end(&self, token: &Secret) {
        lock(&self.by_token_hash).remove(&hash(token.expose()));
    }

    pub(super) fn find(&self, token: &str) -> Option<Arc<RunEgress>> {
        lock(&self.by_token_hash).get(&hash(token)).cloned()
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
