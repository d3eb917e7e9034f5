//! Sorting engine errors into the three cases the caller acts on differently: the engine is
//! away (keep the task queued), the image is missing (tell the operator), anything else.

use super::SandboxError;
use bollard::errors::Error as DockerError;

/// Maps an engine error; `doing` says what we were doing, for the message.
pub(crate) fn map_error(doing: &str, err: DockerError) -> SandboxError {
    if is_unreachable(&err) {
        return SandboxError::Unavailable(format!("docker engine not reachable ({doing}): {err}"));
    }
    SandboxError::Other(anyhow::Error::new(err).context(format!("docker: {doing}")))
}

/// Like [`map_error`], but a 404 "No such image" becomes [`SandboxError::ImageMissing`].
pub(crate) fn map_image_error(doing: &str, image: &str, err: DockerError) -> SandboxError {
    if is_no_such_image(&err) {
        return SandboxError::ImageMissing {
            image: image.to_string(),
        };
    }
    map_error(doing, err)
}

/// A failed pull: the engine away keeps the task queued; anything else (no such image, a
/// registry that cannot be reached or refuses) is the engine's own words about it.
pub(crate) fn map_pull_error(image: &str, err: DockerError) -> SandboxError {
    if is_unreachable(&err) {
        return map_error("pull image", err);
    }
    let why = match err {
        DockerError::DockerStreamError { error } => error,
        DockerError::DockerResponseServerError { message, .. } => message,
        other => other.to_string(),
    };
    SandboxError::PullFailed {
        image: image.to_string(),
        why,
    }
}

/// 404 from the engine (a container or image that is already gone).
pub(crate) fn is_not_found(err: &DockerError) -> bool {
    matches!(
        err,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

fn is_no_such_image(err: &DockerError) -> bool {
    match err {
        DockerError::DockerResponseServerError {
            status_code: 404,
            message,
        } => {
            let m = message.to_ascii_lowercase();
            m.contains("no such image") || m.contains("image not known")
        }
        _ => false,
    }
}

/// The socket is missing, refuses connections, or the engine does not answer in time. Hyper's
/// client errors carry the I/O error as their source, so the whole chain is searched.
fn is_unreachable(err: &DockerError) -> bool {
    match err {
        DockerError::SocketNotFoundError(_) | DockerError::RequestTimeoutError => true,
        DockerError::HyperLegacyError { .. } => true,
        DockerError::IOError { err } => io_unreachable(err),
        _ => {
            let mut source = std::error::Error::source(err);
            while let Some(e) = source {
                if let Some(io) = e.downcast_ref::<std::io::Error>() {
                    if io_unreachable(io) {
                        return true;
                    }
                }
                source = e.source();
            }
            false
        }
    }
}

fn io_unreachable(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        err.kind(),
        ConnectionRefused | NotFound | ConnectionReset | ConnectionAborted | BrokenPipe | TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> DockerError {
        DockerError::DockerResponseServerError {
            status_code,
            message: message.into(),
        }
    }

    #[test]
    fn sorts_errors() {
        assert!(matches!(
            map_image_error("create", "x:1", server(404, "No such image: x:1")),
            SandboxError::ImageMissing { image } if image == "x:1"
        ));
        assert!(matches!(
            map_image_error("create", "x:1", server(500, "boom")),
            SandboxError::Other(_)
        ));
        assert!(matches!(
            map_error(
                "ping",
                DockerError::SocketNotFoundError("/var/run/docker.sock".into())
            ),
            SandboxError::Unavailable(_)
        ));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(
            map_error("ping", DockerError::IOError { err: refused }),
            SandboxError::Unavailable(_)
        ));
        assert!(is_not_found(&server(404, "No such container: abc")));
    }
}
