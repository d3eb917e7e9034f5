//! A read-only container registry on loopback for the pull tests, serving one image that a
//! test built locally. No registry can be pulled from or reached here, so this stands in for
//! one, speaking the part of the registry HTTP API (distribution spec v2) an engine's pull
//! uses: `GET /v2/`, the manifest by tag or digest (`GET`/`HEAD`), and blobs by digest.
//!
//! The image comes from `docker save`: its config and uncompressed layers are served as blobs
//! under their sha256 digests, named by an OCI image manifest made here. The engine reaches
//! `127.0.0.1:<port>` over plain HTTP, since it treats loopback registries as insecure ones.
//!
//! Include it with `#[path = "support/registry.rs"] mod registry;`.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Registry {
    pub port: u16,
    /// `127.0.0.1:<port>/<repository>:<tag>`: what a run names to get the image.
    pub image: String,
    requests: Arc<Mutex<Vec<String>>>,
    _layout: tempfile::TempDir,
}

impl Registry {
    /// The request lines received, in order (`GET /v2/…/manifests/1`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Whether the engine asked for the image's manifest.
    pub fn manifest_asked(&self) -> bool {
        self.requests().iter().any(|r| r.contains("/manifests/"))
    }
}

impl Drop for Registry {
    /// The pulled copy goes too, so the next test pulls again.
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.image])
            .output();
    }
}

struct Layout {
    /// The manifest bosun's test made for the image, its digest and every blob by digest.
    manifest: Vec<u8>,
    manifest_digest: String,
    blobs: HashMap<String, PathBuf>,
}

/// Serves the local image `source` as `bosun-test/<hint>:1` on a free loopback port. The
/// image must not be present under the served name (the tests pull it).
pub async fn serve(source: &str, hint: &str) -> Registry {
    let layout_dir = tempfile::tempdir().unwrap();
    let layout = save(source, layout_dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let image = format!("127.0.0.1:{port}/bosun-test/{hint}:1");
    let _ = Command::new("docker")
        .args(["image", "rm", "-f", &image])
        .output();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (seen, layout) = (requests.clone(), Arc::new(layout));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (seen, layout) = (seen.clone(), layout.clone());
            tokio::spawn(async move { answer(stream, &layout, &seen).await });
        }
    });
    Registry {
        port,
        image,
        requests,
        _layout: layout_dir,
    }
}

/// `docker save` of `source`, unpacked into `dir`, and an OCI image manifest for it. Both of
/// `docker save`'s formats (the legacy one, and the OCI layout of Docker 25 and later) carry
/// `manifest.json`, naming the config file and the (uncompressed) layer files.
fn save(source: &str, dir: &Path) -> Layout {
    let tar = dir.join("image.tar");
    let saved = Command::new("docker")
        .args(["save", "-o"])
        .arg(&tar)
        .arg(source)
        .output()
        .unwrap();
    assert!(saved.status.success(), "docker save: {saved:?}");
    let unpacked = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(dir)
        .output()
        .unwrap();
    assert!(unpacked.status.success(), "tar: {unpacked:?}");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let mut blobs = HashMap::new();
    let mut describe = |file: &str, media_type: &str| {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).unwrap();
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        blobs.insert(digest.clone(), path);
        serde_json::json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    };
    let config = describe(
        saved[0]["Config"].as_str().unwrap(),
        "application/vnd.oci.image.config.v1+json",
    );
    let layers: Vec<serde_json::Value> = saved[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            describe(
                l.as_str().unwrap(),
                "application/vnd.oci.image.layer.v1.tar",
            )
        })
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": config,
        "layers": layers,
    }))
    .unwrap();
    Layout {
        manifest_digest: format!("sha256:{}", hex::encode(Sha256::digest(&manifest))),
        manifest,
        blobs,
    }
}

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// One request, answered, then the connection closed (the engine opens more as it needs).
async fn answer(mut stream: TcpStream, layout: &Layout, seen: &Mutex<Vec<String>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            // A TLS hello (the engine tries HTTPS first) or a hang-up: nothing to answer.
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let line = head.lines().next().unwrap_or_default().to_string();
    seen.lock().unwrap().push(line.clone());
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, digest, body) = route(layout, path);
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: {content_type}\r\n\
         Docker-Distribution-API-Version: registry/2.0\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(digest) = digest {
        reply.push_str(&format!("Docker-Content-Digest: {digest}\r\n"));
    }
    reply.push_str("\r\n");
    let _ = stream.write_all(reply.as_bytes()).await;
    if method != "HEAD" {
        let _ = stream.write_all(&body).await;
    }
    let _ = stream.shutdown().await;
}

/// Status, content type, digest and body for a path.
fn route(layout: &Layout, path: &str) -> (&'static str, String, Option<String>, Vec<u8>) {
    let json = "application/json".to_string();
    if path == "/v2/" || path == "/v2" {
        return ("200 OK", json, None, b"{}".to_vec());
    }
    let not_found = || {
        (
            "404 Not Found",
            json.clone(),
            None,
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#.to_vec(),
        )
    };
    if let Some((_, reference)) = path.split_once("/manifests/") {
        if reference != "1" && reference != layout.manifest_digest {
            return not_found();
        }
        return (
            "200 OK",
            MANIFEST_TYPE.to_string(),
            Some(layout.manifest_digest.clone()),
            layout.manifest.clone(),
        );
    }
    if let Some((_, digest)) = path.split_once("/blobs/") {
        return match layout.blobs.get(digest).map(std::fs::read) {
            Some(Ok(body)) => (
                "200 OK",
                "application/octet-stream".into(),
                Some(digest.to_string()),
                body,
            ),
            _ => not_found(),
        };
    }
    not_found()
}
