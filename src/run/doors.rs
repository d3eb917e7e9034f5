//! The host's side of the sandbox doors (see [`Doors`]): a folder under the data directory,
//! `<data>/doors`, holding the static relay and one Unix socket per proxy. Each socket forwards
//! to its proxy's loopback address, so a container with no network at all reaches the
//! metering and egress proxies, and nothing else on this host.
//!
//! Why not a Docker network: an internal bridge network reaches nothing beyond the host, but
//! it does reach the host itself at the bridge's address, where every service listening on all
//! addresses answers (an SSH daemon, bosun's own webhook port, a database). A socket reaches
//! exactly one proxy.
//!
//! The folder is mounted read-only; connecting to a socket needs no write access to its mount.
//! The sockets are open to every user (`0666`), since containers run as their own user: what
//! guards them is the run token each proxy asks for.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::net::{TcpStream, UnixListener};
use tokio::task::JoinHandle;

use super::sandbox::{Door, Doors};
use crate::locks::lock;

/// The relay, built static from `crates/sandbox-relay` by `build.rs`.
static RELAY: &[u8] = include_bytes!(env!("BOSUN_RELAY_BINARY"));

/// A socket path longer than this does not fit `sockaddr_un` (108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

pub struct DoorKeeper {
    dir: PathBuf,
    serving: std::sync::Mutex<Vec<(PathBuf, JoinHandle<()>)>>,
}

impl DoorKeeper {
    /// Makes `<data_dir>/doors` with the relay in it (written again only when it changed).
    pub fn prepare(data_dir: &Path) -> anyhow::Result<DoorKeeper> {
        let dir = data_dir.join("doors");
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        let relay = dir.join(Doors::RELAY);
        if std::fs::read(&relay).ok().as_deref() != Some(RELAY) {
            let partial = dir.join(format!(".{}.{}", Doors::RELAY, std::process::id()));
            std::fs::write(&partial, RELAY)
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", partial.display()))?;
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
            std::fs::rename(&partial, &relay)?;
        }
        Ok(DoorKeeper {
            dir,
            serving: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Serves `<dir>/<name>.sock`, forwarding every connection to `target` (a proxy on this
    /// host's loopback); containers find it at `127.0.0.1:<target's port>`.
    pub fn open(&self, name: &str, target: SocketAddr) -> anyhow::Result<Door> {
        let socket = format!("{name}.sock");
        let path = self.dir.join(&socket);
        anyhow::ensure!(
            path.as_os_str().len() <= MAX_SOCKET_PATH,
            "the data directory's path is too long for a Unix socket in it ({}): choose a \
             shorter BOSUN_DATA_DIR",
            path.display()
        );
        // A socket left by an earlier start cannot be bound again; nothing else lives here.
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .map_err(|e| anyhow::anyhow!("listening on {}: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
        let task = tokio::spawn(serve(listener, target));
        lock(&self.serving).push((path, task));
        tracing::info!(door = %socket, %target, "sandbox door open");
        Ok(Door {
            port: target.port(),
            socket,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn relay_path(&self) -> PathBuf {
        self.dir.join(Doors::RELAY)
    }

    /// The doors a container gets: these, in this keeper's folder.
    pub fn doors(&self, open: Vec<Door>) -> Doors {
        Doors {
            dir: self.dir.clone(),
            open,
        }
    }
}

impl Drop for DoorKeeper {
    fn drop(&mut self) {
        for (path, task) in lock(&self.serving).drain(..) {
            task.abort();
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn serve(listener: UnixListener, target: SocketAddr) {
    loop {
        let Ok((mut inside, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            match TcpStream::connect(target).await {
                Ok(mut proxy) => {
                    let _ = tokio::io::copy_bidirectional(&mut inside, &mut proxy).await;
                }
                Err(e) => tracing::warn!(%target, error = %e, "a sandbox door's proxy is gone"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_door_forwards_to_its_proxy_and_the_relay_is_there_to_run() {
        let data = tempfile::tempdir().unwrap();
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = proxy.local_addr().unwrap();
        let answer = tokio::spawn(async move {
            let (mut conn, _) = proxy.accept().await.unwrap();
            let mut asked = [0u8; 5];
            conn.read_exact(&mut asked).await.unwrap();
            conn.write_all(b"proxy heard ").await.unwrap();
            conn.write_all(&asked).await.unwrap();
        });
        let keeper = DoorKeeper::prepare(data.path()).unwrap();
        let door = keeper.open("egress", target).unwrap();
        assert_eq!(door.port, target.port());
        let socket = data.path().join("doors").join(&door.socket);
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o666);
        let relay = data.path().join("doors").join(Doors::RELAY);
        let mode = std::fs::metadata(&relay).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(std::fs::read(&relay).unwrap(), RELAY);

        let mut conn = tokio::net::UnixStream::connect(&socket).await.unwrap();
        conn.write_all(b"hello").await.unwrap();
        let mut heard = String::new();
        conn.read_to_string(&mut heard).await.unwrap();
        assert_eq!(heard, "proxy heard hello");
        answer.await.unwrap();

        // The relay is a static executable that runs here too: its usage error proves it.
        let out = std::process::Command::new(&relay).output().unwrap();
        assert_eq!(out.status.code(), Some(125));
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));

        drop(keeper);
        assert!(!socket.exists(), "the socket goes with its keeper");
    }
}
