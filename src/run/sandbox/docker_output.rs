//! Reads a container's output and hands it on line by line.
//!
//! The output comes from attaching to the container before it starts (as `docker run` does),
//! not from following its logs: on Engine 20.10 a `logs?follow=1` stream can end before the
//! last, unterminated line reaches it (seen in about one run in ten, with the docker CLI too),
//! while attach sees every byte the script wrote. The engine sends stdout and stderr as frames
//! that ignore line boundaries, so each stream has its own line splitter.

use super::docker_errors::map_error;
use super::lines::LineSink;
use super::{OutputLine, SandboxError, Stream};
use bollard::container::{AttachContainerResults, LogOutput};
use bollard::query_parameters::AttachContainerOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// Attaches to the (created, not yet started) container's stdout and stderr.
pub(crate) async fn attach_output(
    docker: &Docker,
    id: &str,
) -> Result<AttachContainerResults, SandboxError> {
    let options = AttachContainerOptionsBuilder::default()
        .stdin(false)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .logs(false)
        .build();
    docker
        .attach_container(id, Some(options))
        .await
        .map_err(|e| map_error("attach to container", e))
}

/// Sends every line of the attached output to `lines` until it ends (the container's streams
/// close when it exits). Errors end the pump and are logged: the run's result comes from the
/// engine's exit state, not from here.
pub(crate) async fn pump_output(attached: AttachContainerResults, lines: mpsc::Sender<OutputLine>) {
    // `input` is held, unused, until the output ends: stdin is not attached, and dropping one
    // half of the connection early gains nothing.
    let AttachContainerResults { mut output, input } = attached;
    let mut sink = LineSink::new(lines);
    while let Some(item) = output.next().await {
        match item {
            Ok(LogOutput::StdOut { message }) => sink.push(Stream::Stdout, &message).await,
            Ok(LogOutput::StdErr { message }) => sink.push(Stream::Stderr, &message).await,
            // Without a TTY every frame is stdout or stderr; keep anything else as stdout.
            Ok(LogOutput::Console { message }) => sink.push(Stream::Stdout, &message).await,
            Ok(LogOutput::StdIn { .. }) => {}
            Err(e) => {
                tracing::warn!(error = %e, "sandbox output stream broke off");
                break;
            }
        }
    }
    drop(input);
    sink.finish().await;
}
