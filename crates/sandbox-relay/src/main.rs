//! `bosun-relay PORT=SOCKET... -- PROGRAM ARGS...`
//!
//! A sandbox container has no network at all (`network_mode: none`): no route to the host's
//! other services, whatever they listen on. The only ways out are Unix sockets bosun puts in a
//! folder mounted read-only into the container, one per proxy (egress, metering). This relay
//! listens on `127.0.0.1:PORT` inside the container for each `PORT=SOCKET` pair, forwards every
//! connection to its socket, and runs the container's command as its child, so the tools in it
//! find the proxies at ordinary HTTP addresses (`HTTPS_PROXY=http://…@127.0.0.1:PORT`).
//!
//! Every listener is bound before the command starts, so the command never races its proxies.
//! The relay exits with the command's exit code (128 + the signal when a signal ended it), or
//! with 125 when it could not start, saying why on stderr.
//!
//! Std only: bosun compiles this file as a static executable (see bosun's `build.rs`), which
//! runs in any image, even one without a C library.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::thread;

/// The exit code when the relay itself fails (like `docker run`'s own failures).
const CANNOT_START: u8 = 125;

/// One forwarded port.
#[derive(Debug, PartialEq, Eq)]
struct Door {
    port: u16,
    socket: PathBuf,
}

#[derive(Debug, PartialEq, Eq)]
struct Invocation {
    doors: Vec<Door>,
    command: Vec<String>,
}

fn parse(args: &[String]) -> Result<Invocation, String> {
    let split = args
        .iter()
        .position(|a| a == "--")
        .ok_or("usage: bosun-relay PORT=SOCKET... -- PROGRAM ARGS...")?;
    let doors = args[..split]
        .iter()
        .map(|pair| {
            let (port, socket) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not PORT=SOCKET"))?;
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("`{port}` is not a port"))?;
            Ok(Door {
                port,
                socket: PathBuf::from(socket),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let command = args[split + 1..].to_vec();
    if command.is_empty() {
        return Err("no command after `--`".into());
    }
    Ok(Invocation { doors, command })
}

/// Copies one way until the reader ends, then tells the other side no more is coming.
fn pipe(mut from: impl io::Read, mut to: impl io::Write + ShutdownWrite) {
    let _ = io::copy(&mut from, &mut to);
    to.shutdown_write();
}

trait ShutdownWrite {
    fn shutdown_write(&self);
}

impl ShutdownWrite for TcpStream {
    fn shutdown_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

impl ShutdownWrite for UnixStream {
    fn shutdown_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// Forwards one accepted connection to `socket`; a socket that cannot be reached closes the
/// connection (the client sees its proxy hang up, and bosun's log says why the proxy is gone).
fn forward(client: TcpStream, socket: &PathBuf) -> io::Result<()> {
    let upstream = UnixStream::connect(socket)?;
    let (client_in, upstream_out) = (client.try_clone()?, upstream.try_clone()?);
    thread::spawn(move || pipe(client_in, upstream_out));
    pipe(upstream, client);
    Ok(())
}

/// Binds every door, then serves each on a thread of its own.
fn open(doors: Vec<Door>) -> Result<(), String> {
    let mut bound = Vec::new();
    for door in doors {
        let listener = TcpListener::bind(("127.0.0.1", door.port))
            .map_err(|e| format!("listening on 127.0.0.1:{}: {e}", door.port))?;
        bound.push((listener, door.socket));
    }
    for (listener, socket) in bound {
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let socket = socket.clone();
                thread::spawn(move || {
                    if let Err(e) = forward(client, &socket) {
                        eprintln!("bosun-relay: {}: {e}", socket.display());
                    }
                });
            }
        });
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started = parse(&args).and_then(|invocation| {
        open(invocation.doors)?;
        Command::new(&invocation.command[0])
            .args(&invocation.command[1..])
            .status()
            .map_err(|e| format!("running {}: {e}", invocation.command[0]))
    });
    match started {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => ExitCode::from(code.clamp(0, 255) as u8),
            (None, Some(signal)) => ExitCode::from((128 + signal).clamp(0, 255) as u8),
            (None, None) => ExitCode::from(CANNOT_START),
        },
        Err(why) => {
            eprintln!("bosun-relay: {why}");
            ExitCode::from(CANNOT_START)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;

    fn args(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    #[test]
    fn doors_then_the_command() {
        let parsed = parse(&args(
            "3128=/run/bosun/egress.sock 41000=/m.sock -- /bin/sh -c x",
        ))
        .unwrap();
        assert_eq!(
            parsed.doors,
            [
                Door {
                    port: 3128,
                    socket: "/run/bosun/egress.sock".into()
                },
                Door {
                    port: 41000,
                    socket: "/m.sock".into()
                }
            ]
        );
        assert_eq!(parsed.command, ["/bin/sh", "-c", "x"]);
        assert!(parse(&args("-- true")).unwrap().doors.is_empty());
    }

    #[test]
    fn bad_invocations_say_what_is_wrong() {
        assert!(parse(&args("3128=/s")).unwrap_err().contains("usage"));
        assert!(parse(&args("3128=/s --"))
            .unwrap_err()
            .contains("no command"));
        assert!(parse(&args("x=/s -- true"))
            .unwrap_err()
            .contains("not a port"));
        assert!(parse(&args("0=/s -- true"))
            .unwrap_err()
            .contains("not a port"));
        assert!(parse(&args("3128 -- true"))
            .unwrap_err()
            .contains("not PORT=SOCKET"));
    }

    #[test]
    fn a_connection_reaches_the_socket_and_the_answer_comes_back() {
        let dir = std::env::temp_dir().join(format!("bosun-relay-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("proxy.sock");
        let _ = std::fs::remove_file(&socket);
        let server = UnixListener::bind(&socket).unwrap();
        let echo = thread::spawn(move || {
            let (mut conn, _) = server.accept().unwrap();
            let mut asked = String::new();
            conn.read_to_string(&mut asked).unwrap();
            conn.write_all(format!("heard {asked}").as_bytes()).unwrap();
        });
        // Port 0 is refused on the command line; here the listener picks a free port itself.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let relay_socket = socket.clone();
        thread::spawn(move || {
            let (client, _) = listener.accept().unwrap();
            forward(client, &relay_socket).unwrap();
        });
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.write_all(b"hello").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "heard hello");
        echo.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
