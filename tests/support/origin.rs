//! A small HTTP origin server on a loopback address for the egress tests, standing in for a
//! package registry: it answers each request with what `answer` gives for the request's head,
//! closes the connection, and keeps every head it got.
//!
//! Include it with `#[path = "support/origin.rs"] mod origin;`.
#![allow(dead_code)] // each test binary uses its own subset

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub struct Origin {
    pub port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Origin {
    /// Every request head received, in order.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    /// The request line of each request received.
    pub fn request_lines(&self) -> Vec<String> {
        self.heads()
            .iter()
            .map(|h| h.lines().next().unwrap_or_default().to_string())
            .collect()
    }
}

/// Serves on `addr` (`127.0.0.2:0`, say); `answer` gets each request's head and the port.
pub async fn serve(
    addr: &str,
    answer: impl Fn(&str, u16) -> String + Send + Sync + 'static,
) -> Origin {
    let listener = TcpListener::bind(addr).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (seen, answer) = (heads.clone(), Arc::new(answer));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (seen, answer) = (seen.clone(), answer.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let reply = answer(&head, port);
                seen.lock().unwrap().push(head);
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Origin { port, heads }
}
