//! The local Docker engine made to look like another host's: a TCP listener on loopback that
//! relays every connection to the engine's unix socket, plain or behind mutual TLS as a
//! `dockerd --tlsverify` would be, and keeps what the clients sent so a test can check that no
//! host path ever reached the engine.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixStream};
use tokio::task::JoinHandle;

const ENGINE_SOCKET: &str = "/var/run/docker.sock";

pub struct EngineRelay {
    pub addr: SocketAddr,
    sent: Arc<Mutex<Vec<u8>>>,
    task: JoinHandle<()>,
}

/// A CA, and certificates it signed, written as PEM files.
pub struct Pki {
    ca: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
    ca_params: rcgen::CertificateParams,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("key");
        let ca = params.self_signed(&key).expect("ca");
        Pki {
            ca,
            ca_key: key,
            ca_params: params,
        }
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A certificate for `names` (IP addresses or DNS names) and its key, signed by this CA.
    pub fn issue(&self, names: &[&str]) -> (rcgen::Certificate, rcgen::KeyPair) {
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        let key = rcgen::KeyPair::generate().expect("key");
        let issuer = rcgen::Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).expect("sign");
        (cert, key)
    }

    /// `ca.pem`, `cert.pem` and `key.pem` for a client of an engine whose CA is `engine_ca`.
    pub fn write_client_files(&self, engine_ca: &Pki, dir: &Path) {
        let (cert, key) = self.issue(&["bosun-client"]);
        std::fs::write(dir.join("ca.pem"), engine_ca.ca_pem()).expect("ca.pem");
        std::fs::write(dir.join("cert.pem"), cert.pem()).expect("cert.pem");
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("key.pem");
    }
}

impl EngineRelay {
    /// Plain TCP on loopback.
    pub async fn plain() -> EngineRelay {
        Self::start(None).await
    }

    /// TLS with the server certificate from `server` (for 127.0.0.1), accepting only clients
    /// whose certificate `clients` signed.
    pub async fn tls(server: &Pki, clients: &Pki) -> EngineRelay {
        let (cert, key) = server.issue(&["127.0.0.1"]);
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(clients.ca.der().to_vec()))
            .expect("client ca");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .expect("verifier");
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("server config");
        Self::start(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn start(tls: Option<tokio_rustls::TlsAcceptor>) -> EngineRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (log, tls) = (log.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            // A client the verifier refuses ends here.
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                relay(stream, log).await;
                            }
                        }
                        None => relay(tcp, log).await,
                    }
                });
            }
        });
        EngineRelay { addr, sent, task }
    }

    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// Everything the clients sent, as text (tar bodies included, lossily).
    pub fn sent(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().expect("log")).into_owned()
    }
}

impl Drop for EngineRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay<S: AsyncRead + AsyncWrite + Unpin>(client: S, log: Arc<Mutex<Vec<u8>>>) {
    let Ok(engine) = UnixStream::connect(ENGINE_SOCKET).await else {
        return;
    };
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut engine_read, mut engine_write) = engine.into_split();
    let upstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            log.lock().expect("log").extend_from_slice(&buf[..n]);
            if engine_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = engine_write.shutdown().await;
    };
    let downstream = async {
        let _ = tokio::io::copy(&mut engine_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}
